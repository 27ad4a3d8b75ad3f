if _have 'ipcs'; then
  _cmd ipcs#0 'cmd/ipcs' '0' 0 'ipcs' '-a'
else _r S ipcs not-found:ipcs; fi
