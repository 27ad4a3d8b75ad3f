// A loopback server farm for sweep tests and the sweep benchmark: many
// distinct SSH targets (127.0.0.2, 127.0.0.3, ... all loopback on Linux),
// served by one real sshd per 16 addresses, all sharing one host key and one
// test user; plus builders for hosts that fail in each way a sweep classifies.
//
//   const farm = await startFarm(50, { dir, broken: { refused: 1, timeout: 1, auth: 1, hostkeyChanged: 1, dns: 1 } });
//   try { ... run the CLI with --hosts farm.hostsFile --known-hosts farm.knownHosts ... }
//   finally { await farm.stop(); }
//
// Good hosts are 127.0.0.2 .. 127.0.0.(n+1); broken hosts live on
// 127.0.1.x so they never collide with good ones. Every row of the hosts file
// names its user and identity, so the sweep needs no agent and no ~/.ssh.
//
// Probe modes. 'real' (default): every session runs the real probe script,
// which costs ~2.5 CPU-seconds on this machine (java -version several times,
// find over /usr/lib and /opt, dpkg-query...): a 50-host sweep on a 2-CPU box
// is then a minute of pure target CPU. 'replay': the good sshds get a
// ForceCommand wrapper that runs the real script once (the first session, under
// a lock), records its output, and replays that output to every later session
// with the session's own frame token substituted. SSH, sessions, frames,
// collection, archives and the whole sweep stay real; only the target's work
// is shared. setReplayDelay(s) makes each replay stop half-way for s seconds,
// so that a sweep can be interrupted while archives are being written.

import { chmodSync, chownSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

import { READ_SCRIPT_SH } from './read-script-sh.js';
import { createTestUser, freePort, makeHostKeyDir, startSshd, type Sshd, type TestUser } from './sshd.js';

export const MAX_ADDRESSES_PER_SSHD = 16;

/** What a farm row is expected to end as. */
export type Expected = 'ok' | 'unreachable' | 'timeout' | 'auth' | 'hostkey-changed' | 'dns';

export interface FarmHost {
  host: string;
  port: number;
  user: string;
  identity: string;
  tag: string;
  /** The class the sweep must give this host. */
  expect: Expected;
  /** The phase the sweep must report for a broken host. */
  phase?: string;
}

export interface BrokenCounts {
  /** Closed ports: connection refused (unreachable, connect). */
  refused?: number;
  /** Servers that accept and never send a banner (timeout, handshake). */
  timeout?: number;
  /** An sshd that does not authorize the key (auth, auth). */
  auth?: number;
  /** An sshd whose host key is not the one in known_hosts (hostkey-changed, handshake). */
  hostkeyChanged?: number;
  /** Names that do not resolve (dns, resolve). */
  dns?: number;
}

export interface FarmOptions {
  /** Where hosts.csv and known_hosts are written; default a fresh temp dir. */
  dir?: string;
  /** Reuse a test user (default: createTestUser('octoscan-test')). */
  user?: TestUser;
  broken?: BrokenCounts;
  /** Tag for good host i (default `farm-<i>`). */
  tag?: (i: number) => string;
  /** Interleave broken rows among the good ones (default true) rather than appending them. */
  interleave?: boolean;
  /** 'real' (default): each session runs the probe script; 'replay': see the file comment. */
  probe?: 'real' | 'replay';
}

export interface Farm {
  dir: string;
  hostsFile: string;
  knownHosts: string;
  user: TestUser;
  /** Every row of hostsFile, in file order. */
  hosts: FarmHost[];
  good: FarmHost[];
  broken: FarmHost[];
  sshds: Sshd[];
  /** The never-answering servers behind the `timeout` rows, in row order. */
  silent: SilentServer[];
  /** The sshd behind the `auth` rows (undefined when none were asked for). */
  authSshd?: Sshd;
  /** The shared host key directory of the good sshds. */
  hostKeyDir: string;
  /**
   * probe 'replay' only: each replay pauses half-way for this many seconds
   * (0: no pause); with an address, only sessions to that address (this
   * overrides the setting for all).
   */
  setReplayDelay(seconds: number, address?: string): void;
  /** probe 'replay' only: no pauses anywhere. */
  clearReplayDelays(): void;
  /** probe 'replay' only: how many sessions ran the real script (1 once recorded). */
  realRuns(): number;
  stop(): Promise<void>;
}

/** The i-th address of a /24-ish loopback block: base 0 gives 127.0.0.2 for i = 0. */
export function loopback(i: number, block = 0): string {
  const n = i + 2;
  if (n > 254) throw new Error(`farm: address index ${i} out of range`);
  return `127.0.${block}.${n}`;
}

const HOSTS_COLUMNS = ['host', 'port', 'user', 'identity', 'tag'] as const;

function csvQuote(v: string): string {
  return /[",\r\n]|^\s|\s$|^#/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

export function hostsCsv(rows: Pick<FarmHost, 'host' | 'port' | 'user' | 'identity' | 'tag'>[]): string {
  const lines = [HOSTS_COLUMNS.join(','), ...rows.map((r) => HOSTS_COLUMNS.map((c) => csvQuote(String(r[c]))).join(','))];
  return lines.join('\n') + '\n';
}

// ---------------------------------------------------------------------------
// Broken-host builders

/** A port nobody listens on at `address`: connecting is refused. */
export async function refusedPort(address: string): Promise<number> {
  return freePort(address);
}

/** A TCP server that accepts and never says a word (no SSH banner). */
export interface SilentServer {
  address: string;
  port: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  close(): Promise<void>;
}

export async function silentServer(address: string): Promise<SilentServer> {
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  const srv = net.createServer((s) => {
    accepted++;
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
    // Read and discard whatever the client sends; never answer.
    s.resume();
  });
  srv.unref();
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen({ host: address, port: 0 }, () => resolve());
  });
  const port = (srv.address() as net.AddressInfo).port;
  return {
    address,
    port,
    get accepted() {
      return accepted;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        srv.close(() => resolve());
      }),
  };
}

/** An sshd with the farm's host key that authorizes nobody: publickey auth fails. */
export function unauthorizedSshd(addresses: string[], hostKeyDir: string): Promise<Sshd> {
  return startSshd({ addresses, hostKeyDir, users: [] });
}

/** An sshd with a fresh host key (not the one known_hosts holds for its addresses). */
export async function changedKeySshd(addresses: string[], user: TestUser): Promise<Sshd> {
  return startSshd({ addresses, hostKeyDir: await makeHostKeyDir(), users: [user] });
}

/** A name that never resolves (RFC 2606 reserves .invalid). */
export function unresolvableName(i = 0): string {
  return `nonexistent-${i}.invalid`;
}

// ---------------------------------------------------------------------------
// Probe replay (see the file comment)

export const REPLAY_SCRIPT = `#!/bin/sh
# octoscan-remote test farm: the first '/bin/sh -s' session runs the probe
# script for real and records its output; every session (that one included)
# gets the recording with its own frame token. Anything else runs as asked.
dir=$1
case \${SSH_ORIGINAL_COMMAND:-} in
  '/bin/sh -s') ;;
  *) exec /bin/sh -c "\${SSH_ORIGINAL_COMMAND:-true}" ;;
esac
LC_ALL=C
export LC_ALL
${READ_SCRIPT_SH}
token=$(printf '%s\\n' "$script" | sed -n "1s/^_T='\\(@@OCTO:[0-9a-f]*@@\\)'.*\$/\\1/p")
if [ -z "$token" ]; then
  echo "farm replay: no frame token on the script's first line" >&2
  exit 97
fi
exec 9>>"$dir/lock"
flock 9
if [ ! -s "$dir/output" ]; then
  printf '%s\\n' "$script" | /bin/sh -s >"$dir/output.new" 2>"$dir/stderr"
  echo $? >"$dir/rc"
  printf '%s' "$token" >"$dir/token"
  echo run >>"$dir/real-runs"
  mv "$dir/output.new" "$dir/output"
fi
exec 9>&-
old=$(cat "$dir/token")
# A pause for this address (delay-<server address>), else for all, else none.
addr=$(echo "\${SSH_CONNECTION:-}" | cut -d' ' -f3)
delay=$(cat "$dir/delay-$addr" 2>/dev/null || cat "$dir/delay" 2>/dev/null || echo 0)
if [ "$delay" = 0 ]; then
  sed "s/$old/$token/g" "$dir/output"
else
  lines=$(wc -l <"$dir/output")
  half=$((lines / 2))
  sed -n "1,\${half}p" "$dir/output" | sed "s/$old/$token/g"
  sleep "$delay"
  sed -n "$((half + 1)),\\$p" "$dir/output" | sed "s/$old/$token/g"
fi
cat "$dir/stderr" >&2
exit "$(cat "$dir/rc")"
`;

interface Replay {
  dir: string;
  forceCommand: string;
}

/** The wrapper and a recording folder the test user can write (the harness dirs are root-only). */
async function prepareReplay(user: TestUser): Promise<Replay> {
  const base = await mkdtemp(path.join(os.tmpdir(), 'octoscan-farm-replay-'));
  chmodSync(base, 0o755);
  const wrapper = path.join(base, 'probe-replay.sh');
  writeFileSync(wrapper, REPLAY_SCRIPT, { mode: 0o755 });
  const dir = path.join(base, 'recording');
  mkdirSync(dir, { mode: 0o755 });
  chownSync(dir, user.uid, user.gid);
  return { dir, forceCommand: `/bin/sh ${wrapper} ${dir}` };
}

// ---------------------------------------------------------------------------

function chunks<T>(xs: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += size) out.push(xs.slice(i, i + size));
  return out;
}

/** Spreads `extra` evenly through `base` (deterministically). */
function interleave<T>(base: T[], extra: T[]): T[] {
  if (extra.length === 0) return [...base];
  const out: T[] = [];
  const step = Math.max(1, Math.floor(base.length / (extra.length + 1)));
  let e = 0;
  base.forEach((b, i) => {
    out.push(b);
    if ((i + 1) % step === 0 && e < extra.length) out.push(extra[e++]);
  });
  while (e < extra.length) out.push(extra[e++]);
  return out;
}

/**
 * Starts ceil(n/16) sshds on 127.0.0.2 .. 127.0.0.(n+1) (sharing one host key
 * directory and one test user), plus whatever broken hosts `opts.broken`
 * asks for, and writes hosts.csv (host,port,user,identity,tag) and a
 * known_hosts file with every address.
 */
export async function startFarm(n: number, opts: FarmOptions = {}): Promise<Farm> {
  if (n < 0 || n > 250) throw new Error('startFarm: 0..250 good hosts');
  const dir = opts.dir ?? (await mkdtemp(path.join(os.tmpdir(), 'octoscan-farm-')));
  const user = opts.user ?? (await createTestUser('octoscan-test'));
  const hostKeyDir = await makeHostKeyDir();
  const replay = opts.probe === 'replay' ? await prepareReplay(user) : undefined;
  const sshds: Sshd[] = [];
  const silent: SilentServer[] = [];
  let authSshd: Sshd | undefined;
  const closers: (() => Promise<void>)[] = [];
  if (replay) closers.push(async () => rmSync(path.dirname(replay.dir), { recursive: true, force: true }));
  if (!opts.dir) closers.push(async () => rmSync(dir, { recursive: true, force: true }));
  const stop = async (): Promise<void> => {
    await Promise.allSettled(sshds.map((s) => s.stop()));
    await Promise.allSettled(closers.map((c) => c()));
  };
  try {
    const addresses = Array.from({ length: n }, (_, i) => loopback(i));
    // Start them all at once: each picks a port free on its own 16 addresses.
    const started = await Promise.all(
      chunks(addresses, MAX_ADDRESSES_PER_SSHD).map((a) =>
        startSshd({ addresses: a, hostKeyDir, users: [user], extraConfig: replay ? `ForceCommand ${replay.forceCommand}` : undefined }).then((s) => (sshds.push(s), s)),
      ),
    );
    const tag = opts.tag ?? ((i: number) => `farm-${i}`);
    const good: FarmHost[] = [];
    const known: string[] = [];
    for (const s of started) {
      for (const a of s.addresses) {
        good.push({ host: a, port: s.port, user: user.name, identity: user.keyPath, tag: tag(good.length), expect: 'ok' });
        known.push(...s.knownHostsLines(a));
      }
    }
    const farmKeyLine = (address: string, port: number): string[] =>
      (started[0] ?? sshds[0]).hostPublicKeys.map((k) => `${port === 22 ? address : `[${address}]:${port}`} ${k.line}`);

    // Broken hosts, on 127.0.1.x.
    const b = opts.broken ?? {};
    const broken: FarmHost[] = [];
    let next = 0;
    const brokenAddr = (): string => loopback(next++, 1);
    const row = (host: string, port: number, expect: Expected, phase: string, t: string): FarmHost => ({
      host, port, user: user.name, identity: user.keyPath, tag: t, expect, phase,
    });

    for (let i = 0; i < (b.refused ?? 0); i++) {
      const a = brokenAddr();
      broken.push(row(a, await refusedPort(a), 'unreachable', 'connect', `broken-refused-${i}`));
    }
    for (let i = 0; i < (b.timeout ?? 0); i++) {
      const srv = await silentServer(brokenAddr());
      closers.push(() => srv.close());
      silent.push(srv);
      broken.push(row(srv.address, srv.port, 'timeout', 'handshake', `broken-timeout-${i}`));
    }
    if (b.auth) {
      const a = Array.from({ length: b.auth }, brokenAddr);
      for (const part of chunks(a, MAX_ADDRESSES_PER_SSHD)) {
        const s = await unauthorizedSshd(part, hostKeyDir);
        sshds.push(s);
        authSshd ??= s;
        for (const x of part) {
          broken.push(row(x, s.port, 'auth', 'auth', `broken-auth-${broken.length}`));
          known.push(...s.knownHostsLines(x));
        }
      }
    }
    if (b.hostkeyChanged) {
      const a = Array.from({ length: b.hostkeyChanged }, brokenAddr);
      for (const part of chunks(a, MAX_ADDRESSES_PER_SSHD)) {
        const s = await changedKeySshd(part, user);
        sshds.push(s);
        for (const x of part) {
          broken.push(row(x, s.port, 'hostkey-changed', 'handshake', `broken-hostkey-${broken.length}`));
          // known_hosts holds the farm's key for this address: the server's key differs.
          known.push(...farmKeyLine(x, s.port));
        }
      }
    }
    for (let i = 0; i < (b.dns ?? 0); i++) {
      broken.push(row(unresolvableName(i), 22, 'dns', 'resolve', `broken-dns-${i}`));
    }

    const hosts = opts.interleave === false ? [...good, ...broken] : interleave(good, broken);
    const hostsFile = path.join(dir, 'hosts.csv');
    const knownHosts = path.join(dir, 'known_hosts');
    await writeFile(hostsFile, hostsCsv(hosts), { mode: 0o644 });
    await writeFile(knownHosts, known.join('\n') + '\n', { mode: 0o644 });
    const setReplayDelay = (seconds: number, address?: string): void => {
      if (!replay) throw new Error('setReplayDelay: the farm was not started with probe: replay');
      writeFileSync(path.join(replay.dir, address ? `delay-${address}` : 'delay'), `${seconds}\n`, { mode: 0o644 });
    };
    const clearReplayDelays = (): void => {
      if (!replay) throw new Error('clearReplayDelays: the farm was not started with probe: replay');
      for (const f of readdirSync(replay.dir)) if (f === 'delay' || f.startsWith('delay-')) rmSync(path.join(replay.dir, f), { force: true });
    };
    const realRuns = (): number => {
      if (!replay) throw new Error('realRuns: the farm was not started with probe: replay');
      try {
        return readFileSync(path.join(replay.dir, 'real-runs'), 'utf8').split('\n').filter(Boolean).length;
      } catch {
        return 0;
      }
    };
    return { dir, hostsFile, knownHosts, user, hosts, good, broken, sshds, silent, authSshd, hostKeyDir, setReplayDelay, clearReplayDelays, realRuns, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
