if [ -e '/proc/version_signature' ]; then _file version-signature 'proc/version_signature' '/proc/version_signature' 0 t
else _r S version-signature absent; fi
