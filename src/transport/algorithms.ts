// The algorithm lists offered to a server. Modern ones by default; the SHA-1
// and CBC ones an old server (RHEL 5/6, appliances) needs only when asked for,
// for the run (--legacy-algorithms) or per host (ssh_config `+` lists), so an
// old host is never scanned by accident over a weak exchange.
import { createRequire } from 'node:module';
import type { Algorithms } from '../types.js';

// ssh2 exports its lists only from this internal module; they depend on what
// the local OpenSSL offers, so they are read, not copied.
const ssh2Constants = createRequire(import.meta.url)('ssh2/lib/protocol/constants.js') as Record<string, string[]>;

type Kind = keyof Algorithms;

/** What ssh2 can do at all. */
export const SUPPORTED: Record<Kind, string[]> = {
  serverHostKey: ssh2Constants.SUPPORTED_SERVER_HOST_KEY,
  kex: ssh2Constants.SUPPORTED_KEX,
  cipher: ssh2Constants.SUPPORTED_CIPHER,
  hmac: ssh2Constants.SUPPORTED_MAC,
  pubkey: ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
};

/** Only for old servers: SHA-1 signatures and key exchange, CBC ciphers. */
export const LEGACY: Record<Kind, string[]> = {
  serverHostKey: ['ssh-rsa'],
  kex: ['diffie-hellman-group14-sha1', 'diffie-hellman-group-exchange-sha1', 'diffie-hellman-group1-sha1'],
  cipher: ['aes128-cbc', 'aes192-cbc', 'aes256-cbc', '3des-cbc'].filter((c) => ssh2Constants.SUPPORTED_CIPHER.includes(c)),
  hmac: [],
  pubkey: ['ssh-rsa'],
};

const MODERN: Record<Kind, string[]> = {
  serverHostKey: ssh2Constants.DEFAULT_SERVER_HOST_KEY.filter((a) => !LEGACY.serverHostKey.includes(a)),
  kex: ssh2Constants.DEFAULT_KEX.filter((a) => !LEGACY.kex.includes(a)),
  cipher: ssh2Constants.DEFAULT_CIPHER.filter((a) => !LEGACY.cipher.includes(a)),
  hmac: ssh2Constants.DEFAULT_MAC,
  pubkey: SUPPORTED.pubkey.filter((a) => !LEGACY.pubkey.includes(a)),
};

export const KINDS: Kind[] = ['serverHostKey', 'kex', 'cipher', 'hmac', 'pubkey'];

/** The lists offered when nothing says otherwise; with legacy, the old ones last. */
export function defaultAlgorithms(legacy: boolean): Algorithms {
  const pick = (k: Kind): string[] => (legacy ? [...MODERN[k], ...LEGACY[k].filter((a) => !MODERN[k].includes(a))] : [...MODERN[k]]);
  return { serverHostKey: pick('serverHostKey'), kex: pick('kex'), cipher: pick('cipher'), hmac: pick('hmac'), pubkey: pick('pubkey') };
}

/**
 * An ssh_config algorithm list applied to a base list, as OpenSSH does:
 * `+a,b` appends, `-a*` removes (wildcards), `^a,b` puts first, a plain list
 * replaces. Names ssh2 cannot do are dropped (and returned) rather than sent.
 */
export function applyAlgorithmList(kind: Kind, base: string[], spec: string): { list: string[]; unknown: string[] } {
  const op = /^[+\-^]/.test(spec) ? spec[0] : '';
  const names = (op ? spec.slice(1) : spec).split(',').map((n) => n.trim()).filter(Boolean);
  const unknown: string[] = [];
  const known = (n: string): boolean => {
    if (SUPPORTED[kind].includes(n)) return true;
    // Names of certificates, sk- keys, umac...: OpenSSH has them, ssh2 does not.
    unknown.push(n);
    return false;
  };
  if (op === '-') {
    const re = names.map((n) => new RegExp(`^${n.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`));
    return { list: base.filter((a) => !re.some((r) => r.test(a))), unknown };
  }
  const wanted = names.filter(known);
  if (op === '+') return { list: [...base, ...wanted.filter((a) => !base.includes(a))], unknown };
  if (op === '^') return { list: [...wanted, ...base.filter((a) => !wanted.includes(a))], unknown };
  return { list: wanted, unknown };
}
