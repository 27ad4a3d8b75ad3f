if _have 'last'; then
  _cmd last#0 'cmd/last' '0' 1 'last' '-w' '-n' '200' ||
  _cmd last#1 'cmd/last' '0' 0 'last'
else _r S last not-found:last; fi
