if [ -e '/proc/meminfo' ]; then _file meminfo 'proc/meminfo' '/proc/meminfo' 1048577 0 0
else _r S meminfo absent; fi
