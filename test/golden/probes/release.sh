_glob release 'release' '' 0 '/etc/'*'-release'
