# octoscan-remote probe library. POSIX sh only: it runs on dash, bash, busybox
# ash and macOS /bin/sh. The controller prepends _T (the frame token) and
# appends the probe calls built from targets/*.ts.
#
# Rules every function keeps:
# - read only: nothing is written on the target, not even a temp file;
# - every external command gets </dev/null, because the script itself arrives
#   on standard input and a command reading stdin would eat it;
# - the token is only ever printed by the printf builtin, so it never shows up
#   in any process's argv (ps -ef output is collected and must not forge it);
# - every probe fails alone: no set -e, each failure becomes a W record.

LC_ALL=C; export LC_ALL
PATH="/usr/sbin:/usr/bin:/sbin:/bin:/usr/local/sbin:/usr/local/bin${PATH:+:$PATH}"; export PATH
umask 077
_nl='
'
_ws=' 	'

# One record: a newline, the token, the fields. Bodies follow B records.
_r() { printf '\n%s %s\n' "$_T" "$*"; }

_have() {
  command -v "$1" >/dev/null 2>&1 || return 1
  case $1 in rpm) _not_busybox "$1" ;; esac
}

# busybox portability: busybox's rpm applet only unpacks package files (it has
# no database to list), and a busybox shell built with FEATURE_SH_STANDALONE
# (Debian's busybox-static, many appliances) runs an applet by its name even
# where no link to it exists, so `command -v rpm` answers on a host with no
# RPM at all. Such an rpm is not a package manager: the rpm probe is skipped
# there instead of failing with warning 1004. A bare name from command -v is
# an applet (or builtin); a path is asked for its version, which busybox
# answers with its banner.
_not_busybox() {
  _nb=$(command -v "$1" 2>/dev/null)
  case $_nb in /*) ;; *) return 1 ;; esac
  case $("$_nb" --version 2>&1 </dev/null) in *BusyBox*) return 1 ;; esac
  return 0
}

# Deadlines and caps are the controller's: it knows which command runs, how
# long it has run and how many bytes it has sent, so the target needs no
# watchdog process and no head per command (on hosts where fork is dear those
# were most of a scan's cost). _run starts a command in the background (so
# its standard input is /dev/null), announces it with a K record (pid and
# deadline) and its end with a k record; the controller answers a command
# that overruns its deadline or its entry's cap with a line "K <pid>" on the
# script's standard input, which _steer reads and acts on. The K record goes
# to fd 8, the script's own standard output, also from inside a command
# substitution; it may land inside an entry's body, which the controller cuts
# out again. So it has no newline in front (<token>+K ...): a line-buffered
# printf (bash) writes up to each newline at once, and this record must be
# one write.
_run() {
  _rs=$1; shift
  "$@" &
  _waitk "$_rs"
}
# _waitk SECONDS: announce the command just started in the background ($!), wait for it, announce its end.
_waitk() {
  _rp=$!
  printf '%s+K %s %s\n' "$_T" "$_rp" "$1" >&8
  wait "$_rp"
  _rr=$?
  printf '%s+k %s\n' "$_T" "$_rp" >&8
  return "$_rr"
}

# _steer: the controller's lines. The shell has read the whole script by the
# time this starts (the last line starts it), and the controller writes only
# after the R record that follows, so nothing of the script is taken for a
# line or the other way round. First "H" (a controller steers this scan: a
# script run by hand gets end of input instead and runs unsteered, within the
# backstop), then "K <pid>" kills that command. End of input after H, before
# the script ended, means the controller is gone (connection lost, deadline
# passed, controller killed): nothing of the scan may go on without it.
_steer() {
  IFS= read -r _sl || return 0
  [ "$_sl" = H ] || return 0
  while IFS= read -r _sl; do
    case $_sl in
      "K "*)
        _sp=${_sl#K }
        case $_sp in '' | *[!0-9]*) ;; *) kill -9 "$_sp" 2>/dev/null ;; esac ;;
    esac
  done
  _lost
}

# _backstop: the target's own limit, for a controller that vanished without
# closing the connection (a network cut): after _H seconds (the host's
# deadline) the scan ends as if the controller had gone. One sleep at a time,
# at most a minute each; the trap ends the current one with the scan.
_backstop() {
  trap 'kill "$_bsp" 2>/dev/null; exit 0' TERM
  _bst=0
  _bsn=60
  [ "$_H" -lt 60 ] && _bsn=$_H
  while [ "$_bst" -lt "$_H" ]; do
    sleep "$_bsn" &
    _bsp=$!
    wait "$_bsp"
    _bst=$((_bst + _bsn))
  done
  _lost
}

# _lost: stop the scan and everything it started. Where the scan's shell
# leads its own process group (sshd's session, sudo with a pty, --local) the
# group goes at once; otherwise (sudo without a pty, an engine's exec) the
# shell is stopped first, so it starts nothing new, and its children and
# theirs are found in /proc (pkill -P where there is no /proc).
_lost() {
  kill -STOP "$$" 2>/dev/null
  kill -9 -"$$" 2>/dev/null
  if [ -r /proc/self/stat ]; then
    IFS= read -r _lsf </proc/self/stat
    _lme=${_lsf%% *}
    _lk=" $$ "
    for _lpass in 1 2; do
      for _lp in /proc/[0-9]*; do
        IFS= read -r _lsf <"$_lp/stat" 2>/dev/null || continue
        _lsf=${_lsf##*) }
        _lsf=${_lsf#* }
        _lsf=${_lsf%% *}
        case $_lk in *" $_lsf "*) case $_lk in *" ${_lp#/proc/} "*) ;; *) _lk="$_lk${_lp#/proc/} " ;; esac ;; esac
      done
    done
    for _lp in $_lk; do [ "$_lp" = "$_lme" ] || kill -9 "$_lp" 2>/dev/null; done
  else
    pkill -9 -P "$$" 2>/dev/null </dev/null
    kill -9 "$$" 2>/dev/null
  fi
  exit 0
}

# _start: what every scan begins with, once the script is read: the steering
# reader on the script's standard input (an asynchronous command gets
# /dev/null as its standard input, so the input is passed on through fd 7, on
# a group of its own: bash reading its script from standard input loses
# output where the current shell itself duplicates fd 0), the backstop, fd 8,
# and a low priority for all of it.
_start() {
  exec 8>&1
  { _steer <&7 7<&- >/dev/null 2>&1 & } 7<&0
  _stp=$!
  _backstop >/dev/null 2>&1 &
  _bkp=$!
  _r R
  # Be a good guest: lowest CPU priority we may take, lowest best-effort I/O class.
  renice -n 19 -p $$ </dev/null >/dev/null 2>&1
  ionice -c 2 -n 7 -p $$ </dev/null >/dev/null 2>&1
  _who
}

# _end: the reader and the backstop go (the backstop's trap ends its sleep), then the end record.
_end() {
  kill "$_stp" "$_bkp" 2>/dev/null
  _r Z
}

# Byte cap for the one output the shell itself keeps (java -version's, held
# in a variable): head -c, asked once when first needed. busybox portability:
# a busybox built without FEATURE_FANCY_HEAD has a head without -c, which
# would empty the record; then the deadline alone bounds it.
_capb=
_capinit() {
  [ -n "$_capb" ] && return 0
  if [ "$(printf ab | head -c 1 2>/dev/null)" = a ]; then
    _capb=head _capf=-c
  else
    _capb=_cap _capf=
  fi
}
_cap() { cat; }

# Modification times (and modes) of every file the section copies, asked in
# one stat: _mtimes PATH... keeps lines "<path> <mtime> <mode>"; _mtime_of
# PATH sets _fmt and _fmd from them, else asks date -r / stat for that file
# alone (a stat without -c, a name holding a newline, a file that came later).
_mta=
_mtimes() {
  _mtn=$(_run 60 stat -L -c '%n %Y %a' -- "$@" 2>/dev/null)
  _mta="$_mta$_nl$_mtn$_nl"
}
_mtime_of() {
  _fmt= _fmd=
  case $_mta in
    *"$_nl$1 "[0-9]*" "[0-7]*"$_nl"*)
      _fmt=${_mta#*"$_nl$1 "}
      _fmt=${_fmt%%"$_nl"*}
      _fmd=${_fmt#* }
      _fmt=${_fmt%% *}
      case $_fmt$_fmd in *[!0-9]*) _fmt= _fmd= ;; esac ;;
  esac
  [ -n "$_fmt" ] || _fmt=$(date -r "$1" +%s 2>/dev/null </dev/null) || _fmt=-
  [ -n "$_fmt" ] || _fmt=-
}
_mode() {
  stat -c %a "$1" 2>/dev/null </dev/null || stat -f %Lp "$1" 2>/dev/null </dev/null || printf -
}

# Who runs the scan, asked once: `id` prints `uid=N(name) gid=...`, and an
# ` euid=` field only when the effective uid differs. _uid (effective), _ruid
# (real) and _uname (effective account name, empty where it has none) come
# from that one line; anything else (a set-uid shell, odd output) asks the
# three questions separately, as before. The kernel's name, release, machine
# and processor come from one uname: the name and the machine are one word
# each; where the release or processor holds a space they are asked alone.
_who() {
  _idl=$(id 2>/dev/null </dev/null)
  _ruid=${_idl#uid=}
  _ruid=${_ruid%%[!0-9]*}
  case $_idl in
    *" euid="* | '') _ruid= ;;
    "uid=$_ruid("*) _uname=${_idl#"uid=$_ruid("}; _uname=${_uname%%") gid="*} ;;
    "uid=$_ruid gid="*) _uname= ;;
    *) _ruid= ;;
  esac
  if [ -n "$_ruid" ]; then
    _uid=$_ruid
  else
    _uid=$(id -u 2>/dev/null </dev/null)
    _ruid=$(id -ru 2>/dev/null </dev/null)
    _uname=$(id -un 2>/dev/null </dev/null)
  fi
  _unl=$(uname -s -r -m -p 2>/dev/null </dev/null)
  set -f
  # Unquoted on purpose: the words of one uname line.
  set -- $_unl
  set +f
  _uns=${1:-}
  if [ $# = 4 ]; then
    _unr=$2 _unm=$3 _unp=$4
  else
    _unr=$(uname -r 2>/dev/null </dev/null)
    _unm=$(uname -m 2>/dev/null </dev/null)
    _unp=$(uname -p 2>/dev/null </dev/null)
  fi
}

# Warning texts follow the reference: "cannot read <path>: <repr of the
# Python exception>", e.g. PermissionError(13, 'Permission denied').
# _denied PATH ROOTONLY: warning 1002, saying so when root would have read it.
_denied() {
  if [ "$2" = 1 ] && [ "$_uid" != 0 ]; then
    _r W 1002 "cannot read $1: PermissionError(13, 'Permission denied') (readable by root only; scanned as uid $_uid)"
  else
    _r W 1002 "cannot read $1: PermissionError(13, 'Permission denied')"
  fi
}

# _file PROBE ENTRY PATH ROOTONLY HOW [SHOWN]: copy one file byte for byte.
# HOW: 0 = cat, 1 = cat and the file's mode in the record (binary entries), t
# = the shell's own read (_text). SHOWN is the path as warnings name it (a
# name holding a newline is shown %0A-escaped: a record is one line).
_file() {
  _fs=${6:-$3}
  if [ ! -e "$3" ]; then _r W 1001 "add_file cannot read '$_fs': file does not exist"; return 1; fi
  if [ -d "$3" ]; then _r W 1002 "cannot read $_fs: IsADirectoryError(21, 'Is a directory')"; return 1; fi
  if [ ! -r "$3" ]; then _denied "$_fs" "$4"; return 1; fi
  _mtime_of "$3"
  _fm=-
  if [ "$5" = 1 ]; then
    if [ -n "$_fmd" ]; then _fm=$_fmd; else _fm=$(_mode "$3"); fi
  fi
  _r B "$1" "$_fmt" "$_fm" "$2"
  if [ "$5" = t ]; then _text "$3" 2>/dev/null; else _run 60 cat "$3" 2>/dev/null; fi
  _frc=$?
  _r E "$_frc"
  if [ "$_frc" != 0 ]; then _r W 1003 "cannot read $_fs: OSError(5, 'Input/output error')"; return 1; fi
}

# _text FILE: a small text file the kernel makes (a sysfs attribute, at most
# a page; /proc/version, /proc/meminfo) copied by the shell's read builtin,
# without a process. Byte for byte for text without NUL bytes, which these
# never hold: every line with its newline, the last one as it ends.
_text() {
  _tl=
  { while IFS= read -r _tl; do printf '%s\n' "$_tl"; done; printf '%s' "$_tl"; } <"$1"
}

# _pctnl NAME: sets _pn to NAME with % as %25 and newline as %0A (byte-wise,
# LC_ALL=C), for names holding a newline; only such rare names pay the loop.
_pctnl() {
  _pi=$1 _pn=
  while [ -n "$_pi" ]; do
    _pc=${_pi%"${_pi#?}"}
    _pi=${_pi#?}
    case $_pc in
      %) _pn="$_pn%25" ;;
      "$_nl") _pn="$_pn%0A" ;;
      *) _pn="$_pn$_pc" ;;
    esac
  done
}

# _glob PROBE ENTRYDIR ROOTONLY-NAMES HOW FILE...: each regular file
# into ENTRYDIR/<basename>. An unmatched glob arrives as its own pattern and
# fails -e; folders are not files and are passed over, as the scanner does.
# A name holding a newline cannot travel in a record line: it is announced as
# ENTRYDIR//<name with %25 and %0A> (no base name holds a /, so the double
# slash is unambiguous), the controller stores it %0A-escaped, and a warning
# says so.
_glob() {
  _gp=$1 _gd=$2 _gr=$3 _gb=$4; shift 4
  for _gf in "$@"; do
    [ -e "$_gf" ] || continue
    [ -d "$_gf" ] && continue
    _gn=${_gf##*/}
    _gro=0
    case $_gn in
      *"$_nl"*)
        _pctnl "$_gn"
        _r W 1003 "file name ${_gf%/*}/$_pn holds a newline: stored as $_gd/$_pn"
        _file "$_gp" "$_gd//$_pn" "$_gf" 0 "$_gb" "${_gf%/*}/$_pn"
        continue ;;
    esac
    case " $_gr " in *" $_gn "*) _gro=1 ;; esac
    _file "$_gp" "$_gd/$_gn" "$_gf" "$_gro" "$_gb"
  done
}

# _cmdx PROBE ENTRY OKEXITS MORE SECONDS FLAGS INPUT ARGV...: the command's
# standard output is the entry. SECONDS is its deadline. FLAGS: e = its
# standard error goes into the entry too, - = nothing special. INPUT is fed to
# its standard input ('' = /dev/null). Standard error not kept in the entry
# goes to the script's own standard error: between a P <probe> and a p record
# (the controller keeps the head of it with the probe in scan.json: why
# hostnamectl failed), or as it is where _clog=1 (the macOS section: the
# controller keeps it as stderr.log). No pipe and no subshell: the command
# writes straight into the stream, and its status is wait's.
_cmdx() {
  _cp=$1 _ce=$2 _co=$3 _cm=$4 _ct=$5 _cf=$6 _ci=$7; shift 7
  _r B "$_cp" - - "$_ce"
  if [ "$_cf" = e ]; then
    _crun "$@" 2>&1
    _crc=$?
  elif [ "${_clog:-0}" = 1 ]; then
    _crun "$@"
    _crc=$?
  else
    printf '\n%s P %s\n' "$_T" "$_cp" >&2
    _crun "$@"
    _crc=$?
    printf '\n%s p\n' "$_T" >&2
  fi
  _r E "$_crc" "$_cm"
  case " $_co " in *" $_crc "*) return 0 ;; esac
  return 1
}
_crun() {
  if [ -n "$_ci" ]; then
    _rs=$_ct
    printf '%s' "$_ci" | "$@" &
    _waitk "$_rs"
  else
    _run "$_ct" "$@"
  fi
}

# _cmd PROBE ENTRY OKEXITS MORE ARGV...: _cmdx with the defaults (600 s,
# standard error to the P section, no input).
_cmd() {
  _cp=$1 _ce=$2 _co=$3 _cm=$4; shift 4
  _cmdx "$_cp" "$_ce" "$_co" "$_cm" 600 - '' "$@"
}

# Who runs java -version (README "What a root scan does and cannot do"). A
# java found by a search, on PATH, in $JAVA_HOME or behind /proc/<pid>/exe is
# trusted when the file (after symlinks), every folder above it and its Java
# home's lib folder (where the JVM loads libjvm and libjli from) are owned by
# root or by the scanning account and writable by neither group nor others:
# OpenSSH's StrictModes test. A trusted java runs as the scan runs. Anything
# else runs only as its owner (a running JVM's binary: as that process's uid
# and gid), which needs root and a tool to drop to it; else it is not run.

# _lsn PATH: _lm, _lu, _lg = mode string, owner uid, group gid (ls -ldn; POSIX).
_lsn() {
  _lm=- _lu=- _lg=-
  set -f
  # Unquoted on purpose: the first four fields of one ls line.
  set -- $(ls -ldn -- "$1" 2>/dev/null </dev/null)
  set +f
  [ $# -ge 4 ] && _lm=$1 _lu=$3 _lg=$4
}

# _java_trust_find REAL [LIB]: the untrusted ones among REAL, the folders above
# it and everything below LIB, one per line, then rc=<find's status>. One find
# for the whole list; the folders above are tested, not descended into.
_java_trust_find() {
  _jtr=$1 _jtlib=${2:-}
  set -- "$_jtr"
  _jta=$_jtr
  while :; do
    _jta=${_jta%/*}
    [ -n "$_jta" ] || break
    set -- "$@" "$_jta"
  done
  set -- "$@" /
  if [ -n "$_jtlib" ]; then
    set -- "$@" "$_jtlib" '(' -path "$_jtlib" -o -path "$_jtlib/*" -o -prune ')'
  else
    set -- "$@" -prune
  fi
  # A link's own mode is always rwxrwxrwx: only its owner counts.
  _run 60 find "$@" '(' '(' ! -user 0 ! -user "$_uid" ')' -o '(' ! -type l '(' -perm -0020 -o -perm -0002 ')' ')' ')' -print 2>/dev/null </dev/null
  echo "rc=$?"
}

# _java_trust REAL: sets _jtw (empty: trusted; else which paths others could
# change, for the record and the warning) and _jto (REAL's owner uid).
# Checked once per binary and scan (the cache lives in numbered variables).
_jtn=0
_java_trust() {
  _jti=0
  while [ "$_jti" -lt "$_jtn" ]; do
    _jti=$((_jti + 1))
    eval "_jtkk=\$_jtk_$_jti"
    if [ "$_jtkk" = "$1" ]; then
      eval "_jtw=\$_jtw_$_jti _jto=\$_jto_$_jti"
      return 0
    fi
  done
  _jtw= _jto=
  _jtk=$1
  case $_jtk in
    /*) ;;
    *) _jtw="not an absolute path"; _java_trust_keep; return 0 ;;
  esac
  _jtl=
  case $_jtk in
    */bin/java)
      _jtl=${_jtk%/bin/java}/lib
      [ -d "$_jtl" ] || _jtl=
      # find -path takes a pattern: a Java home named with one cannot be checked, so is not trusted.
      case $_jtl in
        *[][*?\\]*)
          _jtw="the path of its Java home holds * ? [ or a backslash"
          _lsn "$_jtk"; _jto=$_lu
          _java_trust_keep; return 0 ;;
      esac ;;
  esac
  _jtf=$(_java_trust_find "$_jtk" "$_jtl")
  _jtrc=${_jtf##*rc=}
  _jtf=${_jtf%rc=*}
  _jtc=0
  _jtifs=$IFS
  IFS=$_nl
  set -f
  for _jtp in $_jtf; do
    IFS=$_jtifs
    _jtc=$((_jtc + 1))
    if [ "$_jtc" -gt 3 ]; then _jtw="$_jtw; ..."; break; fi
    _lsn "$_jtp"
    _jtd=
    [ "$_lu" != 0 ] && [ "$_lu" != "$_uid" ] && _jtd="owner uid $_lu"
    case $_lm in l*) ;; ?????w*) _jtd="${_jtd:+$_jtd, }group gid $_lg may write" ;; esac
    case $_lm in l*) ;; ????????w*) _jtd="${_jtd:+$_jtd, }anyone may write" ;; esac
    _pctnl "$_jtp"
    _jtw="${_jtw:+$_jtw; }$_pn: ${_jtd:-changed while checked}"
  done
  IFS=$_jtifs
  set +f
  [ "$_jtrc" != 0 ] && [ -z "$_jtw" ] && _jtw="its folders could not be checked: find exit $_jtrc"
  # Its owner matters only to run it as the owner: no ls for a trusted binary.
  if [ -n "$_jtw" ]; then
    _lsn "$_jtk"
    _jto=$_lu
  fi
  _java_trust_keep
}
_java_trust_keep() {
  _jtn=$((_jtn + 1))
  eval "_jtk_$_jtn=\$_jtk _jtw_$_jtn=\$_jtw _jto_$_jtn=\$_jto"
}

# _pw_uid UID: _pwn, _pwg = the account's name and primary gid (empty when
# unknown): /etc/passwd read by the shell; getent only for directory accounts,
# id where there is no getent (macOS keeps its users in Directory Services).
_pw_uid() {
  _pwn= _pwg=
  while IFS=: read -r _pw1 _pw2 _pw3 _pw4 _pw5; do
    if [ "$_pw3" = "$1" ]; then _pwn=$_pw1 _pwg=$_pw4; return 0; fi
  done 2>/dev/null </etc/passwd
  if ! _have getent; then
    _pwg=$(id -g "$1" 2>/dev/null </dev/null) && _pwn=$(id -un "$1" 2>/dev/null </dev/null) || _pwg=
    return 0
  fi
  _pwl=$(getent passwd "$1" 2>/dev/null </dev/null)
  _pwifs=$IFS
  IFS=:
  set -f
  # Unquoted on purpose: the fields of one passwd line.
  set -- "$1" $_pwl
  IFS=$_pwifs
  set +f
  [ $# -ge 5 ] && [ "$4" = "$1" ] && _pwn=$2 _pwg=$5
  return 0
}

# The way this host drops from root to another account, found once, when
# first needed: util-linux setpriv (exact: uid, gid, no supplementary groups,
# no new privileges), else perl (the same through its $< $> $( $) variables),
# else busybox su (the account's own groups; it execs in place, so the
# deadline still holds). Empty: none, and untrusted binaries are not run.
_jdt=unset
_java_dropper() {
  [ "$_jdt" = unset ] || return 0
  _jdt=
  if _have setpriv; then
    case $(setpriv --help 2>&1 </dev/null) in *--reuid*) _jdt=setpriv; return 0 ;; esac
  fi
  if [ -x /usr/bin/perl ]; then _jdt=perl; return 0; fi
  if _have busybox; then
    case "$_nl$(busybox --list 2>/dev/null </dev/null)$_nl" in *"${_nl}su$_nl"*) _jdt=su ;; esac
  fi
  return 0
}
# The perl way: supplementary groups set to the one gid, real and effective
# gid, then real and effective uid in one setreuid; all checked before the
# exec. Fixed text: the ids and the java arrive as arguments.
_jperl='($u,$g)=splice(@ARGV,0,2);$)="$g $g";$(=$g;($<,$>)=($u,$u);die "octoscan: could not become uid $u gid $g\n" if $<!=$u||$>!=$u||($(+0)!=$g||($)+0)!=$g;exec{$ARGV[0]}@ARGV;die "octoscan: exec $ARGV[0]: $!\n"'

# _java_who REAL [PROCDIR]: how REAL may run. Sets _jwt: '' (as the scan),
# setpriv, perl or su (as _jwu:_jwg, account _jwn), or no (not run, _jwhy
# says why). PROCDIR: the /proc/<pid> whose binary it is.
_java_who() {
  _jwt= _jwhy= _jwu= _jwg= _jwn=
  _java_trust "$1"
  [ -z "$_jtw" ] && return 0
  _jwt=no
  if [ "$_uid" != 0 ]; then
    _jwhy="not trusted ($_jtw) and this scan runs as uid $_uid: only root can run it as its owner"
    return 0
  fi
  if [ -n "${2:-}" ]; then
    _jwe=
    while read -r _jwk _jwa _jwb _jwc; do
      case $_jwk in Uid:) _jwu=$_jwa _jwe=$_jwb ;; Gid:) _jwg=$_jwa ;; esac
    done 2>/dev/null <"$2/status"
    [ "$_jwe" = 0 ] && _jwu=0
    _pw_uid "$_jwu"
    _jwo="process uid $_jwu"
  else
    _jwu=$_jto
    _pw_uid "$_jwu"
    _jwg=$_pwg
    _jwo="owner uid $_jwu"
  fi
  _jwn=$_pwn
  case $_jwu in '' | *[!0-9]*) _jwhy="not trusted ($_jtw) and its owner is not known"; return 0 ;; esac
  if [ "$_jwu" = 0 ]; then
    _jwhy="not trusted ($_jtw) and its $_jwo is root: it would run as root"
    return 0
  fi
  case $_jwg in '' | *[!0-9]*) _jwhy="not trusted ($_jtw) and its $_jwo has no account with a primary group"; return 0 ;; esac
  _java_dropper
  case $_jdt in
    setpriv | perl) _jwt=$_jdt ;;
    su) if [ -n "$_jwn" ]; then _jwt=su; else _jwhy="not trusted ($_jtw) and busybox su needs an account name for uid $_jwu"; fi ;;
    *) _jwhy="not trusted ($_jtw) and this host has no way to run it as uid $_jwu: no setpriv --reuid, perl or busybox su" ;;
  esac
}

# _java_exec REAL ENV: REAL -XX:-UsePerfData -version, the way _java_who chose,
# with a 60 s deadline. ENV=session keeps the session's environment where it
# runs as the scan (macOS, as the reference); an owner always gets an empty one.
_java_exec() {
  case $_jwt in
    '') if [ "$2" = session ]; then _run 60 "$1" -XX:-UsePerfData -version; else _run 60 env -i "$1" -XX:-UsePerfData -version; fi ;;
    setpriv) _run 60 setpriv --reuid="$_jwu" --regid="$_jwg" --clear-groups --no-new-privs -- env -i "$1" -XX:-UsePerfData -version ;;
    perl) _run 60 env -i /usr/bin/perl -e "$_jperl" "$_jwu" "$_jwg" "$1" -XX:-UsePerfData -version ;;
    su) _run 60 busybox su -s /bin/sh "$_jwn" -c 'exec env -i "$0" -XX:-UsePerfData -version' "$1" ;;
  esac
}

# _java_release REAL: the JAVA_VERSION and IMPLEMENTOR lines of the Java
# home's release file (bin/.., or jre/bin/../.. for a Java 8 JRE inside a
# JDK), read without running anything: a regular file, not a link, its
# first 64 KiB.
_java_release() {
  _jrd=${1%/*}
  _jrf=$_jrd/../release
  case $_jrd in */jre/bin) [ -f "$_jrf" ] || _jrf=$_jrd/../../release ;; esac
  [ -f "$_jrf" ] && [ ! -L "$_jrf" ] || return 0
  _capinit
  "$_capb" $_capf 65536 <"$_jrf" 2>/dev/null | while IFS= read -r _jrl; do
    case $_jrl in JAVA_VERSION=* | IMPLEMENTOR=*) printf '%s\n' "$_jrl" ;; esac
  done
}

# _java_version JAVA CAP+1 [PROCDIR]: sets _jo (java -version's output,
# capped) and _jrc (its status; nr = not run, _jo then says why). One run per
# binary, account and scan: the java on PATH, the homes the search finds and
# the running JVMs are usually the same few binaries reached by other paths,
# so a result is kept under the binary's real path, which is also what runs
# (a link changed after the check changes nothing).
# -XX:-UsePerfData: otherwise every JVM started writes /tmp/hsperfdata_<user>/<pid>
# (and may leave the folder behind); the output of -version is the same.
# OpenJ9 and other JVMs ignore -XX: options they do not know.
# The cache lives in numbered variables; every eval below only assigns.
_jvn=0
_java_version() {
  _jvj=$1
  _jvk=$(readlink -f "$_jvj" 2>/dev/null </dev/null) || _jvk=$_jvj
  [ -n "$_jvk" ] || _jvk=$_jvj
  _java_who "$_jvk" "${3:-}"
  if [ "$_jwt" = no ]; then
    _jrc=nr
    _jo=$_jwhy
    return 0
  fi
  _jva="$_jwt:$_jwu:$_jwg"
  _jvi=0
  while [ "$_jvi" -lt "$_jvn" ]; do
    _jvi=$((_jvi + 1))
    eval "_jvkk=\$_jvk_$_jvi _jvcc=\$_jvc_$_jvi _jvaa=\$_jva_$_jvi"
    if [ "$_jvkk" = "$_jvk" ] && [ "$_jvaa" = "$_jva" ]; then
      eval "_jo=\$_jvo_$_jvi _jrc=\$_jvr_$_jvi"
      # Kept under another cap (the search's and the running JVMs' differ):
      # the same answer where neither cap cut it.
      [ "$_jvcc" = "$2" ] && return 0
      [ "${#_jo}" -lt "$((_jvcc - 1))" ] && [ "${#_jo}" -lt "$(($2 - 1))" ] && return 0
    fi
  done
  _capinit
  _jo=$( { _java_exec "$_jvk" empty 2>&1 >/dev/null </dev/null; echo "rc=$?"; } | "$_capb" $_capf "$2")
  case $_jo in
    *rc=*) _jrc=${_jo##*rc=}; _jo=${_jo%rc=*} ;;
    *) _jrc=0 ;; # cut by the cap before the status arrived: keep what came
  esac
  _jvn=$((_jvn + 1))
  eval "_jvk_$_jvn=\$_jvk _jvc_$_jvn=\$2 _jva_$_jvn=\$_jva _jvo_$_jvn=\$_jo _jvr_$_jvn=\$_jrc"
}

# _java_record PROBE ENTRY JAVA CAP+1 [PROCDIR]: the spec's version record for
# one JVM. java -version runs with an empty environment (env -i) and its own
# deadline; its standard error is what the record keeps. A java that may not
# run (_java_who) gets a NOT RUN line saying why, the release file's
# JAVA_VERSION and IMPLEMENTOR, and warning 2003 naming who could change it.
_java_record() {
  _jp=$1 _je=$2 _jj=$3 _jd=${3%/*}
  _jv=JRE
  [ -f "$_jd/javac" ] && [ -x "$_jd/javac" ] && _jv=JDK
  _jf=
  [ -e /etc/oracle/java/usagetracker.properties ] && _jf=JavaFeatureUsageTrackerGlobal
  if [ -e "$_jd/../lib/management/usagetracker.properties" ] || [ -e "$_jd/../conf/management/usagetracker.properties" ]; then
    _jf=${_jf:+$_jf,}JavaUsageTrackerHome
  fi
  _java_version "$_jj" "$4" "${5:-}"
  _r B "$_jp" - - "$_je"
  printf 'Path:%s\nVariant:%s\n' "$_jj" "$_jv"
  [ -n "$_jf" ] && printf 'Features:%s\n' "$_jf"
  printf '\n'
  case $_jrc in
    0) printf '%s' "$_jo" ;;
    nr) printf "NOT RUN: java -version not run for '%s': %s\n" "$_jj" "$_jo"; _java_release "$_jvk" ;;
    126) printf "FAILED: java -version failed for '%s': PermissionError(13, 'Permission denied')" "$_jj" ;;
    127) printf "FAILED: java -version failed for '%s': FileNotFoundError(2, 'No such file or directory')" "$_jj" ;;
    *) printf "FAILED: java -version failed for '%s', exit code: %s\n%s" "$_jj" "$_jrc" "$_jo" ;;
  esac
  _r E 0
  case $_jrc in
    0) ;;
    nr) _r W 2003 "java -version not run for '$_jj': $_jo" ;;
    126) _r W 2003 "java -version failed for '$_jj': PermissionError(13, 'Permission denied')" ;;
    127) _r W 2003 "java -version failed for '$_jj': FileNotFoundError(2, 'No such file or directory')" ;;
    *) _r W 2002 "java -version failed for '$_jj', exit code: $_jrc" ;;
  esac
}

_is_exec_file() { [ -f "$1" ] && [ -x "$1" ]; }

_java_default() {
  _jdp=$(command -v java 2>/dev/null)
  case $_jdp in /*) _is_exec_file "$_jdp" && _java_record "$1" "$2" "$_jdp" "$3" ;; esac
}

_java_home() {
  [ -n "${JAVA_HOME:-}" ] && _is_exec_file "$JAVA_HOME/bin/java" && _java_record "$1" "$2" "$JAVA_HOME/bin/java" "$3"
}

# Every file or link named java below the search folders, byte-sorted, unique,
# numbered only when written (spec section 8). find's exit status is ignored:
# one unreadable folder must not drop the hits of the others.
_java_static() {
  _jsp=$1 _jsc=$2; shift 2
  _jsn=0
  # Prune only the system folders a search folder can reach: with the usual
  # folders none can, and each -path test ran on every one of ~100,000 entries.
  _jsx=
  for _jsy in /dev /proc /run /sys /etc; do
    for _jsr in "$@"; do
      _jsr=${_jsr%/} # a separate step: bash 5.2 mis-expands "${x%/}" inside a case pattern
      case $_jsy/ in "$_jsr"/*) _jsx="$_jsx $_jsy"; break ;; esac
    done
  done
  if [ -n "$_jsx" ]; then
    set -- "$@" '('
    _jso=
    # Unquoted on purpose: constant folder names, split into words.
    for _jsy in $_jsx; do set -- "$@" $_jso -path "$_jsy"; _jso=-o; done
    set -- "$@" ')' -prune -o
  fi
  # Collected first, then walked in this shell (not in a pipeline's subshell),
  # so that _java_dynamic still knows the java -version results.
  _jsl=$(_run 600 find "$@" -name java \( -type f -o -type l \) -print 2>/dev/null </dev/null | sort -u)
  _jsifs=$IFS
  IFS=$_nl
  set -f
  for _jsj in $_jsl; do
    IFS=$_jsifs
    _is_exec_file "$_jsj" || continue
    _jsn=$((_jsn + 1))
    _java_record "$_jsp" "java/static/opt_$_jsn/version" "$_jsj" "$_jsc"
  done
  IFS=$_jsifs
  set +f
}

# _is_probe_jvm /proc/PID: its command line is exactly `<java> -XX:-UsePerfData
# -version`, i.e. a scanner's probe (this scan's or a concurrent one's), not an
# application. The arguments are NUL-separated; as lines, that is three lines.
_is_probe_jvm() {
  _pja=$(tr '\000' '\n' <"$1/cmdline" 2>/dev/null)
  case $_pja in *"$_nl"*"$_nl"*"$_nl"*) return 1 ;; esac
  case $_pja in *"$_nl-XX:-UsePerfData$_nl-version") return 0 ;; esac
  return 1
}

# Running JVMs by command name; the scan user's own unless we are root. Found
# first, so that one stat gives the times of all their cmdline and environ
# files, then recorded.
_java_dynamic() {
  _jdn=0
  for _jdd in /proc/[0-9]*; do
    [ -r "$_jdd/comm" ] || continue
    IFS= read -r _jdc <"$_jdd/comm" 2>/dev/null || continue
    case $_jdc in [Jj][Aa][Vv][Aa]) ;; *) continue ;; esac
    if [ "$_uid" != 0 ] && [ ! -O "$_jdd" ]; then continue; fi
    if ! _jdx=$(readlink "$_jdd/exe" 2>/dev/null </dev/null); then
      if [ -e "$_jdd" ]; then
        _r W 1010 "Error on readlink $_jdd/exe: PermissionError(13, 'Permission denied')"
      else
        _r W 1010 "Error on readlink $_jdd/exe: FileNotFoundError(2, 'No such file or directory')"
      fi
      continue
    fi
    _is_exec_file "$_jdx" || continue
    _is_probe_jvm "$_jdd" && continue
    _jdn=$((_jdn + 1))
    eval "_jdd_$_jdn=\$_jdd _jdx_$_jdn=\$_jdx"
  done
  [ "$_jdn" -gt 0 ] || return 0
  _jdm=$1 _jdcap=$2
  set --
  _jdi=0
  while [ "$_jdi" -lt "$_jdn" ]; do
    _jdi=$((_jdi + 1))
    eval "_jdd=\$_jdd_$_jdi"
    set -- "$@" "$_jdd/cmdline" "$_jdd/environ"
  done
  _mtimes "$@"
  _jdi=0
  while [ "$_jdi" -lt "$_jdn" ]; do
    _jdi=$((_jdi + 1))
    eval "_jdd=\$_jdd_$_jdi _jdx=\$_jdx_$_jdi"
    _jdpid=${_jdd##*/}
    _java_record "$_jdm" "java/dynamic/$_jdpid/version" "$_jdx" "$_jdcap" "$_jdd"
    _file "$_jdm" "java/dynamic/$_jdpid/cmdline" "$_jdd/cmdline" 0 0
    _file "$_jdm" "java/dynamic/$_jdpid/environ" "$_jdd/environ" 0 0
  done
}

# Online memory: block size (hex) times the online blocks.
_total_memory() {
  _tmd=/sys/devices/system/memory
  [ -r "$_tmd/block_size_bytes" ] || return 0
  IFS= read -r _tmb <"$_tmd/block_size_bytes" || return 0
  case $_tmb in *[!0-9a-fA-F]* | '') return 0 ;; esac
  _tmn=0
  for _tmo in "$_tmd"/memory*/online; do
    [ -r "$_tmo" ] || continue
    IFS= read -r _tmv <"$_tmo" && [ "$_tmv" = 1 ] && _tmn=$((_tmn + 1))
  done
  _r B "$1" - - "$2"
  printf '%s\n' "$((0x$_tmb * _tmn))"
  _r E 0
}

# Facts for octoscan.xml. Python's socket.getfqdn(): resolve the host name,
# reverse-resolve the address, first name with a dot, else the canonical name.
# Sets _fq. Each getent has the resolver's own deadline and a 30 s one.
_fqdn() {
  # Linux keeps the host name (what hostname prints) in /proc: read by the
  # shell, unless it is empty or missing.
  _fh=
  [ -r /proc/sys/kernel/hostname ] && IFS= read -r _fh </proc/sys/kernel/hostname 2>/dev/null
  [ -n "$_fh" ] || _fh=$(hostname 2>/dev/null </dev/null || uname -n)
  _fq=$_fh
  _have getent || return 0
  # The first line's first word: the address.
  _fa=$(_run 30 getent ahosts "$_fh" 2>/dev/null)
  _fa=${_fa%%"$_nl"*}
  _fa=${_fa%%[$_ws]*}
  [ -n "$_fa" ] || return 0
  # The first line's words after the address: the canonical name, then the aliases.
  _fl=$(_run 30 getent hosts "$_fa" 2>/dev/null)
  _fl=${_fl%%"$_nl"*}
  set -f
  # Unquoted on purpose: the words of one hosts line.
  set -- $_fl
  set +f
  [ $# -ge 2 ] || return 0
  shift
  _fq=$1
  for _fn in "$@"; do case $_fn in *.*) _fq=$_fn; return 0 ;; esac; done
}

_facts_common() {
  _r I os "$_uns"
  _r I uid "$_ruid"
  _r I euid "$_uid"
  _r I login "${_uname:-${LOGNAME:-${USER:-}}}"
  _clock
  _fqdn
  _r I fqdn "$_fq"
}

# The clock, read once: epoch, local time and offset from one date, the UTC
# time computed from the epoch (days to civil date: H. Hinnant's algorithm,
# exact for the proleptic Gregorian calendar, as date -u). Output of another
# shape (no %s, a clock before 1970) asks date each time, as before.
_clock() {
  _ck=$(date '+%s %Y-%m-%dT%H:%M:%S %z' </dev/null)
  case $_ck in
    [0-9]*" "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]" "[+-][0-9][0-9][0-9][0-9]) ;;
    *)
      _r I epoch "$(date +%s </dev/null)"
      _r I utc "$(date -u +%Y-%m-%dT%H:%M:%S </dev/null)"
      _r I local "$(date +%Y-%m-%dT%H:%M:%S </dev/null)"
      _r I tz "$(date +%z </dev/null)"
      return 0 ;;
  esac
  _cke=${_ck%% *}
  case $_cke in *[!0-9]*) _cke=0 ;; esac
  _ckz=$((_cke / 86400 + 719468))
  _cks=$((_cke % 86400))
  _cka=$((_ckz / 146097))
  _ckd=$((_ckz - _cka * 146097))
  # One operation level per step: no parentheses inside $(( )).
  _cky=$((_ckd - _ckd / 1460 + _ckd / 36524 - _ckd / 146096))
  _cky=$((_cky / 365))
  _ckn=$((365 * _cky + _cky / 4 - _cky / 100))
  _ckn=$((_ckd - _ckn))
  _ckp=$((5 * _ckn + 2))
  _ckp=$((_ckp / 153))
  _ckday=$((153 * _ckp + 2))
  _ckday=$((_ckn - _ckday / 5 + 1))
  if [ "$_ckp" -lt 10 ]; then _ckm=$((_ckp + 3)); else _ckm=$((_ckp - 9)); fi
  _cky=$((_cky + _cka * 400))
  [ "$_ckm" -le 2 ] && _cky=$((_cky + 1))
  _ckh=$((_cks / 3600))
  _ckmi=$((_cks % 3600 / 60))
  _cks=$((_cks % 60))
  # Two digits each, padded here (a printf in $( ) would cost a fork).
  [ "$_ckm" -lt 10 ] && _ckm=0$_ckm
  [ "$_ckday" -lt 10 ] && _ckday=0$_ckday
  [ "$_ckh" -lt 10 ] && _ckh=0$_ckh
  [ "$_ckmi" -lt 10 ] && _ckmi=0$_ckmi
  [ "$_cks" -lt 10 ] && _cks=0$_cks
  _r I epoch "$_cke"
  _r I utc "$_cky-$_ckm-${_ckday}T$_ckh:$_ckmi:$_cks"
  _ck=${_ck#* }
  _r I local "${_ck% *}"
  _r I tz "${_ck##* }"
}

_facts_linux() {
  _r I uname-r "$_unr"
  _r I uname-m "$_unm"
  _r I uname-p "$_unp"
  _r I libc "$(getconf GNU_LIBC_VERSION 2>/dev/null </dev/null)"
  _py=
  _have python3 && _py=$(_run 30 python3 -V 2>&1)
  _r I python "$_py"
}
