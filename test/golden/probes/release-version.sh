_glob release-version 'release' 1048577 '' 0 '/etc/'*'_version'
