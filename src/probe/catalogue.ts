// What a scan runs and reads on a target, as a table: generated from the probe
// definitions (targets/), so `octoscan-remote script --list`, the README's
// entry tables (checked by test/unit/script-list.test.ts) and the code cannot
// drift apart. The programs the prelude itself starts are declared here too;
// a test reads the script and proves that nothing else can be started.
import { DEFAULT_ENTRY_CAP, KiB, MiB, type Probe } from './probe.js';
import { DEFAULT_COMMAND_TIMEOUT, FILE_READ_TIMEOUT, JAVA_DIRS, commandProgram } from './script.js';

export interface ProbeRow {
  os: 'linux' | 'macos';
  id: string;
  /** Archive entry (below <uuid>/); <name>, <n>, <pid> where it varies. */
  entry: string;
  /** What it does on the target: the command line, or the files and globs it reads. */
  source: string;
  /** The programs it starts (cat for files and globs, none where the shell reads them itself). */
  programs: string[];
  /** Deadline on the target. */
  deadline: string;
  /** Bytes kept at most (the controller keeps the cap and kills a command that writes past it). */
  cap: string;
  /** Whether root is needed, and for what. */
  root: string;
}

export function formatBytes(n: number): string {
  if (n % MiB === 0) return `${n / MiB} MiB`;
  if (n % KiB === 0) return `${n / KiB} KiB`;
  return `${n} B`;
}

/** POSIX sh quoting for display: bare words stay bare. */
function showArg(a: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}
export const showArgv = (argv: string[]): string => argv.map(showArg).join(' ');

/** The builtins (shell functions of the preludes): what they read and run. */
function builtinRow(p: Extract<Probe, { kind: 'builtin' }>, javaDirs: string[]): Omit<ProbeRow, 'os' | 'id' | 'cap'> {
  const javaRun = 'env -i <java> -XX:-UsePerfData -version';
  // Who runs it (targets/prelude.sh, _java_who): the same rule for every discovered java.
  const javaRule = ' (trusted: as the scan; untrusted: in a root scan as its owner, never as root; else not run)';
  switch (p.builtin) {
    case 'total-memory':
      return { entry: p.entry!, source: 'reads /sys/devices/system/memory/block_size_bytes and memory*/online', programs: [], deadline: '-', root: '' };
    case 'java-default':
      return { entry: p.entry!, source: `the java on PATH: ${javaRun}${javaRule}`, programs: [...JAVA_RUN_PROGRAMS], deadline: '60 s', root: '' };
    case 'java-home':
      return { entry: p.entry!, source: `$JAVA_HOME/bin/java: ${javaRun}${javaRule}`, programs: [...JAVA_RUN_PROGRAMS], deadline: '60 s', root: '' };
    case 'java-static':
      return {
        entry: 'java/static/opt_<n>/version',
        source: `find ${[...JAVA_DIRS, ...javaDirs].join(' ')}${javaDirs.length ? '' : ' [--java-dir ...]'} -name java (pruning those of /dev /proc /run /sys /etc a search folder contains) | sort -u; then for each: ${javaRun}${javaRule}`,
        programs: ['sort', ...JAVA_RUN_PROGRAMS],
        deadline: 'find 600 s, each java 60 s',
        root: '',
      };
    case 'java-dynamic':
      return {
        entry: 'java/dynamic/<pid>/{version,cmdline,environ}',
        source: `/proc/<pid>/comm of each process; for java ones: readlink /proc/<pid>/exe, tr of /proc/<pid>/cmdline (a scanner's own java -version is skipped), ${javaRun} (trusted: as the scan; untrusted: in a root scan as the process's uid and gid, never as root; else not run), reads /proc/<pid>/status, cmdline and environ (environ redacted on the controller, --java-environ)`,
        programs: ['tr', ...JAVA_RUN_PROGRAMS],
        deadline: 'each java 60 s',
        root: "other users' JVMs",
      };
    case 'mac-apps':
      return { entry: 'apps/app_<n>.plist', source: 'reads /Applications/*/Contents/Info.plist', programs: [], deadline: '-', root: '' };
    case 'mac-java-plists':
      return {
        entry: 'java/java_<n>.plist',
        source: "reads /Library/Java/JavaVirtualMachines/*/Contents/Info.plist, '/Library/Internet Plug-ins'/*/Contents/Info.plist",
        programs: [],
        deadline: '-',
        root: '',
      };
    case 'mac-java-static':
      return {
        entry: 'java/static/opt_<n>/version',
        source: `find /Library /Applications -name java -type f -perm +0111; for each Java 9+ home: <java> -XX:-UsePerfData -version${javaRule}`,
        programs: ['readlink', 'find', 'ls', 'id', '/usr/bin/perl', 'env', '<java>'],
        deadline: 'find 600 s, each java 60 s',
        root: '',
      };
    case 'mac-virtualbox':
      return {
        entry: 'virtualbox/extpacks.txt, virtualbox/extension_<n>.xml',
        source: '/Applications/VirtualBox.app/Contents/MacOS/VBoxManage list extpacks; reads .../ExtensionPacks/*/*.xml',
        programs: ['<VBoxManage>'],
        deadline: '120 s',
        root: '',
      };
  }
}

/**
 * How a discovered java is run (targets/prelude.sh, _java_who), for `script
 * --list` and the README: trusted binaries as the scan, others only as their
 * owner, or not at all.
 */
export const JAVA_RUN_RULE =
  'trusted = the file after links, every folder above it and its Java home\'s lib owned by root or the scan account and not group/other-writable: runs as the scan; ' +
  'else, in a root scan only, as its owner\'s uid and primary gid (a running JVM: the process\'s uid and gid) with an empty environment via setpriv, perl or busybox su, never as root; else not run (NOT RUN line, release file, warning 2003)';

/** What deciding and running a java can start: readlink (real path), find and ls (trust), the account lookup, the privilege drop, env, the java. */
const JAVA_RUN_PROGRAMS = ['readlink', 'find', 'ls', 'getent', 'id', 'setpriv', '/usr/bin/perl', 'busybox', 'env', '<java>'] as const;

/** Files are copied by cat under a 60 s deadline; small kernel text by the shell's read builtin, no process. */
const copier = (p: Extract<Probe, { kind: 'file' | 'glob' }>): string[] => (p.text ? [] : ['cat']);
const copyDeadline = (p: Extract<Probe, { kind: 'file' | 'glob' }>): string => (p.text ? '-' : `${FILE_READ_TIMEOUT} s`);
const shellRead = (p: Extract<Probe, { kind: 'file' | 'glob' }>): string => (p.text ? ' (by the shell\'s read, no process)' : '');

export function probeRow(os: ProbeRow['os'], p: Probe, javaDirs: string[] = []): ProbeRow {
  const cap = formatBytes(p.cap ?? DEFAULT_ENTRY_CAP);
  const id = p.id;
  switch (p.kind) {
    case 'file':
      return { os, id, entry: p.entry, source: `reads ${p.paths.join(', else ')}${shellRead(p)}`, programs: copier(p), deadline: copyDeadline(p), cap, root: p.needsRoot ? 'yes' : '' };
    case 'glob': {
      const dots = p.dotFiles ? ` (also dot files)` : '';
      return {
        os, id, entry: `${p.entryDir}/<name>`, source: `reads ${p.pattern}${dots}${shellRead(p)}`, programs: copier(p), deadline: copyDeadline(p), cap,
        root: p.rootOnly?.length ? p.rootOnly.join(', ') : p.needsRoot ? 'yes' : '',
      };
    }
    case 'command': {
      const attempts = [p.argv, ...(p.fallbackArgv ?? [])].map(showArgv);
      const programs = [...new Set([p.argv[0], commandProgram(p), ...(p.fallbackArgv ?? []).map((a) => a[0])])];
      let source = attempts.join(', else ');
      if (p.input !== undefined) source += ` (fed ${JSON.stringify(p.input)})`;
      if (p.unlessCommand?.length) source += ` (unless ${p.unlessCommand.join(' or ')} exists)`;
      return { os, id, entry: p.entry, source, programs, deadline: `${p.timeout ?? DEFAULT_COMMAND_TIMEOUT} s`, cap, root: p.needsRoot ? 'yes' : '' };
    }
    case 'builtin':
      // total-memory prints one number and takes no cap.
      return { os, id, cap: p.builtin === 'total-memory' ? '-' : cap, ...builtinRow(p, javaDirs) };
  }
}

export function probeRows(sections: { linux: Probe[]; darwin: Probe[] }, javaDirs: string[] = []): ProbeRow[] {
  return [
    ...sections.linux.map((p) => probeRow('linux', p, javaDirs)),
    ...sections.darwin.map((p) => probeRow('macos', p, javaDirs)),
  ];
}

/**
 * Every program the preludes (targets/prelude.sh, targets/prelude-darwin.sh)
 * start, besides the probes' own: the only ones the script can start, as
 * test/unit/script-list.test.ts proves by reading the script. Names in <>
 * are found on the target (a path from a search), not fixed.
 */
export const PRELUDE_PROGRAMS: { program: string; os: 'both' | 'linux' | 'macos'; why: string }[] = [
  { program: 'uname', os: 'both', why: 'which OS section runs; kernel release and machine for octoscan.xml' },
  { program: 'id', os: 'both', why: 'uid, effective uid, login name; primary group of an untrusted java\'s owner where there is no getent (macOS)' },
  { program: 'date', os: 'both', why: 'scan time (once); mtime of a copied file the one stat did not answer for (date -r)' },
  { program: 'hostname', os: 'both', why: 'host name for fqdn' },
  { program: 'getent', os: 'both', why: 'fqdn as Python getfqdn() resolves it; the account of an untrusted java\'s owner when /etc/passwd lacks it' },
  { program: 'getconf', os: 'linux', why: 'glibc version for the platform string' },
  { program: 'python3', os: 'linux', why: 'python3 -V for octoscan.xml (30 s deadline)' },
  { program: 'renice', os: 'both', why: 'lowest CPU priority for the scan itself' },
  { program: 'ionice', os: 'both', why: 'idle-ish I/O class for the scan itself' },
  { program: 'head', os: 'both', why: 'byte cap on java -version\'s output, which the shell keeps in a variable (head -c; asked once whether -c works)' },
  { program: 'cat', os: 'both', why: 'copies each file (sysfs attributes and small /proc text are read by the shell itself); the controller holds it to the cap and its deadline' },
  { program: 'stat', os: 'linux', why: 'times and modes of all copied files in one call (stat -L -c); a mode where that one did not answer' },
  { program: 'sleep', os: 'both', why: 'the backstop: one sleep of at most a minute at a time, ends the scan after the host\'s deadline if the controller vanished' },
  { program: 'pkill', os: 'both', why: 'only when the controller is gone, on a system without /proc and where the scan does not lead its own process group: ends the scan\'s commands (pkill -9 -P)' },
  { program: 'find', os: 'both', why: 'Java search; whether a java is trusted (one find per binary: the file, the folders above it, its Java home\'s lib)' },
  { program: 'sort', os: 'linux', why: 'Java search: byte order, unique' },
  { program: 'readlink', os: 'both', why: 'the binary of a running JVM; the real path of each java, which is what is checked and run, once per binary' },
  { program: 'tr', os: 'linux', why: "a running JVM's command line (NUL-separated), to skip scanners' own java -version" },
  { program: 'env', os: 'both', why: 'java -version with an empty environment' },
  { program: 'ls', os: 'both', why: 'ls -ldn: owner, group and mode of a java and its folders, where they are not trusted (the warning names them)' },
  { program: 'setpriv', os: 'linux', why: 'root scans only: an untrusted java runs as its owner (setpriv --reuid --regid --clear-groups --no-new-privs; util-linux, asked once for --reuid)' },
  { program: '/usr/bin/perl', os: 'both', why: 'root scans only, where there is no util-linux setpriv (macOS): an untrusted java runs as its owner (fixed perl -e text)' },
  { program: 'busybox', os: 'linux', why: 'root scans only, where there is neither (Alpine): busybox su -s /bin/sh <owner> runs an untrusted java as its owner; busybox --list asked once' },
  { program: '/usr/bin/dscl', os: 'macos', why: 'Kerberos flag for octoscan.xml (30 s deadline)' },
  { program: '<java>', os: 'both', why: 'each java binary found (PATH, $JAVA_HOME, search, running JVMs): -version only, once per binary and account, 60 s deadline; trusted ones as the scan, others only as their owner, never as root' },
  { program: '<rpm on PATH>', os: 'linux', why: 'rpm --version, to tell busybox\'s rpm applet from a real rpm' },
  { program: '<VBoxManage>', os: 'macos', why: 'VirtualBox.app/Contents/MacOS/VBoxManage list extpacks, where VirtualBox is installed' },
];

/** Tools that write; none may be started by the script (also checked in test/integration/security.test.ts). */
export const WRITING_PROGRAMS = [
  'rm', 'mv', 'cp', 'touch', 'mkdir', 'rmdir', 'tee', 'dd', 'ln', 'chmod', 'chown', 'chgrp', 'truncate', 'install', 'mktemp',
  'shred', 'mkfifo', 'mknod', 'crontab', 'useradd', 'passwd',
];

/** Every external program the script can start: the preludes' and the probes', sorted, with where each is used. */
export function externalPrograms(rows: ProbeRow[]): { program: string; os: string; usedBy: string }[] {
  const map = new Map<string, { os: Set<string>; usedBy: string[] }>();
  const add = (program: string, os: string, usedBy: string): void => {
    const e = map.get(program) ?? { os: new Set<string>(), usedBy: [] };
    if (os === 'both') {
      e.os.add('linux');
      e.os.add('macos');
    } else e.os.add(os);
    if (!e.usedBy.includes(usedBy)) e.usedBy.push(usedBy);
    map.set(program, e);
  };
  for (const p of PRELUDE_PROGRAMS) add(p.program, p.os, 'prelude');
  for (const r of rows) for (const prog of r.programs) add(prog, r.os, r.id);
  return [...map.entries()]
    .map(([program, e]) => ({ program, os: [...e.os].sort().join(', '), usedBy: e.usedBy.join(', ') }))
    .sort((a, b) => (a.program < b.program ? -1 : a.program > b.program ? 1 : 0));
}
