// Large known_hosts files for the size tests and bench/known-hosts.ts: plain
// names, hashed names (|1|salt|hash, as ssh-keygen -H writes them), @revoked
// and @cert-authority lines and wildcard patterns, in a fixed pattern so a test
// knows what every line holds. Keys are ed25519 blobs with a distinct public
// part per line (only their form is checked on reading).
import { createHmac, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';

/** An ssh-ed25519 public key blob whose 32-byte key is `n` and then zeros. */
export function ed25519Blob(n: number): Buffer {
  const blob = Buffer.alloc(4 + 11 + 4 + 32);
  blob.writeUInt32BE(11, 0);
  blob.write('ssh-ed25519', 4, 'latin1');
  blob.writeUInt32BE(32, 15);
  blob.writeUInt32BE(n >>> 0, 19);
  return blob;
}

export interface LargeFileShape {
  lines: number;
  /** Every hashedEvery-th line is hashed (0: none, 1: all). */
  hashedEvery: number;
  /** Every markerEvery-th line is a @revoked, @cert-authority or wildcard line, in turn (0: none). */
  markerEvery: number;
}

export type LineKind = 'plain' | 'hashed' | 'revoked' | 'cert-authority' | 'wildcard' | 'comment';

/** What line `i` (1-based) of a file of this shape holds: the host it names and the key number. */
export function lineOf(shape: LargeFileShape, i: number): { kind: LineKind; host: string; key: number } {
  const host = `host-${i}.example.net`;
  if (i % 100_000 === 0) return { kind: 'comment', host, key: i };
  if (shape.markerEvery && i % shape.markerEvery === 0) {
    const kind = (['revoked', 'cert-authority', 'wildcard'] as const)[(i / shape.markerEvery) % 3];
    return { kind, host: kind === 'wildcard' ? `a.w${i}.example.org` : host, key: i };
  }
  if (shape.hashedEvery && i % shape.hashedEvery === 0) return { kind: 'hashed', host, key: i };
  return { kind: 'plain', host, key: i };
}

function text(shape: LargeFileShape, i: number): string {
  const l = lineOf(shape, i);
  const key = `ssh-ed25519 ${ed25519Blob(l.key).toString('base64')}`;
  switch (l.kind) {
    case 'comment':
      return `# line ${i}`;
    case 'revoked':
      return `@revoked * ${key}`;
    case 'cert-authority':
      return `@cert-authority *.ca${i}.example.org ${key}`;
    case 'wildcard':
      return `*.w${i}.example.org,!bad.w${i}.example.org ${key}`;
    case 'hashed': {
      const salt = randomBytes(20);
      const hash = createHmac('sha1', salt).update(l.host).digest();
      return `|1|${salt.toString('base64')}|${hash.toString('base64')} ${key}`;
    }
    case 'plain':
      return `${l.host},10.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255} ${key} comment`;
  }
}

/** Writes the file, 10,000 lines per write. */
export async function writeLargeKnownHosts(file: string, shape: LargeFileShape): Promise<void> {
  const out = createWriteStream(file);
  for (let from = 1; from <= shape.lines; from += 10_000) {
    const batch: string[] = [];
    for (let i = from; i < from + 10_000 && i <= shape.lines; i++) batch.push(text(shape, i));
    if (!out.write(`${batch.join('\n')}\n`)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}
