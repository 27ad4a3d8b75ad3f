_glob release-usrlib 'release-usrlib' '' 0 '/usr/lib/'*'-release'
