if _have 'systemctl'; then
  _cmd systemctl#0 'cmd/systemctl_units_all' '0' 0 'systemctl' 'list-units' '-all' '--no-page'
else _r S systemctl not-found:systemctl; fi
