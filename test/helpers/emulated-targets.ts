// Emulated scan targets: one root-owned chroot per recorded system profile of
// ../shared/fixtures, each reached over a real OpenSSH sshd as its own "host"
// on loopback (127.0.10.N, `Match LocalAddress` + `ChrootDirectory`). No hook
// in the product: the scanner logs in, runs `/bin/sh -s` and sees the
// profile's files at their real paths and the profile's commands.
//
// What a chroot holds:
// - a shell as /bin/sh, chosen as on the real system: busybox ash (Alpine,
//   busybox appliances), dash (Debian, Ubuntu), bash in POSIX mode (RHEL
//   family, SUSE, Amazon Linux; macOS, whose /bin/sh is bash 3.2), with its
//   libraries; busybox-static as every other tool (`busybox --install -s`
//   layout), minus the applets that a real system of that family would not
//   have (rpm, dpkg);
// - the fixture files at their paths (etc/os-release, proc/cpuinfo,
//   sys/class/dmi/id/*, Applications/*/Contents/Info.plist, ...), byte for
//   byte;
// - small shims for the commands the fixtures recorded, which answer the way
//   the real tool does: rpm interprets its --queryformat over a package list,
//   dpkg-query its -f over /var/lib/dpkg/status, apk lists
//   /lib/apk/db/installed, system_profiler/ioreg/sysctl/scutil/java_home/brew
//   answer only the exact invocation of the spec (so a wrong argument shows
//   up as a missing entry), uname/hostname give the profile's identity;
// - component sets (java-versions, macos-apps, macos-jdks, other-*) added to
//   some profiles to exercise the Java, application and DMI probes; what was
//   added or synthesized is listed in each target's `notes`.
//
// busybox's shell runs its own applets before PATH (FEATURE_SH_STANDALONE in
// Debian's build), so a profile that needs a shim named like an applet
// (uname for another architecture or for Darwin, ps, hostname) uses dash or
// bash, which honour PATH.
//
// sshd accepts a ChrootDirectory only when it and every parent are root-owned
// and writable by no one else: the chroots live below /var/lib/octoscan-test
// (override: OCTOSCAN_EMUL_DIR), one folder per test process, removed at exit.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SYSTEM_PROFILER_TYPES } from '../../targets/macos.js';
import { createTestUser, makeHostKeyDir, startSshd, type Sshd, type TestUser } from './sshd.js';

const ROOT = path.resolve(fileURLToPath(new URL('../..', import.meta.url)));

/** The recorded profiles (../shared/fixtures, or OCTOSCAN_FIXTURES_DIR). */
export const FIXTURES_DIR = path.resolve(process.env.OCTOSCAN_FIXTURES_DIR ?? path.join(ROOT, '..', 'shared', 'fixtures'));

/**
 * Folders of the fixtures that are not a system but parts to add to one:
 * JVM version outputs, application bundles, JDK homes, and other-* hardware
 * or tool samples whose distribution is not known (README.md of the fixtures).
 */
export function isComponentSet(name: string): boolean {
  return name === 'java-versions' || name === 'macos-apps' || name === 'macos-jdks' || name.startsWith('other-');
}

export type Family = 'rpm' | 'dpkg' | 'apk' | 'busybox' | 'darwin' | 'linux' | 'unsupported';
export type ShellKind = 'busybox' | 'dash' | 'bash';

/** Every system profile of the fixtures folder, sorted. */
export function systemProfiles(dir = FIXTURES_DIR): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && !isComponentSet(d.name))
    .map((d) => d.name)
    .sort();
}

// ---------------------------------------------------------------------------
// Small file helpers

function files(dir: string, base = dir): string[] {
  const out: string[] = [];
  for (const d of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, d.name);
    if (d.isDirectory()) out.push(...files(full, base));
    else if (d.isFile()) out.push(path.relative(base, full));
  }
  return out.sort();
}

function mkdirp(p: string, mode = 0o755): void {
  mkdirSync(p, { recursive: true, mode });
}

/** Link (same file system) or copy a host file into the chroot. */
function placeHostFile(src: string, dst: string): void {
  mkdirp(path.dirname(dst));
  if (existsSync(dst)) unlinkSync(dst);
  const real = realpathSync(src);
  try {
    linkSync(real, dst);
  } catch {
    copyFileSync(real, dst);
    chmodSync(dst, statSync(real).mode & 0o7777);
  }
}

function writeFile(dst: string, data: string | Buffer, mode = 0o644): void {
  mkdirp(path.dirname(dst));
  if (existsSync(dst) || isLink(dst)) unlinkSync(dst);
  writeFileSync(dst, data, { mode });
  chmodSync(dst, mode);
}

function isLink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

function symlink(target: string, at: string): void {
  mkdirp(path.dirname(at));
  if (existsSync(at) || isLink(at)) unlinkSync(at);
  symlinkSync(target, at);
}

const sh = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

const libsCache = new Map<string, string[]>();
/** Shared libraries of a host binary (ldd), the loader included. */
function libsOf(bin: string): string[] {
  const hit = libsCache.get(bin);
  if (hit) return hit;
  const out = execFileSync('ldd', [bin], { encoding: 'utf8' });
  const libs: string[] = [];
  for (const line of out.split('\n')) {
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s*\(/.exec(line);
    if (m) libs.push(m[1]);
  }
  libsCache.set(bin, libs);
  return libs;
}

let appletCache: string[] | undefined;
/** busybox's applets with their install folders (bin/ls, usr/bin/find, ...). */
function applets(): string[] {
  appletCache ??= execFileSync('/bin/busybox', ['--list-full'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  return appletCache;
}

function hostExe(name: string): string {
  for (const d of ['/usr/bin', '/bin', '/usr/sbin', '/sbin']) {
    const p = path.join(d, name);
    if (existsSync(p)) return p;
  }
  throw new Error(`emulated targets: ${name} not found on this machine`);
}

// ---------------------------------------------------------------------------
// What a profile is

export interface ProfileInfo {
  family: Family;
  shell: ShellKind;
  /** uname -m. */
  arch: string;
  /** uname -s of a system that is neither Linux nor macOS. */
  system?: string;
}

const OTHER_SYSTEMS: [RegExp, string][] = [
  [/^freebsd/, 'FreeBSD'], [/^openbsd/, 'OpenBSD'], [/^netbsd/, 'NetBSD'], [/^(solaris|sunos|illumos|omnios)/, 'SunOS'],
  [/^aix/, 'AIX'], [/^(hpux|hp-ux)/, 'HP-UX'], [/^(cygwin|windows|win)/, 'CYGWIN_NT-10.0'],
];

function readOsRelease(dir: string): Record<string, string> {
  for (const rel of ['etc/os-release', 'usr/lib/os-release']) {
    const p = path.join(dir, rel);
    if (!existsSync(p)) continue;
    const out: Record<string, string> = {};
    for (const line of readFileSync(p, 'utf8').split('\n')) {
      const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
      if (m) out[m[1]] = m[2].replace(/^["']|["']$/g, '');
    }
    return out;
  }
  return {};
}

/** The family of a profile, from its recorded files first and its name second. */
export function profileInfo(name: string, dir = path.join(FIXTURES_DIR, name)): ProfileInfo {
  const has = (rel: string): boolean => existsSync(path.join(dir, rel));
  const cmds = has('cmd') ? readdirSync(path.join(dir, 'cmd')) : [];
  const os = readOsRelease(dir);
  const ids = `${os.ID ?? ''} ${os.ID_LIKE ?? ''}`.toLowerCase();
  let family: Family;
  const other = OTHER_SYSTEMS.find(([re]) => re.test(name));
  if (other) return { family: 'unsupported', shell: 'dash', arch: hostArch(), system: other[1] };
  if (
    has('System/Library/CoreServices/SystemVersion.plist') || has('Applications') || has('Library') ||
    cmds.some((c) => /^(sw_vers|system_profiler|ioreg|scutil|dscl|launchctl|brew_)/.test(c)) ||
    /^(macos|osx|mac-|darwin)/.test(name)
  ) family = 'darwin';
  else if (has('lib/apk/db/installed') || /\balpine\b/.test(ids) || cmds.some((c) => c.startsWith('apk')) || /^alpine/.test(name)) family = 'apk';
  else if (has('var/lib/dpkg/status') || /\b(debian|ubuntu)\b/.test(ids) || cmds.some((c) => c.startsWith('dpkg')) || /^(debian|ubuntu|mint|raspbian|kali|devuan|pop)/.test(name)) family = 'dpkg';
  else if (
    /\b(rhel|fedora|centos|suse|sles|opensuse|amzn|ol|rocky|almalinux|mariner|azurelinux)\b/.test(ids) ||
    cmds.some((c) => c.startsWith('rpm') || c.startsWith('yum') || c.startsWith('dnf') || c.startsWith('zypper')) ||
    /^(rhel|centos|rocky|alma|oracle|ol-|fedora|amazon|amzn|suse|sles|opensuse|photon|mariner)/.test(name)
  ) family = 'rpm';
  else if (/busybox/.test(name) || cmds.some((c) => /busybox/i.test(readFileSync(path.join(dir, 'cmd', c), 'latin1').slice(0, 4096)))) family = 'busybox';
  else family = 'linux';
  const shell: ShellKind = family === 'apk' || family === 'busybox' ? 'busybox' : family === 'dpkg' || family === 'linux' ? 'dash' : 'bash';
  let arch: string;
  if (family === 'darwin') arch = /-m\d|apple|arm64/.test(name) || sysctlSays(dir, /Apple (M\d|processor)/) ? 'arm64' : 'x86_64';
  else if (/aarch64|arm64|graviton/.test(name) || cpuinfoSays(dir, /^(CPU implementer|Features\s*:.*\basimd\b)/m)) arch = 'aarch64';
  else if (/ppc64le|power/.test(name) || cpuinfoSays(dir, /^cpu\s*:\s*POWER/m)) arch = 'ppc64le';
  else if (/s390x/.test(name) || cpuinfoSays(dir, /^vendor_id\s*:\s*IBM\/S390/m)) arch = 's390x';
  else arch = 'x86_64';
  return { family, shell, arch };
}

function cpuinfoSays(dir: string, re: RegExp): boolean {
  const p = path.join(dir, 'proc/cpuinfo');
  return existsSync(p) && re.test(readFileSync(p, 'latin1'));
}

function sysctlSays(dir: string, re: RegExp): boolean {
  const c = path.join(dir, 'cmd');
  if (!existsSync(c)) return false;
  return readdirSync(c).some((f) => f.startsWith('sysctl') && re.test(readFileSync(path.join(c, f), 'latin1')));
}

/** macOS release -> Darwin kernel version (10.N -> N+4, 11 -> 20, ..., 15 -> 24, 26 -> 25). */
export function darwinVersion(macos: string): string {
  const [maj, min] = macos.split('.').map(Number);
  if (maj === 10) return `${(min ?? 0) + 4}.6.0`;
  if (maj >= 11 && maj <= 15) return `${maj + 9}.0.0`;
  if (maj >= 26) return `${maj - 1}.0.0`;
  return '0.0.0';
}

/** The macOS release a profile recorded (sw_vers, SystemVersion.plist), else the one its name says. */
function macRelease(name: string, dir: string): string | undefined {
  const plist = path.join(dir, 'System/Library/CoreServices/SystemVersion.plist');
  if (existsSync(plist)) {
    const m = /<key>ProductVersion<\/key>\s*<string>([\d.]+)<\/string>/.exec(readFileSync(plist, 'utf8'));
    if (m) return m[1];
  }
  const swv = path.join(dir, 'cmd/sw_vers');
  if (existsSync(swv)) {
    const m = /ProductVersion:\s*([\d.]+)/.exec(readFileSync(swv, 'utf8'));
    if (m) return m[1];
  }
  const m = /(?:macos|osx)-(\d+(?:\.\d+)?)/.exec(name);
  return m ? m[1] : undefined;
}

// ---------------------------------------------------------------------------
// The expectations a target carries for the tests

export interface JavaExpectation {
  /** The path the record names. */
  path: string;
  /** The exact record. */
  record: Buffer;
}

export interface TargetExpectations {
  /** Entries whose bytes are known exactly: entry name (below <uuid>/) -> bytes, with where they come from. */
  contents: Map<string, { data: Buffer; source: string }>;
  /** Entries that must not be there (root-only files for an unprivileged scan). */
  absent: Set<string>;
  /** Java version records, matched by path (find's order is not fixed on macOS). */
  javaStatic: JavaExpectation[];
  javaDefault?: Buffer;
  /** macOS: java/java_<n>.plist in order. */
  javaPlists: Buffer[];
  /** Warnings the Linux octoscan.xml must hold (uid left as <uid>). */
  warnings: { id: number; message: string }[];
  /** octoscan.xml facts the target will report. */
  fqdn?: string;
  platformPattern: RegExp;
  kerberos?: boolean;
}

export interface EmulatedTarget {
  name: string;
  family: Family | 'unsupported';
  shell: ShellKind;
  arch: string;
  root: string;
  address: string;
  expect: TargetExpectations;
  /** What was added from component sets or synthesized, for people reading a failure. */
  notes: string[];
}

// ---------------------------------------------------------------------------
// Shims

const DATA = '/usr/share/octoscan-emul';

/** rpm -qa --queryformat FMT over a package list, with rpm's escapes, %{tag}, %-N{tag} and (none) for a missing tag. */
const RPM_SHIM = `#!/bin/sh
# Emulated rpm (octoscan-remote test target): rpm -qa [--queryformat FMT].
qa= qf='%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}\\n'
while [ $# -gt 0 ]; do
  case $1 in
    -qa|-aq) qa=1 ;;
    --queryformat|--qf) shift; qf=$1 ;;
    --queryformat=*|--qf=*) qf=\${1#*=} ;;
    --version) echo 'RPM version 4.16.1.3'; exit 0 ;;
    *) echo "rpm (emulated): unsupported argument: $1" >&2; exit 1 ;;
  esac
  shift
done
[ -n "$qa" ] || { echo 'rpm (emulated): only -qa' >&2; exit 1; }
RPM_QF=$qf exec /usr/bin/awk '
function emit(   out, i, n, c, d, rest, spec, tag, width, v) {
  out = ""; i = 1; n = length(qf)
  while (i <= n) {
    c = substr(qf, i, 1)
    if (c == "\\\\" && i < n) {
      d = substr(qf, i + 1, 1)
      if (d == "n") out = out "\\n"; else if (d == "t") out = out "\\t"; else if (d == "r") out = out "\\r"
      else out = out d
      i += 2; continue
    }
    if (c == "%" && substr(qf, i + 1, 1) == "%") { out = out "%"; i += 2; continue }
    if (c == "%") {
      rest = substr(qf, i)
      if (match(rest, /^%-?[0-9]*[{][A-Za-z0-9_]+[}]/)) {
        spec = substr(rest, 2, RLENGTH - 1)
        width = substr(spec, 1, index(spec, "{") - 1)
        tag = tolower(substr(spec, index(spec, "{") + 1, length(spec) - index(spec, "{") - 1))
        v = (tag in rec) ? rec[tag] : "(none)"
        if (width != "") v = sprintf("%" width "s", v)
        out = out v; i += RLENGTH; continue
      }
    }
    out = out c; i++
  }
  printf "%s", out
}
BEGIN { qf = ENVIRON["RPM_QF"] }
/^$/ { if (cnt) emit(); split("", rec); cnt = 0; next }
{ k = index($0, "="); rec[tolower(substr($0, 1, k - 1))] = substr($0, k + 1); cnt++ }
END { if (cnt) emit() }
' ${DATA}/rpm-packages
`;

/** dpkg-query -W [-f FMT] over /var/lib/dpkg/status, as dpkg-query reads it. */
const DPKG_QUERY_SHIM = `#!/bin/sh
# Emulated dpkg-query (octoscan-remote test target): -W [-f FMT | --showformat=FMT].
w= fmt='\${binary:Package}\\t\${Version}\\n'
while [ $# -gt 0 ]; do
  case $1 in
    -W|--show) w=1 ;;
    -f) shift; fmt=$1 ;;
    --showformat=*) fmt=\${1#*=} ;;
    *) echo "dpkg-query (emulated): unsupported argument: $1" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$w" ] || { echo 'dpkg-query (emulated): only -W' >&2; exit 2; }
DPKG_FMT=$fmt exec /usr/bin/awk '
function emit(   out, i, n, c, d, rest, f, v) {
  if (rec["status"] ~ /not-installed$/ || rec["package"] == "") return
  out = ""; i = 1; n = length(fmt)
  while (i <= n) {
    c = substr(fmt, i, 1)
    if (c == "\\\\" && i < n) {
      d = substr(fmt, i + 1, 1)
      if (d == "n") out = out "\\n"; else if (d == "t") out = out "\\t"; else if (d == "r") out = out "\\r"
      else out = out d
      i += 2; continue
    }
    if (c == "$" && substr(fmt, i + 1, 1) == "{") {
      rest = substr(fmt, i + 2)
      f = tolower(substr(rest, 1, index(rest, "}") - 1))
      if (f == "binary:summary") v = summary
      else if (f == "binary:package") v = rec["package"]
      else v = rec[f]
      out = out v; i += 3 + length(f); continue
    }
    out = out c; i++
  }
  printf "%s", out
}
BEGIN { fmt = ENVIRON["DPKG_FMT"] }
/^$/ { emit(); split("", rec); summary = ""; last = ""; next }
/^[ \\t]/ { next }
{ k = index($0, ":"); last = tolower(substr($0, 1, k - 1)); v = substr($0, k + 1); sub(/^ /, "", v); rec[last] = v; if (last == "description") summary = v }
END { emit() }
' /var/lib/dpkg/status
`;

/** apk list --installed: from the database as apk-tools 2 prints it, else a recorded listing. */
const APK_SHIM = `#!/bin/sh
# Emulated apk (octoscan-remote test target): apk list --installed | -I.
[ "$1" = list ] && { [ "$2" = --installed ] || [ "$2" = -I ]; } && [ $# -eq 2 ] || {
  echo "apk (emulated): unsupported arguments: $*" >&2; exit 1; }
if [ -f /lib/apk/db/installed ]; then
  exec /usr/bin/awk '
    function emit() { if (p != "") printf "%s-%s %s {%s} (%s) [installed]\\n", p, v, a, (o != "" ? o : p), l; p = v = a = o = l = "" }
    /^$/ { emit(); next }
    /^P:/ { p = substr($0, 3) } /^V:/ { v = substr($0, 3) } /^A:/ { a = substr($0, 3) }
    /^o:/ { o = substr($0, 3) } /^L:/ { l = substr($0, 3) }
    END { emit() }' /lib/apk/db/installed
fi
[ -f ${DATA}/apk-list ] && exec /bin/cat ${DATA}/apk-list
exit 0
`;

/** Prints a data file when called with exactly the recorded arguments. */
function exactShim(name: string, args: string[], dataFile: string, opts: { stderrFile?: string; exit?: number } = {}): string {
  return `#!/bin/sh
# Emulated ${name} (octoscan-remote test target): answers only ${args.join(' ') || '(no arguments)'}.
if [ "$*" != ${sh(args.join(' '))} ] || [ $# -ne ${args.length} ]; then
  echo "${name} (emulated): unexpected arguments: $*" >&2
  exit 64
fi
${opts.stderrFile ? `/bin/cat ${sh(opts.stderrFile)} >&2\n` : ''}/bin/cat ${sh(dataFile)}
exit ${opts.exit ?? 0}
`;
}

const UNAME_SHIM = `#!/bin/sh
# Emulated uname (octoscan-remote test target): the profile's values, the host's for the rest.
d=${DATA}/uname
[ $# -eq 0 ] && set -- -s
out=
for a in "$@"; do
  case $a in
    -s|--kernel-name) k=s ;; -n|--nodename) k=n ;; -r|--kernel-release) k=r ;;
    -v|--kernel-version) k=v ;; -m|--machine) k=m ;; -p|--processor) k=p ;;
    -a|--all) k=a ;;
    *) echo "uname: invalid option -- '$a'" >&2; exit 1 ;;
  esac
  if [ "$k" = a ]; then
    v=$("$0" -s -n -r -v -m)
  elif [ -f "$d/$k" ]; then
    v=$(/bin/cat "$d/$k")
  else
    v=$(/bin/busybox uname "-$k")
  fi
  out=\${out:+$out }$v
done
printf '%s\\n' "$out"
`;

function hostnameShim(name: string): string {
  const short = name.split('.')[0];
  return `#!/bin/sh
# Emulated hostname (octoscan-remote test target).
case $1 in -s|--short) echo ${sh(short)} ;; *) echo ${sh(name)} ;; esac
`;
}

const SCUTIL_SHIM = `#!/bin/sh
# Emulated scutil (octoscan-remote test target): "show <key>" lines on standard input.
[ $# -eq 0 ] || { echo "scutil (emulated): arguments not supported: $*" >&2; exit 64; }
while IFS= read -r line; do
  case $line in
    'show '*)
      f=${DATA}/scutil/$(printf '%s' "\${line#show }" | /usr/bin/tr '/:' '__')
      if [ -f "$f" ]; then /bin/cat "$f"; else echo '  No such key'; fi ;;
    quit|q) exit 0 ;;
    '') ;;
    *) echo "scutil (emulated): unknown command: $line" ;;
  esac
done
`;

function javaShim(id: string, exit: number): string {
  return `#!/bin/sh
# Emulated java (octoscan-remote test target): -version prints the recorded text;
# VM options before it (-X..., -XX:...) are accepted as a JVM accepts them.
for a in "$@"; do
  case $a in
    -version) /bin/cat ${DATA}/java/${id}.txt >&2; exit ${exit} ;;
    -X*|-D*) ;;
    *) break ;;
  esac
done
echo "java (emulated): only [VM options] -version, got: $*" >&2
exit 1
`;
}

// ---------------------------------------------------------------------------
// Building one chroot

const JAVA_VERSIONS = (n: string): string => path.join(FIXTURES_DIR, 'java-versions', n);
const OTHER = (n: string): string => path.join(FIXTURES_DIR, n);

export interface LinuxJava {
  path: string;
  text: string; // fixture file holding `java -version` stderr
  jdk?: boolean;
  exit?: number;
  links?: string[];
  usageTracker?: boolean;
  /**
   * Owned by this uid, not root (issue 20): not trusted, so a non-root scan
   * does not run it; the record says why and carries the release file's
   * JAVA_VERSION and IMPLEMENTOR (written beside bin/ from `release`).
   */
  owner?: number;
  release?: string;
}

interface MacJdk {
  bundle: string; // e.g. /Library/Java/JavaVirtualMachines/temurin-17.jdk
  release?: string; // fixture release file
  modern: boolean; // lib/modules + lib/libjava.dylib present
  jdk: boolean;
  text?: string; // version text (else synthesized from the release file)
  plugin?: boolean;
}

/** Component sets added to profiles (only where the profile exists). */
const COMPONENTS: Record<string, { java?: LinuxJava[]; files?: [string, string, number?][]; macApps?: string[]; macJdks?: MacJdk[]; virtualbox?: boolean; brew?: string[] }> = {
  'rhel-9': {
    java: [{ path: '/usr/lib/jvm/java-17-openjdk-17.0.1.0.12-2.el9.x86_64/bin/java', text: JAVA_VERSIONS('openjdk-17.0.1.txt'), jdk: true, links: ['/usr/bin/java', '/usr/bin/javac'] }],
  },
  'centos-7': {
    java: [
      { path: '/usr/java/jdk1.6.0_22/bin/java', text: OTHER('other-java/cmd/java_version_sun_1.6.0_22'), jdk: true, usageTracker: true },
      { path: '/usr/lib/jvm/java-1.8.0-openjdk-1.8.0.71-2.b15.el7_2.x86_64/jre/bin/java', text: OTHER('other-java/cmd/java_version_openjdk_1.8.0_71') },
      { path: '/opt/broken-jre/bin/java', text: OTHER('other-java/cmd/java_version_sun_1.5.0_16'), exit: 1 },
      { path: '/opt/vendor/jdk/bin/java', text: OTHER('other-java/cmd/java_version_sun_1.5.0_16'), owner: 4321 },
    ],
  },
  'amazonlinux-2': {
    java: [{ path: '/usr/lib/jvm/java-1.7.0-openjdk-1.7.0.251-2.6.21.0.82.amzn1.x86_64/jre/bin/java', text: JAVA_VERSIONS('amazon-openjdk-1.7.0_251.txt') }],
  },
  'opensuse-leap-15.4': {
    java: [{ path: '/usr/lib64/jvm/java-1.8.0-openjdk-1.8.0/jre/bin/java', text: JAVA_VERSIONS('temurin-1.8.0_125.txt') }],
  },
  'ubuntu-22.04': {
    java: [{ path: '/usr/lib/jvm/java-8-openjdk-amd64/jre/bin/java', text: JAVA_VERSIONS('ubuntu-openjdk-1.8.0_352.txt'), links: ['/usr/bin/java'] }],
  },
  'alpine-3.18': {
    java: [
      { path: '/usr/lib/jvm/java-1.8-openjdk/jre/bin/java', text: JAVA_VERSIONS('alpine-openjdk-1.8.0_111.txt') },
      { path: '/opt/app/jre/bin/java', text: JAVA_VERSIONS('alpine-openjdk-1.8.0_111.txt'), owner: 4321, release: 'JAVA_VERSION="1.8.0_111"\nIMPLEMENTOR="Alpine"\nOS_NAME="Linux"\n' },
    ],
  },
  'suse-15': {
    java: [{ path: '/opt/zing/zing-jdk15.0.8/bin/java', text: JAVA_VERSIONS('azul-zing-15.0.8.txt'), jdk: true }],
    files: [['other-x86-kvm-guest/proc/cpuinfo', '/proc/cpuinfo']],
  },
  'rocky-9': {
    files: readdirSafe(OTHER('other-baremetal-dell-r6515/sys/class/dmi/id')).map((f): [string, string] => [
      `other-baremetal-dell-r6515/sys/class/dmi/id/${f}`,
      `/sys/class/dmi/id/${f}`,
    ]),
  },
  'debian-10': { files: [['other-x86-gopsutil/proc/cpuinfo', '/proc/cpuinfo'], ['other-x86-gopsutil/proc/meminfo', '/proc/meminfo']] },
  'oracle-8': { files: [['other-x86-dualcore-ht/proc/cpuinfo', '/proc/cpuinfo']] },
  'macos-13': {
    macApps: ['Google Chrome.app'],
    macJdks: [
      { bundle: '/Library/Java/JavaVirtualMachines/temurin-17.jdk', release: 'macos-jdks/Library/Java/JavaVirtualMachines/temurin-17.jdk/Contents/Home/release', modern: true, jdk: true, text: JAVA_VERSIONS('openjdk-17.0.1.txt') },
      { bundle: '/Library/Java/JavaVirtualMachines/zulu-11.jdk', release: 'macos-jdks/Library/Java/JavaVirtualMachines/zulu-11.jdk/Contents/Home/release', modern: true, jdk: true },
    ],
  },
  'macos-15-m4-max': {
    macApps: ['Google Chrome.app'],
    macJdks: [{ bundle: '/Library/Java/JavaVirtualMachines/amazon-corretto-11.jdk', release: 'macos-jdks/Library/Java/JavaVirtualMachines/amazon-corretto-11.jdk/Contents/Home/release', modern: true, jdk: true }],
  },
  'macos-12-m2': {
    macJdks: [{ bundle: '/Library/Java/JavaVirtualMachines/ibm-semeru-open-16.jdk', release: 'macos-jdks/Library/Java/JavaVirtualMachines/ibm-semeru-open-16.jdk/Contents/Home/release', modern: true, jdk: true }],
  },
  'macos-10.15': {
    macJdks: [{ bundle: '/Library/Internet Plug-ins/JavaAppletPlugin.plugin', modern: false, jdk: false, plugin: true, text: JAVA_VERSIONS('ojdkbuild-1.8.0_201.txt') }],
  },
  'macos-10.14': { virtualbox: true },
  // Homebrew on Apple silicon lives in /opt/homebrew/bin, off a plain ssh session's PATH.
  'macos-15-m3-max': { brew: ['macos-13/cmd/brew_info_json_v1_nginx'] },
};

function readdirSafe(d: string): string[] {
  try {
    return readdirSync(d).sort();
  } catch {
    return [];
  }
}

/** The tools of a minimal non-busybox system that busybox can stand in for. */
const BASE_TOOLS = new Set(
  ('[ awk basename cat chgrp chmod chown cp cut date dd df diff dirname du echo egrep env expr false fgrep find free grep ' +
    'gunzip gzip head hostname id ionice ip kill last less ln logname ls md5sum mkdir mktemp more mv nproc od paste ' +
    'printf ps pwd readlink realpath renice rm rmdir sed seq sha256sum sleep sort stat sync tail tar tee test timeout ' +
    'touch tr true tty uname uniq uptime wc which who whoami xargs zcat').split(' '),
);

/** Linux: /sys/class/dmi/id files only root may read (spec section 4). */
const DMI_ROOT_ONLY = new Set(['product_uuid', 'product_serial', 'board_serial', 'chassis_serial']);

export interface BuildOptions {
  /** The chroot folder (created; its parents must be root-owned and 0755). */
  root: string;
  user: { name: string; uid: number; gid: number };
  address: string;
  /** JVMs to place instead of the profile's component set (container images, issue 17). */
  java?: LinuxJava[];
}

class Builder {
  readonly expect: TargetExpectations = {
    contents: new Map(),
    absent: new Set(),
    javaStatic: [],
    javaPlists: [],
    warnings: [],
    platformPattern: /./,
  };
  readonly notes: string[] = [];
  /** Target path -> fixture file it was copied from. */
  private readonly placed = new Map<string, string>();

  constructor(
    readonly name: string,
    readonly dir: string | undefined,
    readonly info: ProfileInfo,
    readonly o: BuildOptions,
  ) {}

  private at(p: string): string {
    return path.join(this.o.root, p);
  }

  private data(rel: string, content: string | Buffer, mode = 0o644): string {
    const p = path.posix.join(DATA, rel);
    writeFile(this.at(p), content, mode);
    return p;
  }

  private shim(p: string, script: string): void {
    writeFile(this.at(p), script, 0o755);
  }

  private expectEntry(entry: string, data: Buffer, source: string): void {
    this.expect.contents.set(entry, { data, source });
  }

  build(): EmulatedTarget {
    const { root } = this.o;
    mkdirp(root);
    chmodSync(root, 0o755);
    for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'etc', 'dev', 'proc', 'tmp', 'var/log', 'var/run', 'home']) mkdirp(this.at(d));
    this.base();
    if (this.dir) this.fixtureFiles();
    switch (this.info.family) {
      case 'rpm':
        this.rpm();
        break;
      case 'dpkg':
        this.dpkg();
        break;
      case 'apk':
        this.apk();
        break;
      case 'darwin':
        this.darwin();
        break;
      case 'busybox':
        this.busyboxNotes();
        break;
      default:
        break;
    }
    if (this.info.family !== 'darwin') this.linux();
    const home = this.at(`/home/${this.o.user.name}`);
    mkdirp(home);
    chownSync(home, this.o.user.uid, this.o.user.gid);
    return {
      name: this.name,
      family: this.info.family,
      shell: this.info.shell,
      arch: this.info.arch,
      root,
      address: this.o.address,
      expect: this.expect,
      notes: this.notes,
    };
  }

  /** Shell, libraries, busybox applets, users, /dev/null. */
  private base(): void {
    const { shell, family } = this.info;
    placeHostFile('/bin/busybox', this.at('/bin/busybox'));
    // A busybox system has every applet; another system has its own base tools
    // (coreutils, procps, iproute2, ...), here played by the applets of that name.
    for (const a of applets()) {
      if (a === 'bin/busybox' || (shell !== 'busybox' && !BASE_TOOLS.has(path.basename(a)))) continue;
      symlink('/bin/busybox', this.at(`/${a}`));
    }
    if (shell !== 'busybox') {
      const bin = shell === 'dash' ? hostExe('dash') : hostExe('bash');
      const extra = family === 'darwin' ? [hostExe('nice')] : [hostExe('getconf')];
      for (const b of [bin, ...extra]) {
        placeHostFile(b, this.at(`/bin/${path.basename(b)}`));
        // At the path ldd names (/lib/x86_64-linux-gnu/libc.so.6, /lib64/ld-linux-x86-64.so.2, ...).
        for (const lib of libsOf(b)) if (!existsSync(this.at(lib))) placeHostFile(lib, this.at(lib));
      }
      symlink(path.basename(bin), this.at('/bin/sh'));
      if (family === 'darwin') symlink('/bin/nice', this.at('/usr/bin/nice'));
    } else {
      symlink('busybox', this.at('/bin/sh'));
    }
    const u = this.o.user;
    writeFile(this.at('/etc/passwd'), `root:x:0:0:root:/root:/bin/sh\n${u.name}:x:${u.uid}:${u.gid}:octoscan-remote emulated target:/home/${u.name}:/bin/sh\n`);
    writeFile(this.at('/etc/group'), `root:x:0:\n${u.name}:x:${u.gid}:\n`);
  }

  /** The profile's recorded files at their real paths (cmd/ is handled per family). */
  private fixtureFiles(): void {
    for (const rel of files(this.dir!)) {
      if (rel.startsWith('cmd/')) continue;
      this.placeFixture(path.join(this.dir!, rel), `/${rel}`);
    }
    const c = COMPONENTS[this.name];
    for (const [src, dst, mode] of c?.files ?? []) {
      this.placeFixture(path.join(FIXTURES_DIR, src), dst, mode);
      this.notes.push(`${dst} from ${src}`);
    }
  }

  private placeFixture(src: string, p: string, mode?: number): void {
    const isRootOnly = p.startsWith('/sys/class/dmi/id/') && DMI_ROOT_ONLY.has(path.basename(p));
    const data = readFileSync(src);
    writeFile(this.at(p), data, mode ?? (isRootOnly ? 0o400 : 0o644));
    this.placed.set(p, src);
  }

  /** What the spec's Linux probes take from the placed files. */
  private linux(): void {
    const add = (entry: string, p: string): void => this.expectEntry(entry, readFileSync(this.placed.get(p)!), path.relative(FIXTURES_DIR, this.placed.get(p)!));
    for (const p of [...this.placed.keys()].sort()) {
      const dir = path.posix.dirname(p);
      const base = path.posix.basename(p);
      if (dir === '/etc' && (/-release$/.test(base) || /_version$/.test(base))) add(`release/${base}`, p);
      else if (dir === '/usr/lib' && /-release$/.test(base)) add(`release-usrlib/${base}`, p);
      else if (['/proc/cpuinfo', '/proc/meminfo', '/proc/scsi/scsi', '/proc/version', '/proc/version_signature'].includes(p)) add(p.slice(1), p);
      else if (dir === '/sys/class/dmi/id') {
        if (DMI_ROOT_ONLY.has(base)) {
          this.expect.absent.add(`sys/class/dmi/id/${base}`);
          this.expect.warnings.push({ id: 1002, message: `cannot read ${p}: PermissionError(13, 'Permission denied') (readable by root only; scanned as uid <uid>)` });
        } else add(`sys/class/dmi/id/${base}`, p);
      } else if (p === '/etc/oratab' || p === '/var/opt/oracle/oratab') add('oracle/oratab', p);
    }
    // Identity: dash/bash profiles answer uname and hostname with the profile's values;
    // busybox's shell runs its own applets, so there they are the host's.
    const { shell, arch } = this.info;
    if (shell !== 'busybox') {
      const host = `emul-${this.name.replace(/[^A-Za-z0-9-]/g, '-')}`;
      this.shim('/usr/bin/hostname', hostnameShim(host));
      this.expect.fqdn = host;
      this.shim('/usr/bin/uname', UNAME_SHIM);
      if (arch !== hostArch()) {
        this.data('uname/m', `${arch}\n`);
        this.data('uname/p', `${arch}\n`);
        this.notes.push(`uname -m answers ${arch}`);
      }
      this.expect.platformPattern = new RegExp(`^Linux-[^ ]+-${arch}-with-glibc\\d+\\.\\d+$`);
    } else {
      this.expect.platformPattern = new RegExp(`^Linux-[^ ]+-${hostArch()}-with$`);
    }
    this.linuxJava();
    if (this.dir && existsSync(path.join(this.dir, 'cmd/systemctl_list-units'))) {
      const f = this.data('systemctl-list-units', readFileSync(path.join(this.dir, 'cmd/systemctl_list-units')));
      this.shim('/usr/bin/systemctl', exactShim('systemctl', ['list-units', '-all', '--no-page'], f));
      this.expectEntry('cmd/systemctl_units_all', readFileSync(path.join(this.dir, 'cmd/systemctl_list-units')), `${this.name}/cmd/systemctl_list-units`);
    }
  }

  private linuxJava(): void {
    // A java owned by another account is placed only for the farm's non-root scans: a root scan
    // (a container's) would run it as its owner, which test/integration/java-trust.test.ts covers.
    const javas = (this.o.java ?? COMPONENTS[this.name]?.java ?? []).filter((j) => j.owner === undefined || this.o.user.uid !== 0);
    const records: JavaExpectation[] = [];
    for (const [i, j] of javas.entries()) {
      const id = `java-${i + 1}`;
      const text = readFileSync(j.text);
      this.data(`java/${id}.txt`, text);
      this.shim(j.path, javaShim(id, j.exit ?? 0));
      const dir = path.posix.dirname(j.path);
      if (j.jdk) this.shim(`${dir}/javac`, '#!/bin/sh\nexit 0\n');
      if (j.usageTracker) writeFile(this.at(`${dir}/../lib/management/usagetracker.properties`), 'com.oracle.usagetracker.logToFile = /var/log/java/usagetracker.log\n');
      for (const l of j.links ?? []) symlink(l.endsWith('javac') ? `${dir}/javac` : j.path, this.at(l));
      if (j.owner !== undefined) chownSync(this.at(j.path), j.owner, j.owner);
      if (j.release) writeFile(this.at(`${dir}/../release`), j.release);
      const notRun = `java -version not run for '${j.path}': not trusted (${j.path}: owner uid ${j.owner}) and this scan runs as uid ${this.o.user.uid}: only root can run it as its owner`;
      const record = (p: string, jdk: boolean): Buffer => {
        const head = `Path:${p}\nVariant:${jdk ? 'JDK' : 'JRE'}\n${j.usageTracker ? 'Features:JavaUsageTrackerHome\n' : ''}\n`;
        const released = (j.release ?? '').split('\n').filter((l) => /^(JAVA_VERSION|IMPLEMENTOR)=/.test(l)).map((l) => `${l}\n`).join('');
        const body =
          j.owner !== undefined
            ? `NOT RUN: ${notRun}\n${released}`
            : j.exit
              ? `FAILED: java -version failed for '${p}', exit code: ${j.exit}\n${text.toString('latin1')}`
              : text.toString('latin1');
        return Buffer.from(head + body, 'latin1');
      };
      records.push({ path: j.path, record: record(j.path, !!j.jdk) });
      // The test writes the first uid of a warning as <uid> (the 1002 warnings name the scan's).
      if (j.owner !== undefined) this.expect.warnings.push({ id: 2003, message: notRun.replace(/uid \d+/, 'uid <uid>') });
      if (j.links?.includes('/usr/bin/java')) this.expect.javaDefault = record('/usr/bin/java', !!j.links.includes('/usr/bin/javac'));
      if (j.exit) this.expect.warnings.push({ id: 2002, message: `java -version failed for '${j.path}', exit code: ${j.exit}` });
      this.notes.push(`${j.path}: java -version from ${path.relative(FIXTURES_DIR, j.text)}${j.exit ? ` (exits ${j.exit})` : ''}${j.usageTracker ? ', usage tracker configured (synthesized)' : ''}${j.owner !== undefined ? `, owned by uid ${j.owner} (not run by a non-root scan)` : ''}`);
    }
    // Numbered in byte order of their paths (spec section 4).
    this.expect.javaStatic = records.sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
  }

  private rpm(): void {
    const records: Record<string, string>[] = [];
    const cmd = (n: string): string | undefined => (this.dir && existsSync(path.join(this.dir, 'cmd', n)) ? readFileSync(path.join(this.dir, 'cmd', n), 'utf8') : undefined);
    // Recorded: rpm -qa --qf '%{NAME}\t%{EPOCH}\t%{VERSION}\t%{RELEASE}\t%{INSTALLTIME}\t%{ARCH}\n' (ohai's query).
    const qa = cmd('rpm_qa_qf');
    if (qa) {
      for (const line of qa.split('\n').filter(Boolean)) {
        const [name, epoch, version, release, installtime, arch] = line.trim().split(/\s+/);
        records.push({ name, ...(epoch && epoch !== '(none)' ? { epoch } : {}), version, release, installtime, arch });
      }
      this.notes.push('rpm database from cmd/rpm_qa_qf (summary, vendor and packager were not recorded: rpm prints (none))');
    }
    // A full rpm -qi record of an el7 package (other-linux-inspec), in every RPM profile.
    const qi = readFileSync(OTHER('other-linux-inspec/cmd/rpm_qi_curl'), 'utf8');
    const field = (k: string): string => new RegExp(`^${k}\\s*:\\s*(.*)$`, 'm').exec(qi)?.[1].trim() ?? '';
    const installed = Date.parse(`${field('Install Date').replace(/^\w+ /, '')} UTC`) / 1000;
    records.push({
      name: field('Name'), version: field('Version'), release: field('Release'), arch: field('Architecture'),
      summary: field('Summary'), installtime: String(installed), vendor: field('Vendor'), packager: field('Packager'),
    });
    this.notes.push('rpm database: curl from other-linux-inspec/cmd/rpm_qi_curl (install date read as UTC)');
    this.data('rpm-packages', records.map((r) => Object.entries(r).map(([k, v]) => `${k}=${v}`).join('\n') + '\n').join('\n'));
    // What the spec's query must give (section 4), computed here from the records, not by the shim.
    const tags = ['name', 'version', 'release', 'arch', 'summary', 'installtime', 'vendor', 'packager'];
    const expected = records.map((r) => `${tags.map((t) => r[t] ?? '(none)').join('\t')}\n`).join('');
    this.expectEntry('rpm/installed.txt', Buffer.from(expected, 'utf8'), 'rpm records of this profile in the spec query format');
    this.shim('/usr/bin/rpm', RPM_SHIM);
    mkdirp(this.at('/var/lib/rpm'));
  }

  private dpkg(): void {
    const stanzas: string[] = [];
    const recorded = this.dir && existsSync(path.join(this.dir, 'cmd/dpkg_query_W_excerpt')) ? readFileSync(path.join(this.dir, 'cmd/dpkg_query_W_excerpt'), 'utf8') : undefined;
    if (recorded) {
      // "ii   bash  4.3-14ubuntu1.1  amd64": desired/state, package, version, architecture.
      for (const line of recorded.split('\n').filter(Boolean)) {
        const [state, pkg, version, arch] = line.trim().split(/\s+/);
        const status = state === 'ii' ? 'install ok installed' : state === 'rc' ? 'deinstall ok config-files' : 'unknown ok not-installed';
        stanzas.push(`Package: ${pkg}\nStatus: ${status}\nArchitecture: ${arch}\nVersion: ${version}\n`);
      }
      this.notes.push('/var/lib/dpkg/status from cmd/dpkg_query_W_excerpt (no descriptions recorded)');
    }
    if (!this.placed.has('/var/lib/dpkg/status')) writeFile(this.at('/var/lib/dpkg/status'), stanzas.join('\n'));
    this.shim('/usr/bin/dpkg-query', DPKG_QUERY_SHIM);
    // The spec's format over the status file (section 4), computed here.
    let expected = '';
    for (const stanza of readFileSync(this.at('/var/lib/dpkg/status'), 'utf8').split(/\n\n+/)) {
      const f: Record<string, string> = {};
      for (const line of stanza.split('\n')) {
        const m = /^([A-Za-z0-9-]+):\s?(.*)$/.exec(line);
        if (m) f[m[1].toLowerCase()] = m[2];
      }
      if (!f.package || /not-installed$/.test(f.status ?? '')) continue;
      expected += `${f.package}\t${f.version ?? ''}\t${f.architecture ?? ''}\t${f.description ?? ''}\n`;
    }
    this.expectEntry('dpkg/installed.txt', Buffer.from(expected, 'utf8'), '/var/lib/dpkg/status in the spec format');
  }

  private busyboxNotes(): void {
    if (this.dir && existsSync(path.join(this.dir, 'cmd'))) {
      const version = execFileSync('/bin/busybox', { encoding: 'utf8' }).split('\n')[0].split(' ')[1];
      this.notes.push(`recorded ${readdirSync(path.join(this.dir, 'cmd')).join(', ')} not replayed: busybox's shell runs its own applets (here Debian's busybox ${version}) before any file on PATH`);
    }
  }

  private apk(): void {
    const listing = this.dir && existsSync(path.join(this.dir, 'cmd/apk_info_v')) ? readFileSync(path.join(this.dir, 'cmd/apk_info_v')) : undefined;
    if (listing && /\[installed\]/.test(listing.toString('latin1'))) {
      this.data('apk-list', listing);
      if (!this.placed.has('/lib/apk/db/installed')) this.expectEntry('apk/installed.txt', listing, `${this.name}/cmd/apk_info_v`);
      this.notes.push('apk list --installed answers the recorded listing cmd/apk_info_v');
    }
    this.shim('/sbin/apk', APK_SHIM);
    if (this.placed.has('/lib/apk/db/installed')) {
      // apk-tools 2's `apk list --installed` line per package, computed here from the database.
      let expected = '';
      for (const rec of readFileSync(this.placed.get('/lib/apk/db/installed')!, 'utf8').split(/\n\n+/)) {
        const f: Record<string, string> = {};
        for (const line of rec.split('\n')) if (/^[A-Za-z]:/.test(line) && !(line[0] in f)) f[line[0]] = line.slice(2);
        if (f.P) expected += `${f.P}-${f.V ?? ''} ${f.A ?? ''} {${f.o ?? f.P}} (${f.L ?? ''}) [installed]\n`;
      }
      this.expectEntry('apk/installed.txt', Buffer.from(expected, 'utf8'), 'lib/apk/db/installed as apk list --installed');
    } else if (!listing) {
      this.expectEntry('apk/installed.txt', Buffer.alloc(0), 'no package database recorded');
    }
  }

  // -------------------------------------------------------------------------
  // macOS

  private darwin(): void {
    const dir = this.dir;
    const cmd = (n: string): Buffer | undefined => (dir && existsSync(path.join(dir, 'cmd', n)) ? readFileSync(path.join(dir, 'cmd', n)) : undefined);
    const cmds = dir && existsSync(path.join(dir, 'cmd')) ? readdirSync(path.join(dir, 'cmd')).sort() : [];
    const release = (dir && macRelease(this.name, dir)) ?? '10.15';
    const kernel = darwinVersion(release);
    const arm = this.info.arch === 'arm64';
    const host = `${this.name.replace(/[^A-Za-z0-9-]/g, '-')}.local`;
    const unameV = `Darwin Kernel Version ${kernel}: Thu Jan  1 00:00:00 PST 1970; root:xnu-emulated~1/RELEASE_${arm ? 'ARM64_T8101' : 'X86_64'}`;
    if (!(dir && macRelease(this.name, dir))) this.notes.push(`macOS release not recorded: ${release} assumed`);
    this.data('uname/s', 'Darwin\n');
    this.data('uname/r', `${kernel}\n`);
    this.data('uname/v', `${unameV}\n`);
    this.data('uname/m', `${this.info.arch}\n`);
    this.data('uname/p', arm ? 'arm\n' : 'i386\n');
    this.data('uname/n', `${host}\n`);
    this.shim('/usr/bin/uname', UNAME_SHIM);
    this.shim('/bin/hostname', hostnameShim(host));
    this.expect.fqdn = host;
    this.expect.platformPattern = new RegExp(`^${unameV.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
    const swVers = cmd('sw_vers') ?? Buffer.from(`ProductName:\t\tmacOS\nProductVersion:\t\t${release}\nBuildVersion:\t\t00A000\n`);
    this.shim('/usr/bin/sw_vers', exactShim('sw_vers', [], this.data('sw_vers', swVers)));

    // sysctl -a: the recorded tree (sysctl hw machdep ...), else a few synthesized keys.
    const sysctlRec = cmds.find((c) => c === 'sysctl_hw_machdep') ?? cmds.find((c) => c.startsWith('sysctl_') && !c.startsWith('sysctl_n_'));
    const sysctl = sysctlRec
      ? cmd(sysctlRec)!
      : Buffer.from(`kern.ostype: Darwin\nkern.osrelease: ${kernel}\nkern.version: ${unameV}\nkern.hostname: ${host}\nhw.machine: ${this.info.arch}\nhw.ncpu: 4\nhw.memsize: 17179869184\n`);
    if (!sysctlRec) this.notes.push('sysctl -a synthesized (no sysctl recorded)');
    this.shim('/usr/sbin/sysctl', exactShim('sysctl', ['-a'], this.data('sysctl-a', sysctl)));
    this.expectEntry('sysctl.properties', sysctl, sysctlRec ? `${this.name}/cmd/${sysctlRec}` : 'synthesized');

    // system_profiler -xml <the eleven types>: the recorded XML of those types.
    const sp = this.systemProfiler(cmds.filter((c) => c.startsWith('system_profiler_xml')).map((c) => path.join(dir!, 'cmd', c)));
    this.shim('/usr/sbin/system_profiler', exactShim('system_profiler', ['-xml', ...SYSTEM_PROFILER_TYPES], this.data('system_profiler.xml', sp.data)));
    this.expectEntry('system_profiler.xml', sp.data, sp.source);

    // ioreg: not recorded anywhere; a minimal IOPlatformExpertDevice with the recorded serial/UUID where known.
    const serial = /<key>serial_number<\/key>\s*<string>([^<]*)<\/string>/.exec(sp.data.toString('utf8'))?.[1] ?? `EMUL${hash(this.name).slice(0, 8).toUpperCase()}`;
    const uuid = /<key>platform_UUID<\/key>\s*<string>([^<]*)<\/string>/.exec(sp.data.toString('utf8'))?.[1] ?? uuidOf(this.name);
    const ioreg = Buffer.from(ioregPlist(serial, uuid, arm));
    this.shim('/usr/sbin/ioreg', exactShim('ioreg', ['-a', '-rd1', '-c', 'IOPlatformExpertDevice'], this.data('ioreg.xml', ioreg)));
    this.expectEntry('IOPlatformExpertDevice.xml', ioreg, 'synthesized');
    this.notes.push('ioreg output synthesized (serial and UUID from system_profiler where recorded)');

    // scutil: nothing configured, as on a Mac outside a domain.
    this.shim('/usr/sbin/scutil', SCUTIL_SHIM);
    for (const e of ['scutil/com_apple_smb', 'scutil/state_network_netbios', 'scutil/com_apple_opendirectoryd_activedirectory']) {
      this.expectEntry(e, Buffer.from('  No such key\n'), 'scutil answer for an unset key');
    }

    // dscl: local accounts of 10.7+ carry a Local KDC (LKDC) Kerberos authority; one profile without.
    const kerberos = this.name !== 'macos-10.7';
    const authority = kerberos
      ? `AuthenticationAuthority: ;ShadowHash;HASHLIST:<SALTED-SHA512-PBKDF2,SRP-RFC5054-4096-SHA512-PBKDF2> ;Kerberosv5;;${this.o.user.name}@LKDC:SHA1.${hash(this.name).slice(0, 40).toUpperCase()};LKDC:SHA1.${hash(this.name).slice(0, 40).toUpperCase()}; ;SecureToken;\n`
      : 'AuthenticationAuthority: ;ShadowHash;\n';
    this.shim('/usr/bin/dscl', exactShim('dscl', ['.', 'read', `/Users/${this.o.user.name}`, 'AuthenticationAuthority'], this.data('dscl-authority', authority)));
    this.expect.kerberos = kerberos;

    // brew: the recorded formulae, in Homebrew's prefix for the architecture.
    const brews = cmds.filter((c) => c.startsWith('brew_info_json')).map((c) => `${this.name}/cmd/${c}`);
    brews.push(...(COMPONENTS[this.name]?.brew ?? []));
    if (brews.length) {
      const parts = brews.map((b) => readFileSync(path.join(FIXTURES_DIR, b), 'utf8'));
      const json = Buffer.from(parts.length === 1 ? parts[0] : `[${parts.map((p) => p.trim().replace(/^\[|\]$/g, '')).join(',')}]\n`);
      const brew = arm ? '/opt/homebrew/bin/brew' : '/usr/local/bin/brew';
      this.shim(brew, exactShim('brew', ['info', '--json=v1', '--installed'], this.data('brew.json', json)));
      this.expectEntry('cmd/brew.json', json, brews.join(' + '));
      this.notes.push(`brew at ${brew}: ${brews.join(', ')}`);
    }

    this.macApps();
    this.macJava();
    if (COMPONENTS[this.name]?.virtualbox) this.virtualbox();
    mkdirp(this.at('/Applications'));
    mkdirp(this.at('/Library'));
  }

  private systemProfiler(recs: string[]): { data: Buffer; source: string } {
    const want = new Set<string>(SYSTEM_PROFILER_TYPES);
    const dicts = new Map<string, { text: string; source: string }>();
    for (const f of recs) {
      for (const d of plistTopDicts(readFileSync(f, 'utf8'))) {
        if (want.has(d.type) && !dicts.has(d.type)) dicts.set(d.type, { text: d.text, source: path.relative(FIXTURES_DIR, f) });
      }
    }
    const single = recs.filter((f) => plistTopDicts(readFileSync(f, 'utf8')).some((d) => want.has(d.type)));
    if (dicts.size > 0 && single.length === 1 && plistTopDicts(readFileSync(single[0], 'utf8')).every((d) => want.has(d.type))) {
      return { data: readFileSync(single[0]), source: path.relative(FIXTURES_DIR, single[0]) };
    }
    const parts: string[] = [];
    for (const t of SYSTEM_PROFILER_TYPES) {
      const d = dicts.get(t);
      if (d) parts.push(`\t${d.text}\n`);
      else parts.push(`\t<dict>\n\t\t<key>_dataType</key>\n\t\t<string>${t}</string>\n\t\t<key>_items</key>\n\t\t<array/>\n\t</dict>\n`);
    }
    if (dicts.size < SYSTEM_PROFILER_TYPES.length) this.notes.push(`system_profiler: ${SYSTEM_PROFILER_TYPES.length - dicts.size} data types not recorded, answered empty`);
    const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n<plist version="1.0">\n<array>\n${parts.join('')}</array>\n</plist>\n`;
    return { data: Buffer.from(xml, 'utf8'), source: dicts.size ? `spliced from ${[...new Set([...dicts.values()].map((d) => d.source))].join(', ')}` : 'synthesized' };
  }

  private macApps(): void {
    for (const app of COMPONENTS[this.name]?.macApps ?? []) {
      const src = path.join(FIXTURES_DIR, 'macos-apps', 'Applications', app, 'Contents', 'Info.plist');
      this.placeFixture(src, `/Applications/${app}/Contents/Info.plist`);
      this.notes.push(`/Applications/${app} from macos-apps`);
    }
  }

  private macJava(): void {
    const jdks = COMPONENTS[this.name]?.macJdks ?? [];
    const homes: string[] = [];
    const plists: { bundle: string; data: Buffer; plugin: boolean }[] = [];
    for (const j of jdks) {
      const home = `${j.bundle}/Contents/Home`;
      const rel = j.release ? readFileSync(path.join(FIXTURES_DIR, j.release), 'utf8') : '';
      const val = (k: string): string => new RegExp(`^${k}="([^"]*)"`, 'm').exec(rel)?.[1] ?? '';
      if (j.release) this.placeFixture(path.join(FIXTURES_DIR, j.release), `${home}/release`);
      const text = j.text
        ? readFileSync(j.text, 'latin1')
        : `openjdk version "${val('JAVA_VERSION')}" ${val('JAVA_VERSION_DATE')}\nOpenJDK Runtime Environment ${val('IMPLEMENTOR_VERSION')} (build ${val('FULL_VERSION') || val('JAVA_VERSION')})\nOpenJDK 64-Bit Server VM ${val('IMPLEMENTOR_VERSION')} (build ${val('FULL_VERSION') || val('JAVA_VERSION')}, mixed mode)\n`;
      const id = `mac-${path.basename(j.bundle).replace(/[^A-Za-z0-9.-]/g, '_')}`;
      this.data(`java/${id}.txt`, Buffer.from(text, 'latin1'));
      const java = `${home}/bin/java`;
      this.shim(java, javaShim(id, 0));
      if (j.jdk) this.shim(`${home}/bin/javac`, '#!/bin/sh\nexit 0\n');
      writeFile(this.at(`${home}/lib/libjava.dylib`), '');
      if (j.modern) writeFile(this.at(`${home}/lib/modules`), '');
      const name = val('IMPLEMENTOR_VERSION') || path.basename(j.bundle);
      const plist = infoPlist(j.plugin ? 'com.oracle.java.JavaAppletPlugin' : `net.emul.${id}`, name, val('JAVA_VERSION') || '1.8.0_201');
      writeFile(this.at(`${j.bundle}/Contents/Info.plist`), plist);
      plists.push({ bundle: j.bundle, data: Buffer.from(plist), plugin: !!j.plugin });
      if (!j.plugin) homes.push(`    ${val('JAVA_VERSION')} (${this.info.arch}) "${val('IMPLEMENTOR')}" - "${name}" ${home}`);
      const body = j.modern
        ? text
        : `FAILED: ${home}/bin/../lib required files not found - probably not a standard java directory structure\n`;
      this.expect.javaStatic.push({ path: java, record: Buffer.from(`Path:${java}\nVariant:${j.jdk ? 'JDK' : 'JRE'}\nFeatures:\n${body}`, 'latin1') });
      this.notes.push(`${j.bundle}: ${j.release ? `release from ${j.release}, ` : ''}Info.plist and version text ${j.text ? `from ${path.relative(FIXTURES_DIR, j.text)}` : 'synthesized'}${j.modern ? '' : ', Java 8 layout (no lib/modules)'}`);
    }
    // java_<n>.plist: JVM bundles in glob order, then the plug-ins.
    const order = (a: { bundle: string }, b: { bundle: string }): number => Buffer.compare(Buffer.from(a.bundle), Buffer.from(b.bundle));
    this.expect.javaPlists = [...plists.filter((p) => !p.plugin).sort(order), ...plists.filter((p) => p.plugin).sort(order)].map((p) => p.data);
    // java_home -V: the list on standard error, the default home on standard output.
    const jh = homes.length
      ? { err: `Matching Java Virtual Machines (${homes.length}):\n${homes.join('\n')}\n\n`, out: `${homes[0].replace(/^.* (\/Library\/)/, '$1')}\n`, exit: 0 }
      : { err: 'Unable to find any JVMs matching version "(null)".\n', out: 'No Java runtime present, try --request to install.\n', exit: 1 };
    this.shim('/usr/libexec/java_home', exactShim('java_home', ['-V'], this.data('java_home.out', jh.out), { stderrFile: this.data('java_home.err', jh.err), exit: jh.exit }));
    // Both streams go into the entry (the shim writes standard error first).
    this.expectEntry('cmd/java_home', Buffer.from(jh.err + jh.out), 'java_home -V, standard error and output');
  }

  private virtualbox(): void {
    const app = '/Applications/VirtualBox.app';
    writeFile(this.at(`${app}/Contents/Info.plist`), infoPlist('org.virtualbox.app.VirtualBox', 'VirtualBox', '6.1.26'));
    const ext = `<?xml version="1.0"?>\n<VirtualBoxExtensionPack xmlns="http://www.virtualbox.org/VirtualBoxExtensionPack" version="1.0">\n  <Name>Oracle VM VirtualBox Extension Pack</Name>\n  <Description>Oracle Cloud Infrastructure integration, USB 2.0 and USB 3.0 Host Controller, Host Webcam, VirtualBox RDP, PXE ROM, Disk Encryption, NVMe.</Description>\n  <Version revision="145957">6.1.26</Version>\n  <MainModule>VBoxPuelMain</MainModule>\n  <ShowLicense/>\n</VirtualBoxExtensionPack>\n`;
    writeFile(this.at(`${app}/Contents/MacOS/ExtensionPacks/Oracle_VM_VirtualBox_Extension_Pack/ExtPack.xml`), ext);
    const list = 'Extension Packs: 1\nPack no. 0:   Oracle VM VirtualBox Extension Pack\nVersion:      6.1.26\nRevision:     145957\nEdition:      \nDescription:  Oracle Cloud Infrastructure integration, USB 2.0 and USB 3.0 Host Controller, Host Webcam, VirtualBox RDP, PXE ROM, Disk Encryption, NVMe.\nVRDE Module:  VBoxVRDP\nUsable:       true\nWhy unusable: \n';
    this.shim(`${app}/Contents/MacOS/VBoxManage`, exactShim('VBoxManage', ['list', 'extpacks'], this.data('vbox-extpacks', list)));
    this.expectEntry('virtualbox/extpacks.txt', Buffer.from(list), 'synthesized');
    this.expectEntry('virtualbox/extension_1.xml', Buffer.from(ext), 'synthesized');
    this.notes.push('VirtualBox.app with one extension pack (synthesized)');
  }

  /** After all files are placed: apps/app_<n>.plist in glob order. */
  finishDarwin(): void {
    const apps = existsSync(this.at('/Applications'))
      ? readdirSync(this.at('/Applications'))
          .filter((a) => existsSync(this.at(`/Applications/${a}/Contents/Info.plist`)))
          .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
      : [];
    apps.forEach((a, i) => this.expectEntry(`apps/app_${i + 1}.plist`, readFileSync(this.at(`/Applications/${a}/Contents/Info.plist`)), `/Applications/${a}`));
    this.expect.javaPlists.forEach((d, i) => this.expectEntry(`java/java_${i + 1}.plist`, d, 'synthesized Info.plist'));
  }
}

/**
 * One profile's root folder, built as for the farm's chroots (a container
 * image's root, issue 17), with what the scan must find there. No /dev/null:
 * an engine gives a container its own /dev.
 */
export function buildProfileRoot(name: string, root: string, opts: { java?: LinuxJava[] } = {}): EmulatedTarget {
  const dir = path.join(FIXTURES_DIR, name);
  const info = profileInfo(name, dir);
  if (info.family === 'darwin' || info.family === 'unsupported') throw new Error(`emulated targets: ${name} is not a Linux profile`);
  return new Builder(name, dir, info, { root, user: { name: USER, uid: 0, gid: 0 }, address: '', java: opts.java }).build();
}

/** A fixture file of java -version output, for buildProfileRoot's java option. */
export function javaVersionFixture(name: string): string {
  return JAVA_VERSIONS(name);
}

let hostArchCache: string | undefined;
function hostArch(): string {
  hostArchCache ??= execFileSync('/bin/busybox', ['uname', '-m'], { encoding: 'utf8' }).trim();
  return hostArchCache;
}

const hash = (s: string): string => createHash('sha1').update(s).digest('hex');
function uuidOf(s: string): string {
  const h = hash(s).toUpperCase();
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

function infoPlist(id: string, name: string, version: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n<plist version="1.0">\n<dict>\n\t<key>CFBundleIdentifier</key>\n\t<string>${id}</string>\n\t<key>CFBundleName</key>\n\t<string>${name}</string>\n\t<key>CFBundleShortVersionString</key>\n\t<string>${version}</string>\n</dict>\n</plist>\n`;
}

function ioregPlist(serial: string, uuid: string, arm: boolean): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<array>
	<dict>
		<key>IOClass</key>
		<string>IOPlatformExpertDevice</string>
		<key>IOObjectClass</key>
		<string>IOPlatformExpertDevice</string>
		<key>IOPlatformSerialNumber</key>
		<string>${serial}</string>
		<key>IOPlatformUUID</key>
		<string>${uuid}</string>
		<key>IORegistryEntryName</key>
		<string>${arm ? 'J316sAP' : 'Mac-EMULATED'}</string>
	</dict>
</array>
</plist>
`;
}

/** The top-level dicts of a system_profiler plist (<plist><array><dict>...), with their _dataType. */
export function plistTopDicts(xml: string): { type: string; text: string }[] {
  const start = xml.indexOf('<array>', xml.indexOf('<plist'));
  if (start < 0) return [];
  const out: { type: string; text: string }[] = [];
  const re = /<(\/?)dict(\/?)>/g;
  re.lastIndex = start;
  let depth = 0;
  let open = -1;
  for (let m = re.exec(xml); m; m = re.exec(xml)) {
    if (m[2]) continue; // <dict/>
    if (!m[1]) {
      if (depth === 0) open = m.index;
      depth++;
    } else {
      depth--;
      if (depth === 0 && open >= 0) {
        const text = xml.slice(open, m.index + m[0].length);
        const type = /<key>_dataType<\/key>\s*<string>([^<]*)<\/string>/.exec(text)?.[1] ?? '';
        out.push({ type, text });
        open = -1;
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// The farm: all targets, one user, sshds on 127.0.10.x

export interface EmulatedFarm {
  targets: EmulatedTarget[];
  user: TestUser;
  sshds: Sshd[];
  knownHosts: string;
  /** hosts file: host,port,user,identity,tag (tag = target name). */
  hostsCsv: string;
  /** Seconds spent building the chroots and starting sshd. */
  buildSeconds: number;
  stop(): Promise<void>;
}

const USER = 'octoscan-emul';
const BASE = process.env.OCTOSCAN_EMUL_DIR || '/var/lib/octoscan-test';

/** An extra target that is no system of the fixtures: uname -s says SunOS. */
export const UNSUPPORTED_TARGET = 'unsupported-sunos';

function safeBase(): string {
  mkdirp(BASE);
  chmodSync(BASE, 0o755);
  chownSync(BASE, 0, 0);
  for (let d = realpathSync(BASE); ; d = path.dirname(d)) {
    const st = statSync(d);
    if (st.uid !== 0 || (st.mode & 0o022) !== 0) throw new Error(`emulated targets: ${d} must be root-owned and not group/world-writable (sshd ChrootDirectory)`);
    if (path.dirname(d) === d) break;
  }
  // Folders of test processes that are gone.
  for (const e of readdirSync(BASE)) {
    const m = /^run-(\d+)-/.exec(e);
    if (m && !existsSync(`/proc/${m[1]}`)) rmSync(path.join(BASE, e), { recursive: true, force: true });
  }
  return BASE;
}

/** Why emulated targets cannot be built here, or undefined when they can. */
export function emulationUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (chroots, mknod, sshd ChrootDirectory)';
  for (const [p, pkg] of [['/bin/busybox', 'busybox-static'], ['/usr/bin/dash', 'dash'], ['/bin/bash', 'bash'], ['/usr/bin/getconf', 'libc-bin'], ['/usr/bin/nice', 'coreutils']]) {
    if (!existsSync(p)) return `${p} not found (install ${pkg})`;
  }
  try {
    const dir = path.join(safeBase(), `probe-${process.pid}`);
    mkdirp(dir);
    try {
      execFileSync('mknod', ['-m', '666', path.join(dir, 'null'), 'c', '1', '3'], { stdio: 'pipe' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  } catch (err) {
    return `cannot prepare chroots below ${BASE}: ${(err as Error).message.split('\n')[0]}`;
  }
  return undefined;
}

/** Builds every target's chroot (for the given profiles plus the unsupported one) and starts the sshds. */
export async function startEmulatedFarm(profiles = systemProfiles(), work: string): Promise<EmulatedFarm> {
  const t0 = performance.now();
  const user = await createTestUser(USER, { shell: '/bin/sh' });
  const runDir = await mkdtemp(path.join(safeBase(), `run-${process.pid}-`));
  chmodSync(runDir, 0o755);
  const cleanup = (): void => {
    if (!process.env.OCTOSCAN_SSHD_KEEP) rmSync(runDir, { recursive: true, force: true });
  };
  process.once('exit', cleanup);
  const names = [...profiles, UNSUPPORTED_TARGET];
  if (names.length > 250) throw new Error('emulated targets: at most 250 targets (127.0.10.1-250)');
  const targets: EmulatedTarget[] = [];
  for (const [i, name] of names.entries()) {
    const address = `127.0.10.${i + 1}`;
    const root = path.join(runDir, name);
    const o: BuildOptions = { root, user: { name: user.name, uid: user.uid, gid: user.gid }, address };
    if (name === UNSUPPORTED_TARGET) {
      const t = new Builder(name, undefined, { family: 'unsupported', shell: 'dash', arch: hostArch() }, o).build();
      writeFile(path.join(root, DATA, 'uname/s'), 'SunOS\n');
      targets.push(t);
      continue;
    }
    const dir = path.join(FIXTURES_DIR, name);
    const info = profileInfo(name, dir);
    const b = new Builder(name, dir, info, o);
    const t = b.build();
    if (t.family === 'darwin') b.finishDarwin();
    if (info.system) writeFile(path.join(root, DATA, 'uname/s'), `${info.system}\n`);
    targets.push(t);
  }
  // /dev/null in every chroot, in one go (mknod has no Node API).
  execFileSync('/bin/sh', ['-c', 'for r do mknod -m 666 "$r/dev/null" c 1 3 || exit 1; done', 'sh', ...targets.map((t) => t.root)]);
  const hostKeyDir = await makeHostKeyDir();
  const sshds: Sshd[] = [];
  try {
    for (let i = 0; i < targets.length; i += 16) {
      const group = targets.slice(i, i + 16);
      const extraConfig = group.map((t) => `Match LocalAddress ${t.address}\n  ChrootDirectory ${t.root}`).join('\n');
      sshds.push(await startSshd({ addresses: group.map((t) => t.address), users: [user], hostKeyDir, extraConfig, readyTimeoutMs: 60_000 }));
    }
  } catch (err) {
    await Promise.all(sshds.map((s) => s.stop()));
    throw err;
  }
  const knownHosts = path.join(work, 'known_hosts');
  writeFileSync(knownHosts, '');
  for (const s of sshds) await s.writeKnownHosts(knownHosts, s.addresses, { append: true });
  const hostsCsv = path.join(work, 'hosts.csv');
  const portOf = (t: EmulatedTarget): number => sshds.find((s) => s.addresses.includes(t.address))!.port;
  writeFileSync(hostsCsv, ['host,port,user,identity,tag', ...targets.map((t) => `${t.address},${portOf(t)},${user.name},${user.keyPath},${t.name}`)].join('\n') + '\n');
  return {
    targets,
    user,
    sshds,
    knownHosts,
    hostsCsv,
    buildSeconds: (performance.now() - t0) / 1000,
    async stop() {
      await Promise.all(sshds.map((s) => s.stop()));
      cleanup();
      process.off('exit', cleanup);
    },
  };
}
