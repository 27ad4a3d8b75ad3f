// How many hosts to scan at once when -j is not given. Each host holds a
// socket, a zip file descriptor, maybe a spill file, and up to the spill
// threshold of entry data plus zlib state in memory; the bound keeps a sweep
// clear of EMFILE and of the controller's memory, and CPU bounds the rest
// (ssh2's crypto runs on the main thread). In a container or a systemd slice,
// CPUs and memory are what its cgroup allows, not what the node has.
import { readFileSync } from 'node:fs';
import { availableParallelism, totalmem } from 'node:os';
import { join } from 'node:path';

const FDS_PER_HOST = 6;
const FDS_RESERVED = 64;
const BYTES_PER_HOST = 8 * 1024 * 1024;
const PER_CORE = 32;
const CEILING = 256;

export function openFileLimit(): number {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (m) return m[1] === 'unlimited' ? 1 << 20 : Number(m[1]);
  } catch {
    /* not Linux */
  }
  return 256; // macOS's default soft limit
}

/** What a container (or a systemd slice) allows this process, from its cgroup; undefined where it sets no limit. */
export interface CgroupLimits {
  /** CPUs' worth of time per period (cpu.max, cpu.cfs_quota_us / cpu.cfs_period_us). */
  cpus?: number;
  /** memory.max / memory.limit_in_bytes. */
  memoryBytes?: number;
}

const readText = (path: string): string | undefined => {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
};

/** A cgroup folder and its ancestors up to the mount: a limit set on a parent binds too. */
function upwards(mount: string, path: string): string[] {
  const dirs: string[] = [];
  const parts = path.split('/').filter(Boolean);
  for (let i = parts.length; i >= 0; i--) dirs.push(join(mount, parts.slice(0, i).join('/')));
  return dirs;
}

const tighter = (a: number | undefined, b: number | undefined): number | undefined => (a === undefined ? b : b === undefined ? a : Math.min(a, b));

// cgroup v1 writes "no limit" as a huge number (the page-rounded LONG_MAX).
const V1_UNLIMITED = 2 ** 60;

/**
 * The CPU quota and memory limit of this process's cgroups, v2 (unified) and
 * v1 alike. `root` is where / is, so a test can lay out fake cgroup files.
 * In a container the cgroup path of /proc/self/cgroup may name the host's
 * hierarchy while the container sees its own cgroup at the mount: both are tried.
 */
export function cgroupLimits(root = '/'): CgroupLimits {
  const self = readText(join(root, 'proc/self/cgroup'));
  if (!self) return {};
  const limits: CgroupLimits = {};
  const fs = join(root, 'sys/fs/cgroup');
  for (const line of self.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    const [, , controllers, path] = m;
    if (controllers === '') {
      for (const mount of [fs, join(fs, 'unified')]) {
        for (const dir of [...upwards(mount, path), mount]) {
          const cpu = readText(join(dir, 'cpu.max'))?.split(/\s+/);
          if (cpu && cpu[0] !== 'max' && Number(cpu[1]) > 0) limits.cpus = tighter(limits.cpus, Number(cpu[0]) / Number(cpu[1]));
          const mem = readText(join(dir, 'memory.max'));
          if (mem && mem !== 'max' && Number(mem) > 0) limits.memoryBytes = tighter(limits.memoryBytes, Number(mem));
        }
      }
      continue;
    }
    const names = controllers.split(',');
    if (names.includes('cpu')) {
      for (const mount of [join(fs, controllers), join(fs, 'cpu'), join(fs, 'cpu,cpuacct')]) {
        for (const dir of [...upwards(mount, path), mount]) {
          const quota = Number(readText(join(dir, 'cpu.cfs_quota_us')));
          const period = Number(readText(join(dir, 'cpu.cfs_period_us')));
          if (quota > 0 && period > 0) limits.cpus = tighter(limits.cpus, quota / period);
        }
      }
    }
    if (names.includes('memory')) {
      for (const dir of [...upwards(join(fs, 'memory'), path), join(fs, 'memory')]) {
        const mem = Number(readText(join(dir, 'memory.limit_in_bytes')));
        if (mem > 0 && mem < V1_UNLIMITED) limits.memoryBytes = tighter(limits.memoryBytes, mem);
      }
    }
  }
  return limits;
}

export interface MachineLimits {
  cpus: number;
  memoryBytes: number;
  openFiles: number;
}

/** What this process may use: the machine's CPUs and memory, narrowed by its cgroup. */
export function machineLimits(root = '/'): MachineLimits {
  const c = cgroupLimits(root);
  return {
    cpus: Math.max(1, Math.min(availableParallelism(), c.cpus === undefined ? Infinity : Math.ceil(c.cpus))),
    memoryBytes: Math.min(totalmem(), c.memoryBytes ?? Infinity),
    openFiles: openFileLimit(),
  };
}

export function autoParallelism(hosts: number, limits: MachineLimits = machineLimits()): number {
  const byFds = Math.floor((limits.openFiles - FDS_RESERVED) / FDS_PER_HOST);
  const byMemory = Math.floor((limits.memoryBytes / 4) / BYTES_PER_HOST);
  const byCpu = limits.cpus * PER_CORE;
  return Math.max(1, Math.min(hosts, byFds, byMemory, byCpu, CEILING));
}

/**
 * The most hosts that can be connected at once: the direct ones, plus
 * `channels` per bastion. More would only queue for a bastion's channel
 * while their --host-timeout runs.
 */
export function reachableAtOnce(hosts: Array<{ jumpHosts?: Array<{ host: string; port: number; user: string }> }>, channels: number): number {
  let direct = 0;
  const bastions = new Set<string>();
  for (const h of hosts) {
    const last = h.jumpHosts?.at(-1);
    if (!last) direct++;
    else bastions.add(h.jumpHosts!.map((b) => `${b.user}@${b.host}:${b.port}`).join(','));
  }
  return direct + bastions.size * channels;
}
