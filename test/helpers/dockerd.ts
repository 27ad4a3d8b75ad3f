// A real Docker daemon for the --containers tests (issue 23): Debian's
// docker.io (dockerd 20.10 and its managed containerd), started by the test
// with everything of its own under one short temporary folder (data root,
// exec root, unix socket, pid file) and without touching the host's network:
// no bridge, no iptables chains, no IP forwarding; containers run with
// `--network none`. A daemon that already runs on the machine (its socket,
// its pid file, its containers) is never touched: this one has other paths,
// and only the process this helper started is ever stopped.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';

export const DOCKERD = '/usr/sbin/dockerd';
/** Debian's docker.io client (20.10), next to a newer one that may be first on PATH. */
export const DOCKER_CLIENT_DEBIAN = '/usr/bin/docker';
/** The other client on this machine (docker-ce-cli 28); absent on a plain Debian 12. */
export const DOCKER_CLIENT_LOCAL = '/usr/local/bin/docker';

/** Why a test daemon cannot run here, or undefined. */
export function dockerdUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (dockerd)';
  if (!existsSync(DOCKERD)) return `${DOCKERD} missing (apt-get install docker.io)`;
  if (!existsSync(DOCKER_CLIENT_DEBIAN)) return `${DOCKER_CLIENT_DEBIAN} missing (apt-get install docker.io)`;
  return undefined;
}

export interface Dockerd {
  /** `unix:///…/d.sock`, for DOCKER_HOST. */
  host: string;
  socket: string;
  /** The daemon's version (`docker version`'s Server.Version). */
  version: string;
  /** Its log (started with --debug: each API call is logged with its query). */
  logPath: string;
  log(): string;
  /** Runs Debian's client against this daemon; throws with its stderr on failure. */
  docker(args: string[], input?: Buffer | string): string;
  /** Removes its containers, stops the daemon (TERM, then KILL after 30 s) and deletes its folders. */
  stop(): Promise<void>;
}

/**
 * Starts dockerd with its own folders under `dir` (keep `dir` short: a unix
 * socket path must stay under 108 bytes). The socket's group is `docker`
 * (dockerd's default, where the group exists), so a member may use it.
 */
export async function startDockerd(dir: string): Promise<Dockerd> {
  const socket = path.join(dir, 'd.sock');
  if (Buffer.byteLength(socket) >= 100) throw new Error(`startDockerd: ${socket}: a unix socket path must be shorter`);
  const host = `unix://${socket}`;
  const logPath = path.join(dir, 'dockerd.log');
  const logFd = openSync(logPath, 'a');
  const child: ChildProcess = spawn(DOCKERD, [
    '--iptables=false', '--ip-forward=false', '--ip-masq=false', '--bridge=none',
    '--data-root', path.join(dir, 'data'), '--exec-root', path.join(dir, 'exec'),
    '-H', host, '--pidfile', path.join(dir, 'dockerd.pid'), '--debug',
  ], { stdio: ['ignore', logFd, logFd], detached: true });
  closeSync(logFd);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let gone = false;
  void exited.then(() => (gone = true));
  const docker = (args: string[], input?: Buffer | string): string => {
    const r = spawnSync(DOCKER_CLIENT_DEBIAN, args, { input, env: { ...process.env, DOCKER_HOST: host }, encoding: 'utf8', maxBuffer: 64 << 20, timeout: 300_000 });
    if (r.status !== 0) throw new Error(`docker ${args.join(' ')}: exit ${r.status}: ${(r.stderr || r.error?.message || '').trim()}`);
    return r.stdout.trim();
  };
  const stop = async (): Promise<void> => {
    if (!gone) {
      try {
        const ids = docker(['ps', '-aq']).split('\n').filter(Boolean);
        if (ids.length) spawnSync(DOCKER_CLIENT_DEBIAN, ['rm', '-f', ...ids], { env: { ...process.env, DOCKER_HOST: host }, stdio: 'ignore', timeout: 120_000 });
      } catch {
        /* the daemon is already in trouble: stop it anyway */
      }
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(killer);
    }
    // Overlay mounts of a daemon killed hard stay mounted; unmount before deleting.
    const mounts = readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1]).filter((m) => m && m.startsWith(`${dir}/`));
    for (const m of mounts.sort().reverse()) spawnSync('umount', ['-l', m], { stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 90_000;
  let version = '';
  while (!version) {
    if (gone) throw new Error(`dockerd exited at start:\n${readFileSync(logPath, 'utf8').split('\n').slice(-15).join('\n')}`);
    if (Date.now() > deadline) {
      await stop();
      throw new Error('dockerd did not answer within 90 s');
    }
    const r = spawnSync(DOCKER_CLIENT_DEBIAN, ['version', '--format', '{{.Server.Version}}'], { env: { ...process.env, DOCKER_HOST: host }, encoding: 'utf8', timeout: 10_000 });
    if (r.status === 0 && r.stdout.trim()) version = r.stdout.trim();
    else await new Promise((res) => setTimeout(res, 300));
  }
  return { host, socket, version, logPath, log: () => readFileSync(logPath, 'utf8'), docker, stop };
}

/** `tar -C <root> -c . | docker import`, with a label; the image's name. */
export function importImage(d: Dockerd, root: string, name: string, label: string): string {
  const tar = execFileSync('tar', ['-C', root, '-c', '.'], { maxBuffer: 1 << 30 });
  d.docker(['import', '--change', `LABEL ${label}=1`, '-', name], tar);
  return name;
}

/** docker run -d --network none; the container's full id. */
export function runContainer(d: Dockerd, image: string, o: { name: string; labels: string[]; command: string[] }): string {
  return d.docker(['run', '-d', '--network', 'none', '--name', o.name, ...o.labels.flatMap((l) => ['--label', l]), image, ...o.command]);
}

/**
 * A `docker` for a test host's PATH (root's secure_path, or the user's): it
 * talks to this daemon through `client`, and its `ps` shows only the
 * containers carrying label `select`, so each test host sees its own.
 */
export function dockerShim(d: Dockerd, client: string, select: string): string {
  return `#!/bin/sh
# docker (octoscan-remote test shim, issue 23): ${client} against the test's own dockerd.
DOCKER_HOST=${d.host}; export DOCKER_HOST
if [ "$1" = ps ]; then shift; exec ${client} ps --filter label=${select} "$@"; fi
exec ${client} "$@"
`;
}
