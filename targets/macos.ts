// macOS: the probes of octoscan.sh 1.10.9 (spec section 5), in its order. The
// functions behind the builtins are in targets/prelude-darwin.sh, which the
// script carries only in its Darwin branch.
//
// Commands run by absolute path where the reference does (a session's PATH
// may put GNU tools or other versions first); the heavy ones at the lowest
// priority (nice -n 20), each with its own deadline so that one slow command
// cannot use up the host's (--host-timeout, 900 s by default).
import { KiB, MiB, type Probe } from '../src/probe/probe.js';

/** The eleven data types of the reference's system_profiler call, in its order. */
export const SYSTEM_PROFILER_TYPES = [
  'SPApplicationsDataType',
  'SPSoftwareDataType',
  'SPMemoryDataType',
  'SPHardwareDataType',
  'SPDiagnosticsDataType',
  'SPDisplaysDataType',
  'SPDiscBurningDataType',
  'SPEthernetDataType',
  'SPPrintersDataType',
  'SPNetworkDataType',
  'SPSerialATADataType',
] as const;

/** scutil keys: entry name, what scutil is fed. */
const SCUTIL: [string, string, string][] = [
  ['mac-scutil-smb', 'scutil/com_apple_smb', 'show com.apple.smb\n'],
  ['mac-scutil-netbios', 'scutil/state_network_netbios', 'show State:/Network/NetBIOS\n'],
  ['mac-scutil-ad', 'scutil/com_apple_opendirectoryd_activedirectory', 'show com.apple.opendirectoryd.ActiveDirectory\n'],
];

export const darwinProbes: Probe[] = [
  {
    id: 'mac-sysctl', kind: 'command', entry: 'sysctl.properties', argv: ['/usr/sbin/sysctl', '-a'],
    absolute: true, timeout: 120, cap: 16 * MiB, doc: 'kernel and hardware parameters (CPU, memory, model)',
  },
  {
    id: 'mac-ioreg', kind: 'command', entry: 'IOPlatformExpertDevice.xml',
    argv: ['nice', '-n', '20', '/usr/sbin/ioreg', '-a', '-rd1', '-c', 'IOPlatformExpertDevice'],
    absolute: true, timeout: 120, cap: 4 * MiB, doc: 'hardware UUID and serial number',
  },
  {
    // Minutes on a Mac with many applications; a printer that does not answer can stall it.
    id: 'mac-system-profiler', kind: 'command', entry: 'system_profiler.xml',
    argv: ['nice', '-n', '20', '/usr/sbin/system_profiler', '-xml', ...SYSTEM_PROFILER_TYPES],
    absolute: true, timeout: 480, cap: 256 * MiB, doc: 'applications, software, memory, hardware, displays, network, printers, disks',
  },
  { id: 'mac-apps', kind: 'builtin', builtin: 'mac-apps', cap: 16 * MiB, doc: 'Info.plist of each application in /Applications' },
  { id: 'mac-java-plists', kind: 'builtin', builtin: 'mac-java-plists', cap: 1 * MiB, doc: 'Info.plist of each JVM and Java browser plug-in' },
  { id: 'mac-java-static', kind: 'builtin', builtin: 'mac-java-static', cap: 256 * KiB, doc: 'version record of each java below /Library and /Applications' },
  {
    id: 'mac-java-home', kind: 'command', entry: 'cmd/java_home', argv: ['/usr/libexec/java_home', '-V'],
    absolute: true, withStderr: true, always: true, timeout: 60, cap: 1 * MiB, doc: 'the JVMs macOS knows',
  },
  {
    id: 'mac-brew', kind: 'command', entry: 'cmd/brew.json', argv: ['brew', 'info', '--json=v1', '--installed'],
    timeout: 300, cap: 64 * MiB, doc: 'Homebrew formulae (brew refuses to run as root)',
  },
  ...SCUTIL.map(([id, entry, input]): Probe => ({
    id, kind: 'command', entry, argv: ['/usr/sbin/scutil'], input, absolute: true, always: true, timeout: 30, cap: 1 * MiB,
    doc: 'SMB, NetBIOS and Active Directory configuration',
  })),
  { id: 'mac-virtualbox', kind: 'builtin', builtin: 'mac-virtualbox', cap: 4 * MiB, doc: 'VirtualBox extension packs (licensing)' },
  // Extras of the remote scan (spec section 6): the scan account is not the person using the Mac.
  { id: 'mac-who', kind: 'command', entry: 'cmd/who', argv: ['who'], cap: 1 * MiB, timeout: 30, quiet: true, doc: 'users logged in now' },
  {
    id: 'mac-last', kind: 'command', entry: 'cmd/last', argv: ['last', '-n', '200'], fallbackArgv: [['last']], timeout: 60, cap: 1 * MiB, quiet: true,
    doc: 'recent logins (the newest 200 where last supports -n; capped at 1 MiB)',
  },
];
