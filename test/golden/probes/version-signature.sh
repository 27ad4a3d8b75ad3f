if [ -e '/proc/version_signature' ]; then _file version-signature 'proc/version_signature' '/proc/version_signature' 65537 0 0
else _r S version-signature absent; fi
