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
}

export const CONTAINER_DEFAULTS = { parallel: 1, timeoutSeconds: 600, listTimeoutSeconds: 60 } as const;

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
  let listings: EngineListing[];
  try {
    listings = await listContainers(session, spec, s, host);
  } catch (err) {
    const e = asScanError(err, host.where, 'exec');
    return [row(e.cls === 'timeout' || e.cls === 'interrupted' ? e.cls : 'engine', 'exec', `${host.where}: listing the containers failed: ${e.message.replace(`${host.where}: `, '')}`)];
  }
  const outcomes: HostOutcome[] = [];
  for (const l of listings) {
    if (l.error) {
      outcomes.push(row('engine', 'exec', `${host.where}: ${l.error}${viaOf(host.started, s).kind === 'plain' ? '; listing containers usually needs root or the engine\'s group: --sudo' : ''}`, {
        container: { engine: l.engine, id: '', name: '', image: '' },
      }));
    }
  }
  const via = viaOf(host.started, s);
  const limit = pLimit(Math.max(1, cs.parallel));
  const scanned = await Promise.all(uniqueContainers(listings).map(({ container, path }) => limit(() => scanOne(session, spec, s, host, via, container, path))));
  return [...outcomes, ...scanned];
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

async function scanOne(session: Session, spec: HostSpec, s: ScanSettings, host: HostContext, via: Via, c: ContainerInfo, enginePath: string): Promise<HostOutcome> {
  const cs = s.containers!;
  const startedAt = new Date();
  const where = `${host.where} ${c.engine} container ${peerText(c.name, 200) || shortId(c.id)} (${shortId(c.id)})`;
  let phase: Phase = 'exec';
  const ctl = new AbortController();
  const deadline = setTimeout(() => ctl.abort(timeoutError(where, phase, cs.timeoutMs / 1000, 'per-container')), cs.timeoutMs);
  const onInterrupt = (): void => ctl.abort(interruptedError(where, phase));
  if (s.signal?.aborted) onInterrupt();
  s.signal?.addEventListener('abort', onInterrupt, { once: true });
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
      attempt: 1,
      startedAt,
    });
    phase = 'done';
    return result('ok', '', { archive: run.path, bytes: run.bytes, os: run.os, warnings: run.warnings, onTargetMs: run.onTargetMs, scriptSha256: run.scriptSha256 });
  } catch (err) {
    const e = ctl.signal.aborted && ctl.signal.reason instanceof ScanError ? ctl.signal.reason : asScanError(err, where, phase);
    return result(e.cls, e.message, { phase: e.phase });
  } finally {
    clearTimeout(deadline);
    s.signal?.removeEventListener('abort', onInterrupt);
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
    r.proc.stdin.end(script);
    return { proc: r.proc, command: shown };
  }
  r.stopped.kill();
  throw classifyRefusal(where, r, via, answerMs);
}

/** Why the container's shell did not start, in the engine's (or sudo's) words. */
export function classifyRefusal(where: string, r: { refused: string; stderr: string; code: number | null }, via: Via, answerMs: number): ScanError {
  const said = peerText(r.stderr.split(/\r?\n/).map((l) => l.trim()).filter(Boolean).slice(-3).join('; '), 500) || r.refused;
  if (/did not answer within/.test(r.refused)) {
    return new ScanError('timeout', 'exec', `${where}: the container's /bin/sh did not start within ${Math.round(answerMs / 1000)} s`);
  }
  if (via.kind !== 'plain' && /^sudo:/m.test(r.stderr)) {
    return new ScanError('sudo', 'exec', `${where}: sudo refused to enter the container: ${r.refused}`);
  }
  // docker/podman: 126/127 and "executable file not found"; crictl: "exec failed ... no such file or directory".
  if (r.code === 127 || r.code === 126 || /executable file not found|no such file or directory|not found in \$PATH|exec: "\/bin\/sh"/i.test(r.stderr)) {
    return new ScanError('no-shell', 'exec', `${where}: no /bin/sh in the container (distroless or scratch image?), so the probe script cannot run there; no archive (engine: ${said})`);
  }
  return new ScanError('protocol', 'exec', `${where}: the container's shell did not start: ${said}`);
}

