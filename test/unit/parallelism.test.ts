// Automatic parallelism inside a container: the cgroup's CPU quota and memory
// limit (v2 and v1), read from fake cgroup files under a temporary root.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { autoParallelism, cgroupLimits } from '../../src/sweep/parallelism.js';
import { workspace } from '../helpers/workspace.js';

const fresh = workspace('octoscan-cgroup-');

function fakeRoot(files: Record<string, string>): string {
  const root = fresh('root');
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    writeFileSync(path.join(root, rel), `${text}\n`);
  }
  return root;
}

describe('cgroup limits', () => {
  it('v2: cpu.max and memory.max of the own cgroup (a container sees its cgroup at the mount)', () => {
    const root = fakeRoot({
      'proc/self/cgroup': '0::/',
      'sys/fs/cgroup/cpu.max': '150000 100000',
      'sys/fs/cgroup/memory.max': String(512 << 20),
    });
    assert.deepEqual(cgroupLimits(root), { cpus: 1.5, memoryBytes: 512 << 20 });
  });

  it('v2: a limit on a parent binds; "max" is no limit', () => {
    const root = fakeRoot({
      'proc/self/cgroup': '0::/system.slice/octoscan-remote.service',
      'sys/fs/cgroup/system.slice/octoscan-remote.service/cpu.max': 'max 100000',
      'sys/fs/cgroup/system.slice/octoscan-remote.service/memory.max': 'max',
      'sys/fs/cgroup/system.slice/cpu.max': '50000 100000',
      'sys/fs/cgroup/system.slice/memory.max': String(1 << 30),
    });
    assert.deepEqual(cgroupLimits(root), { cpus: 0.5, memoryBytes: 1 << 30 });
  });

  it('v1: cfs quota / period and memory.limit_in_bytes; the huge "unlimited" value is no limit', () => {
    const root = fakeRoot({
      'proc/self/cgroup': '4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n1:name=systemd:/docker/abc',
      'sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us': '200000',
      'sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us': '100000',
      'sys/fs/cgroup/memory/memory.limit_in_bytes': String(256 << 20),
    });
    assert.deepEqual(cgroupLimits(root), { cpus: 2, memoryBytes: 256 << 20 });
    const unlimited = fakeRoot({
      'proc/self/cgroup': '4:memory:/\n3:cpu,cpuacct:/',
      'sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us': '-1',
      'sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us': '100000',
      'sys/fs/cgroup/memory/memory.limit_in_bytes': '9223372036854771712',
    });
    assert.deepEqual(cgroupLimits(unlimited), {});
  });

  it('no cgroup files (macOS, a bare root): no limits', () => {
    assert.deepEqual(cgroupLimits(fresh('empty')), {});
  });

  it('the limits bound the automatic parallelism: memory / 4 / 8 MiB per host, 32 per CPU', () => {
    const big = { cpus: 64, memoryBytes: 256 * 2 ** 30, openFiles: 1 << 20 };
    assert.equal(autoParallelism(10_000, big), 256, 'the ceiling');
    assert.equal(autoParallelism(10_000, { ...big, memoryBytes: 512 << 20 }), 16, '512 MiB container');
    assert.equal(autoParallelism(10_000, { ...big, cpus: 1 }), 32, 'one CPU of quota');
    assert.equal(autoParallelism(5, big), 5, 'never more than the hosts');
  });
});
