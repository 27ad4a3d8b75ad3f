_glob hyperv 'hyperv' 16777217 '' 1 '/var/lib/hyperv/'* '/var/lib/hyperv/.'[!.]* '/var/lib/hyperv/..'?*
