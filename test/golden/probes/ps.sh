if _have 'ps'; then
  _cmd ps#0 'cmd/ps_ef' '0' 1 'ps' '-ef' ||
  _cmd ps#1 'cmd/ps_ef' '0' 0 'ps'
else _r S ps not-found:ps; fi
