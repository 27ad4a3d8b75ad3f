if _have 'systemd-detect-virt'; then
  _cmd detect-virt#0 'cmd/systemd-detect-virt' '0 1' 0 'systemd-detect-virt'
else _r S detect-virt not-found:systemd-detect-virt; fi
