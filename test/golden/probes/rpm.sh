if _have 'dpkg-query' || _have 'apk'; then _r S rpm superseded
elif _have 'rpm'; then
  _cmd rpm#0 'rpm/installed.txt' '0' 0 'rpm' '-qa' '--queryformat' '%{name}\t%{version}\t%{release}\t%{arch}\t%{summary}\t%{installtime}\t%{vendor}\t%{packager}\n'
else _r S rpm not-found:rpm; fi
