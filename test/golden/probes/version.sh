if [ -e '/proc/version' ]; then _file version 'proc/version' '/proc/version' 0 t
else _r S version absent; fi
