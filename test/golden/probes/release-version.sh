_glob release-version 'release' '' 0 '/etc/'*'_version'
