// Sharding a host list over N scanner runs (e.g. a Kubernetes indexed Job).
//
// A shard is written `I/N`: N shards numbered from 0, so 0 <= I < N — the
// same numbering as Kubernetes' JOB_COMPLETION_INDEX, so `--shard
// "$JOB_COMPLETION_INDEX/$N"` works as is. `0/4 1/4 2/4 3/4` cover every host
// exactly once.
//
// A host belongs to shard I when the first 48 bits of
// sha256(`${host}\0${port}\0${user}`), as an unsigned big-endian integer, are
// I modulo N: stable across runs, machines and list orders.
import { createHash } from 'node:crypto';
import type { HostSpec } from '../types.js';
import { HostsError, quoteValue } from './errors.js';

export interface Shard {
  index: number; // 0-based
  count: number;
}

/** The largest shard count accepted. */
export const MAX_SHARDS = 1_000_000;

export const SHARD_REASON = {
  syntax: 'shard must be I/N with 0 <= I < N, e.g. 0/4 (shards are numbered from 0)',
  count: `shard count N must be an integer from 1 to ${MAX_SHARDS}`,
} as const;

/**
 * Parse `I/N`. Throws HostsError (file '<args>', column 'shard') with the message
 * `shard "<s>": <reason>`, e.g. `shard "4/4": shard index must be an integer from 0 to 3 (shards are numbered from 0)`.
 */
export function parseShard(s: string): Shard {
  const fail = (reason: string): never => {
    throw new HostsError({ file: '<args>', line: 0, column: 'shard', value: s, reason }, `shard ${quoteValue(s)}: ${reason}`);
  };
  const m = /^\s*([0-9]+)\s*\/\s*([0-9]+)\s*$/.exec(s);
  if (!m) return fail(SHARD_REASON.syntax);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1 || count > MAX_SHARDS) return fail(SHARD_REASON.count);
  if (index >= count) {
    return fail(`shard index must be an integer from 0 to ${count - 1} (shards are numbered from 0)`);
  }
  return { index, count };
}

/** The bucket of a host, 0 <= bucket < count. */
export function shardOf(spec: Pick<HostSpec, 'host' | 'port' | 'user'>, count: number): number {
  const digest = createHash('sha256').update(`${spec.host}\0${spec.port}\0${spec.user}`).digest();
  return digest.readUIntBE(0, 6) % count;
}

/** Whether the host belongs to the shard. */
export function inShard(spec: Pick<HostSpec, 'host' | 'port' | 'user'>, shard: Shard): boolean {
  return shard.count === 1 || shardOf(spec, shard.count) === shard.index;
}

/** The hosts of one shard, in their original order. */
export function selectShard<T extends Pick<HostSpec, 'host' | 'port' | 'user'>>(hosts: T[], shard: Shard): T[] {
  return shard.count === 1 ? [...hosts] : hosts.filter((h) => inShard(h, shard));
}
