// One host, start to end: connect, run the probe script, stream its output
// into an archive, name the archive. Never throws: whatever happens becomes a
// HostOutcome with its class and phase (as Vuls keeps a failed host as a result).
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { ArchiveWriter, tempName } from '../archive/archive-writer.js';
import { asScanError, interruptedError, protocolError, ScanError, timeoutError } from '../errors.js';
import { FrameError, newToken, splitStderr } from '../probe/frames.js';
import { buildScript, type ScriptSections } from '../probe/script.js';
import type { Probe } from '../probe/probe.js';
import type { HostOutcome, HostSpec, Phase } from '../types.js';
import type { ConnectOptions, Session, Transport } from '../transport/transport.js';
import { displayTarget } from '../transport/ssh2-transport.js';
import { escapeControls } from '../text/peer-text.js';
import { version } from '../version.js';
import { Collector, type Collected } from './collector.js';
import { completenessOf } from './completeness.js';
import { finalPlan } from './finalize.js';

export interface ScanSettings {
  outDir: string;
  transport: Transport;
  connect: Omit<ConnectOptions, 'signal' | 'onPhase' | 'warn'>;
  hostTimeoutMs: number;
  sections: ScriptSections;
  javaDirs?: string[];
  hostCap?: number;
  /** Diagnostics for standard error. */
  warn: (message: string) => void;
  /** --verbose: each host's phases, algorithms and authentication methods. */
  trace?: (message: string) => void;
  /** The run's interrupt (SIGINT/SIGTERM). */
  signal?: AbortSignal;
}

// The target's standard error: diagnostics on Linux, the stderr.log entry on macOS (where
// the reference keeps all of it), so keep a generous head and count the rest.
const STDERR_KEEP = 1024 * 1024;
/**
 * How long the channel may stay open after the end record. The shell has run
 * `exit 0` by then; only a process it left behind can still hold the pipe
 * open (sshd waits for it), and that must not cost a complete scan.
 */
export const AFTER_END_GRACE_MS = 2000;

export async function scanHost(spec: HostSpec, s: ScanSettings, attempt = 1): Promise<HostOutcome> {
  const startedAt = new Date();
  const where = s.transport.name === 'local' ? 'local' : displayTarget(spec);
  let phase: Phase = 'resolve';
  const host = new AbortController();
  const deadline = setTimeout(
    () => host.abort(timeoutError(where, phase, s.hostTimeoutMs / 1000, 'per-host')),
    s.hostTimeoutMs,
  );
  const onInterrupt = (): void => host.abort(interruptedError(where, phase));
  if (s.signal?.aborted) onInterrupt();
  s.signal?.addEventListener('abort', onInterrupt, { once: true });

  let session: Session | undefined;
  let writer: ArchiveWriter | undefined;
  let collector: Collector | undefined;
  let lingerTimer: NodeJS.Timeout | undefined;
  const result = (cls: HostOutcome['class'], message: string, extra: Partial<HostOutcome> = {}): HostOutcome => ({
    spec, class: cls, phase, message: escapeControls(message), startedAt, durationMs: Date.now() - startedAt.getTime(), bytes: 0, warnings: 0, attempts: attempt, ...extra,
  });

  try {
    const uuid = randomUUID();
    const token = newToken();
    const script = buildScript(s.sections, { token, javaDirs: s.javaDirs });
    session = await s.transport.connect(spec, {
      ...s.connect,
      signal: host.signal,
      onPhase: (p) => {
        phase = p;
        s.trace?.(`${where}: ${p}`);
      },
      warn: s.warn,
    });
    if (s.trace && s.transport.name !== 'local') {
      const i = session.info;
      s.trace(`${where}: logged in${i['serverVersion'] ? ` to ${i['serverVersion']}` : ''}; kex ${i['kex'] ?? '-'}, host key ${i['hostKey'] ?? '-'}, cipher ${i['cipher'] ?? '-'}, mac ${i['mac'] ?? '-'}; auth tried: ${i['auth'] || '-'}`);
    }

    phase = 'exec';
    throwIfAborted(host.signal);
    writer = await ArchiveWriter.create(s.outDir, uuid);
    let spills = 0;
    collector = new Collector({
      token,
      probes: allProbes(s.sections),
      writer,
      hostCap: s.hostCap,
      spillPath: () => `${s.outDir}/${tempName(uuid, 'spill', ++spills)}`,
      onDone: () => {
        lingerTimer = setTimeout(() => session?.close(), AFTER_END_GRACE_MS);
      },
    });
    const execStarted = performance.now();
    const proc = await abortable(session.exec(script), host.signal);

    phase = 'stream';
    const stderr = keepHead(proc.stderr, STDERR_KEEP);
    const liveSession = session;
    const abortStream = (): void => liveSession.close();
    host.signal.addEventListener('abort', abortStream, { once: true });
    let collected: Collected;
    try {
      collected = await collector.consume(proc.stdout);
    } catch (err) {
      throwIfAborted(host.signal);
      if (err instanceof FrameError) {
        const lost = session.lostReason?.();
        throw protocolError(where, 'stream', `bad probe output: ${err.message}${lost ? ` (connection: ${lost})` : ''}`);
      }
      throw err;
    }
    throwIfAborted(host.signal);
    const onTargetMs = performance.now() - execStarted;
    const exit = await abortable(proc.exit, host.signal);
    host.signal.removeEventListener('abort', abortStream);

    phase = 'archive';
    const err = splitStderr(stderr(), token);
    const failed = collected.failed.map((f) => ({ probe: f.probe, entry: f.entry, rc: f.rc, stderr: err.probes.get(`${f.probe}#${f.attempt}`) ?? '' }));
    const plan = finalPlan({ uuid, spec, where, collected, startedAt, onTargetMs, stderr: err.own });
    const now = collector.targetDate();
    await writer.add('octoscan-remote/scan.json', Buffer.from(scanReport(spec, s, session, collected, {
      attempt, startedAt, onTargetMs, exit, stderr: err.own.slice(0, 4096), failed,
    })), { date: now });
    for (const e of plan.entries) await writer.add(e.name, e.data, { date: now });
    const { path, bytes } = await writer.commit(plan.ext);
    writer = undefined;
    phase = 'done';
    const completeness = completenessOf(plan.os, collected, collected.entries.length + plan.entries.length + 1);
    // The row says where to look; the archive keeps what the commands said.
    const message = failed.length
      ? `${failed.length} command${failed.length === 1 ? '' : 's'} failed (${failed.map((f) => f.probe).join(', ')}): standard error in octoscan-remote/scan.json "failed"`
      : '';
    return result('ok', message, { archive: path, bytes, os: plan.os, warnings: collected.warnings.length, onTargetMs, completeness });
  } catch (err) {
    const e = host.signal.aborted && host.signal.reason instanceof ScanError ? host.signal.reason : asScanError(err, where, phase);
    if (process.env.OCTOSCAN_DEBUG && !(err instanceof ScanError)) s.warn(`${where}: ${(err as Error).stack}`);
    return result(e.cls, e.message, { phase: e.phase, transient: e.transient });
  } finally {
    clearTimeout(deadline);
    clearTimeout(lingerTimer);
    s.signal?.removeEventListener('abort', onInterrupt);
    session?.close();
    await collector?.dispose();
    await writer?.abort();
  }
}

function allProbes(sections: ScriptSections): Probe[] {
  return [...sections.linux, ...(sections.darwin ?? [])];
}

function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw signal.reason;
}

function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** Keeps the first bytes of a stream (the target's stderr, for diagnostics) and drains the rest. */
function keepHead(stream: Readable, max: number): () => string {
  const chunks: Buffer[] = [];
  let size = 0;
  let total = 0;
  stream.on('data', (c: Buffer) => {
    total += c.length;
    if (size < max) {
      // A copy: a slice would keep the transport's whole receive buffer alive.
      chunks.push(Buffer.from(c.subarray(0, max - size)));
      size += Math.min(c.length, max - size);
    }
  });
  stream.on('error', () => {});
  return () => {
    const text = Buffer.concat(chunks).toString('utf8');
    return total > size ? `${text}\n[... ${total - size} more bytes]` : text;
  };
}

/** The extra entry octoscan-remote/scan.json: what only the remote scanner knows (spec section 7). */
function scanReport(
  spec: HostSpec,
  s: ScanSettings,
  session: Session,
  c: Collected,
  run: {
    attempt: number;
    startedAt: Date;
    onTargetMs: number;
    exit: { code: number | null; signal?: string };
    stderr: string;
    failed: { probe: string; entry: string; rc: number; stderr: string }[];
  },
): string {
  return JSON.stringify(
    {
      tool: 'octoscan-remote',
      version: version(),
      transport: session.info,
      target: { host: spec.host, port: spec.port, user: spec.user },
      attempt: run.attempt,
      startedAt: run.startedAt.toISOString(),
      onTargetMs: run.onTargetMs,
      exit: run.exit,
      entries: c.entries,
      skipped: c.skips,
      failed: run.failed,
      bytesReceived: c.bytesReceived,
      hostCapReached: c.hostCapReached,
      noise: c.noise,
      stderr: run.stderr,
    },
    null,
    2,
  ) + '\n';
}
