// The families a scan knows. The OS is detected on the target, in the same
// connection; the Linux section holds every family's package probe in the
// spec's precedence order (dpkg, else apk, else rpm), each guarded by what is
// installed rather than by the distribution's name, so a derivative we have
// never heard of still gets the right list.
import type { Probe, TargetFamily } from '../src/probe/probe.js';
import { linuxBefore, linuxAfter } from './linux-common.js';
import { debianPackages } from './debian.js';
import { alpinePackages } from './alpine.js';
import { rpmPackages } from './rhel.js';
import { darwinProbes } from './macos.js';

export { darwinProbes };

export const linuxProbes: Probe[] = [...linuxBefore, ...debianPackages, ...alpinePackages, ...rpmPackages, ...linuxAfter];

export const linux: TargetFamily = {
  name: 'linux',
  os: 'linux',
  description: 'Linux: Debian/Ubuntu (dpkg), Alpine (apk), RHEL family, Amazon Linux, SUSE (rpm), busybox systems',
  probes: linuxProbes,
};

export const darwin: TargetFamily = {
  name: 'macos',
  os: 'darwin',
  description: 'macOS (OS X 10.7 and later, Intel and Apple silicon): the probes of the on-host octoscan.sh',
  probes: darwinProbes,
};

export const families: TargetFamily[] = [linux, darwin];
