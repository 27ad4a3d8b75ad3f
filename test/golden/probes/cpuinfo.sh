if [ -e '/proc/cpuinfo' ]; then _file cpuinfo 'proc/cpuinfo' '/proc/cpuinfo' 0 0
else _r S cpuinfo absent; fi
