// Alpine and other apk systems; taken only where dpkg-query is absent (spec section 4).
import { MiB, type Probe } from '../src/probe/probe.js';

export const alpinePackages: Probe[] = [
  {
    id: 'apk', kind: 'command', entry: 'apk/installed.txt', cap: 64 * MiB,
    argv: ['apk', 'list', '--installed'], unlessCommand: ['dpkg-query'],
    doc: 'installed packages',
  },
];
