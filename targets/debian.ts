// Debian, Ubuntu and derivatives: dpkg. The spec's query format, byte for byte.
import { MiB, type Probe } from '../src/probe/probe.js';

export const debianPackages: Probe[] = [
  {
    id: 'dpkg', kind: 'command', entry: 'dpkg/installed.txt', cap: 64 * MiB,
    argv: ['dpkg-query', '-W', '-f', '${Package}\\t${Version}\\t${Architecture}\\t${binary:Summary}\\n'],
    doc: 'installed packages',
  },
];
