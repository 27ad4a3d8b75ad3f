_glob release-usrlib 'release-usrlib' 1048577 '' 0 '/usr/lib/'*'-release'
