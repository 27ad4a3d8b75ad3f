// --containers: once a host's own archive is written, the same connection
// lists the running containers (src/containers/engines.ts) and runs the probe
// script in each through its engine: `<engine> exec -i <id> /bin/sh -s`, as
// root through sudo where the host's own scan got root that way. Nothing is
// copied into a container; the script arrives on the shell's standard input.
// Each container has its own deadline and its own archive, and at most
// `parallel` run at once (default 1: the host's workload comes first). A
// container never ends the host's scan or the sweep: it is an outcome.
import { randomBytes } from 'node:crypto';
import pLimit from 'p-limit';
import { asScanError, interruptedError, protocolError, ScanError, timeoutError } from '../errors.js';
import { newToken } from '../probe/frames.js';
import { startScript, SUDO_COMMAND, SUDO_PROMPT_SHOWN, trySudo, type Started } from '../scan/privilege.js';
import { runScript, type ScanSettings } from '../scan/scan-host.js';
import { peerText } from '../text/peer-text.js';
import type { ContainerInfo, HostOutcome, HostSpec, OutcomeClass, Phase } from '../types.js';
import type { Session } from '../transport/transport.js';
import { execCommand, LISTING_CAP, listingScript, parseListing, uniqueContainers, type EngineListing } from './engines.js';
import { outcome } from '../scan/outcome.js';

export interface ContainerSettings {
  /** --containers (a host's `containers` column overrides it). */
  enabled: boolean;
  /** Containers scanned at once on one host. */
  parallel: number;
  /** Deadline for one container, from exec to finished archive. */
  timeoutMs: number;
  /** Deadline for listing the containers of all engines. */
  listTimeoutMs: number;
  /** --max-containers: at most this many containers of one host are entered; the rest get `skipped` rows. */
  max: number;
  /** --containers-timeout: one deadline for all of a host's containers together, from the listing on. */
  allTimeoutMs: number;
}

export const CONTAINER_DEFAULTS = { parallel: 1, timeoutSeconds: 600, listTimeoutSeconds: 60, max: 200, allTimeoutSeconds: 1800 } as const;

interface HostContext {
  /** The host as messages name it. */
  where: string;
  /** The host's fqdn from its own scan: configuration/host of its containers. */
  fqdn: string;
  /** The command that ran the host's script: says whether sudo worked, and how. */
  started: string;
}

type Via = { kind: 'plain' } | { kind: 'sudo-n' } | { kind: 'sudo-S'; password: string };

/** How the host's own script got started decides how its containers are entered. */
function viaOf(started: string, s: ScanSettings): Via {
  if (started === SUDO_COMMAND) return { kind: 'sudo-n' };
  if (started.startsWith('sudo -S') && s.sudoPassword !== undefined) return { kind: 'sudo-S', password: s.sudoPassword };
  return { kind: 'plain' };
}

/** Never throws: every container, and every engine that would not list, is an outcome. */
export async function scanContainers(session: Session, spec: HostSpec, s: ScanSettings, host: HostContext): Promise<HostOutcome[]> {
  const cs = s.containers!;
  const startedAt = new Date();
  const row = (cls: OutcomeClass, phase: Phase, message: string, extra: Partial<HostOutcome> = {}): HostOutcome =>
    outcome(spec, startedAt, 1, cls, phase, message, extra);
  // One deadline for all of the host's containers, the listing included.
  const all = new AbortController();
  const allTimer = setTimeout(() => all.abort(timeoutError(host.where, 'exec', cs.allTimeoutMs / 1000, 'containers (--containers-timeout)')), cs.allTimeoutMs);
  try {
    let listings: EngineListing[];
    try {
      listings = await listContainers(session, spec, s, host);
    } catch (err) {
      const e = asScanError(err, host.where, 'exec');
      return [row(e.cls === 'timeout' || e.cls === 'interrupted' ? e.cls : 'engine', 'exec', `${host.where}: listing the containers failed: ${e.message.replace(`${host.where}: `, '')}`)];
    }
    const via = viaOf(host.started, s);
    const outcomes: HostOutcome[] = [];
    for (const l of listings) {
      const engineOnly = { container: { engine: l.engine, id: '', name: '', image: '' } };
      // Without sudo, an engine only root may use is a fact about the account (the hint names --sudo), not a fault of the host.
      if (l.needsRoot && (via.kind === 'plain' || !l.error)) outcomes.push(row('needs-root', 'exec', `${host.where}: ${l.needsRoot}`, engineOnly));
      else if (l.error) {
        outcomes.push(row('engine', 'exec', `${host.where}: ${l.error}${via.kind === 'plain' ? '; listing containers usually needs root or the engine\'s group: --sudo' : ''}`, engineOnly));
      }
    }
    const found = uniqueContainers(listings);
    const entered = found.filter((f) => !f.container.state);
    const over = new Set(entered.slice(cs.max).map((f) => f.container.id));
    if (over.size) s.warn(`${host.where}: --max-containers ${cs.max}: ${over.size} of ${entered.length} running containers not scanned`);
    const limit = pLimit(Math.max(1, cs.parallel));
    let cut = 0;
    const scanned = await Promise.all(found.map(({ container: c, path }) => {
      const named = { container: c };
      if (c.state) {
        // A paused container refuses exec; a restarting or exited one has no process to join.
        return row('not-running', 'exec', `${containerWhere(host, c)}: ${peerText(c.state, 40)}: not entered (the script runs only in a running container); no archive`, named);
      }
      if (over.has(c.id)) {
        return row('skipped', 'exec', `${containerWhere(host, c)}: not scanned: --max-containers ${cs.max} reached (${entered.length} running on this host)`, named);
      }
      return limit(() => {
        if (all.signal.aborted && !s.signal?.aborted) {
          cut++;
          return row('skipped', 'exec', `${containerWhere(host, c)}: not scanned: the host's --containers-timeout of ${cs.allTimeoutMs / 1000} s passed before its turn`, named);
        }
        return scanOne(session, spec, s, host, via, c, path, all.signal);
      });
    }));
    if (cut) s.warn(`${host.where}: --containers-timeout ${cs.allTimeoutMs / 1000} s passed: ${cut} container(s) not scanned`);
    return [...outcomes, ...scanned];
  } finally {
    clearTimeout(allTimer);
  }
}

function containerWhere(host: HostContext, c: ContainerInfo): string {
  return `${host.where} ${c.engine} container ${peerText(c.name, 200) || shortId(c.id)} (${shortId(c.id)})`;
}

/** Runs the listing script with the host's privilege (the same sudo decision as its own scan). */
async function listContainers(session: Session, spec: HostSpec, s: ScanSettings, host: HostContext): Promise<EngineListing[]> {
  const token = newToken();
  const ms = s.containers!.listTimeoutMs;
  const started: Started = await startScript(session, listingScript(token), {
    sudo: viaOf(host.started, s).kind !== 'plain',
    sudoPassword: s.sudoPassword,
    answerMs: s.connect.authTimeoutMs,
  });
  const proc = started.proc;
  const chunks: Buffer[] = [];
  let size = 0;
  const text = await new Promise<string>((resolve, reject) => {
    let settled = false;
    const settle = (err: Error | undefined): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      s.signal?.removeEventListener('abort', onAbort);
      if (err) {
        proc.kill();
        reject(err);
      } else resolve(Buffer.concat(chunks).toString('utf8'));
    };
    const timer = setTimeout(() => settle(timeoutError(host.where, 'exec', ms / 1000, 'container listing')), ms);
    const onAbort = (): void => settle(interruptedError(host.where, 'exec'));
    if (s.signal?.aborted) onAbort();
    s.signal?.addEventListener('abort', onAbort, { once: true });
    proc.stdout.on('data', (c: Buffer) => {
      size += c.length;
      if (size > LISTING_CAP) return settle(protocolError(host.where, 'exec', `the container listing passed ${LISTING_CAP} bytes`));
      chunks.push(c);
    });
    proc.stderr.on('data', () => {});
    void proc.exit.then(() => settle(undefined));
  });
  try {
    return parseListing(text, token);
  } catch (err) {
    throw protocolError(host.where, 'exec', (err as Error).message);
  }
}

function shortId(id: string): string {
  return id.slice(0, 12);
}

async function scanOne(session: Session, spec: HostSpec, s: ScanSettings, host: HostContext, via: Via, c: ContainerInfo, enginePath: string, all: AbortSignal): Promise<HostOutcome> {
  const cs = s.containers!;
  const startedAt = new Date();
  const where = containerWhere(host, c);
  let phase: Phase = 'exec';
  const ctl = new AbortController();
  const deadline = setTimeout(() => ctl.abort(timeoutError(where, phase, cs.timeoutMs / 1000, 'per-container')), cs.timeoutMs);
  const onInterrupt = (): void => ctl.abort(interruptedError(where, phase));
  // The host's deadline for all its containers ends this one too, in its own words.
  const onAll = (): void => ctl.abort(timeoutError(where, phase, cs.allTimeoutMs / 1000, 'the host\'s containers (--containers-timeout)'));
  if (s.signal?.aborted) onInterrupt();
  s.signal?.addEventListener('abort', onInterrupt, { once: true });
  all.addEventListener('abort', onAll, { once: true });
  const result = (cls: OutcomeClass, message: string, extra: Partial<HostOutcome> = {}): HostOutcome =>
    outcome(spec, startedAt, 1, cls, phase, message, { container: c, ...extra });
  try {
    const inner = execCommand(enginePath, c.id);
    const run = await runScript(session, spec, s, {
      where,
      signal: ctl.signal,
      onPhase: (p) => (phase = p),
      start: (script) => enter(session, inner, via, script, cs.timeoutMs, ctl.signal, where),
      linger: (proc) => proc.kill(),
      config: {
        machine: c.name,
        // Kubernetes: the pod is where the container "runs"; else the host, by its own name.
        host: c.pod ?? host.fqdn,
        ...(spec.config?.cluster !== undefined ? { cluster: spec.config.cluster } : {}),
        container: true,
      },
      extra: { container: { engine: c.engine, id: c.id, name: c.name, image: c.image, ...(c.pod ? { pod: c.pod } : {}) } },
      deadlineMs: cs.timeoutMs,
      attempt: 1,
      startedAt,
    });
    phase = 'done';
    // The same columns as a host's row, so a container is flagged incomplete by the same rules.
    return result('ok', run.message, { archive: run.path, bytes: run.bytes, os: run.os, warnings: run.warnings, onTargetMs: run.onTargetMs, completeness: run.completeness, scriptSha256: run.scriptSha256 });
  } catch (err) {
    const e = ctl.signal.aborted && ctl.signal.reason instanceof ScanError ? ctl.signal.reason : asScanError(err, where, phase);
    return result(e.cls, e.message, { phase: e.phase });
  } finally {
    clearTimeout(deadline);
    s.signal?.removeEventListener('abort', onInterrupt);
    all.removeEventListener('abort', onAll);
  }
}

/**
 * Starts the container's shell and sends the script once the shell has
 * printed a marker (so a container without /bin/sh is told apart from one
 * whose script failed, and no script byte goes to sudo).
 */
async function enter(session: Session, inner: string, via: Via, script: string, answerMs: number, signal: AbortSignal, where: string): Promise<Started> {
  let command = via.kind === 'plain' ? inner : `sudo -n ${inner}`;
  let shown = command;
  let ask: { prompt: string; password: string } | undefined;
  if (via.kind === 'sudo-S') {
    const prompt = `octoscan-sudo-${randomBytes(12).toString('hex')}:`;
    command = `sudo -S -p ${prompt} ${inner}`;
    shown = `sudo -S -p ${SUDO_PROMPT_SHOWN} ${inner}`;
    ask = { prompt, password: via.password };
  }
  const r = await trySudo(session, command, ask, answerMs);
  if (signal.aborted) {
    ('proc' in r ? r.proc : r.stopped).kill();
    throw signal.reason;
  }
  if ('proc' in r) {
    r.proc.stdin.write(script);
    return { proc: r.proc, command: shown };
  }
  r.stopped.kill();
  throw classifyRefusal(where, r, via, answerMs);
}

/**
 * An engine saying the container has no /bin/sh. Docker prints this on
 * standard output, not standard error (docker/cli#2025), with exit 126;
 * podman on standard error with 127; crictl its own words: the text decides,
 * on either stream, whatever the exit status.
 */
const NO_SHELL = /executable file not found|not found in \$PATH|exec: "?\/bin\/sh"?: stat \/bin\/sh: no such file|\/bin\/sh[^\n]*no such file or directory|no such file or directory[^\n]*\/bin\/sh|exec failed[^\n]*no such file or directory/i;

/** Why the container's shell did not start, in the engine's (or sudo's) words. */
export function classifyRefusal(where: string, r: { refused: string; stderr: string; stdout?: string; code: number | null }, via: Via, answerMs: number): ScanError {
  const text = `${r.stderr}\n${r.stdout ?? ''}`;
  const said = peerText(text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean).slice(-3).join('; '), 500) || r.refused;
  if (/did not answer within/.test(r.refused)) {
    return new ScanError('timeout', 'exec', `${where}: the container's /bin/sh did not start within ${Math.round(answerMs / 1000)} s`);
  }
  if (via.kind !== 'plain' && /^sudo:/m.test(r.stderr)) {
    return new ScanError('sudo', 'exec', `${where}: sudo refused to enter the container: ${r.refused}`);
  }
  if (r.code === 127 || NO_SHELL.test(text)) {
    return new ScanError('no-shell', 'exec', `${where}: no /bin/sh in the container (distroless or scratch image?), so the probe script cannot run there; no archive (engine: ${said})`);
  }
  return new ScanError('protocol', 'exec', `${where}: the container's shell did not start: ${said}`);
}
