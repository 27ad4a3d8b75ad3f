if _have 'dpkg-query'; then _r S apk superseded
elif _have 'apk'; then
  _cmd apk#0 'apk/installed.txt' '0' 0 'apk' 'list' '--installed'
else _r S apk not-found:apk; fi
