if [ -e '/proc/meminfo' ]; then _file meminfo 'proc/meminfo' '/proc/meminfo' 0 t
else _r S meminfo absent; fi
