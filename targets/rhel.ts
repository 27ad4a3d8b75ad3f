// RHEL, CentOS, Rocky, Alma, Oracle, Amazon Linux, Fedora: rpm. SUSE shares it (suse.ts).
import { MiB, type Probe } from '../src/probe/probe.js';

export const rpmQueryFormat =
  '%{name}\\t%{version}\\t%{release}\\t%{arch}\\t%{summary}\\t%{installtime}\\t%{vendor}\\t%{packager}\\n';

export const rpmPackages: Probe[] = [
  {
    id: 'rpm', kind: 'command', entry: 'rpm/installed.txt', cap: 64 * MiB,
    argv: ['rpm', '-qa', '--queryformat', rpmQueryFormat], unlessCommand: ['dpkg-query', 'apk'],
    doc: 'installed packages',
  },
];
