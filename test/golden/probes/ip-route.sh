if _have 'ip'; then
  _cmd ip-route#0 'cmd/ip_route' '0' 0 'ip' 'route'
else _r S ip-route not-found:ip; fi
