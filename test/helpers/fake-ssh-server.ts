// Test helper: a scripted, in-process SSH server (npm ssh2's Server) on an
// ephemeral loopback port, for the faults only a scripted server can produce:
// stalls in every phase, garbage, endless output, resets, forged frames.
//
// Every server gets the host key generated once per test process (a fixture,
// never a file in the repository); clients authenticate with a client key
// generated the same way (clientKeyFile()). A scenario is a set of hooks:
//
//   raw     takes the TCP socket before any SSH is spoken (no banner, banner
//           then silence, a KEXINIT and then silence, garbage);
//   auth    'accept' | 'reject' | 'stall' (never answers the auth request);
//   exec    'stall' (never confirms the exec request), 'reject', or a handler
//           that gets a FakeExec: the script the controller sent (with the
//           real, random frame token in it), write() with backpressure,
//           exit/close/reset. So a handler can answer with frames that carry
//           the real token, exactly as a compromised target could.
//
// Frame builders (rec, entry, facts, minimalScan) write the probe protocol of
// src/probe/frames.ts; they are deliberately independent of the product code.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import ssh2 from 'ssh2';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import yauzl from 'yauzl';
import { ssh2Transport } from '../../src/transport/ssh2-transport.js';
import type { ScanSettings } from '../../src/scan/scan-host.js';
import type { HostSpec } from '../../src/types.js';
import { linuxProbes } from '../../targets/index.js';
import { SCRIPT_LAST_LINE } from '../../src/probe/script.js';

const { Server, utils } = ssh2;
type ServerChannel = ssh2.ServerChannel;

// ---------------------------------------------------------------------------
// Keys: generated once per process.

interface KeyPair {
  private: string;
  public: string; // OpenSSH 'ssh-ed25519 AAAA...'
}

let hostPair: KeyPair | undefined;
let otherHostPair: KeyPair | undefined;
let clientKeyPath: string | undefined;
let keyDir: string | undefined;

function newPair(): KeyPair {
  // ssh2's generator drops a leading zero byte of the public key now and then
  // (about one key in 256), giving a key nothing can parse: draw again.
  for (;;) {
    const k = utils.generateKeyPairSync('ed25519');
    const parsed = utils.parseKey(k.private);
    if (parsed instanceof Error || utils.parseKey(k.public) instanceof Error) continue;
    return { private: k.private, public: k.public.trim().split(/\s+/).slice(0, 2).join(' ') };
  }
}

/** The fixture host key every fake server presents unless told otherwise. */
export function fixtureHostKey(): KeyPair {
  hostPair ??= newPair();
  return hostPair;
}

/** A second host key, for "the key changed" cases. */
export function otherHostKey(): KeyPair {
  otherHostPair ??= newPair();
  return otherHostPair;
}

function tempKeyDir(): string {
  if (!keyDir) {
    keyDir = mkdtempSync(path.join(os.tmpdir(), 'octoscan-fake-ssh-'));
    const dir = keyDir;
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return keyDir;
}

/** A private key file (0600) the fake servers accept; one per process. */
export function clientKeyFile(): string {
  if (!clientKeyPath) {
    const p = path.join(tempKeyDir(), 'id_ed25519');
    writeFileSync(p, newPair().private, { mode: 0o600 });
    clientKeyPath = p;
  }
  return clientKeyPath;
}

// ---------------------------------------------------------------------------
// Frames (the probe protocol, written out by hand)

/** One record: "\n<token> <fields...>\n". */
export function rec(token: string, ...fields: (string | number)[]): Buffer {
  return Buffer.from(`\n${token} ${fields.join(' ')}\n`, 'utf8');
}

/** A B record, the body, and an E record. `name` may be raw bytes. */
export function entry(
  token: string,
  probe: string,
  name: string | Buffer,
  body: string | Buffer,
  opts: { rc?: number; mtime?: number; mode?: string } = {},
): Buffer {
  const head = Buffer.concat([
    Buffer.from(`\n${token} B ${probe} ${opts.mtime ?? '-'} ${opts.mode ?? '-'} `, 'latin1'),
    typeof name === 'string' ? Buffer.from(name, 'utf8') : name,
    Buffer.from('\n'),
  ]);
  return Buffer.concat([head, typeof body === 'string' ? Buffer.from(body, 'utf8') : body, rec(token, 'E', opts.rc ?? 0)]);
}

export const DEFAULT_FACTS: Record<string, string> = {
  os: 'Linux',
  uid: '1000',
  euid: '1000',
  login: 'scan',
  epoch: '1700000000',
  utc: '2023-11-14T22:13:20',
  local: '2023-11-14T22:13:20',
  tz: '+0000',
  fqdn: 'fake.example.test',
  'uname-r': '6.1.0-fake',
  'uname-m': 'x86_64',
  'uname-p': 'unknown',
  libc: 'glibc 2.36',
  python: 'Python 3.11.2',
};

/** I records; values are written as given (raw bytes allowed through latin1 strings). */
export function facts(token: string, overrides: Record<string, string | Buffer> = {}): Buffer {
  const all: Record<string, string | Buffer> = { ...DEFAULT_FACTS, ...overrides };
  return Buffer.concat(
    Object.entries(all).map(([k, v]) =>
      Buffer.concat([Buffer.from(`\n${token} I ${k} `, 'latin1'), typeof v === 'string' ? Buffer.from(v, 'utf8') : v, Buffer.from('\n')]),
    ),
  );
}

export const OS_RELEASE = 'PRETTY_NAME="Fake GNU/Linux 12"\nID=fake\n';

/** A small, complete, valid probe output: facts, two entries, the end record. */
export function minimalScan(token: string, extra: Buffer[] = [], factOverrides: Record<string, string | Buffer> = {}): Buffer {
  return Buffer.concat([
    facts(token, factOverrides),
    entry(token, 'release', 'release/os-release', OS_RELEASE),
    entry(token, 'meminfo', 'proc/meminfo', 'MemTotal:        1024 kB\n'),
    ...extra,
    rec(token, 'Z'),
  ]);
}

/** The frame token the controller put in the script (`_T='@@OCTO:...@@'`). */
export function tokenOf(script: string): string {
  const m = /^_T='(@@OCTO:[0-9a-f]{32}@@)'(?: _H=\d+)?$/m.exec(script);
  if (!m) throw new Error('fake ssh: no frame token in the script');
  return m[1];
}

// ---------------------------------------------------------------------------
// Raw-socket helpers

export const BANNER = 'SSH-2.0-OpenSSH_9.2p1 FakeServer\r\n';

function nameList(names: string[]): Buffer {
  const s = Buffer.from(names.join(','), 'latin1');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(s.length);
  return Buffer.concat([len, s]);
}

/** An unencrypted binary packet around payload (RFC 4253 section 6). */
export function sshPacket(payload: Buffer): Buffer {
  let pad = 8 - ((4 + 1 + payload.length) % 8);
  if (pad < 4) pad += 8;
  const len = Buffer.alloc(5);
  len.writeUInt32BE(1 + payload.length + pad);
  len[4] = pad;
  return Buffer.concat([len, payload, randomBytes(pad)]);
}

/** A plausible server KEXINIT: the client answers it and then waits for us forever. */
export function kexInitPacket(): Buffer {
  const payload = Buffer.concat([
    Buffer.from([20]),
    randomBytes(16),
    nameList(['curve25519-sha256', 'curve25519-sha256@libssh.org', 'ecdh-sha2-nistp256', 'diffie-hellman-group14-sha256']),
    nameList(['ssh-ed25519', 'rsa-sha2-512', 'rsa-sha2-256', 'ecdsa-sha2-nistp256']),
    nameList(['aes128-gcm@openssh.com', 'aes128-ctr', 'chacha20-poly1305@openssh.com']),
    nameList(['aes128-gcm@openssh.com', 'aes128-ctr', 'chacha20-poly1305@openssh.com']),
    nameList(['hmac-sha2-256', 'hmac-sha2-256-etm@openssh.com']),
    nameList(['hmac-sha2-256', 'hmac-sha2-256-etm@openssh.com']),
    nameList(['none']),
    nameList(['none']),
    nameList([]),
    nameList([]),
    Buffer.from([0, 0, 0, 0, 0]),
  ]);
  return sshPacket(payload);
}

/** Raw handlers for the phases before SSH is up. */
export const raw = {
  /** Accept the TCP connection and never send a byte. */
  silent: (): RawHandler => () => {},
  /** Send the banner, then nothing. */
  bannerThenSilence: (): RawHandler => (sock) => {
    sock.write(BANNER);
  },
  /** Banner and KEXINIT, then never answer the client's key exchange. */
  kexStall: (): RawHandler => (sock) => {
    sock.write(BANNER);
    sock.write(kexInitPacket());
  },
  /** A valid banner followed by bytes that are no SSH packet. */
  garbageAfterBanner: (): RawHandler => (sock) => {
    sock.write(BANNER);
    sock.write(Buffer.concat([Buffer.from([0x7f, 0xff, 0xff, 0xff]), randomBytes(4096)]));
  },
  /** Something that is not SSH at all (a web server on port 22). */
  notSsh: (): RawHandler => (sock) => {
    sock.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
  },
  /** Banner, then the connection is closed. */
  bannerThenClose: (): RawHandler => (sock) => {
    sock.end(BANNER);
  },
  /** Banner, then an RST. */
  bannerThenReset: (): RawHandler => (sock) => {
    sock.write(BANNER, () => setTimeout(() => sock.resetAndDestroy(), 20));
  },
};

export type RawHandler = (sock: net.Socket) => void;

// ---------------------------------------------------------------------------
// Exec handling

export class FakeExec {
  /** The whole script (standard input up to EOF). */
  readonly script: Promise<string>;
  /** ssh2's protocol object of this connection, for peers that forge packets under the encryption. */
  protocol: unknown;
  private closed = false;

  constructor(
    readonly channel: ServerChannel,
    readonly socket: net.Socket,
    readonly command: string,
  ) {
    const chunks: Buffer[] = [];
    this.script = new Promise((resolve) => {
      // The script is whole at its last line: the controller keeps the input open after it (steering).
      const last = Buffer.from(`\n${SCRIPT_LAST_LINE}\n`);
      let tail = Buffer.alloc(0);
      channel.on('data', (c: Buffer) => {
        chunks.push(c);
        tail = Buffer.concat([tail, c]).subarray(-last.length);
        if (tail.equals(last)) resolve(Buffer.concat(chunks).toString('utf8'));
      });
      channel.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    });
    channel.on('close', () => (this.closed = true));
    channel.on('error', () => {});
    socket.on('close', () => (this.closed = true));
  }

  /** The real frame token, once the script has arrived. */
  async token(): Promise<string> {
    return tokenOf(await this.script);
  }

  get isClosed(): boolean {
    return this.closed || this.socket.destroyed;
  }

  /** Write to the channel's stdout, waiting while the client's window is full. */
  write(data: Buffer | string): Promise<void> {
    if (this.isClosed) return Promise.reject(new Error('channel closed'));
    return new Promise((resolve, reject) => {
      const ok = this.channel.write(data);
      if (ok) return resolve();
      const onDrain = (): void => {
        cleanup();
        resolve();
      };
      const onClose = (): void => {
        cleanup();
        reject(new Error('channel closed'));
      };
      const cleanup = (): void => {
        this.channel.off('drain', onDrain);
        this.channel.off('close', onClose);
        this.socket.off('close', onClose);
      };
      this.channel.on('drain', onDrain);
      this.channel.on('close', onClose);
      this.socket.on('close', onClose);
    });
  }

  /** `total` bytes, `chunk` repeated (cut to size), honouring backpressure; stops quietly if the client goes away. */
  async stream(total: number, chunk: Buffer = Buffer.alloc(64 * 1024)): Promise<number> {
    let sent = 0;
    try {
      while (sent < total && !this.isClosed) {
        const n = Math.min(chunk.length, total - sent);
        await this.write(n === chunk.length ? chunk : chunk.subarray(0, n));
        sent += n;
      }
    } catch {
      /* client gone */
    }
    return sent;
  }

  /**
   * Write to standard error without waiting. ssh2's server resumes only one of
   * stdout and stderr when the client's window opens again, so do not keep both
   * under backpressure at the same time: send a stderr flood before stdout.
   */
  stderr(data: string | Buffer): void {
    if (!this.isClosed) this.channel.stderr.write(data);
  }

  /** Every byte written so far has gone out (the channel's write buffer is empty), then EOF. */
  private flushEnd(): Promise<void> {
    return new Promise((resolve) => {
      if (this.isClosed) return resolve();
      const done = (): void => {
        this.channel.off('finish', done);
        this.channel.off('close', done);
        resolve();
      };
      this.channel.once('finish', done);
      this.channel.once('close', done);
      this.channel.end();
    });
  }

  /** EOF, exit status, close: how a normal command ends (in sshd's order). */
  async finish(code = 0): Promise<void> {
    await this.flushEnd();
    if (this.isClosed) return;
    this.channel.exit(code);
    this.channel.close();
  }

  /** EOF and close without any exit status. */
  async closeWithoutStatus(): Promise<void> {
    await this.flushEnd();
    if (this.isClosed) return;
    this.channel.close();
  }

  /** TCP RST: the connection vanishes mid-stream. */
  reset(): void {
    this.socket.resetAndDestroy();
  }

  /** TCP FIN without closing the SSH channel. */
  disconnect(): void {
    this.socket.end();
    this.socket.destroy();
  }
}

export type ExecHandler = (x: FakeExec) => void | Promise<void>;

/** The default handler: a healthy target answering with minimalScan(). */
export const healthy: ExecHandler = async (x) => {
  const t = await x.token();
  await x.write(minimalScan(t));
  await x.finish(0);
};

export interface FakeSshOptions {
  /** Handle TCP yourself: SSH is never spoken. */
  raw?: RawHandler;
  auth?: 'accept' | 'reject' | 'stall';
  /**
   * Password login instead of `auth`: only these methods are offered, publickey is
   * always refused, keyboard-interactive asks "Password: " (no echo) and both it and
   * password accept exactly this password. What OpenSSH without PAM cannot offer.
   */
  password?: { password: string; offer: ('publickey' | 'keyboard-interactive' | 'password')[] };
  exec?: 'stall' | 'reject' | ExecHandler;
  /** Host key (OpenSSH private key text); default fixtureHostKey(). */
  hostKey?: string;
  /** Listen address, default 127.0.0.1. */
  address?: string;
}

export interface FakeSsh {
  readonly host: string;
  readonly port: number;
  /** `[host]:port ssh-ed25519 AAAA...` for the key this server presents. */
  readonly knownHostsLine: string;
  /** Connections accepted so far. */
  readonly connections: number;
  /** Exec handlers' failures (a test should assert this is empty). */
  readonly errors: Error[];
  /** Scripts received by exec requests. */
  readonly scripts: string[];
  /** User names exactly as clients sent them in authentication requests. */
  readonly users: string[];
  /** Authentication methods in the order clients tried them. */
  readonly methods: string[];
  /** Answers given to keyboard-interactive prompts. */
  readonly kbdAnswers: string[][];
  close(): Promise<void>;
}

const liveServers = new Set<FakeSshImpl>();

class FakeSshImpl implements FakeSsh {
  host = '';
  port = 0;
  knownHostsLine = '';
  connections = 0;
  errors: Error[] = [];
  scripts: string[] = [];
  users: string[] = [];
  methods: string[] = [];
  kbdAnswers: string[][] = [];
  readonly sockets = new Set<net.Socket>();
  readonly tcp: net.Server;
  private readonly ssh: InstanceType<typeof Server> | undefined;

  constructor(readonly opts: FakeSshOptions) {
    const hostKey = opts.hostKey ?? fixtureHostKey().private;
    const pub = utils.parseKey(hostKey);
    if (pub instanceof Error) throw pub;
    const parsed = Array.isArray(pub) ? pub[0] : pub;
    this.knownHostsLine = `${parsed.type} ${parsed.getPublicSSH().toString('base64')}`;
    if (!opts.raw) {
      this.ssh = new Server(
        {
          hostKeys: [hostKey],
          ident: 'OpenSSH_9.2p1 FakeServer',
          // Fast native ciphers first: endless-output cases push gigabytes.
          algorithms: { cipher: ['aes128-gcm@openssh.com', 'aes256-gcm@openssh.com', 'aes128-ctr'] },
        },
        (client) => this.onClient(client),
      );
    }
    this.tcp = net.createServer((sock) => {
      this.connections++;
      this.sockets.add(sock);
      sock.on('close', () => this.sockets.delete(sock));
      sock.on('error', () => {});
      if (opts.raw) opts.raw(sock);
      else this.ssh!.injectSocket(sock);
    });
  }

  private onClient(client: ssh2.Connection): void {
    const sock = (client as unknown as { _sock: net.Socket })._sock;
    client.on('error', () => {});
    client.on('authentication', (ctx) => {
      if (!this.users.includes(ctx.username)) this.users.push(ctx.username);
      this.methods.push(ctx.method);
      const pw = this.opts.password;
      if (pw) {
        if (ctx.method === 'password' && pw.offer.includes('password')) return ctx.password === pw.password ? ctx.accept() : ctx.reject(pw.offer);
        if (ctx.method === 'keyboard-interactive' && pw.offer.includes('keyboard-interactive')) {
          return ctx.prompt([{ prompt: 'Password: ', echo: false }], 'fake', '', (answers) => {
            this.kbdAnswers.push(answers);
            if (answers.length === 1 && answers[0] === pw.password) ctx.accept();
            else ctx.reject(pw.offer);
          });
        }
        return ctx.reject(pw.offer);
      }
      const mode = this.opts.auth ?? 'accept';
      if (mode === 'stall') return;
      if (mode === 'reject' || ctx.method === 'none') return ctx.reject(['publickey']);
      ctx.accept();
    });
    client.on('ready', () => {
      client.on('session', (accept) => {
        const session = accept();
        session.on('exec', (acceptExec, rejectExec, info) => {
          const mode = this.opts.exec ?? healthy;
          if (mode === 'stall') return;
          if (mode === 'reject') return rejectExec();
          const x = new FakeExec(acceptExec(), sock, info.command);
          void x.script.then((s) => this.scripts.push(s));
          Promise.resolve()
            .then(() => mode(x))
            .catch((err: Error) => {
              if (!x.isClosed) this.errors.push(err);
            });
        });
      });
    });
  }

  async listen(address: string): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.tcp.once('error', reject);
      this.tcp.listen({ host: address, port: 0 }, () => resolve());
    });
    const a = this.tcp.address() as net.AddressInfo;
    this.host = address;
    this.port = a.port;
    this.knownHostsLine = `[${address}]:${a.port} ${this.knownHostsLine}`;
  }

  close(): Promise<void> {
    liveServers.delete(this);
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.tcp.close(() => resolve()));
  }
}

/** Start a scripted server on an ephemeral port. */
export async function startFakeSsh(opts: FakeSshOptions = {}): Promise<FakeSsh> {
  const s = new FakeSshImpl(opts);
  await s.listen(opts.address ?? '127.0.0.1');
  liveServers.add(s);
  return s;
}

/** Close every fake server still running (for an after() hook). */
export async function closeAllFakeSsh(): Promise<void> {
  await Promise.all([...liveServers].map((s) => s.close()));
}

/**
 * A port on which a TCP connect never completes: a listening socket whose
 * accept queue is full, so the kernel drops further SYNs. Needs python3 (Node
 * always accepts); returns undefined without it.
 */
export async function blackholePort(): Promise<{ port: number; close: () => void } | undefined> {
  const { spawn } = await import('node:child_process');
  const code = [
    'import socket, sys, time',
    's = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(0)',
    'port = s.getsockname()[1]',
    'fill = []',
    'for i in range(8):',
    '    c = socket.socket(); c.setblocking(False)',
    '    try: c.connect(("127.0.0.1", port))',
    '    except BlockingIOError: pass',
    '    fill.append(c)',
    'time.sleep(0.3)',
    'print(port, flush=True)',
    'sys.stdin.read()',
  ].join('\n');
  let child;
  try {
    child = spawn('python3', ['-c', code], { stdio: ['pipe', 'pipe', 'ignore'] });
  } catch {
    return undefined;
  }
  const port = await new Promise<number | undefined>((resolve) => {
    let out = '';
    child.on('error', () => resolve(undefined));
    child.on('exit', () => resolve(undefined));
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(Number(out.trim()));
    });
  });
  if (!port) return undefined;
  return {
    port,
    close: () => {
      child.stdin.end();
      child.kill('SIGKILL');
    },
  };
}

// ---------------------------------------------------------------------------
// Scan fixtures shared by the hostile and security suites: settings that
// point the product at a fake server, and a strict archive reader.


export const ARCHIVE_NAME = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.sca[lm]$/;
/** What the import folder's watcher picks up (the pattern). */
export const IMPORT_PATTERN = /[0-9a-f-]{36}\.sca./;

export function hostSpec(target: { host: string; port: number }, over: Partial<HostSpec> = {}): HostSpec {
  return {
    host: target.host,
    port: target.port,
    user: 'scan',
    identities: [clientKeyFile()],
    tag: '',
    origin: { file: '<test>', line: 0 },
    ...over,
  };
}

export interface SettingsOverrides {
  knownHosts: string;
  hostKeyPolicy?: 'strict' | 'accept-new' | 'off';
  connectTimeoutMs?: number;
  authTimeoutMs?: number;
  hostTimeoutMs?: number;
  hostCap?: number;
  warnings?: string[];
  signal?: AbortSignal;
}

export function scanSettings(outDir: string, o: SettingsOverrides): ScanSettings {
  const warnings = o.warnings ?? [];
  return {
    outDir,
    transport: ssh2Transport,
    connect: {
      connectTimeoutMs: o.connectTimeoutMs ?? 5000,
      authTimeoutMs: o.authTimeoutMs ?? 5000,
      keepaliveIntervalMs: 60_000,
      keepaliveCountMax: 3,
      knownHostsFiles: [o.knownHosts],
      knownHostsWriteFile: o.knownHosts,
      hostKeyPolicy: o.hostKeyPolicy ?? 'strict',
    },
    hostTimeoutMs: o.hostTimeoutMs ?? 30_000,
    sections: { linux: linuxProbes },
    hostCap: o.hostCap,
    warn: (m) => warnings.push(m),
    signal: o.signal,
  };
}

export interface ArchiveEntry {
  name: string;
  data: Buffer;
  /** Unix mode from the external attributes (0 when none). */
  mode: number;
}

export interface Archive {
  uuid: string;
  entries: ArchiveEntry[];
  get(name: string): Buffer | undefined;
}

/**
 * Opens a zip and reads every entry (yauzl checks sizes; we check CRCs by
 * reading to the end). Rejects on anything incomplete or malformed. Entry
 * names are returned without the `<uuid>/` prefix, after checking that every
 * entry has it and stays below it.
 */
export async function readArchive(file: string): Promise<Archive> {
  const base = path.basename(file);
  if (!ARCHIVE_NAME.test(base)) throw new Error(`not an archive name: ${base}`);
  const uuid = base.slice(0, 36);
  const buf = await readFile(file);
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
    yauzl.fromBuffer(buf, { lazyEntries: true, validateEntrySizes: true, strictFileNames: false, decodeStrings: false }, (err, z) => (err ? reject(err) : resolve(z!))),
  );
  const entries: ArchiveEntry[] = [];
  await new Promise<void>((resolve, reject) => {
    zip.on('error', reject);
    zip.on('end', () => resolve());
    zip.on('entry', (e: yauzl.Entry) => {
      const rawName = (e.fileName as unknown as Buffer).toString('latin1');
      zip.openReadStream(e, (err, stream) => {
        if (err) return reject(err);
        const chunks: Buffer[] = [];
        stream!.on('data', (c: Buffer) => chunks.push(c));
        stream!.on('error', reject);
        stream!.on('end', () => {
          entries.push({ name: rawName, data: Buffer.concat(chunks), mode: (e.externalFileAttributes >>> 16) & 0o7777 });
          zip.readEntry();
        });
      });
    });
    zip.readEntry();
  });
  const seen = new Set<string>();
  for (const e of entries) {
    const n = e.name;
    if (!n.startsWith(`${uuid}/`)) throw new Error(`entry outside ${uuid}/: ${JSON.stringify(n)}`);
    if (/[\\\0]/.test(n) || /[^\x20-\x7e]/.test(n)) throw new Error(`entry name with a backslash, NUL or non-printable byte: ${JSON.stringify(n)}`);
    const segs = n.split('/');
    if (segs.some((s) => s === '' || s === '.' || s === '..')) throw new Error(`entry name with an empty, . or .. segment: ${JSON.stringify(n)}`);
    const resolved = path.posix.normalize(`/x/${n}`);
    if (!resolved.startsWith(`/x/${uuid}/`)) throw new Error(`entry escapes ${uuid}/: ${JSON.stringify(n)}`);
    if (seen.has(n)) throw new Error(`duplicate entry ${JSON.stringify(n)}`);
    seen.add(n);
    e.name = n.slice(uuid.length + 1);
  }
  return { uuid, entries, get: (name) => entries.find((e) => e.name === name)?.data };
}

// ---------------------------------------------------------------------------
// A fake server in a child process, for cases where the test measures this
// process (memory while gigabytes stream through): the server's own buffers
// and encryption then do not count, and it runs on another CPU.

/** `size` bytes of numbered text lines, so truncation points are checkable. */
export function textLines(prefix: string, size = 64 * 1024): Buffer {
  const parts: string[] = [];
  let n = 0;
  for (let i = 0; n < size; i++) {
    const l = `${prefix} ${String(i).padStart(6, '0')} ${'x'.repeat(40)}\n`;
    parts.push(l);
    n += l.length;
  }
  return Buffer.from(parts.join('')).subarray(0, size);
}

type Report = (fields: Record<string, unknown>) => void;

/** Scenarios a child server can run, by name; each gets numeric parameters and a way to report back. */
const childScenarios: Record<string, (p: Record<string, number>, report: Report) => FakeSshOptions> = {
  /**
   * A "huge file": standard error flood of p.stderr bytes first, then a cpuinfo
   * entry of p.total bytes of textLines('cpu', 256 KiB) repeated, then a small
   * entry and the end record. Reports { sent } when done.
   */
  huge: (p, report) => ({
    exec: async (x) => {
      const tok = await x.token();
      await x.write(facts(tok));
      await x.write(entry(tok, 'release', 'release/os-release', 'ID=fake\n'));
      const e = textLines('err');
      for (let n = 0; n < p.stderr && !x.isClosed; n += e.length) {
        if (!x.channel.stderr.write(e)) await new Promise((r) => x.channel.stderr.once('drain', r));
      }
      await x.write(`\n${tok} B cpuinfo 1700000000 - proc/cpuinfo\n`);
      const chunk = textLines('cpu', 256 * 1024);
      let sent = 0;
      while (sent < p.total && !x.isClosed) {
        await x.write(chunk);
        sent += chunk.length;
      }
      await x.write(rec(tok, 'E', 0));
      await x.write(entry(tok, 'meminfo', 'proc/meminfo', 'MemTotal: 1 kB\n'));
      await x.write(rec(tok, 'Z'));
      await x.finish(0);
      report({ sent });
    },
  }),
};

export interface ChildFakeSsh {
  host: string;
  port: number;
  knownHostsLine: string;
  /** Resolves with the first report the scenario sends. */
  report: Promise<Record<string, unknown>>;
  close(): void;
}

/** Runs a named scenario's server in a child process. */
export async function startFakeSshChild(scenario: string, params: Record<string, number>): Promise<ChildFakeSsh> {
  const { spawn } = await import('node:child_process');
  const self = fileURLToPath(import.meta.url);
  const child = spawn(process.execPath, ['--import', 'tsx', self], {
    env: { ...process.env, OCTOSCAN_FAKE_SSH_CHILD: JSON.stringify({ scenario, params }) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  const waiters: (() => void)[] = [];
  let buf = '';
  child.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      lines.push(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
      for (const w of waiters.splice(0)) w();
    }
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const nextLine = async (i: number): Promise<Record<string, unknown>> => {
    while (lines.length <= i) {
      const more = new Promise<void>((r) => waiters.push(r));
      await Promise.race([more, exited.then(() => { throw new Error(`fake ssh child (${scenario}) exited`); })]);
    }
    return JSON.parse(lines[i]);
  };
  const hello = await nextLine(0);
  return {
    host: String(hello.host),
    port: Number(hello.port),
    knownHostsLine: String(hello.knownHostsLine),
    report: nextLine(1),
    close: () => child.kill('SIGKILL'),
  };
}

if (process.env.OCTOSCAN_FAKE_SSH_CHILD && process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const { scenario, params } = JSON.parse(process.env.OCTOSCAN_FAKE_SSH_CHILD) as { scenario: string; params: Record<string, number> };
  const report: Report = (f) => process.stdout.write(`${JSON.stringify(f)}\n`);
  const make = childScenarios[scenario];
  if (!make) throw new Error(`no fake ssh scenario ${scenario}`);
  void startFakeSsh(make(params, report)).then((s) => report({ host: s.host, port: s.port, knownHostsLine: s.knownHostsLine }));
}
