if [ -e '/proc/version' ]; then _file version 'proc/version' '/proc/version' 65537 0 0
else _r S version absent; fi
