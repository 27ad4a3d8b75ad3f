// Probes every Linux host runs, in the on-host scanner's collection order
// (spec section 4). Package lists come from the family files, which sit in the
// middle of this order: see linuxProbes in index.ts.
import { KiB, MiB, type Probe } from '../src/probe/probe.js';

export const linuxBefore: Probe[] = [
  { id: 'release', kind: 'glob', entryDir: 'release', pattern: '/etc/*-release', cap: 1 * MiB, doc: 'distribution identification' },
  { id: 'release-usrlib', kind: 'glob', entryDir: 'release-usrlib', pattern: '/usr/lib/*-release', cap: 1 * MiB },
  { id: 'release-version', kind: 'glob', entryDir: 'release', pattern: '/etc/*_version', cap: 1 * MiB },
  { id: 'cpuinfo', kind: 'file', entry: 'proc/cpuinfo', paths: ['/proc/cpuinfo'], cap: 16 * MiB },
  { id: 'meminfo', kind: 'file', entry: 'proc/meminfo', paths: ['/proc/meminfo'], cap: 1 * MiB, text: true },
  { id: 'scsi', kind: 'file', entry: 'proc/scsi/scsi', paths: ['/proc/scsi/scsi'], cap: 4 * MiB },
  { id: 'version', kind: 'file', entry: 'proc/version', paths: ['/proc/version'], cap: 64 * KiB, text: true },
  { id: 'version-signature', kind: 'file', entry: 'proc/version_signature', paths: ['/proc/version_signature'], cap: 64 * KiB, text: true },
  {
    id: 'dmi', kind: 'glob', entryDir: 'sys/class/dmi/id', pattern: '/sys/class/dmi/id/*', cap: 64 * KiB, text: true,
    rootOnly: ['product_uuid', 'product_serial', 'board_serial', 'chassis_serial'],
    doc: 'hardware vendor, model and (root only) serial numbers',
  },
  { id: 'udevadm-dmi', kind: 'command', entry: 'cmd/udevadm_dmi_id', argv: ['udevadm', 'info', '-a', '/sys/class/dmi/id'], whenDir: '/sys/class/dmi/id', cap: 4 * MiB },
  { id: 'oratab', kind: 'file', entry: 'oracle/oratab', paths: ['/etc/oratab', '/var/opt/oracle/oratab'], cap: 4 * MiB },
];

export const linuxAfter: Probe[] = [
  { id: 'ip-addr', kind: 'command', entry: 'cmd/ip_addr', argv: ['ip', 'addr'], cap: 16 * MiB },
  { id: 'ip-route', kind: 'command', entry: 'cmd/ip_route', argv: ['ip', 'route'], cap: 16 * MiB },
  // busybox ps before 1.28 rejects -ef; its plain output has the same columns that matter.
  { id: 'ps', kind: 'command', entry: 'cmd/ps_ef', argv: ['ps', '-ef'], fallbackArgv: [['ps']], cap: 32 * MiB },
  { id: 'hostnamectl', kind: 'command', entry: 'cmd/hostnamectl', argv: ['hostnamectl', 'status'], cap: 64 * KiB },
  { id: 'ipcs', kind: 'command', entry: 'cmd/ipcs', argv: ['ipcs', '-a'], cap: 4 * MiB },
  // Prints "none" and exits 1 on bare metal: that is an answer, not a failure (spec section 8).
  { id: 'detect-virt', kind: 'command', entry: 'cmd/systemd-detect-virt', argv: ['systemd-detect-virt'], okExit: [1], cap: 4 * KiB },
  { id: 'systemctl', kind: 'command', entry: 'cmd/systemctl_units_all', argv: ['systemctl', 'list-units', '-all', '--no-page'], cap: 16 * MiB },
  { id: 'hyperv', kind: 'glob', entryDir: 'hyperv', pattern: '/var/lib/hyperv/*', dotFiles: true, binary: true, cap: 16 * MiB, doc: 'Hyper-V KVP pools (binary)' },
  { id: 'total-memory', kind: 'builtin', builtin: 'total-memory', entry: 'sys/devices/system/memory/octoscan_total_memory' },
  { id: 'java-default', kind: 'builtin', builtin: 'java-default', entry: 'java/static/default_java/version', cap: 256 * KiB },
  { id: 'java-home', kind: 'builtin', builtin: 'java-home', entry: 'java/static/java_home/version', cap: 256 * KiB },
  { id: 'java-static', kind: 'builtin', builtin: 'java-static', cap: 256 * KiB },
  { id: 'java-dynamic', kind: 'builtin', builtin: 'java-dynamic', cap: 4 * MiB },
  // Extras of the remote scan (spec section 6): the scan account is not the person using the machine.
  { id: 'who', kind: 'command', entry: 'cmd/who', argv: ['who'], cap: 1 * MiB, quiet: true, doc: 'users logged in now' },
  {
    id: 'last', kind: 'command', entry: 'cmd/last', argv: ['last', '-w', '-n', '200'], fallbackArgv: [['last']], cap: 1 * MiB, quiet: true,
    doc: 'recent logins (the newest 200 where last supports -n; capped at 1 MiB)',
  },
];
