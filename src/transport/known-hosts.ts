// OpenSSH known_hosts files: parsing, the host key decision ssh makes, and the
// one-line append used by the accept-new policy. Semantics follow OpenSSH's
// hostfile.c / match.c so that our verdict agrees with what `ssh` would say.
import { createHash, createHmac } from 'node:crypto';
import { mkdir, open, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface HashedHost {
  salt: Buffer;
  hash: Buffer;
}

export interface KnownHostEntry {
  file: string;
  line: number; // 1-based
  marker?: 'revoked' | 'cert-authority';
  hosts: Array<string | HashedHost>; // patterns (may start with '!') or hashed names
  keyType: string;
  key: Buffer; // the decoded public key blob
}

export type HostKeyVerdict = 'match' | 'unknown' | 'changed' | 'revoked';

export interface HostKeyDecision {
  verdict: HostKeyVerdict;
  fingerprint: string;
  keyType: string;
  knownTypes: string[]; // key types known_hosts holds for this host (plain lines only)
  matchedLine?: { file: string; line: number }; // the matching, differing or revoking line
}

/** `host` for port 22, else `[host]:port` — the name ssh looks up and writes. */
export function hostPattern(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** The key type named inside a public key blob (its first SSH wire string). */
export function keyTypeOf(blob: Buffer): string {
  if (blob.length < 4) throw new Error('public key blob too short');
  const len = blob.readUInt32BE(0);
  if (len === 0 || len > 64 || 4 + len > blob.length) throw new Error('public key blob has no valid key type');
  return blob.toString('latin1', 4, 4 + len);
}

/** `SHA256:...` exactly as `ssh-keygen -l` prints it. */
export function fingerprint(blob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const SHA1_LEN = 20;

function parseHashed(field: string): HashedHost | string {
  // |1|salt|hash; OpenSSH rejects anything whose salt or hash is not SHA-1 sized.
  const parts = field.split('|');
  if (parts.length !== 4 || parts[1] !== '1') return 'unsupported hashed host format';
  if (!BASE64.test(parts[2]) || !BASE64.test(parts[3])) return 'bad base64 in hashed host';
  const salt = Buffer.from(parts[2], 'base64');
  const hash = Buffer.from(parts[3], 'base64');
  if (salt.length !== SHA1_LEN || hash.length !== SHA1_LEN) return 'bad salt or hash length in hashed host';
  return { salt, hash };
}

/**
 * Parses known_hosts text. Lines that OpenSSH would not accept are skipped and
 * described in `warnings` (as `file:line: reason`), never thrown, because one bad
 * line must not make every host unverifiable.
 */
export function parseKnownHosts(text: string, file: string, warnings?: string[]): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = i + 1;
    const raw = lines[i].trim(); // also drops the \r of CRLF files
    if (raw === '' || raw.startsWith('#')) continue;
    const warn = (reason: string) => warnings?.push(`${file}:${line}: ${reason}`);
    const fields = raw.split(/[ \t]+/);
    let marker: KnownHostEntry['marker'];
    if (fields[0].startsWith('@')) {
      const m = fields.shift()!;
      if (m === '@revoked') marker = 'revoked';
      else if (m === '@cert-authority') marker = 'cert-authority';
      else {
        warn(`unknown marker ${m}`);
        continue;
      }
    }
    // Anything after the key is a comment; fewer than three fields includes the old SSH1 format's mistakes.
    if (fields.length < 3) {
      warn('expected: [marker] hosts keytype base64-key [comment]');
      continue;
    }
    const [hostField, keyType, b64] = fields;
    if (!BASE64.test(b64)) {
      warn('key is not base64');
      continue;
    }
    const key = Buffer.from(b64, 'base64');
    let blobType: string;
    try {
      blobType = keyTypeOf(key);
    } catch (err) {
      warn((err as Error).message);
      continue;
    }
    if (blobType !== keyType) {
      warn(`key type ${keyType} does not match the key's own type ${blobType}`);
      continue;
    }
    const hosts: KnownHostEntry['hosts'] = [];
    let bad: string | undefined;
    for (const h of hostField.split(',')) {
      if (h === '' || h === '!') bad = 'empty host pattern';
      else if (h.startsWith('|')) {
        const parsed = parseHashed(h);
        if (typeof parsed === 'string') bad = parsed;
        else hosts.push(parsed);
      } else hosts.push(h);
    }
    if (bad) {
      warn(bad);
      continue;
    }
    entries.push({ file, line, ...(marker ? { marker } : {}), hosts, keyType, key });
  }
  return entries;
}

const compiled = new Map<string, RegExp>();

function globMatch(name: string, pattern: string): boolean {
  if (!/[*?]/.test(pattern)) return name === pattern;
  let re = compiled.get(pattern);
  if (!re) {
    re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 's');
    compiled.set(pattern, re);
  }
  return re.test(name);
}

/**
 * known_hosts entries indexed for lookups by host: a sweep of N hosts against
 * a known_hosts of N lines must not cost N² pattern matches. Lines whose
 * patterns are all plain names are found by name; lines with a wildcard, a
 * negation or a hashed name are matched one by one, as OpenSSH does.
 */
interface KnownHostsIndex {
  byName: Map<string, KnownHostEntry[]>;
  others: KnownHostEntry[];
  revoked: KnownHostEntry[];
  order: Map<KnownHostEntry, number>;
}

const indexes = new WeakMap<KnownHostEntry[], KnownHostsIndex>();

function indexOf(entries: KnownHostEntry[]): KnownHostsIndex {
  let ix = indexes.get(entries);
  if (ix) return ix;
  ix = { byName: new Map(), others: [], revoked: [], order: new Map() };
  entries.forEach((e, i) => {
    ix!.order.set(e, i);
    if (e.marker === 'revoked') ix!.revoked.push(e);
    if (e.marker !== undefined) return;
    const plain = e.hosts.every((h) => typeof h === 'string' && !h.startsWith('!') && !/[*?]/.test(h));
    if (!plain) return void ix!.others.push(e);
    for (const h of e.hosts as string[]) {
      const name = h.toLowerCase();
      const list = ix!.byName.get(name) ?? [];
      if (!list.includes(e)) list.push(e);
      ix!.byName.set(name, list);
    }
  });
  indexes.set(entries, ix);
  return ix;
}

/** The unmarked lines that match `name` (already `hostPattern`ed and lowercased), in file order. */
function linesFor(entries: KnownHostEntry[], name: string): KnownHostEntry[] {
  const ix = indexOf(entries);
  const plain = ix.byName.get(name) ?? [];
  const other = ix.others.filter((e) => hostsMatch(e.hosts, name));
  if (other.length === 0) return plain;
  return [...plain, ...other].sort((a, b) => ix.order.get(a)! - ix.order.get(b)!);
}

/** OpenSSH's match_pattern_list: any matching negation vetoes the whole line. */
function hostsMatch(hosts: KnownHostEntry['hosts'], name: string): boolean {
  let positive = false;
  for (const h of hosts) {
    if (typeof h === 'string') {
      const negated = h.startsWith('!');
      if (!globMatch(name, (negated ? h.slice(1) : h).toLowerCase())) continue;
      if (negated) return false;
      positive = true;
    } else if (createHmac('sha1', h.salt).update(name).digest().equals(h.hash)) {
      positive = true;
    }
  }
  return positive;
}

/**
 * What ssh would conclude about `offeredBlob` from `host`:`port`. Throws only if
 * the offered blob is not a public key blob at all.
 */
export function decideHostKey(
  entries: KnownHostEntry[],
  host: string,
  port: number,
  offeredBlob: Buffer,
): HostKeyDecision {
  const keyType = keyTypeOf(offeredBlob);
  const base = { fingerprint: fingerprint(offeredBlob), keyType };
  const at = (e: KnownHostEntry) => ({ file: e.file, line: e.line });

  // A revoked key is refused whichever host presents it, so host patterns are not consulted.
  const revoked = indexOf(entries).revoked.find((e) => e.key.equals(offeredBlob));

  // ssh lowercases the destination before looking it up (and before hashing).
  const name = hostPattern(host.toLowerCase(), port);
  const mine = linesFor(entries, name);
  const knownTypes = [...new Set(mine.map((e) => e.keyType))];
  if (revoked) return { verdict: 'revoked', ...base, knownTypes, matchedLine: at(revoked) };

  const same = mine.find((e) => e.key.equals(offeredBlob));
  if (same) return { verdict: 'match', ...base, knownTypes, matchedLine: at(same) };
  const sameType = mine.find((e) => e.keyType === keyType);
  if (sameType) return { verdict: 'changed', ...base, knownTypes, matchedLine: at(sameType) };
  return { verdict: 'unknown', ...base, knownTypes };
}

/** The key types known_hosts holds for host:port (plain, unrevoked lines), in file order. */
export function knownKeyTypes(entries: KnownHostEntry[], host: string, port: number): string[] {
  const name = hostPattern(host.toLowerCase(), port);
  return [...new Set(linesFor(entries, name).map((e) => e.keyType))];
}

/** The host-key algorithms we offer, strongest first (ssh2's own default order). */
export const DEFAULT_HOST_KEY_ALGORITHMS = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
  'ssh-rsa',
];

/** The signature algorithms that prove possession of a key of this type. */
function algorithmsForKeyType(keyType: string): string[] {
  return keyType === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [keyType];
}

/**
 * The host-key algorithms to offer for a host, as OpenSSH orders them
 * (sshconnect2.c order_hostkeyalgs): those whose keys known_hosts already holds
 * for the host come first, so a server with several keys proves the one we can
 * check, rather than the strictest policy failing a host the operator verified.
 * The rest follow, so an unknown host still negotiates.
 */
export function hostKeyAlgorithms(knownTypes: string[], offer: string[] = DEFAULT_HOST_KEY_ALGORITHMS): string[] {
  const preferred = offer.filter((a) => knownTypes.some((t) => algorithmsForKeyType(t).includes(a)));
  return [...preferred, ...offer.filter((a) => !preferred.includes(a))];
}

/** Reads and parses the files in order; a missing file is simply empty. */
export async function loadKnownHosts(files: string[], warnings?: string[]): Promise<KnownHostEntry[]> {
  const all: KnownHostEntry[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw new Error(`cannot read known_hosts file ${file}: ${(err as Error).message}`);
    }
    all.push(...parseKnownHosts(text, file, warnings));
  }
  return all;
}

/**
 * Appends `<hostPattern> <keytype> <base64>` as ssh's accept-new does (unhashed).
 * The line goes out in one write on an O_APPEND handle so that concurrent
 * appends from parallel connections do not interleave.
 */
export async function appendKnownHost(file: string, host: string, port: number, blob: Buffer): Promise<void> {
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
    const line = `${hostPattern(host.toLowerCase(), port)} ${keyTypeOf(blob)} ${blob.toString('base64')}\n`;
    await fh.write(prefix + line);
  } finally {
    await fh.close();
  }
}

// Quoted only when needed, so the suggested command stays readable and copy-pasteable.
function shellArg(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** One line for the operator explaining a decision, naming the fix. */
export function hostKeyMessage(decision: HostKeyDecision, host: string, port: number, file: string): string {
  const name = hostPattern(host, port);
  const offered = `${decision.keyType} ${decision.fingerprint}`;
  const where = decision.matchedLine ? `${decision.matchedLine.file} line ${decision.matchedLine.line}` : file;
  switch (decision.verdict) {
    case 'match':
      return `host key for ${name} matches ${where} (${offered})`;
    case 'revoked':
      return `host key for ${name} is REVOKED by @revoked at ${where} (offered ${offered}); refusing to connect`;
    case 'changed': {
      // Entries are stored lowercased, and -R wants the exact name to find hashed ones.
      const pattern = hostPattern(host.toLowerCase(), port);
      return (
        `HOST KEY CHANGED for ${name}: offered ${offered}, ${where} has a different ${decision.keyType} key; ` +
        `refusing to connect (possible man-in-the-middle). If the change is expected, remove the old key with: ` +
        `ssh-keygen -R '${pattern}' -f ${shellArg(decision.matchedLine?.file ?? file)}`
      );
    }
    case 'unknown': {
      const others = decision.knownTypes.length
        ? `; it only has ${decision.knownTypes.join(', ')} for this host`
        : '';
      return (
        `host key for ${name} is not in ${file} (offered ${offered}${others}); ` +
        `verify it and add it, or use --host-key-policy accept-new`
      );
    }
  }
}
