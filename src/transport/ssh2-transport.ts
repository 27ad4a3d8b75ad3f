// The SSH transport on the npm ssh2 client. We resolve the name and open the
// TCP connection ourselves so each failure lands in its own class (dns,
// unreachable) and each phase has its own deadline; ssh2 then runs key
// exchange, host-key verification (known-hosts.ts), authentication and the
// one exec channel the whole scan uses.
import { lookup } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import { isIP, Socket } from 'node:net';
import ssh2, { type AnyAuthMethod, type ClientChannel, type ParsedKey } from 'ssh2';
import {
  authError,
  dnsError,
  interruptedError,
  protocolError,
  ScanError,
  socketError,
  timeoutError,
} from '../errors.js';
import type { HostSpec, Phase } from '../types.js';
import { appendKnownHost, decideHostKey, hostKeyMessage, loadKnownHosts, type KnownHostEntry } from './known-hosts.js';
import type { ConnectOptions, RemoteProcess, Session, Transport } from './transport.js';

// ssh2 is CommonJS; its named exports are not visible to Node's ESM loader.
const { Client, utils } = ssh2;
type Client = InstanceType<typeof Client>;

/** What sshd runs for us. No login-shell syntax in it: csh and fish must run it too. */
export const REMOTE_COMMAND = '/bin/sh -s';

export function displayTarget(spec: Pick<HostSpec, 'host' | 'port' | 'user'>): string {
  if (spec.port === 0) return `${spec.user}@local`; // --local
  const host = spec.host.includes(':') ? `[${spec.host}]` : spec.host;
  return `${spec.user}@${host}${spec.port === 22 ? '' : `:${spec.port}`}`;
}

// known_hosts is read once per run, not once per host; accept-new appends go
// through one queue so parallel hosts never interleave lines.
let knownHostsCache: { key: string; entries: Promise<KnownHostEntry[]> } | undefined;
let appendQueue: Promise<void> = Promise.resolve();

function knownHosts(files: string[]): Promise<KnownHostEntry[]> {
  const key = files.join('\0');
  if (knownHostsCache?.key !== key) knownHostsCache = { key, entries: loadKnownHosts(files) };
  return knownHostsCache.entries;
}

const keyCache = new Map<string, ParsedKey | string>();

/** A private key, parsed once per run; a string explains why it cannot be used. */
function identity(path: string, passphrase: string | undefined): ParsedKey | string {
  const cached = keyCache.get(path);
  if (cached !== undefined) return cached;
  let result: ParsedKey | string;
  try {
    const parsed = utils.parseKey(readFileSync(path), passphrase);
    if (parsed instanceof Error) {
      result = /encrypted/i.test(parsed.message) && !passphrase
        ? `identity ${path} is encrypted and no passphrase was given (set OCTOSCAN_SSH_PASSPHRASE)`
        : `identity ${path} cannot be used: ${parsed.message}`;
    } else {
      result = Array.isArray(parsed) ? parsed[0] : parsed;
    }
  } catch (err) {
    result = `identity ${path} cannot be read: ${(err as Error).message}`;
  }
  keyCache.set(path, result);
  return result;
}

export const ssh2Transport: Transport = {
  name: 'ssh2',
  async connect(spec: HostSpec, opts: ConnectOptions): Promise<Session> {
    const where = displayTarget(spec);
    let phase: Phase = 'resolve';
    const enter = (p: Phase): void => {
      phase = p;
      opts.onPhase(p);
    };
    if (opts.signal.aborted) throw interruptedError(where, phase);
    // One connect budget for lookup, TCP connect and key exchange together.
    const connectDeadline = performance.now() + opts.connectTimeoutMs;
    const connectLeft = (): number => Math.max(0, connectDeadline - performance.now());
    const connectSeconds = opts.connectTimeoutMs / 1000;

    // Resolve. An IP literal needs no lookup (and must not be looked up: no DNS traffic for it).
    enter('resolve');
    let address = spec.host;
    if (!isIP(spec.host)) {
      try {
        address = (await withDeadline(lookup(spec.host), connectLeft(), () => timeoutError(where, 'resolve', connectSeconds, 'connect'), opts.signal, () => interruptedError(where, 'resolve'))).address;
      } catch (err) {
        if (err instanceof ScanError) throw err;
        throw dnsError(spec.host, err as NodeJS.ErrnoException);
      }
    }

    // TCP connect, under the connect deadline.
    enter('connect');
    const sock = new Socket();
    const connected = new Promise<void>((resolve, reject) => {
      sock.once('connect', resolve);
      sock.once('error', (err) => reject(socketError(where, 'connect', err)));
    });
    sock.connect({ host: address, port: spec.port });
    try {
      await withDeadline(connected, connectLeft(), () => timeoutError(where, 'connect', connectSeconds, 'connect'), opts.signal, () => interruptedError(where, 'connect'));
    } catch (err) {
      sock.destroy();
      throw err;
    }
    sock.setNoDelay(true);

    // SSH: banner, key exchange, host key, authentication.
    enter('handshake');
    const entries = await knownHosts(opts.knownHostsFiles);
    const client = new Client();
    const info: Record<string, string> = { transport: 'ssh2', address };
    let failure: ScanError | undefined;
    const tried: string[] = [];
    const notes: string[] = [];

    const methods: AnyAuthMethod[] = [];
    if (opts.agent) methods.push({ type: 'agent', username: spec.user, agent: opts.agent });
    for (const path of spec.identities) {
      const key = identity(path, opts.passphrase);
      if (typeof key === 'string') notes.push(key);
      else methods.push({ type: 'publickey', username: spec.user, key });
    }

    let authenticated = false;
    const ready = new Promise<void>((resolve, reject) => {
      client.once('ready', () => {
        authenticated = true;
        resolve();
      });
      client.once('error', (err: Error & { level?: string }) => {
        if (failure) return reject(failure);
        if (err.level === 'client-authentication') return reject(authError(where, spec.user, [...tried, ...notes]));
        if (err.level === 'client-socket' || err.level === 'client-timeout') {
          return reject((err as NodeJS.ErrnoException).code ? socketError(where, phase, err as NodeJS.ErrnoException) : protocolError(where, phase, `connection lost during ${phase}: ${err.message}`));
        }
        reject(protocolError(where, phase, `${err.level ? `${err.level}: ` : ''}${err.message}`));
      });
      client.once('close', () => reject(failure ?? protocolError(where, phase, `the server closed the connection during ${phase}`)));
    });
    ready.catch(() => {});

    client.on('handshake', (negotiated) => {
      info.kex = negotiated.kex;
      info.hostKey = negotiated.serverHostKey;
      info.cipher = negotiated.cs.cipher;
      enter('auth');
      authTimer = setTimeout(() => {
        setImmediate(() => {
          if (authenticated) return;
          failure ??= timeoutError(where, 'auth', opts.authTimeoutMs / 1000, 'authentication');
          client.destroy();
        });
      }, opts.authTimeoutMs);
    });
    let authTimer: NodeJS.Timeout | undefined;

    client.connect({
      sock,
      username: spec.user,
      readyTimeout: 2 ** 31 - 1, // our own deadlines below, per phase
      keepaliveInterval: opts.keepaliveIntervalMs,
      keepaliveCountMax: opts.keepaliveCountMax,
      hostVerifier: (key: Buffer, verify: (ok: boolean) => void) => {
        const d = decideHostKey(entries, spec.host, spec.port, key);
        info.hostKeyFingerprint = d.fingerprint;
        if (d.verdict === 'match') return verify(true);
        // off means no verification, asked for by name: connect, but say so for every host.
        // A revoked key is an explicit distrust and is refused even then.
        if (opts.hostKeyPolicy === 'off' && d.verdict !== 'revoked') {
          const what = d.verdict === 'changed' ? 'host key CHANGED and not verified' : 'host key not verified';
          opts.warn(`WARNING: ${where}: ${what} (--host-key-policy off): ${d.keyType} ${d.fingerprint}`);
          return verify(true);
        }
        if (d.verdict === 'changed' || d.verdict === 'revoked') {
          failure = new ScanError('hostkey-changed', 'handshake', `${where}: ${hostKeyMessage(d, spec.host, spec.port, opts.knownHostsWriteFile)}`);
          return verify(false);
        }
        // Unknown key.
        if (opts.hostKeyPolicy === 'accept-new') {
          const job = appendQueue.then(() => appendKnownHost(opts.knownHostsWriteFile, spec.host, spec.port, key));
          appendQueue = job.catch(() => {});
          job.then(
            () => {
              knownHostsCache = undefined; // later hosts must see the key we just accepted
              opts.warn(`${where}: new host key accepted and added to ${opts.knownHostsWriteFile}: ${d.keyType} ${d.fingerprint}`);
              verify(true);
            },
            (err: Error) => {
              failure = new ScanError('hostkey-unknown', 'handshake', `${where}: cannot record the new host key in ${opts.knownHostsWriteFile}: ${err.message}`);
              verify(false);
            },
          );
          return;
        }
        failure = new ScanError('hostkey-unknown', 'handshake', `${where}: ${hostKeyMessage(d, spec.host, spec.port, opts.knownHostsWriteFile)}`);
        verify(false);
      },
      authHandler: (_left, _partial, next) => {
        const m = methods.shift();
        if (!m) return next(false as unknown as AnyAuthMethod);
        tried.push(m.type === 'agent' ? 'agent keys' : `publickey ${(m as { key: ParsedKey }).key.type}`);
        next(m);
      },
    });

    // The handshake deadline: banner and key exchange share the connect timeout.
    const handshakeTimer = setTimeout(() => {
      // One turn of the event loop first: after a stall of the controller,
      // data that already arrived must be handled before we call the peer slow.
      setImmediate(() => {
        if (phase === 'handshake') {
          failure ??= timeoutError(where, 'handshake', connectSeconds, 'connect');
          client.destroy();
        }
      });
    }, connectLeft());
    const onAbort = (): void => {
      failure ??= opts.signal.reason instanceof ScanError ? opts.signal.reason : interruptedError(where, phase);
      client.destroy();
    };
    opts.signal.addEventListener('abort', onAbort, { once: true });
    try {
      await ready;
    } catch (err) {
      client.destroy();
      throw err;
    } finally {
      clearTimeout(handshakeTimer);
      clearTimeout(authTimer);
      opts.signal.removeEventListener('abort', onAbort);
    }
    info.serverVersion = (client as unknown as { _remoteVer?: string })._remoteVer ?? '';
    return sshSession(client, info, where);
  },
};

function sshSession(client: Client, info: Record<string, string>, where: string): Session {
  let closed = false;
  return {
    info,
    exec(script: string): Promise<RemoteProcess> {
      return new Promise((resolve, reject) => {
        client.exec(REMOTE_COMMAND, (err, channel: ClientChannel) => {
          if (err) return reject(protocolError(where, 'exec', `cannot start ${REMOTE_COMMAND}: ${err.message}`));
          const exit = new Promise<{ code: number | null; signal?: string }>((res) => {
            let code: number | null = null;
            let signal: string | undefined;
            channel.on('exit', (c: number | null, s?: string) => {
              code = c ?? null;
              signal = s ?? undefined;
            });
            channel.on('close', () => res({ code, signal }));
          });
          channel.on('error', () => {});
          channel.stdin.on('error', () => {});
          channel.end(script);
          resolve({ stdout: channel, stderr: channel.stderr, exit });
        });
      });
    },
    close(): void {
      if (closed) return;
      closed = true;
      client.destroy();
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
