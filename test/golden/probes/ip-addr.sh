if _have 'ip'; then
  _cmd ip-addr#0 'cmd/ip_addr' '0' 0 'ip' 'addr'
else _r S ip-addr not-found:ip; fi
