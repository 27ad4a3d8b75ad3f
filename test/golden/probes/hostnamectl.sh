if _have 'hostnamectl'; then
  _cmd hostnamectl#0 'cmd/hostnamectl' '0' 0 'hostnamectl' 'status'
else _r S hostnamectl not-found:hostnamectl; fi
