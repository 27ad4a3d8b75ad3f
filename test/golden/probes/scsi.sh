if [ -e '/proc/scsi/scsi' ]; then _file scsi 'proc/scsi/scsi' '/proc/scsi/scsi' 0 0
else _r S scsi absent; fi
