// accept-new under `HashKnownHosts yes` (Debian's /etc/ssh/ssh_config sets it
// for every host): the new line names the host as ssh writes it then,
// |1|base64(salt)|base64(HMAC-SHA1(salt, name)), so the file does not list the
// estate in clear. `name` is what ssh hashes: host, or [host]:port off port 22.
// appendKnownHost (known-hosts.ts) writes the line.
import { createHmac, randomBytes } from 'node:crypto';

/** hostfile.c host_hash: a fresh 20-byte salt per line, as ssh does. */
export function hashedHostField(name: string, salt: Buffer = randomBytes(20)): string {
  const hash = createHmac('sha1', salt).update(name).digest();
  return `|1|${salt.toString('base64')}|${hash.toString('base64')}`;
}
