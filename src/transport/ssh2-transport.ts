// The SSH transport on the npm ssh2 client. We resolve the name and open the
// TCP connection ourselves so each failure lands in its own class (dns,
// unreachable) and each phase has its own deadline; ssh2 then runs key
// exchange, host-key verification (known-hosts.ts), authentication and the
// one exec channel the whole scan uses.
import { lookup } from 'node:dns/promises';
import { isIP, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import ssh2, { type ClientChannel } from 'ssh2';
import {
  authError,
  closedBeforeBanner,
  dnsError,
  interruptedError,
  protocolError,
  ScanError,
  socketError,
  timeoutError,
  unsupportedConfigError,
} from '../errors.js';
import { defaultAlgorithms } from './algorithms.js';
import { BastionPool } from './bastion-pool.js';
import type { HostSpec, Phase } from '../types.js';
import { peerText } from '../text/peer-text.js';
import { hostName } from '../hosts/host-name.js';
import { authPlan } from './auth.js';
import { addKnownHostEntry, appendKnownHost, decideHostKey, hostKeyAlgorithms, hostKeyMessage, knownKeyTypes, loadKnownHosts, type HostKeyDecision, type KnownHostEntry } from './known-hosts.js';
import { effectiveConnectOptions, type ConnectOptions, type RemoteProcess, type Session, type Transport } from './transport.js';

// ssh2 is CommonJS; its named exports are not visible to Node's ESM loader.
const { Client } = ssh2;
type Client = InstanceType<typeof Client>;

/** user@host[:port] for messages, with the host's name (hostName: inventory name, alias) rather than its address. */
export function displayTarget(spec: Pick<HostSpec, 'host' | 'port' | 'user' | 'name' | 'alias'>): string {
  if (spec.port === 0) return `${spec.user}@local`; // --local
  const name = hostName(spec);
  const host = name.includes(':') ? `[${name}]` : name;
  return `${spec.user}@${host}${spec.port === 22 ? '' : `:${spec.port}`}`;
}

// known_hosts is read once per run (per list of files ssh_config gives hosts),
// not once per host; accept-new appends go through one queue so parallel hosts
// never interleave lines.
const knownHostsRead = new Map<string, { files: string[]; entries: Promise<KnownHostEntry[]> }>();
let appendQueue: Promise<void> = Promise.resolve();

function knownHosts(files: string[]): Promise<KnownHostEntry[]> {
  const key = files.join('\0');
  let read = knownHostsRead.get(key);
  if (!read) knownHostsRead.set(key, (read = { files, entries: loadKnownHosts(files) }));
  return read.entries;
}

/** The end of a run: the files are read again by the next one (a process may run several). */
export function forgetKnownHosts(): void {
  knownHostsRead.clear();
}

/** Later hosts must see a key accepted: added in place where its file is read last, else read again. */
function knownHostAdded(entry: KnownHostEntry): void {
  for (const [key, read] of knownHostsRead) {
    if (read.files[read.files.length - 1] === entry.file) read.entries = read.entries.then((es) => (addKnownHostEntry(es, entry), es));
    else if (read.files.includes(entry.file)) knownHostsRead.delete(key);
  }
}

export const ssh2Transport: Transport = {
  name: 'ssh2',
  async connect(spec: HostSpec, opts: ConnectOptions): Promise<Session> {
    const { conn, client, info, where } = await login(spec, opts);
    return sshSession(conn, client, info, where);
  },
};

/** The run's settings with what ssh_config gave this host (resolve.ts) in their place. */
// One pool of bastion connections for the run (ProxyJump), made on first use.
let bastions: BastionPool | undefined;

function bastionPool(opts: ConnectOptions): BastionPool {
  bastions ??= new BastionPool(async (hop, via, signal) => {
    const { conn, client } = await login(hop, { ...opts, signal, onPhase: () => {} }, via);
    return {
      forward: (host, port, cb) => client.forwardOut('127.0.0.1', 0, host, port, (err, ch) => cb(err, ch)),
      onClose: (fn) => (conn.ended ? fn() : conn.sock.once('close', fn)),
      close: () => conn.end(),
    };
  }, opts.jumpChannels ?? 32, opts.connectTimeoutMs);
  return bastions;
}

/** Ends the bastion connections; the run calls this when the sweep is over. */
export function closeBastions(): void {
  bastions?.closeAll();
  bastions = undefined;
}

interface LoggedIn {
  conn: Connection;
  client: Client;
  info: Record<string, string>;
  where: string;
}

/**
 * Up to an authenticated client: the name looked up and a TCP connection, or a
 * channel through the host's bastions, or (for a hop) the stream `via` the hop before.
 */
async function login(spec: HostSpec, runOpts: ConnectOptions, via?: Duplex): Promise<LoggedIn> {
  const where = displayTarget(spec);
  const opts = effectiveConnectOptions(spec, runOpts);
  let phase: Phase = 'resolve';
  const enter = (p: Phase): void => {
    phase = p;
    opts.onPhase(p);
  };
  if (opts.signal.aborted) throw interruptedError(where, phase);
  if (spec.unsupported) throw unsupportedConfigError(where, spec.unsupported);
  const connectSeconds = opts.connectTimeoutMs / 1000;

  if (via || spec.jumpHosts?.length) {
    // The bastion resolves the name and connects; the connect budget starts once it has.
    let stream = via;
    if (!stream) {
      enter('jump');
      // The run's settings, not this host's: a bastion takes its own from ssh_config.
      stream = await bastionPool(runOpts).open(spec.jumpHosts!, spec.host, spec.port, opts.signal, where, opts.connectTimeoutMs);
    }
    const connectDeadline = performance.now() + opts.connectTimeoutMs;
    const connectLeft = (): number => Math.max(0, connectDeadline - performance.now());
    const conn = new Connection(stream);
    enter('handshake');
    try {
      const address = spec.host;
      const { client, info } = await handshake(conn, spec, opts, { where, address, enter, phase: () => phase, connectLeft, connectSeconds });
      if (spec.jumpHosts?.length) info.jump = spec.jumpHosts.map((h) => displayTarget(h)).join(',');
      return { conn, client, info, where };
    } catch (err) {
      conn.end();
      throw err;
    }
  }

  // One connect budget for lookup, TCP connect and key exchange together.
  const connectDeadline = performance.now() + opts.connectTimeoutMs;
  const connectLeft = (): number => Math.max(0, connectDeadline - performance.now());

  // Resolve. An IP literal needs no lookup (and must not be looked up: no DNS traffic for it).
  enter('resolve');
  let address = spec.host;
  if (!isIP(spec.host)) {
    try {
      address = (await withDeadline(lookup(spec.host, { family: spec.addressFamily ?? 0 }), connectLeft(), () => timeoutError(where, 'resolve', connectSeconds, 'connect'), opts.signal, () => interruptedError(where, 'resolve'))).address;
    } catch (err) {
      if (err instanceof ScanError) throw err;
      throw dnsError(spec.host, err as NodeJS.ErrnoException);
    }
  }

  // TCP connect, under the connect deadline.
  enter('connect');
  const sock = new Socket();
  const conn = new Connection(sock);
  const connected = new Promise<void>((resolve, reject) => {
    sock.once('connect', resolve);
    sock.on('error', (err) => reject(socketError(where, 'connect', err)));
  });
  connected.catch(() => {});
  sock.connect({ host: address, port: spec.port });
  try {
    await withDeadline(connected, connectLeft(), () => timeoutError(where, 'connect', connectSeconds, 'connect'), opts.signal, () => interruptedError(where, 'connect'));
    sock.setNoDelay(true);
    enter('handshake');
    const { client, info } = await handshake(conn, spec, opts, { where, address, enter, phase: () => phase, connectLeft, connectSeconds });
    return { conn, client, info, where };
  } catch (err) {
    conn.end();
    throw err;
  }
}

interface HandshakeContext {
  where: string;
  address: string;
  enter: (p: Phase) => void;
  phase: () => Phase;
  connectLeft: () => number;
  connectSeconds: number;
}

/** SSH on a connected socket: banner, key exchange, host key, authentication. */
async function handshake(conn: Connection, spec: HostSpec, opts: ConnectOptions, ctx: HandshakeContext): Promise<{ client: Client; info: Record<string, string> }> {
  const { where, enter } = ctx;
  const entries = await knownHosts(opts.knownHostsFiles);
  // The peer may have closed while known_hosts was read. ssh2 given a socket that
  // is already closed waits for ever (no event comes), and our deadlines die with
  // the connection: so say it here. Closing before the banner is what sshd does
  // when it sheds load (MaxStartups), so it is worth a retry.
  if (conn.ended) throw closedBeforeBanner(where, conn.reason);
  const client = conn.attach(new Client());
  const info: Record<string, string> = { transport: 'ssh2', address: ctx.address };
  let failure: ScanError | undefined;
  const fail = (e: ScanError): void => {
    failure ??= e;
    conn.end();
  };
  const auth = authPlan(spec, { agent: opts.agent, passphrase: opts.passphrase, password: opts.password });

  let authenticated = false;
  const ready = new Promise<void>((resolve, reject) => {
    client.once('ready', () => {
      authenticated = true;
      resolve();
    });
    // `on`, not `once`: a peer can make ssh2 emit several errors (two DISCONNECTs,
    // a bad MAC and then more bytes); the first one decides, the rest are ignored.
    client.on('error', (err: Error & { level?: string }) => {
      if (failure) return reject(failure);
      // An agent that cannot be reached costs its keys, not the host: the next method follows.
      if (err.level === 'agent') return;
      const phase = ctx.phase();
      const detail = peerText(err.message);
      let e: ScanError;
      if (err.level === 'client-authentication') e = authError(where, spec.user, auth.tried(), auth.notes());
      else if (err.level === 'client-socket' || err.level === 'client-timeout') {
        e = (err as NodeJS.ErrnoException).code && typeof (err as NodeJS.ErrnoException).code === 'string'
          ? socketError(where, phase, err as NodeJS.ErrnoException)
          : protocolError(where, phase, `connection lost during ${phase}: ${detail}`);
      } else if (/^Connection lost before handshake$/.test(err.message) && conn.bytesRead() === 0) {
        e = closedBeforeBanner(where, conn.reason);
      } else if (err.level === 'handshake' && /no matching/i.test(err.message)) {
        // An old server offering only SHA-1 or CBC: weak algorithms are offered on request only.
        e = protocolError(where, phase, `${detail}; if this is an old server, allow its algorithms with --legacy-algorithms or in ssh_config (e.g. HostKeyAlgorithms +ssh-rsa, KexAlgorithms +diffie-hellman-group14-sha1)`);
      } else e = protocolError(where, phase, `${err.level ? `${err.level}: ` : ''}${detail}`);
      fail(e);
      reject(e);
    });
    client.once('close', () => {
      fail(protocolError(where, ctx.phase(), `the server closed the connection during ${ctx.phase()}`));
      reject(failure);
    });
  });
  ready.catch(() => {});

  // `once`: a peer may re-key after login; that must not send us back to the auth phase.
  client.once('handshake', (negotiated) => {
    info.kex = negotiated.kex;
    info.hostKey = negotiated.serverHostKey;
    info.cipher = negotiated.cs.cipher;
    info.mac = negotiated.cs.mac;
    enter('auth');
    conn.timer(opts.authTimeoutMs, () => {
      if (!authenticated) fail(timeoutError(where, 'auth', opts.authTimeoutMs / 1000, 'authentication'));
    });
  });

  const knownTypes = knownKeyTypes(entries, spec.host, spec.port);
  const algorithms = spec.algorithms ?? defaultAlgorithms(false);
  client.connect({
    sock: conn.sock,
    username: spec.user,
    readyTimeout: 2 ** 31 - 1, // our own deadlines, per phase
    keepaliveInterval: opts.keepaliveIntervalMs,
    keepaliveCountMax: opts.keepaliveCountMax,
    algorithms: {
      serverHostKey: hostKeyAlgorithms(knownTypes, algorithms.serverHostKey) as ssh2.ServerHostKeyAlgorithm[],
      kex: algorithms.kex as ssh2.KexAlgorithm[],
      cipher: algorithms.cipher as ssh2.CipherAlgorithm[],
      hmac: algorithms.hmac as ssh2.MacAlgorithm[],
    },
    hostVerifier: (key: Buffer, verify: (ok: boolean) => void) => {
      let d: HostKeyDecision;
      try {
        d = decideHostKey(entries, spec.host, spec.port, key);
      } catch (err) {
        fail(protocolError(where, 'handshake', `the server's host key is malformed: ${(err as Error).message}`));
        return verify(false);
      }
      info.hostKeyFingerprint = d.fingerprint;
      if (d.verdict === 'match') return verify(true);
      // off means no verification, asked for by name: connect, but say so for every host.
      // A revoked key is an explicit distrust and is refused even then.
      if (opts.hostKeyPolicy === 'off' && d.verdict !== 'revoked') {
        const what = d.verdict === 'changed' ? 'host key CHANGED and not verified' : 'host key not verified';
        opts.warn(`WARNING: ${where}: ${what} (--host-key-policy off): ${peerText(d.keyType)} ${d.fingerprint}`);
        return verify(true);
      }
      if (d.verdict === 'changed' || d.verdict === 'revoked') {
        failure ??= new ScanError('hostkey-changed', 'handshake', `${where}: ${hostKeyMessage(d, spec.host, spec.port, opts.knownHostsWriteFile)}`);
        return verify(false);
      }
      // Unknown key.
      if (opts.hostKeyPolicy === 'accept-new') {
        const job = appendQueue.then(() => appendKnownHost(opts.knownHostsWriteFile, spec.host, spec.port, key, spec.hashKnownHosts === true));
        appendQueue = job.then(() => {}, () => {});
        job.then(
          (entry) => {
            knownHostAdded(entry);
            opts.warn(`${where}: new host key accepted and added to ${opts.knownHostsWriteFile}: ${peerText(d.keyType)} ${d.fingerprint}`);
            if (!conn.ended) verify(true);
          },
          (err: Error) => {
            failure ??= new ScanError('hostkey-unknown', 'handshake', `${where}: cannot record the new host key in ${opts.knownHostsWriteFile}: ${err.message}`);
            if (!conn.ended) verify(false);
          },
        );
        return;
      }
      failure ??= new ScanError('hostkey-unknown', 'handshake', `${where}: ${hostKeyMessage(d, spec.host, spec.port, opts.knownHostsWriteFile)}`);
      verify(false);
    },
    authHandler: auth.handler,
  });

  // The handshake deadline: banner and key exchange share the connect timeout.
  conn.timer(ctx.connectLeft(), () => {
    if (ctx.phase() === 'handshake') fail(timeoutError(where, 'handshake', ctx.connectSeconds, 'connect'));
  });
  const onAbort = (): void => {
    fail(opts.signal.reason instanceof ScanError ? opts.signal.reason : interruptedError(where, ctx.phase()));
  };
  if (opts.signal.aborted) onAbort();
  else opts.signal.addEventListener('abort', onAbort, { once: true });
  try {
    await ready;
  } finally {
    opts.signal.removeEventListener('abort', onAbort);
  }
  if (conn.ended) throw failure ?? protocolError(where, 'auth', 'the connection was lost at login');
  conn.clearTimers();
  info.serverVersion = peerText((client as unknown as { _remoteVer?: string })._remoteVer ?? '', 255);
  info.auth = auth.tried().join(', ');
  return { client, info };
}

/**
 * One TCP connection and the ssh2 client on it, with the only way to end them
 * for good. ssh2's own end() and destroy() skip a socket that is no longer
 * writable, and after a protocol error it only half-closes: a peer that never
 * answers the FIN holds the socket (FIN-WAIT-2) and with it the whole process.
 */
class Connection {
  ended = false;
  /** The first thing that went wrong, in the peer's words (escaped), for messages after login. */
  reason: string | undefined;
  private client: Client | undefined;
  private readonly timers = new Set<NodeJS.Timeout>();

  /** A TCP socket, or a direct-tcpip channel through a bastion. */
  /** Bytes the peer sent so far (a TCP socket's count; a bastion channel does not say). */
  bytesRead(): number | undefined {
    return this.sock instanceof Socket ? this.sock.bytesRead : undefined;
  }

  constructor(readonly sock: Duplex) {
    // For the socket's whole life: an 'error' with no listener ends the process.
    this.sock.on('error', (err) => this.note(err));
    this.sock.on('close', () => {
      this.end();
      // ssh2 clears its own timers on the socket's close, and tells our listeners
      // through the client's 'close' (a later listener on this same event), so the
      // listeners go one turn later. What stays is one inert error listener, for
      // anything ssh2 still emits on its way out.
      setImmediate(() => {
        if (!this.client) return;
        this.client.removeAllListeners();
        this.client.on('error', () => {});
      });
    });
  }

  attach(client: Client): Client {
    this.client = client;
    client.on('error', (err: Error & { level?: string }) => {
      // An unreachable agent is not why a connection went away.
      if (err.level !== 'agent') this.note(err);
    });
    return client;
  }

  /** A deadline that dies with the connection. Runs one event-loop turn late, so data already in wins. */
  timer(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      setImmediate(() => {
        this.timers.delete(t);
        if (!this.ended) fn();
      });
    }, ms);
    this.timers.add(t);
  }

  clearTimers(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.clearTimers();
    this.sock.destroy();
  }

  private note(err: Error): void {
    this.reason ??= peerText(err.message, 500);
  }
}

function sshSession(conn: Connection, client: Client, info: Record<string, string>, where: string): Session {
  const lost = (what: string): ScanError =>
    protocolError(where, 'exec', `${what}${conn.reason ? `: ${conn.reason}` : ''}`);
  return {
    info,
    start(command: string): Promise<RemoteProcess> {
      return new Promise((resolve, reject) => {
        if (conn.ended) return reject(lost('the connection was lost before the probe script could start'));
        const onExec = (err: Error | undefined, channel: ClientChannel): void => {
          if (err) return reject(lost(`cannot start ${command}: ${peerText(err.message)}`));
          const exit = new Promise<{ code: number | null; signal?: string }>((res) => {
            let code: number | null = null;
            let signal: string | undefined;
            channel.on('exit', (c: number | null, s?: string) => {
              code = typeof c === 'number' ? c : null;
              signal = typeof s === 'string' ? peerText(s, 64) : undefined;
            });
            channel.on('close', () => res({ code, signal }));
          });
          channel.on('error', () => {});
          channel.stdin.on('error', () => {});
          channel.stderr.on('error', () => {});
          const kill = (): void => {
            // A signal first (sshd passes it on; TERM, since sudo and an engine's exec
            // relay it to the command in the container, KILL would orphan that), then the channel.
            try {
              channel.signal('TERM');
            } catch {
              /* not writable any more */
            }
            try {
              channel.close();
            } catch {
              /* already closed */
            }
          };
          resolve({ stdin: channel, stdout: channel, stderr: channel.stderr, exit, kill });
        };
        try {
          client.exec(command, onExec);
        } catch (err) {
          reject(lost(`cannot start ${command}: ${(err as Error).message}`));
        }
      });
    },
    lostReason: () => conn.reason,
    close(): void {
      conn.end();
    },
  };
}

/** Races a promise against a deadline and an abort signal. */
async function withDeadline<T>(p: Promise<T>, ms: number, onTimeout: () => Error, signal: AbortSignal, onAbort: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let abortListener: (() => void) | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        // Deferred by one turn of the event loop: when the controller itself
        // stalled, an answer that is already in must win over the timer.
        timer = setTimeout(() => setImmediate(() => reject(onTimeout())), ms);
      }),
      new Promise<never>((_, reject) => {
        abortListener = () => reject(signal.reason instanceof ScanError ? signal.reason : onAbort());
        if (signal.aborted) abortListener();
        else signal.addEventListener('abort', abortListener, { once: true });
      }),
    ]);
  } finally {
    clearTimeout(timer);
    if (abortListener) signal.removeEventListener('abort', abortListener);
  }
}
