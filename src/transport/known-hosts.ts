// OpenSSH known_hosts files: parsing, the host key decision ssh makes, and the
// one-line append used by the accept-new policy. Semantics follow OpenSSH's
// hostfile.c / match.c so that our verdict agrees with what `ssh` would say.
import { createHash, createHmac } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import { dirname } from 'node:path';
import { HashedNames } from './hashed-names.js';
import { hashedHostField } from './known-hosts-hashed.js';

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

// Key type names repeat on every line; one string each instead of one per line.
const keyTypes = new Map<string, string>();

/** One known_hosts line as an entry, or undefined (blank, comment, or skipped with a warning). */
function parseLine(text: string, file: string, line: number, warnings?: string[]): KnownHostEntry | undefined {
  const raw = text.trim(); // also drops the \r of CRLF files
  if (raw === '' || raw.startsWith('#')) return undefined;
  const warn = (reason: string): undefined => void warnings?.push(`${file}:${line}: ${reason}`);
  const fields = raw.split(/[ \t]+/, 4);
  let marker: KnownHostEntry['marker'];
  if (fields[0].startsWith('@')) {
    const m = fields.shift()!;
    if (m === '@revoked') marker = 'revoked';
    else if (m === '@cert-authority') marker = 'cert-authority';
    else return warn(`unknown marker ${m}`);
  }
  // Anything after the key is a comment; fewer than three fields includes the old SSH1 format's mistakes.
  if (fields.length < 3) return warn('expected: [marker] hosts keytype base64-key [comment]');
  const [hostField, typeField, b64] = fields;
  if (!BASE64.test(b64)) return warn('key is not base64');
  let blobType: string;
  try {
    blobType = keyTypeOf(Buffer.from(b64.slice(0, 120), 'base64'));
  } catch (err) {
    return warn((err as Error).message);
  }
  if (blobType !== typeField) return warn(`key type ${typeField} does not match the key's own type ${blobType}`);
  let keyType = keyTypes.get(blobType);
  if (keyType === undefined) keyTypes.set(blobType, (keyType = blobType));
  let bad: string | undefined;
  // map, not push: the array gets exactly its length (a million lines are held at once).
  const hosts = hostField.split(',').map((h): string | HashedHost => {
    if (h === '' || h === '!') bad = 'empty host pattern';
    else if (h.startsWith('|')) {
      const parsed = parseHashed(h);
      if (typeof parsed !== 'string') return parsed;
      bad = parsed;
    }
    return h;
  });
  if (bad) return warn(bad);
  const e = new ParsedEntry(file, line, hosts, keyType, b64);
  if (marker) e.marker = marker;
  return e;
}

/**
 * A line as read. The key stays in its base64 text until a lookup compares it
 * (a few lines per host), which saves a Buffer object per line of the file.
 */
class ParsedEntry implements KnownHostEntry {
  declare marker?: KnownHostEntry['marker'];
  constructor(
    readonly file: string,
    readonly line: number,
    readonly hosts: Array<string | HashedHost>,
    readonly keyType: string,
    private readonly base64: string,
  ) {}

  get key(): Buffer {
    return Buffer.from(this.base64, 'base64');
  }
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
    const e = parseLine(lines[i], file, i + 1, warnings);
    if (e) entries.push(e);
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
 * known_hosts entries indexed for lookups by host, built once per entry list:
 * a sweep of N hosts against a known_hosts of N lines must not cost N² pattern
 * matches. Unmarked lines whose patterns are all plain names are found by name
 * in a Map. Lines of hashed names only (what `ssh-keygen -H` and `HashKnownHosts`
 * write) cannot be indexed, since every name has its own salt: each lookup
 * computes one HMAC per hashed name, as OpenSSH does, but from precomputed
 * HMAC states (hashed-names.ts), about six times faster than createHmac. Lines
 * with a wildcard or a negation are matched one by one. Entries are referred
 * to by their position, which is also their file order.
 */
interface KnownHostsIndex {
  byName: Map<string, number | number[]>; // one line's position, or several
  hashed: HashedNames;
  patterned: number[];
  revokedByKey: Map<string, KnownHostEntry>; // base64 key -> its first @revoked line
  recent: Map<string, number[]>; // the last lookups: a host is looked up twice per connection
}

const RECENT = 256;
const indexes = new WeakMap<KnownHostEntry[], KnownHostsIndex>();

function addToIndex(ix: KnownHostsIndex, e: KnownHostEntry, i: number): void {
  if (e.marker === 'revoked') {
    const k = e.key.toString('base64');
    if (!ix.revokedByKey.has(k)) ix.revokedByKey.set(k, e);
  }
  if (e.marker !== undefined) return;
  if (e.hosts.every((h) => typeof h !== 'string')) {
    for (const h of e.hosts as HashedHost[]) ix.hashed.add(h.salt, h.hash, i);
    return;
  }
  const plain = e.hosts.every((h) => typeof h === 'string' && !h.startsWith('!') && !/[*?]/.test(h));
  if (!plain) return void ix.patterned.push(i);
  for (const h of e.hosts as string[]) {
    const name = h.toLowerCase();
    const list = ix.byName.get(name);
    if (list === undefined) ix.byName.set(name, i);
    else if (typeof list === 'number') list !== i && ix.byName.set(name, [list, i]);
    else if (list[list.length - 1] !== i) list.push(i);
  }
}

function indexOf(entries: KnownHostEntry[]): KnownHostsIndex {
  let ix = indexes.get(entries);
  if (ix) return ix;
  ix = { byName: new Map(), hashed: new HashedNames(), patterned: [], revokedByKey: new Map(), recent: new Map() };
  for (let i = 0; i < entries.length; i++) addToIndex(ix, entries[i], i);
  indexes.set(entries, ix);
  return ix;
}

/**
 * Appends an entry to a list already read (the line accept-new just wrote), so
 * that later hosts see it without reading the files again.
 */
export function addKnownHostEntry(entries: KnownHostEntry[], entry: KnownHostEntry): void {
  entries.push(entry);
  const ix = indexes.get(entries);
  if (!ix) return;
  addToIndex(ix, entry, entries.length - 1);
  ix.recent.clear();
}

/** The unmarked lines that match `name` (already `hostPattern`ed and lowercased), in file order. */
function linesFor(entries: KnownHostEntry[], name: string): KnownHostEntry[] {
  const ix = indexOf(entries);
  let found = ix.recent.get(name);
  if (!found) {
    const named = ix.byName.get(name) ?? [];
    const plain = typeof named === 'number' ? [named] : named;
    const hashed = ix.hashed.lookup(name);
    const patterned = ix.patterned.filter((i) => hostsMatch(entries[i].hosts, name));
    found = hashed.length === 0 && patterned.length === 0 ? plain : plain.concat(hashed, patterned).sort((a, b) => a - b);
    if (ix.recent.size >= RECENT) ix.recent.delete(ix.recent.keys().next().value!);
    ix.recent.set(name, found);
  }
  const out: KnownHostEntry[] = [];
  for (let k = 0; k < found.length; k++) if (k === 0 || found[k] !== found[k - 1]) out.push(entries[found[k]]);
  return out;
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
  const revoked = indexOf(entries).revokedByKey.get(offeredBlob.toString('base64'));

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

/**
 * The host-key algorithms we offer by default, strongest first (ssh2's order).
 * No `ssh-rsa`: its SHA-1 signature is legacy, offered only on request (algorithms.ts).
 */
export const DEFAULT_HOST_KEY_ALGORITHMS = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
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

/**
 * Reads and parses the files in order; a missing file is simply empty. Each
 * file is read in chunks and parsed line by line, so its size is bounded by
 * the entries it holds, not by the longest string V8 can make.
 */
export async function loadKnownHosts(files: string[], warnings?: string[]): Promise<KnownHostEntry[]> {
  const all: KnownHostEntry[] = [];
  for (const file of files) {
    let line = 0;
    let rest = '';
    const decoder = new StringDecoder('utf8');
    try {
      for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
        const text = rest + decoder.write(chunk);
        let from = 0;
        for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', from)) {
          const e = parseLine(text.slice(from, nl), file, ++line, warnings);
          if (e) all.push(e);
          from = nl + 1;
        }
        rest = text.slice(from);
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw new Error(`cannot read known_hosts file ${file}: ${(err as Error).message}`);
    }
    const e = parseLine(rest + decoder.end(), file, ++line, warnings);
    if (e) all.push(e);
  }
  return all;
}

/**
 * Appends `<hostPattern> <keytype> <base64>` as ssh's accept-new does (unhashed),
 * and returns the line as an entry (with its line number), for the lists already
 * read. The line goes out in one write on an O_APPEND handle so that concurrent
 * appends from parallel connections do not interleave.
 */
/**
 * Appends the host's key; `hashed` writes the name as ssh does under HashKnownHosts
 * yes. The entry returned (for this run's lookups) names the host in clear: same match.
 */
export async function appendKnownHost(file: string, host: string, port: number, blob: Buffer, hashed = false): Promise<KnownHostEntry> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const fh = await open(file, 'a+', 0o600);
  try {
    let lines = 0;
    let last = 0x0a;
    const buf = Buffer.alloc(1 << 20);
    for (let pos = 0; ; ) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      if (bytesRead === 0) break;
      for (let i = buf.indexOf(0x0a, 0); i >= 0 && i < bytesRead; i = buf.indexOf(0x0a, i + 1)) lines++;
      last = buf[bytesRead - 1];
      pos += bytesRead;
    }
    const prefix = last === 0x0a ? '' : '\n';
    const pattern = hostPattern(host.toLowerCase(), port);
    const keyType = keyTypeOf(blob);
    await fh.write(`${prefix}${hashed ? hashedHostField(pattern) : pattern} ${keyType} ${blob.toString('base64')}\n`);
    return { file, line: lines + (prefix ? 2 : 1), hosts: [pattern], keyType, key: blob };
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
