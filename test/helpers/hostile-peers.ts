// Test helper: a farm of hostile SSH peers in a child process, for the cases
// where the controller itself is measured (its memory, its open handles, how
// long it takes to exit) and the peers must not share its heap or its event
// loop. Each peer is a recipe of actions; recipes are either named (one per
// fault an issue reported) or drawn from a seeded generator (the fuzzer), so a
// failing run can be replayed from its seed.
//
// Two kinds of peers:
//   raw     speaks on the TCP socket itself, before or instead of SSH:
//           banners, plaintext packets well-formed or not, bytes, waits,
//           half-closes, resets, and by default never closes (the case that
//           used to leave the controller waiting for ever);
//   ssh     an npm ssh2 Server that logs the client in (or not), then answers
//           the probe script with framed output: valid records, floods of
//           each record type, garbage, raw bytes injected under the
//           encryption (bad MAC), resets, half-closes, odd exits.
//
//   startHostilePeers([{ name: 'double-disconnect' }, { seed: 7 }, { name: 'healthy' }])
//     -> { peers: [{ host, port, label }], knownHostsLines, close() }

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ssh2 from 'ssh2';
import { BANNER, entry, facts, FakeExec, fixtureHostKey, kexInitPacket, rec, sshPacket } from './fake-ssh-server.js';

const { Server, utils } = ssh2;

// ---------------------------------------------------------------------------
// Recipes

export type RawAction =
  | { t: 'write'; hex: string } // bytes, hex-encoded so a recipe is plain JSON
  | { t: 'wait'; ms: number }
  | { t: 'end' } // FIN; the socket stays half-open, reading
  | { t: 'reset' }
  | { t: 'close' };

export type Flood = 'W' | 'S' | 'I' | 'B' | 'garbage' | 'stray' | 'stderr' | 'body';

export type ExecAction =
  | { t: 'facts' }
  | { t: 'valid' } // a small valid entry
  | { t: 'flood'; kind: Flood; bytes: number; recordSize: number }
  | { t: 'junk'; hex: string } // raw bytes on the channel (a forged or broken record)
  | { t: 'inject'; hex: string } // raw bytes on the TCP socket, inside the encrypted stream
  | { t: 'wait'; ms: number }
  | { t: 'end-record' }
  | { t: 'finish'; code: number }
  | { t: 'close-no-status' }
  | { t: 'signal' }
  | { t: 'fin' }
  | { t: 'reset' }
  | { t: 'disconnect'; text: string }
  /** A recorded probe output (a real scan's stream), its token replaced by this session's. */
  | { t: 'replay'; file: string; token: string };

export interface Recipe {
  label: string;
  raw?: RawAction[];
  /** ssh peers: how authentication goes. 'inject' writes bytes under the encryption during auth. */
  auth?: 'accept' | 'reject' | 'stall' | 'inject';
  exec?: ExecAction[] | 'stall' | 'reject';
}

const hex = (b: Buffer | string): string => (typeof b === 'string' ? Buffer.from(b, 'latin1') : b).toString('hex');

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}
function sshString(s: string | Buffer): Buffer {
  const b = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
  return Buffer.concat([u32(b.length), b]);
}
/** SSH_MSG_DISCONNECT (1) with a reason code and a description of the peer's choosing. */
export function disconnectPacket(description: string, reason = 2): Buffer {
  return sshPacket(Buffer.concat([Buffer.from([1]), u32(reason), sshString(description), sshString('')]));
}

/** A terminal attack in a disconnect text: retitle the window, erase the line, draw a fake green "ok". */
export const TERMINAL_ATTACK = '\x1b]0;PWNED\x07\x1b[2K\r\x1b[32mok root@db01 0.4s 0 warnings /import/x.scal\x1b[0m\n\x9b2J';

/** The faults the review reported, one recipe each. */
export const NAMED: Record<string, () => Recipe> = {
  healthy: () => ({ label: 'healthy', auth: 'accept', exec: [{ t: 'facts' }, { t: 'valid' }, { t: 'end-record' }, { t: 'finish', code: 0 }] }),
  'double-disconnect': () => ({
    label: 'double-disconnect',
    raw: [
      { t: 'write', hex: hex(BANNER) },
      { t: 'write', hex: hex(disconnectPacket('first')) },
      { t: 'wait', ms: 20 },
      { t: 'write', hex: hex(disconnectPacket('second')) },
    ],
  }),
  'close-on-accept': () => ({ label: 'close-on-accept', raw: [{ t: 'close' }] }),
  'ff-after-banner': () => ({ label: 'ff-after-banner', raw: [{ t: 'write', hex: hex(BANNER) }, { t: 'write', hex: 'ff'.repeat(16) }] }),
  'bad-kexinit': () => ({
    label: 'bad-kexinit',
    // Type 20 with a name-list length far past the packet's end.
    raw: [{ t: 'write', hex: hex(BANNER) }, { t: 'write', hex: hex(sshPacket(Buffer.concat([Buffer.from([20]), randomBytes(16), u32(0x7ffffff0), Buffer.from('curve')]))) }],
  }),
  'unknown-message': () => ({
    label: 'unknown-message',
    raw: [{ t: 'write', hex: hex(BANNER) }, { t: 'write', hex: hex(kexInitPacket()) }, { t: 'write', hex: hex(sshPacket(Buffer.from([199, 1, 2, 3]))) }],
  }),
  'badmac-auth': () => ({ label: 'badmac-auth', auth: 'inject' }),
  'escape-disconnect': () => ({
    label: 'escape-disconnect',
    raw: [{ t: 'write', hex: hex(BANNER) }, { t: 'write', hex: hex(disconnectPacket(TERMINAL_ATTACK)) }],
  }),
  'warning-flood': () => ({
    label: 'warning-flood',
    auth: 'accept',
    exec: [{ t: 'facts' }, { t: 'flood', kind: 'W', bytes: 120_000 * 60_000, recordSize: 60_000 }, { t: 'end-record' }, { t: 'finish', code: 0 }],
  }),
  'entry-flood': () => ({
    label: 'entry-flood',
    auth: 'accept',
    exec: [{ t: 'facts' }, { t: 'flood', kind: 'B', bytes: 1_000_000 * 80, recordSize: 0 }, { t: 'end-record' }, { t: 'finish', code: 0 }],
  }),
  'skip-flood': () => ({
    label: 'skip-flood',
    auth: 'accept',
    exec: [{ t: 'facts' }, { t: 'flood', kind: 'S', bytes: 600 * 2 ** 20, recordSize: 1000 }, { t: 'end-record' }, { t: 'finish', code: 0 }],
  }),
  'fact-flood': () => ({
    label: 'fact-flood',
    auth: 'accept',
    exec: [{ t: 'facts' }, { t: 'flood', kind: 'I', bytes: 600 * 2 ** 20, recordSize: 1000 }, { t: 'end-record' }, { t: 'finish', code: 0 }],
  }),
  'escape-after-login': () => ({
    label: 'escape-after-login',
    auth: 'accept',
    exec: [{ t: 'facts' }, { t: 'valid' }, { t: 'disconnect', text: TERMINAL_ATTACK }],
  }),
};

// ---------------------------------------------------------------------------
// The generator (fuzzer)

/** mulberry32: small, fast, and the same sequence on every machine for a seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface FuzzScale {
  /** Largest flood, in bytes (CI keeps this small; the bench run does not). */
  maxFlood: number;
  /** Longest wait between actions, ms. */
  maxWaitMs: number;
}

export const CI_SCALE: FuzzScale = { maxFlood: 24 * 2 ** 20, maxWaitMs: 300 };

/** One random peer for `seed`: deterministic, JSON-serialisable. */
export function randomRecipe(seed: number, scale: FuzzScale = CI_SCALE): Recipe {
  const r = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const int = (lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
  const bytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => int(0, 255)));
  const text = (): string =>
    pick(['', 'bye', TERMINAL_ATTACK, 'x'.repeat(int(1, 70_000)), '\u202eevil\u202c', Buffer.from(bytes(int(1, 64))).toString('latin1')]);
  const wait = (): RawAction & ExecAction => ({ t: 'wait', ms: int(0, scale.maxWaitMs) });
  const kind = r();

  if (kind < 0.4) {
    // Before authentication, on the raw socket.
    const actions: RawAction[] = [];
    const banner = pick([BANNER, BANNER, BANNER, 'SSH-1.5-old\r\n', 'SSH-2.0-\r\n', `${'x'.repeat(300)}\r\n`, 'garbage', 'SSH-2.0-ok']);
    // Sometimes nothing at all first: a peer that closes or resets on accept (sshd shedding load).
    if (r() < 0.85) actions.push({ t: 'write', hex: hex(banner) });
    for (let i = int(0, 5); i > 0; i--) {
      const a = r();
      if (a < 0.12) actions.push({ t: 'write', hex: hex(disconnectPacket(text(), int(0, 20))) });
      else if (a < 0.24) actions.push({ t: 'write', hex: hex(kexInitPacket()) });
      else if (a < 0.36) {
        // A KEXINIT cut short or with lying lengths.
        const k = kexInitPacket();
        const cut = Buffer.from(k.subarray(0, int(6, k.length)));
        if (r() < 0.5) cut.writeUInt32BE(int(0, 0xffffffff), 0);
        actions.push({ t: 'write', hex: hex(cut) });
      } else if (a < 0.48) actions.push({ t: 'write', hex: hex(sshPacket(Buffer.concat([Buffer.from([int(0, 255)]), bytes(int(0, 64))]))) });
      else if (a < 0.56) actions.push({ t: 'write', hex: hex(sshPacket(Buffer.concat([Buffer.from([pick([2, 4])]), sshString(text())]))) }); // IGNORE, DEBUG-ish
      else if (a < 0.66) actions.push({ t: 'write', hex: hex(bytes(int(1, 2048))) });
      else if (a < 0.72) actions.push({ t: 'write', hex: 'ff'.repeat(int(1, 64)) });
      else if (a < 0.88) actions.push(wait());
      else if (a < 0.92) actions.push({ t: 'end' });
      else if (a < 0.96) actions.push({ t: 'reset' });
      else actions.push({ t: 'close' });
    }
    return { label: `fuzz-raw-${seed}`, raw: actions };
  }
  if (kind < 0.5) {
    return { label: `fuzz-auth-${seed}`, auth: pick(['reject', 'stall', 'inject'] as const) };
  }
  // After login: framed output.
  const actions: ExecAction[] = [];
  if (r() < 0.8) actions.push({ t: 'facts' });
  for (let i = int(0, 6); i > 0; i--) {
    const a = r();
    if (a < 0.25) actions.push({ t: 'valid' });
    else if (a < 0.55) {
      const k = pick(['W', 'S', 'I', 'B', 'garbage', 'stray', 'stderr', 'body'] as const);
      actions.push({ t: 'flood', kind: k, bytes: int(1, scale.maxFlood), recordSize: int(0, 70_000) });
    } else if (a < 0.65) actions.push({ t: 'junk', hex: hex(bytes(int(1, 512))) });
    else if (a < 0.7) actions.push({ t: 'inject', hex: hex(bytes(int(1, 256))) });
    else if (a < 0.85) actions.push(wait());
    else actions.push({ t: 'end-record' });
  }
  actions.push(
    pick<ExecAction>([
      { t: 'finish', code: 0 },
      { t: 'finish', code: int(1, 255) },
      { t: 'close-no-status' },
      { t: 'signal' },
      { t: 'fin' },
      { t: 'reset' },
      { t: 'disconnect', text: text() },
      { t: 'wait', ms: 3_600_000 }, // stall to the host deadline
    ]),
  );
  return { label: `fuzz-exec-${seed}`, auth: 'accept', exec: actions };
}

// ---------------------------------------------------------------------------
// Running recipes (in the child process)

async function runRaw(sock: net.Socket, actions: RawAction[]): Promise<void> {
  for (const a of actions) {
    if (sock.destroyed) return;
    switch (a.t) {
      case 'write':
        sock.write(Buffer.from(a.hex, 'hex'));
        break;
      case 'wait':
        await new Promise((r) => setTimeout(r, a.ms));
        break;
      case 'end':
        sock.end();
        break;
      case 'reset':
        sock.resetAndDestroy();
        return;
      case 'close':
        sock.destroy();
        return;
    }
  }
  // Then hold the connection: never answer the client's FIN.
}

/** Records of one kind, about `size` bytes each, repeated into a 256 KiB block. */
function floodBlock(token: string, kind: Flood, recordSize: number): Buffer {
  const pad = (n: number): string => 'x'.repeat(Math.max(0, n));
  let one: Buffer;
  switch (kind) {
    case 'W':
      one = rec(token, 'W', 1002, `cannot read /x: ${pad(recordSize)}`);
      break;
    case 'S':
      one = rec(token, 'S', 'dpkg', pad(recordSize));
      break;
    case 'I': {
      // Distinct keys as well as long values: both must be bounded.
      const parts: Buffer[] = [];
      for (let i = 0; i < 64; i++) parts.push(rec(token, 'I', `k${randomBytes(4).toString('hex')}`, pad(recordSize)));
      one = Buffer.concat(parts);
      break;
    }
    case 'B': {
      // Distinct names, each a valid release/ entry, as many as fit in the block.
      const parts: Buffer[] = [];
      const base = randomBytes(6).toString('hex');
      for (let i = 0; i < 2048; i++) parts.push(Buffer.from(`\n${token} B release - - release/${base}-${i}\n`), rec(token, 'E', 0));
      one = Buffer.concat(parts);
      break;
    }
    case 'garbage':
      one = randomBytes(4096);
      break;
    case 'stray':
      one = Buffer.from(pad(4096));
      break;
    case 'body':
      one = Buffer.concat([Buffer.from(`\n${token} B cpuinfo - - proc/cpuinfo\n`), randomBytes(Math.min(recordSize, 65536) || 1)]);
      break;
    default:
      one = Buffer.from(pad(4096));
  }
  const copies = Math.max(1, Math.floor((256 * 1024) / one.length));
  return Buffer.concat(Array(copies).fill(one));
}

const recordings = new Map<string, Buffer>();

/** A recording with every occurrence of its token replaced (tokens all have the same length). */
function replayed(file: string, recordedToken: string, token: string): Buffer {
  let raw = recordings.get(file);
  if (!raw) {
    raw = readFileSync(file);
    recordings.set(file, raw);
  }
  const from = Buffer.from(recordedToken, 'latin1');
  const to = Buffer.from(token, 'latin1');
  const out = Buffer.from(raw);
  for (let at = out.indexOf(from); at >= 0; at = out.indexOf(from, at + to.length)) to.copy(out, at);
  return out;
}

async function runExec(x: FakeExec, actions: ExecAction[]): Promise<void> {
  const token = await x.token();
  for (const a of actions) {
    if (x.isClosed) return;
    switch (a.t) {
      case 'facts':
        await x.write(facts(token));
        break;
      case 'valid':
        await x.write(entry(token, 'release', 'release/os-release', 'ID=fuzz\n'));
        break;
      case 'replay': {
        const body = replayed(a.file, a.token, token);
        for (let at = 0; at < body.length && !x.isClosed; at += 64 * 1024) await x.write(body.subarray(at, at + 64 * 1024));
        break;
      }
      case 'flood': {
        if (a.kind === 'stderr') {
          for (let sent = 0; sent < a.bytes && !x.isClosed; sent += 65536) {
            if (!x.channel.stderr.write(randomBytes(65536))) await new Promise((r) => x.channel.stderr.once('drain', r));
          }
          break;
        }
        for (let sent = 0; sent < a.bytes && !x.isClosed; ) {
          const block = floodBlock(token, a.kind, a.recordSize);
          await x.write(block).catch(() => {});
          sent += block.length;
        }
        break;
      }
      case 'junk':
        await x.write(Buffer.from(a.hex, 'hex')).catch(() => {});
        break;
      case 'inject':
        x.socket.write(Buffer.from(a.hex, 'hex'));
        break;
      case 'wait':
        await new Promise((r) => setTimeout(r, a.ms));
        break;
      case 'end-record':
        await x.write(rec(token, 'Z')).catch(() => {});
        break;
      case 'finish':
        await x.finish(a.code);
        return;
      case 'close-no-status':
        await x.closeWithoutStatus();
        return;
      case 'signal':
        x.channel.exit('KILL', false, '');
        x.channel.end();
        x.channel.close();
        return;
      case 'fin':
        x.socket.end();
        return;
      case 'reset':
        x.reset();
        return;
      case 'disconnect':
        sendDisconnect(x, a.text);
        x.socket.end();
        return;
    }
  }
}

interface Ssh2Protocol {
  _packetRW: { write: { allocStartKEX: number; alloc(n: number, force?: boolean): Buffer; finalize(p: Buffer, force?: boolean): Buffer } };
  _cipher: { encrypt(p: Buffer): void };
}

/**
 * SSH_MSG_DISCONNECT under the session's encryption, with a description of our
 * choosing (ssh2's own disconnect() always sends an empty one). Built the way
 * ssh2's Protocol.disconnect builds its packet.
 */
function sendDisconnect(x: FakeExec, text: string): void {
  const proto = x.protocol as Ssh2Protocol | undefined;
  if (!proto) return;
  const desc = Buffer.from(text, 'utf8');
  const len = 1 + 4 + 4 + desc.length + 4;
  let p = proto._packetRW.write.allocStartKEX;
  const packet = proto._packetRW.write.alloc(len, true);
  packet[p++] = 1;
  packet.writeUInt32BE(2, p); // PROTOCOL_ERROR: BY_APPLICATION (11) is not reported as an error by clients
  p += 4;
  packet.writeUInt32BE(desc.length, p);
  p += 4;
  desc.copy(packet, p);
  p += desc.length;
  packet.writeUInt32BE(0, p);
  proto._cipher.encrypt(proto._packetRW.write.finalize(packet, true));
}

function serve(recipe: Recipe, hostKey: string): net.Server {
  const ssh = recipe.raw
    ? undefined
    : new Server({ hostKeys: [hostKey], ident: 'OpenSSH_9.2p1 HostilePeer' }, (client) => {
        const sock = (client as unknown as { _sock: net.Socket })._sock;
        client.on('error', () => {});
        client.on('authentication', (ctx) => {
          const mode = recipe.auth ?? 'accept';
          if (mode === 'stall') return;
          if (mode === 'inject') {
            // Bytes under the encryption: the client's MAC check fails, and more bytes follow.
            sock.write(randomBytes(64));
            setTimeout(() => !sock.destroyed && sock.write(randomBytes(4096)), 20);
            return;
          }
          if (mode === 'reject' || ctx.method === 'none') return ctx.reject(['publickey']);
          ctx.accept();
        });
        client.on('ready', () => {
          client.on('session', (accept) => {
            const session = accept();
            session.on('exec', (acceptExec, rejectExec, info) => {
              const exec = recipe.exec ?? 'stall';
              if (exec === 'stall') return;
              if (exec === 'reject') return rejectExec();
              const x = new FakeExec(acceptExec(), sock, info.command);
              x.protocol = (client as unknown as { _protocol: unknown })._protocol;
              void runExec(x, exec).catch(() => {});
            });
          });
        });
      });
  const tcp = net.createServer({ allowHalfOpen: true }, (sock) => {
    sock.on('error', () => {});
    if (recipe.raw) void runRaw(sock, recipe.raw).catch(() => {});
    else {
      // Half-open is for the raw recipes (a peer that never answers a FIN). An
      // SSH peer answers it: left open, every finished session kept its fd, and
      // a 10,000-host bench ran the emulator out of descriptors (libuv then
      // accepts and closes at once: "closed before the banner").
      sock.on('end', () => sock.end());
      ssh!.injectSocket(sock);
    }
  });
  return tcp;
}

// ---------------------------------------------------------------------------
// The parent side

export type PeerRequest = { name: string } | { seed: number; scale?: FuzzScale } | { recipe: Recipe };

export interface HostilePeer {
  host: string;
  port: number;
  label: string;
  recipe: Recipe;
}

export interface HostilePeers {
  peers: HostilePeer[];
  /** known_hosts lines for every peer (they share the fixture host key). */
  knownHostsLines: string[];
  /** The child's pid, to read its memory if a test wants to. */
  pid: number;
  close(): void;
}

export function recipeFor(req: PeerRequest): Recipe {
  if ('recipe' in req) return req.recipe;
  if ('name' in req) {
    const make = NAMED[req.name];
    if (!make) throw new Error(`no hostile peer named ${req.name}`);
    return make();
  }
  return randomRecipe(req.seed, req.scale);
}

/** Starts the peers in a child process on 127.0.0.1 ephemeral ports. */
export async function startHostilePeers(requests: PeerRequest[]): Promise<HostilePeers> {
  const recipes = requests.map(recipeFor);
  const self = fileURLToPath(import.meta.url);
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', self], {
    env: { ...process.env, OCTOSCAN_HOSTILE_PEERS: '1' },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  child.stdin!.end(JSON.stringify({ recipes, hostKey: fixtureHostKey().private }));
  const hello = await new Promise<{ ports: number[]; keyLine: string }>((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) resolve(JSON.parse(buf.slice(0, nl)));
    });
    child.on('exit', (code) => reject(new Error(`hostile peers child exited (${code}) before listening`)));
  });
  const peers = hello.ports.map((port, i) => ({ host: '127.0.0.1', port, label: recipes[i].label, recipe: recipes[i] }));
  return {
    peers,
    knownHostsLines: peers.map((p) => `[${p.host}]:${p.port} ${hello.keyLine}`),
    pid: child.pid!,
    close: () => child.kill('SIGKILL'),
  };
}

if (process.env.OCTOSCAN_HOSTILE_PEERS && process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  let input = '';
  process.stdin.on('data', (d) => (input += d));
  process.stdin.on('end', () => {
    const { recipes, hostKey } = JSON.parse(input) as { recipes: Recipe[]; hostKey: string };
    const parsed = utils.parseKey(hostKey);
    const key = Array.isArray(parsed) ? parsed[0] : parsed;
    if (key instanceof Error) throw key;
    const keyLine = `${key.type} ${key.getPublicSSH().toString('base64')}`;
    void Promise.all(
      recipes.map(
        (r) =>
          new Promise<number>((resolve) => {
            // The parent's fixture host key, so the parent can write known_hosts.
            const s = serve(r, hostKey);
            s.listen({ host: '127.0.0.1', port: 0 }, () => resolve((s.address() as net.AddressInfo).port));
          }),
      ),
    ).then((ports) => process.stdout.write(`${JSON.stringify({ ports, keyLine })}\n`));
  });
  // The parent went away: so do we.
  process.stdout.on('error', () => process.exit(0));
}
