// How many hosts to scan at once when -j is not given. Each host holds a
// socket, a zip file descriptor, maybe a spill file, and up to the spill
// threshold of entry data plus zlib state in memory; the bound keeps a sweep
// clear of EMFILE and of the controller's memory, and CPU bounds the rest
// (ssh2's crypto runs on the main thread).
import { readFileSync } from 'node:fs';
import { availableParallelism, totalmem } from 'node:os';

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

export function autoParallelism(hosts: number): number {
  const byFds = Math.floor((openFileLimit() - FDS_RESERVED) / FDS_PER_HOST);
  const byMemory = Math.floor((totalmem() / 4) / BYTES_PER_HOST);
  const byCpu = availableParallelism() * PER_CORE;
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
