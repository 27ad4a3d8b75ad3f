_glob release 'release' 1048577 '' 0 '/etc/'*'-release'
