if _have 'who'; then
  _cmd who#0 'cmd/who' '0' 0 'who'
else _r S who not-found:who; fi
