_glob hyperv 'hyperv' '' 1 '/var/lib/hyperv/'* '/var/lib/hyperv/.'[!.]* '/var/lib/hyperv/..'?*
