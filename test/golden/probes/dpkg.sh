if _have 'dpkg-query'; then
  _cmd dpkg#0 'dpkg/installed.txt' '0' 0 'dpkg-query' '-W' '-f' '${Package}\t${Version}\t${Architecture}\t${binary:Summary}\n'
else _r S dpkg not-found:dpkg-query; fi
