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
