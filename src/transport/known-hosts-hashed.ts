// accept-new under `HashKnownHosts yes` (Debian's /etc/ssh/ssh_config sets it
// for every host): the new line names the host as ssh writes it then,
// |1|base64(salt)|base64(HMAC-SHA1(salt, name)), so the file does not list the
// estate in clear. `name` is what ssh hashes: host, or [host]:port off port 22.
// Appended like appendKnownHost (known-hosts.ts): one write on an O_APPEND handle.
import { createHmac, randomBytes } from 'node:crypto';
import { mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { hostPattern, keyTypeOf } from './known-hosts.js';

/** hostfile.c host_hash: a fresh 20-byte salt per line, as ssh does. */
export function hashedHostField(name: string, salt: Buffer = randomBytes(20)): string {
  const hash = createHmac('sha1', salt).update(name).digest();
  return `|1|${salt.toString('base64')}|${hash.toString('base64')}`;
}

export async function appendHashedKnownHost(file: string, host: string, port: number, blob: Buffer): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const fh = await open(file, 'a+', 0o600);
  try {
    const { size } = await fh.stat();
    let prefix = '';
    if (size > 0) {
      const last = Buffer.alloc(1);
      await fh.read(last, 0, 1, size - 1);
      if (last[0] !== 0x0a) prefix = '\n';
    }
    await fh.write(`${prefix}${hashedHostField(hostPattern(host.toLowerCase(), port))} ${keyTypeOf(blob)} ${blob.toString('base64')}\n`);
  } finally {
    await fh.close();
  }
}
