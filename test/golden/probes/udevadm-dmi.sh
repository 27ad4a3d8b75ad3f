if [ -d '/sys/class/dmi/id' ] && _have 'udevadm'; then
  _cmd udevadm-dmi#0 'cmd/udevadm_dmi_id' '0' 0 'udevadm' 'info' '-a' '/sys/class/dmi/id'
else _r S udevadm-dmi not-found:udevadm; fi
