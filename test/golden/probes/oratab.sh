if [ -e '/etc/oratab' ]; then _file oratab 'oracle/oratab' '/etc/oratab' 0 0
elif [ -e '/var/opt/oracle/oratab' ]; then _file oratab 'oracle/oratab' '/var/opt/oracle/oratab' 0 0
else _r S oratab absent; fi
