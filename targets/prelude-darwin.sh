# octoscan-remote probe library, macOS part. Placed inside the Darwin branch of
# the script, after prelude.sh, so a Linux host never parses it. The same
# rules as prelude.sh: POSIX sh only (macOS /bin/sh is bash 3.2 in POSIX mode,
# or dash or zsh where /private/var/select/sh says so), nothing written on the
# target, every external command with its standard input redirected.
#
# What is collected and how follows octoscan.sh 1.10.9 (spec section 5); the
# differences are the ones spec section 8 lists, plus numbering only written
# entries and Java records built the way the spec describes.

# Homebrew lives in /opt/homebrew on Apple silicon (in /usr/local on Intel,
# already on PATH). A non-interactive ssh session has neither unless the
# user's shell start files add it, so the on-host scanner, run from Terminal,
# would find brew where a plain ssh command would not.
PATH="$PATH:/opt/homebrew/bin:/opt/homebrew/sbin"; export PATH

# The standard error of the commands is kept: the controller writes the
# script's standard error to stderr.log, as the reference does with its own.
_clog=1

# Facts for the macOS octoscan.xml (spec section 3).
_facts_darwin() {
  _r I uname-v "$(uname -v 2>/dev/null </dev/null)"
  _r I uname-r "$_unr"
  _r I uname-m "$_unm"
  # The reference asks the shell running it: zsh, else bash (its interpreter).
  # Here that is /bin/sh, bash 3.2 on a stock Mac.
  if [ -n "${ZSH_VERSION:-}" ]; then
    _r I shell "zsh $ZSH_VERSION"
  else
    _r I shell "bash ${BASH_VERSION:-none}"
  fi
  _r I fqdn "$(hostname -f 2>/dev/null </dev/null || hostname 2>/dev/null </dev/null || uname -n 2>/dev/null </dev/null)"
  _dl=$(id -un 2>/dev/null </dev/null)
  _da=$(_run 30 /usr/bin/dscl . read "/Users/$_dl" AuthenticationAuthority 2>/dev/null </dev/null)
  case $_da in
    *Kerberosv5*) _r I kerberos true ;;
    *) _r I kerberos false ;;
  esac
}

# _mac_copy PROBE ENTRY FILE: one file as it is (the controller holds it to
# the probe's cap). No time in the B record: the reference copies with cp, so
# its entries carry the copy time.
_mac_copy() {
  _r B "$1" - - "$2"
  _run 60 cat "$3"
  _r E "$?"
}

# _mac_readable FILE: a regular file this user may read.
_mac_readable() { [ -f "$1" ] && [ -r "$1" ]; }

# apps/app_<n>.plist: each readable /Applications/*/Contents/Info.plist, in
# glob order (byte order under LC_ALL=C).
_mac_apps() {
  _man=0
  for _maf in /Applications/*/Contents/Info.plist; do
    _mac_readable "$_maf" || continue
    _man=$((_man + 1))
    _mac_copy "$1" "apps/app_$_man.plist" "$_maf"
  done
}

# java/java_<n>.plist: the JVM bundles, then the old browser plug-ins, one
# counter for both.
_mac_java_plists() {
  _mpn=0
  for _mpf in /Library/Java/JavaVirtualMachines/*/Contents/Info.plist "/Library/Internet Plug-ins"/*/Contents/Info.plist; do
    _mac_readable "$_mpf" || continue
    _mpn=$((_mpn + 1))
    _mac_copy "$1" "java/java_$_mpn.plist" "$_mpf"
  done
}

# _mac_java_record PROBE ENTRY JAVA CAP+1: the macOS form of the Java record
# (spec section 5): Path, Variant, an empty Features line, then standard output
# and error of `java -version`, but only in a Java 9+ home (lib/modules and
# lib/libjava.dylib beside bin/): anything else (Java 8, the /usr/bin stubs
# that would pop up an install dialog) is not run. Who runs it is decided as on
# Linux (_java_who): a trusted java runs as the scan, in the session's
# environment, as the reference does; an untrusted one (an application's
# bundled JRE below the admin-writable /Applications, typically) runs only as
# its owner, through perl, with an empty environment, or is not run (a NOT RUN
# line, the release file's JAVA_VERSION and IMPLEMENTOR, warning 2003).
# -XX:-UsePerfData, as on Linux: otherwise the JVM writes hsperfdata files
# into $TMPDIR; the output of -version is the same (HotSpot and OpenJ9 both
# take the option).
_mac_java_record() {
  _mjd=${3%/*}
  _mjv=JRE
  [ -f "${3}c" ] && _mjv=JDK
  _mjs=0
  if [ -f "$_mjd/../lib/modules" ] && [ -f "$_mjd/../lib/libjava.dylib" ]; then
    _mjs=1
    # readlink -f exists from macOS 12.3; before, the path as found (a link in it is then not trusted).
    _mjk=$(readlink -f "$3" 2>/dev/null </dev/null) || _mjk=$3
    [ -n "$_mjk" ] || _mjk=$3
    _java_who "$_mjk"
  fi
  _r B "$1" - - "$2"
  {
    printf 'Path:%s\nVariant:%s\nFeatures:\n' "$3" "$_mjv"
    if [ "$_mjs" = 0 ]; then
      printf 'FAILED: %s/../lib required files not found - probably not a standard java directory structure\n' "$_mjd"
    elif [ "$_jwt" = no ]; then
      printf "NOT RUN: java -version not run for '%s': %s\n" "$3" "$_jwhy"
      _java_release "$_mjk"
    else
      _java_exec "$_mjk" session </dev/null 2>&1
      _mjr=$?
      [ "$_mjr" = 0 ] || printf 'FAILED: java -version failed for %s exit code %s\n' "$3" "$_mjr"
    fi
  }
  _r E 0
  [ "$_mjs" = 1 ] && [ "$_jwt" = no ] && _r W 2003 "java -version not run for '$3': $_jwhy"
  return 0
}

# java/static/opt_<n>/version: each regular file named java with any execute
# bit below /Library and /Applications, in find's order. One path per line:
# spaces are normal in these paths ("Internet Plug-ins"). find's complaints
# about folders this user may not enter go to stderr.log, as in the reference.
_mac_java_static() {
  _run 600 find /Library /Applications -name java -type f -perm +0111 -print </dev/null | {
    _mjn=0
    while IFS= read -r _mjf; do
      [ -f "$_mjf" ] || continue
      _mjn=$((_mjn + 1))
      _mac_java_record "$1" "java/static/opt_$_mjn/version" "$_mjf" "$2"
    done
  }
}

# virtualbox/extpacks.txt and virtualbox/extension_<n>.xml where VirtualBox is
# installed. The reference tests /Applications/Virtualbox.app, which matches
# the real VirtualBox.app only on a case-insensitive volume (the default);
# both spellings are tried so a case-sensitive volume gives the same result.
_mac_virtualbox() {
  _mvd=
  for _mvc in /Applications/Virtualbox.app /Applications/VirtualBox.app; do
    if [ -d "$_mvc" ]; then _mvd=$_mvc; break; fi
  done
  [ -n "$_mvd" ] || { _r S "$1" absent; return 0; }
  _r B "$1" - - virtualbox/extpacks.txt
  _run 120 "$_mvd/Contents/MacOS/VBoxManage" list extpacks
  _r E 0
  _mvn=0
  for _mvf in "$_mvd"/Contents/MacOS/ExtensionPacks/*/*.xml; do
    _mac_readable "$_mvf" || continue
    _mvn=$((_mvn + 1))
    _mac_copy "$1" "virtualbox/extension_$_mvn.xml" "$_mvf"
  done
}
