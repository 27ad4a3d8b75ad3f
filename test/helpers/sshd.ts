// Test harness: real OpenSSH sshd instances on loopback, plus a local test user
// whose authorized keys live in a harness-controlled directory (nothing is
// written into the user's home).
//
// Needs root (sshd must switch to the test user) and /usr/sbin/sshd. Tests
// should do:
//
//   const skip = sshdAvailable();
//   if (skip) console.error(`SKIPPING sshd tests: ${skip}`);
//   test('...', { skip }, async () => { ... });
//
// Every started sshd (and everything it spawned) is killed when the process
// exits, even if a test forgot stop(); callers should still use try/finally or
// withSshd().

import { execFile, execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  accessSync,
  chmodSync,
  chownSync,
  constants as fsc,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

// ---------------------------------------------------------------------------
// Small utilities

export const SSHD_PATH = '/usr/sbin/sshd';
const PRIVSEP_DIR = '/run/sshd';
const LOG_LINES = 200;
const SEARCH_PATH = [...(process.env.PATH ?? '').split(':'), '/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

function findExe(name: string): string | undefined {
  for (const dir of SEARCH_PATH) {
    if (!dir) continue;
    const p = path.join(dir, name);
    try {
      accessSync(p, fsc.X_OK);
      if (statSync(p).isFile()) return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

function exe(name: string): string {
  const p = findExe(name);
  if (!p) throw new Error(`sshd harness: '${name}' not found in PATH`);
  return p;
}

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], timeoutMs = 30_000): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) || (err && code === -1 ? String(err) : '') });
    });
  });
}

async function runOk(cmd: string, args: string[], timeoutMs?: number): Promise<string> {
  const r = await run(cmd, args, timeoutMs);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Serialise async work per key inside this process. */
const locks = new Map<string, Promise<unknown>>();
function withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const prev = locks.get(key) ?? Promise.resolve();
  const next = prev.then(fn, fn);
  const settled = next.then(
    () => undefined,
    () => undefined,
  );
  locks.set(key, settled);
  void settled.then(() => {
    if (locks.get(key) === settled) locks.delete(key);
  });
  return next;
}

function stripBrackets(a: string): string {
  return a.startsWith('[') && a.endsWith(']') ? a.slice(1, -1) : a;
}

/** known_hosts / ssh-style host pattern: bare for port 22, else [host]:port. */
export function hostPattern(address: string, port: number): string {
  const a = stripBrackets(address);
  return port === 22 ? a : `[${a}]:${port}`;
}

// ---------------------------------------------------------------------------
// Process bookkeeping (/proc) and emergency cleanup

interface ProcId {
  pid: number;
  start: string; // /proc/<pid>/stat starttime: guards against pid reuse
}

function procStat(pid: number): { ppid: number; start: string } | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // f[0] = state (field 3), f[1] = ppid (field 4), f[19] = starttime (field 22)
    if (f[0] === 'Z' || f[0] === 'X') return undefined; // zombie: already dead
    return { ppid: Number(f[1]), start: f[19] };
  } catch {
    return undefined;
  }
}

function childrenMap(): Map<number, ProcId[]> {
  const children = new Map<number, ProcId[]>();
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc');
  } catch {
    /* not Linux */
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    const pid = Number(e);
    const st = procStat(pid);
    if (!st) continue;
    const list = children.get(st.ppid) ?? [];
    list.push({ pid, start: st.start });
    children.set(st.ppid, list);
  }
  return children;
}

/**
 * SIGSTOP root and all its descendants, rescanning until no new process
 * appears (a stopped process cannot fork, so this converges and nothing
 * forked mid-scan escapes as an orphan). Roots that died or whose pid was
 * reused are ignored; descendants of live roots are found even when they were
 * reparented (pass earlier members as roots). Returns every
 * stopped process, parents first; callers signal them and then SIGCONT.
 */
function freezeTree(roots: ProcId[]): ProcId[] {
  const seen = new Map<number, ProcId>();
  const add = (p: ProcId) => {
    if (seen.has(p.pid) || !alive(p)) return false;
    seen.set(p.pid, p);
    signal(p, 'SIGSTOP');
    return true;
  };
  for (const r of roots) add(r);
  for (let round = 0; round < 100; round++) {
    const children = childrenMap();
    let added = false;
    const queue = [...seen.keys()];
    while (queue.length) {
      const p = queue.shift()!;
      for (const c of children.get(p) ?? []) {
        if (add(c)) {
          added = true;
          queue.push(c.pid);
        }
      }
    }
    if (!added) break;
  }
  return [...seen.values()];
}

function alive(p: ProcId): boolean {
  const st = procStat(p.pid);
  return !!st && st.start === p.start;
}

function signal(p: ProcId, sig: NodeJS.Signals): void {
  if (!alive(p)) return;
  try {
    process.kill(p.pid, sig);
  } catch {
    /* gone */
  }
}

/** True when the pid exists and is not a zombie. */
export function pidAlive(pid: number): boolean {
  return procStat(pid) !== undefined;
}

const liveSshds = new Set<SshdImpl>();
const tempDirs = new Set<string>();
let cleanupInstalled = false;

function emergencyCleanup(): void {
  for (const s of liveSshds) s.killNow();
  liveSshds.clear();
  if (process.env.OCTOSCAN_SSHD_KEEP) return;
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
  tempDirs.clear();
}

function installCleanup(): void {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  process.on('exit', emergencyCleanup);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const handler = () => {
      emergencyCleanup();
      // If nobody else handles the signal, die of it as we would have.
      if (process.listenerCount(sig) === 1) {
        process.removeListener(sig, handler);
        process.kill(process.pid, sig);
      }
    };
    process.on(sig, handler);
  }
}

const OWNER_FILE = '.octoscan-harness-owner';

function selfId(): string {
  return `${process.pid} ${procStat(process.pid)?.start ?? ''}`;
}

/** Remove this process's temp dir at exit; the owner file lets a later run sweep it if we are SIGKILLed. */
function trackTempDir(dir: string): string {
  installCleanup();
  writeFileSync(path.join(dir, OWNER_FILE), selfId(), { mode: 0o644 });
  tempDirs.add(dir);
  return dir;
}

const swept = new Set<string>();

/** Remove `<dir>/<prefix>*` directories left behind by harness processes that died. */
function sweepStale(dir: string, prefixes: string[]): void {
  const key = `${dir}\0${prefixes.join(',')}`;
  if (swept.has(key)) return;
  swept.add(key);
  let entries: string[] = [];
  try {
    entries = readdirSync(dir);
  } catch {
    return;
  }
  for (const e of entries) {
    if (!prefixes.some((p) => e.startsWith(p))) continue;
    const full = path.join(dir, e);
    let owner: string;
    try {
      owner = readFileSync(path.join(full, OWNER_FILE), 'utf8');
    } catch {
      continue; // not ours, or being created right now
    }
    const [pid, start] = owner.split(' ');
    if (alive({ pid: Number(pid), start })) continue;
    rmSync(full, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------
// Availability, directories, ports

let availability: { reason: string | undefined } | undefined;

/** Why tests needing a real sshd must be skipped, or undefined when they can run. */
export function sshdAvailable(): string | undefined {
  if (availability) return availability.reason;
  const reason = ((): string | undefined => {
    if (process.env.OCTOSCAN_SKIP_SSHD_TESTS) return 'OCTOSCAN_SKIP_SSHD_TESTS is set';
    if (process.platform !== 'linux') return `needs Linux (platform is ${process.platform})`;
    try {
      accessSync(SSHD_PATH, fsc.X_OK);
    } catch {
      return `${SSHD_PATH} not found or not executable (install openssh-server)`;
    }
    const uid = process.getuid?.();
    if (uid !== 0) return `must run as root to start sshd and switch to a test user (uid is ${uid})`;
    for (const tool of ['ssh-keygen', 'useradd', 'usermod']) {
      if (!findExe(tool)) return `'${tool}' not found in PATH`;
    }
    const pw = spawnSync('getent', ['passwd', 'sshd'], { encoding: 'utf8' });
    if (pw.status !== 0) return "sshd privilege-separation user 'sshd' does not exist";
    return undefined;
  })();
  availability = { reason };
  return reason;
}

/** The privilege-separation directory sshd insists on. */
export function ensureRunDir(): void {
  mkdirSync(PRIVSEP_DIR, { recursive: true, mode: 0o755 });
  const st = statSync(PRIVSEP_DIR);
  if ((st.mode & 0o777) !== 0o755) chmodSync(PRIVSEP_DIR, 0o755);
}

/**
 * Root of the harness's per-sshd directories. StrictModes rejects an
 * AuthorizedKeysFile if any directory above it is group/world-writable (so
 * not /tmp), hence /run by default.
 */
function harnessBase(): string {
  const base = process.env.OCTOSCAN_SSHD_HARNESS_DIR || '/run/octoscan-test-sshd';
  mkdirSync(base, { recursive: true, mode: 0o755 });
  chmodSync(base, 0o755);
  if (process.getuid?.() === 0) chownSync(base, 0, 0);
  let dir = realpathSync(base);
  for (;;) {
    const st = statSync(dir);
    if (st.uid !== 0 || (st.mode & 0o022) !== 0) {
      throw new Error(
        `sshd harness: ${dir} must be root-owned and not group/world-writable (sshd StrictModes); ` +
          'set OCTOSCAN_SSHD_HARNESS_DIR to a safe directory',
      );
    }
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  sweepStale(base, ['sshd-', 'hostkeys-']);
  return base;
}

/** A port that was free on host a moment ago (listen on 0, close). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen({ host: stripBrackets(host), port: 0, exclusive: true }, () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

function canBind(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen({ host: stripBrackets(host), port, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

async function freePortOnAll(addresses: string[]): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = await freePort(addresses[0]);
    let ok = true;
    for (const a of addresses.slice(1)) {
      if (!(await canBind(a, port))) {
        ok = false;
        break;
      }
    }
    if (ok) return port;
  }
  throw new Error(`sshd harness: no port free on all of ${addresses.join(', ')}`);
}

// ---------------------------------------------------------------------------
// Keys

export type KeyType = 'ed25519' | 'rsa' | 'ecdsa';

function keygenArgs(type: KeyType): string[] {
  if (type === 'rsa') return ['-t', 'rsa', '-b', '3072'];
  if (type === 'ecdsa') return ['-t', 'ecdsa', '-b', '256'];
  return ['-t', 'ed25519'];
}

async function generateKey(file: string, type: KeyType, comment: string, passphrase = ''): Promise<void> {
  await runOk(exe('ssh-keygen'), ['-q', ...keygenArgs(type), '-N', passphrase, '-C', comment, '-f', file]);
  chmodSync(file, 0o600);
}

export interface HostPublicKey {
  /** Key type as in the .pub file, e.g. 'ssh-ed25519', 'ssh-rsa'. */
  type: string;
  /** The decoded public key blob (what an SSH client sees as the host key). */
  blob: Buffer;
  /** '<type> <base64>' without comment. */
  line: string;
  /** Path of the private key file. */
  path: string;
}

function parsePub(text: string, file: string): { type: string; blob: Buffer; line: string } {
  const [type, b64] = text.trim().split(/\s+/);
  if (!type || !b64) throw new Error(`sshd harness: cannot parse public key ${file}`);
  return { type, blob: Buffer.from(b64, 'base64'), line: `${type} ${b64}` };
}

/** A fresh directory for host keys, removed when the process exits. */
export async function makeHostKeyDir(): Promise<string> {
  const dir = await mkdtemp(path.join(harnessBase(), 'hostkeys-'));
  return trackTempDir(dir);
}

/** Host keys of the given types in dir, generated once per dir and reused afterwards. */
async function ensureHostKeys(dir: string, types: KeyType[]): Promise<HostPublicKey[]> {
  return withLock(`hostkeys:${path.resolve(dir)}`, async () => {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const keys: HostPublicKey[] = [];
    for (const t of types) {
      const priv = path.join(dir, `ssh_host_${t}_key`);
      if (!existsSync(priv)) await generateKey(priv, t, 'octoscan-test-host');
      else chmodSync(priv, 0o600);
      let pub: string;
      if (existsSync(`${priv}.pub`)) pub = await readFile(`${priv}.pub`, 'utf8');
      else {
        pub = await runOk(exe('ssh-keygen'), ['-y', '-f', priv]);
        await writeFile(`${priv}.pub`, pub, { mode: 0o644 });
      }
      keys.push({ ...parsePub(pub, `${priv}.pub`), path: priv });
    }
    return keys;
  });
}

// ---------------------------------------------------------------------------
// Test users

export interface TestUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
  /** Private key file (mode 0600, owned by the test runner). */
  keyPath: string;
  /** '<type> <base64> <comment>' of keyPath's public half. */
  publicKey: string;
  /** The passphrase keyPath is encrypted with ('' when unencrypted). */
  passphrase: string;
  /** Public keys the harness installs for this user (publicKey first). */
  authorizedKeys(): string[];
  /**
   * Authorize another public key line (may carry authorized_keys options such
   * as 'from="..." ssh-ed25519 AAAA...'). Takes effect immediately in every
   * running sshd this user was passed to. Synchronous.
   */
  addKey(pub: string): void;
}

export interface CreateTestUserOptions {
  /** Login shell (must exist), default /bin/bash. */
  shell?: string;
  /** Client key type, default ed25519. */
  keyType?: KeyType;
  /** Encrypt the client key with this passphrase (default: none). */
  passphrase?: string;
}

class TestUserImpl implements TestUser {
  readonly keys: string[];
  readonly attached = new Set<SshdImpl>();
  constructor(
    readonly name: string,
    readonly uid: number,
    readonly gid: number,
    readonly home: string,
    readonly shell: string,
    readonly keyPath: string,
    readonly publicKey: string,
    readonly passphrase: string,
  ) {
    this.keys = [publicKey];
  }
  authorizedKeys(): string[] {
    return [...this.keys];
  }
  addKey(pub: string): void {
    const line = pub.trim();
    if (!line || line.includes('\n')) throw new Error('addKey: expected one public key line');
    this.keys.push(line);
    for (const s of this.attached) s.writeAuthorizedKeys(this.name);
  }
}

interface PasswdEntry {
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

async function getPasswd(name: string): Promise<PasswdEntry | undefined> {
  const r = await run('getent', ['passwd', name]);
  if (r.code !== 0) return undefined;
  const f = r.stdout.trim().split(':');
  return { uid: Number(f[2]), gid: Number(f[3]), home: f[5], shell: f[6] };
}

function shadowPassword(name: string): string | undefined {
  try {
    for (const line of readFileSync('/etc/shadow', 'utf8').split('\n')) {
      const f = line.split(':');
      if (f[0] === name) return f[1];
    }
  } catch {
    /* no shadow */
  }
  return undefined;
}

/** useradd/usermod, retried while another process holds the passwd lock. */
async function shadowTool(tool: string, args: string[], okCodes: number[] = [0]): Promise<number> {
  for (let i = 0; ; i++) {
    const r = await run(exe(tool), args);
    if (okCodes.includes(r.code)) return r.code;
    if (i < 40 && /lock|try again/i.test(r.stderr)) {
      await sleep(50 + Math.random() * 100);
      continue;
    }
    throw new Error(`${tool} ${args.join(' ')} failed (exit ${r.code}): ${r.stderr.trim()}`);
  }
}

/**
 * Make sure a local account `name` exists and can log in by public key
 * (idempotent), and generate a fresh client key pair for it in a temp dir.
 * The key is authorized only in sshds started with this user in `users`.
 */
/** Gives a test user a password (sshd's password and keyboard-interactive logins, sudo -S). */
export function setPassword(user: string, password: string): void {
  execFileSync('chpasswd', { input: `${user}:${password}\n` });
}

export async function createTestUser(name = 'octoscan-test', opts: CreateTestUserOptions = {}): Promise<TestUser> {
  const shell = opts.shell ?? '/bin/bash';
  if (!existsSync(shell)) throw new Error(`createTestUser: shell ${shell} does not exist`);
  const pw = await withLock(`user:${name}`, async () => {
    let ent = await getPasswd(name);
    if (!ent) {
      // 9: already exists (another process won the race).
      await shadowTool('useradd', ['-m', '-s', shell, '-c', 'octoscan-remote test user', name], [0, 9]);
      ent = await getPasswd(name);
      if (!ent) throw new Error(`createTestUser: ${name} missing after useradd`);
    }
    if (ent.shell !== shell) {
      await shadowTool('usermod', ['-s', shell, name]);
      ent.shell = shell;
    }
    // Without PAM, sshd refuses accounts whose password field starts with '!'
    // (useradd's default). '*' means "no password" but not locked.
    const pwField = shadowPassword(name);
    if (pwField !== undefined && pwField.startsWith('!')) await shadowTool('usermod', ['-p', '*', name]);
    if (!existsSync(ent.home)) {
      mkdirSync(ent.home, { recursive: true, mode: 0o755 });
      chownSync(ent.home, ent.uid, ent.gid);
    }
    return ent;
  });
  const type = opts.keyType ?? 'ed25519';
  const passphrase = opts.passphrase ?? '';
  sweepStale(os.tmpdir(), ['octoscan-key-']);
  const dir = trackTempDir(await mkdtemp(path.join(os.tmpdir(), 'octoscan-key-')));
  const keyPath = path.join(dir, `id_${type}`);
  await generateKey(keyPath, type, `${name}@octoscan-test`, passphrase);
  const publicKey = (await readFile(`${keyPath}.pub`, 'utf8')).trim();
  return new TestUserImpl(name, pw.uid, pw.gid, pw.home, pw.shell, keyPath, publicKey, passphrase);
}

// ---------------------------------------------------------------------------
// sshd

export interface StartSshdOptions {
  /** IP literals to listen on (max 16), default ['127.0.0.1']. All share one port. */
  addresses?: string[];
  /** Default: a port free on every address. */
  port?: number;
  /**
   * Host keys are generated here once and reused by later starts with the same
   * dir (a different dir simulates a changed host key). Default: a fresh dir
   * that outlives stop() (reuse it via sshd.hostKeyDir) and is removed at exit.
   */
  hostKeyDir?: string;
  /** Host key types, default ['ed25519']; add 'rsa' (3072) for multi-key tests. */
  hostKeyTypes?: KeyType[];
  /**
   * Extra sshd_config text. Lines before the first `Match` are placed BEFORE
   * the harness defaults (sshd uses the first value, so they override them);
   * `Match` blocks go at the end.
   */
  extraConfig?: string;
  /** Users whose keys are authorized (others cannot log in). */
  users?: TestUser[];
  /** How long to wait for every address to send its banner, default 10000 ms. */
  readyTimeoutMs?: number;
}

export interface Sshd {
  pid: number;
  port: number;
  addresses: string[];
  hostKeyDir: string;
  hostPublicKeys: HostPublicKey[];
  /** Per-instance directory: sshd_config, pid file, authorized_keys/. */
  workdir: string;
  configPath: string;
  /** '[127.0.0.1]:PORT ssh-ed25519 AAAA...' for the first host key (or the given type, e.g. 'ssh-rsa'). */
  knownHostsLine(address?: string, type?: string): string;
  /** One known_hosts line per host key for address. */
  knownHostsLines(address?: string): string[];
  /** Write a known_hosts file with every host key for each address (default: all). */
  writeKnownHosts(file: string, addresses?: string[], opts?: { append?: boolean }): Promise<void>;
  /** Authorize a user's keys in this sshd (same as passing it in `users`). */
  authorize(user: TestUser): void;
  /** Replace the authorized_keys lines for a user name outright (raw control). */
  setAuthorizedKeys(name: string, lines: string[]): void;
  /** The last ~200 lines sshd wrote to stderr/stdout. */
  log(): string;
  /** Resolve once a log line matches, reject with the log after timeoutMs (default 5000). */
  waitForLog(re: RegExp, timeoutMs?: number): Promise<string>;
  readonly running: boolean;
  /** SIGTERM sshd and its session processes, SIGKILL after 3 s; idempotent. */
  stop(): Promise<void>;
}

let penaltiesSupported: boolean | undefined;

function splitExtra(extra: string | undefined): { head: string; tail: string } {
  if (!extra) return { head: '', tail: '' };
  const lines = extra.split('\n');
  const i = lines.findIndex((l) => /^\s*match\s/i.test(l));
  if (i < 0) return { head: extra, tail: '' };
  return { head: lines.slice(0, i).join('\n'), tail: lines.slice(i).join('\n') };
}

function listenAddress(a: string, port: number): string {
  return net.isIPv6(a) ? `[${a}]:${port}` : `${a}:${port}`;
}

class SshdImpl implements Sshd {
  pid = 0;
  private self?: ProcId;
  private child?: ChildProcess;
  private exited!: Promise<void>;
  private hasExited = false;
  private lines: string[] = [];
  private partial = { out: '', err: '' };
  private waiters = new Set<() => void>();
  private stopping?: Promise<void>;
  private tree: ProcId[] = [];
  private users = new Map<string, Set<TestUserImpl>>();
  private rawKeys = new Map<string, string[]>();

  constructor(
    readonly port: number,
    readonly addresses: string[],
    readonly hostKeyDir: string,
    readonly hostPublicKeys: HostPublicKey[],
    readonly workdir: string,
    readonly configPath: string,
  ) {}

  get running(): boolean {
    return !!this.child && !this.hasExited;
  }

  // --- authorized keys (root-owned 0644 files in a root-owned 0755 dir)
  private get akDir(): string {
    return path.join(this.workdir, 'authorized_keys');
  }
  authorize(user: TestUser): void {
    if (!(user instanceof TestUserImpl)) throw new Error('authorize: not a TestUser from createTestUser()');
    const set = this.users.get(user.name) ?? new Set<TestUserImpl>();
    set.add(user);
    this.users.set(user.name, set);
    user.attached.add(this);
    this.rawKeys.delete(user.name);
    this.writeAuthorizedKeys(user.name);
  }
  setAuthorizedKeys(name: string, lines: string[]): void {
    this.rawKeys.set(name, [...lines]);
    this.users.delete(name);
    this.writeAuthorizedKeys(name);
  }
  writeAuthorizedKeys(name: string): void {
    if (!existsSync(this.workdir)) return; // stopped and cleaned up
    const lines = this.rawKeys.get(name) ?? [...(this.users.get(name) ?? [])].flatMap((u) => u.authorizedKeys());
    const file = path.join(this.akDir, name);
    writeFileSync(file, lines.map((l) => `${l}\n`).join(''), { mode: 0o644 });
    chmodSync(file, 0o644);
  }

  // --- known_hosts
  knownHostsLines(address = this.addresses[0]): string[] {
    return this.hostPublicKeys.map((k) => `${hostPattern(address, this.port)} ${k.line}`);
  }
  knownHostsLine(address = this.addresses[0], type?: string): string {
    const k = type ? this.hostPublicKeys.find((h) => h.type === type || h.type === `ssh-${type}`) : this.hostPublicKeys[0];
    if (!k) throw new Error(`knownHostsLine: no ${type} host key (have ${this.hostPublicKeys.map((h) => h.type).join(', ')})`);
    return `${hostPattern(address, this.port)} ${k.line}`;
  }
  async writeKnownHosts(file: string, addresses = this.addresses, opts: { append?: boolean } = {}): Promise<void> {
    const text = addresses.flatMap((a) => this.knownHostsLines(a)).join('\n') + '\n';
    await writeFile(file, text, { mode: 0o644, flag: opts.append ? 'a' : 'w' });
  }

  // --- log
  log(): string {
    const tail = [this.partial.err, this.partial.out].filter(Boolean);
    return [...this.lines, ...tail].join('\n');
  }
  private onData(which: 'out' | 'err', chunk: Buffer): void {
    const parts = (this.partial[which] + chunk.toString('utf8')).split('\n');
    this.partial[which] = parts.pop() ?? '';
    for (const l of parts) {
      this.lines.push(l.replace(/\r$/, ''));
      if (this.lines.length > LOG_LINES) this.lines.shift();
    }
    if (parts.length) for (const w of [...this.waiters]) w();
  }
  waitForLog(re: RegExp, timeoutMs = 5000): Promise<string> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const hit = this.lines.find((l) => re.test(l));
        if (hit !== undefined) {
          done();
          resolve(hit);
        } else if (this.hasExited) {
          done();
          reject(new Error(`sshd exited before logging ${re}:\n${this.log()}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`sshd did not log ${re} within ${timeoutMs} ms:\n${this.log()}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  // --- lifecycle
  launch(): void {
    const sshdArgs = [SSHD_PATH, '-D', '-e', '-f', this.configPath];
    // setpriv --pdeathsig: sshd dies even if this process is SIGKILLed.
    const setpriv = findExe('setpriv');
    const [cmd, ...args] = setpriv ? [setpriv, '--pdeathsig', 'KILL', '--', ...sshdArgs] : sshdArgs;
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.pid = child.pid ?? 0;
    const st = this.pid ? procStat(this.pid) : undefined;
    if (st) this.self = { pid: this.pid, start: st.start };
    this.exited = new Promise<void>((resolve) => {
      child.once('exit', (code, sig) => {
        this.hasExited = true;
        this.lines.push(`[harness] sshd exited (${sig ?? `code ${code}`})`);
        liveSshds.delete(this);
        for (const w of [...this.waiters]) w();
        resolve();
      });
      child.once('error', (err) => {
        this.hasExited = true;
        this.lines.push(`[harness] cannot start sshd: ${err.message}`);
        liveSshds.delete(this);
        for (const w of [...this.waiters]) w();
        resolve();
      });
    });
    child.stdout!.on('data', (c: Buffer) => this.onData('out', c));
    child.stderr!.on('data', (c: Buffer) => this.onData('err', c));
    // A forgotten sshd must not keep the test process alive; the exit handler kills it.
    child.unref();
    (child.stdout as unknown as net.Socket).unref?.();
    (child.stderr as unknown as net.Socket).unref?.();
    installCleanup();
    liveSshds.add(this);
  }

  /** Wait for "Server listening" on every address, then for each address's SSH banner. */
  async waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const bindFail = /Bind to port \d+ on \S+ failed|Cannot bind any address/;
    const listening = () => {
      const seen = new Set<string>();
      for (const l of this.lines) {
        const m = /Server listening on (\S+) port (\d+)/.exec(l);
        if (m && Number(m[2]) === this.port) seen.add(m[1]);
      }
      return this.addresses.every((a) => seen.has(a));
    };
    while (!listening()) {
      if (this.hasExited) throw new Error('sshd exited during startup');
      if (this.lines.some((l) => bindFail.test(l))) throw new BindError('sshd could not bind every address');
      if (Date.now() > deadline) throw new Error(`sshd not listening on all addresses within ${timeoutMs} ms`);
      await sleep(20);
    }
    for (const a of this.addresses) {
      for (;;) {
        if (this.hasExited) throw new Error('sshd exited during startup');
        const remaining = deadline - Date.now();
        if (remaining <= 0) throw new Error(`no SSH banner from ${a}:${this.port} within ${timeoutMs} ms`);
        if (await bannerOk(a, this.port, Math.min(remaining, 2000))) break;
        await sleep(50);
      }
    }
    if (this.lines.some((l) => bindFail.test(l))) throw new BindError('sshd could not bind every address');
  }

  /** Synchronous SIGKILL of sshd and everything it spawned (exit handler). */
  killNow(): void {
    for (const p of freezeTree(this.roots())) signal(p, 'SIGKILL');
    if (!process.env.OCTOSCAN_SSHD_KEEP) rmSync(this.workdir, { recursive: true, force: true });
  }

  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private roots(): ProcId[] {
    return [...(this.self && !this.hasExited ? [this.self] : []), ...this.tree];
  }

  private async doStop(): Promise<void> {
    if (this.pid && !this.hasExited) {
      // Session processes live in their own sessions and outlive the listener,
      // so freeze the whole tree first, then terminate all of it.
      this.tree = freezeTree(this.roots());
      for (const p of this.tree) signal(p, 'SIGTERM');
      for (const p of this.tree) signal(p, 'SIGCONT');
      const killTimer = setTimeout(() => {
        this.tree = freezeTree(this.roots());
        for (const p of this.tree) signal(p, 'SIGKILL');
      }, 3000);
      await this.exited;
      clearTimeout(killTimer);
    }
    // Wait (up to 3 s, then SIGKILL) for the session processes as well.
    const deadline = Date.now() + 3000;
    while (this.tree.some(alive)) {
      if (Date.now() > deadline) {
        for (const p of freezeTree(this.roots())) signal(p, 'SIGKILL');
        await sleep(50);
        break;
      }
      await sleep(25);
    }
    liveSshds.delete(this);
    for (const set of this.users.values()) for (const u of set) u.attached.delete(this);
    if (!process.env.OCTOSCAN_SSHD_KEEP) rmSync(this.workdir, { recursive: true, force: true });
  }
}

class BindError extends Error {}

function bannerOk(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    let buf = '';
    const sock = net.connect({ host, port });
    const finish = (ok: boolean) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    sock.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      if (buf.includes('SSH-2.0')) finish(true);
      else if (buf.length > 8192) finish(false);
    });
    sock.on('error', () => finish(false));
    sock.on('close', () => finish(buf.includes('SSH-2.0')));
  });
}

function buildConfig(o: {
  workdir: string;
  port: number;
  addresses: string[];
  hostKeys: HostPublicKey[];
  extra?: string;
  penalties: boolean;
}): string {
  const { head, tail } = splitExtra(o.extra);
  return [
    '# Generated by test/helpers/sshd.ts',
    ...(head.trim() ? ['# --- extraConfig (overrides the defaults below)', head] : []),
    '# --- harness defaults',
    ...o.addresses.map((a) => `ListenAddress ${listenAddress(a, o.port)}`),
    'AddressFamily any',
    ...o.hostKeys.map((k) => `HostKey ${k.path}`),
    `PidFile ${path.join(o.workdir, 'sshd.pid')}`,
    'UsePAM no',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'HostbasedAuthentication no',
    'PubkeyAuthentication yes',
    `AuthorizedKeysFile ${path.join(o.workdir, 'authorized_keys')}/%u`,
    'AuthorizedKeysCommand none',
    'AuthorizedPrincipalsFile none',
    'MaxStartups 200:30:400',
    'MaxSessions 10',
    'LogLevel VERBOSE',
    'StrictModes yes',
    'PermitRootLogin no',
    'UseDNS no',
    'PrintMotd no',
    'PrintLastLog no',
    'X11Forwarding no',
    'PermitUserEnvironment no',
    'LoginGraceTime 30',
    ...(o.penalties ? ['PerSourcePenalties no'] : []),
    ...(tail.trim() ? ['# --- extraConfig Match blocks', tail] : []),
    '',
  ].join('\n');
}

/** Start a real sshd; resolves once every address sends its SSH-2.0 banner. */
export async function startSshd(opts: StartSshdOptions = {}): Promise<Sshd> {
  const reason = sshdAvailable();
  if (reason) throw new Error(`startSshd: ${reason}`);
  const addresses = (opts.addresses ?? ['127.0.0.1']).map(stripBrackets);
  if (addresses.length === 0 || addresses.length > 16) throw new Error('startSshd: 1..16 addresses');
  for (const a of addresses) if (!net.isIP(a)) throw new Error(`startSshd: ${a} is not an IP literal`);
  ensureRunDir();
  const base = harnessBase();
  const hostKeyDir = opts.hostKeyDir ? path.resolve(opts.hostKeyDir) : await makeHostKeyDir();
  const hostKeys = await ensureHostKeys(hostKeyDir, opts.hostKeyTypes ?? ['ed25519']);

  const attempts = opts.port ? 1 : 5;
  for (let attempt = 1; ; attempt++) {
    const port = opts.port ?? (await freePortOnAll(addresses));
    const workdir = await mkdtemp(path.join(base, 'sshd-'));
    chmodSync(workdir, 0o755); // the user must traverse it to read its authorized_keys
    writeFileSync(path.join(workdir, OWNER_FILE), selfId(), { mode: 0o644 });
    mkdirSync(path.join(workdir, 'authorized_keys'), { mode: 0o755 });
    chmodSync(path.join(workdir, 'authorized_keys'), 0o755);
    const configPath = path.join(workdir, 'sshd_config');
    const sshd = new SshdImpl(port, addresses, hostKeyDir, hostKeys, workdir, configPath);
    let ok = false;
    try {
      const write = (penalties: boolean) =>
        writeFile(configPath, buildConfig({ workdir, port, addresses, hostKeys, extra: opts.extraConfig, penalties }), {
          mode: 0o644,
        });
      await write(false);
      if (penaltiesSupported === undefined) {
        const probe = await run(SSHD_PATH, ['-t', '-f', configPath, '-o', 'PerSourcePenalties=no']);
        penaltiesSupported = probe.code === 0;
      }
      if (penaltiesSupported) await write(true);
      const check = await run(SSHD_PATH, ['-t', '-f', configPath]);
      if (check.code !== 0) {
        throw new Error(
          `sshd -t rejected the generated config (exit ${check.code}):\n${check.stderr.trim()}\n--- ${configPath}\n` +
            readFileSync(configPath, 'utf8'),
        );
      }
      for (const u of opts.users ?? []) sshd.authorize(u);
      sshd.launch();
      try {
        await sshd.waitReady(opts.readyTimeoutMs ?? 10_000);
      } catch (err) {
        await sshd.stop();
        if (err instanceof BindError && attempt < attempts) continue;
        throw new Error(`startSshd on ${addresses.join(', ')} port ${port}: ${(err as Error).message}\n--- sshd log:\n${sshd.log()}`);
      }
      ok = true;
      return sshd;
    } finally {
      if (!ok && !process.env.OCTOSCAN_SSHD_KEEP) rmSync(workdir, { recursive: true, force: true });
    }
  }
}

/** Start sshd, run fn, always stop. */
export async function withSshd<T>(opts: StartSshdOptions, fn: (sshd: Sshd) => Promise<T> | T): Promise<T> {
  const sshd = await startSshd(opts);
  try {
    return await fn(sshd);
  } finally {
    await sshd.stop();
  }
}
