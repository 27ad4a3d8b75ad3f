// One host, start to end: connect, run the probe script, stream its output
// into an archive, name the archive; with --containers, then its containers
// over the same connection (src/containers/), each through runScript below.
// Never throws: whatever happens becomes a HostOutcome with its class and
// phase (as Vuls keeps a failed host as a result).
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { ArchiveWriter, tempName } from '../archive/archive-writer.js';
import { asScanError, interruptedError, OutputFolderError, protocolError, ScanError, sudoMessage, timeoutError } from '../errors.js';
import { FrameError, newToken, StderrSplitter, type SplitStderr } from '../probe/frames.js';
import { buildScript, scriptSha256, type ScriptSections } from '../probe/script.js';
import type { Probe } from '../probe/probe.js';
import type { HostOutcome, HostSpec, Phase } from '../types.js';
import type { ConnectOptions, RemoteProcess, Session, Transport } from '../transport/transport.js';
import type { ConfigurationValues } from '../archive/octoscan-xml.js';
import { scanContainers, type ContainerSettings } from '../containers/scan-containers.js';
import { displayTarget } from '../transport/ssh2-transport.js';
import { version } from '../version.js';
import { ScrubStream } from '../text/secret-scrub.js';
import { Collector, type Collected } from './collector.js';
import { completenessOf, type Completeness } from './completeness.js';
import { finalPlan } from './finalize.js';
import { outcome } from './outcome.js';
import { startScript, type Started } from './privilege.js';
import { Steering } from './steering.js';
import type { JavaEnvironMode } from './java-environ.js';

export interface ScanSettings {
  outDir: string;
  transport: Transport;
  connect: Omit<ConnectOptions, 'signal' | 'onPhase' | 'warn'>;
  hostTimeoutMs: number;
  sections: ScriptSections;
  javaDirs?: string[];
  /** --java-environ: what of a running JVM's environment the archive keeps (default redacted). */
  javaEnviron?: JavaEnvironMode;
  hostCap?: number;
  /** Diagnostics for standard error. */
  warn: (message: string) => void;
  /** --verbose: each host's phases, algorithms and authentication methods. */
  trace?: (message: string) => void;
  /** The run's interrupt (SIGINT/SIGTERM). */
  signal?: AbortSignal;
  /** --sudo (a host's `sudo` column overrides it) and the sudo password, if one was given. */
  sudo?: boolean;
  sudoPassword?: string;
  /** --containers and its bounds; a host's `containers` column overrides `enabled`. */
  containers?: ContainerSettings;
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
  const result = (cls: HostOutcome['class'], message: string, extra: Partial<HostOutcome> = {}): HostOutcome =>
    outcome(spec, startedAt, attempt, cls, phase, message, extra);

  try {
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
    const liveSession = session;
    const wantContainers = spec.containers ?? s.containers?.enabled ?? false;
    const run = await runScript(liveSession, spec, s, {
      where,
      signal: host.signal,
      onPhase: (p) => (phase = p),
      start: (script) => startScript(liveSession, script, { sudo: spec.sudo ?? s.sudo ?? false, sudoPassword: s.sudoPassword, answerMs: s.connect.authTimeoutMs, steered: true }),
      // A command left behind holds the channel open; with containers still to
      // scan over this connection, only that command goes.
      linger: (proc) => (wantContainers ? proc.kill() : liveSession.close()),
      attempt,
      startedAt,
    });
    phase = 'done';
    const archived = {
      archive: run.path, bytes: run.bytes, os: run.os, warnings: run.warnings, onTargetMs: run.onTargetMs, completeness: run.completeness,
      scriptSha256: run.scriptSha256,
    };
    const base = run.refused
      ? // An archive, but not the one asked for: its own class, counted as failed (exit code, retry file).
        result('sudo', sudoMessage(where, spec.user, run.refused), { phase: 'exec', ...archived })
      : result('ok', run.message, archived);
    if (!wantContainers || !s.containers) return base;
    // The host's deadline covered the host; each container has its own.
    clearTimeout(deadline);
    if (run.os !== 'linux') return { ...base, containers: [] };
    const containers = await scanContainers(liveSession, spec, s, { where, fqdn: run.fqdn, started: run.command });
    return { ...base, containers };
  } catch (err) {
    const e = host.signal.aborted && host.signal.reason instanceof ScanError ? host.signal.reason : asScanError(err, where, phase);
    if (process.env.OCTOSCAN_DEBUG && !(err instanceof ScanError)) s.warn(`${where}: ${(err as Error).stack}`);
    const fault = e instanceof OutputFolderError ? { controllerFault: `--out ${s.outDir}: ${e.detail}` } : {};
    return result(e.cls, e.message, { phase: e.phase, transient: e.transient, ...fault });
  } finally {
    clearTimeout(deadline);
    s.signal?.removeEventListener('abort', onInterrupt);
    session?.close();
  }
}

/** One run of the probe script on an open session: a host's shell or a container's. */
export interface ScriptRun {
  where: string;
  /** The host's deadline and interrupt, or a container's. */
  signal: AbortSignal;
  onPhase: (p: Phase) => void;
  /** Starts the shell the script goes to and sends it (sudo, an engine's exec). */
  start: (script: string) => Promise<Started>;
  /** After the end record, when the command still holds its channel open. */
  linger: (proc: RemoteProcess) => void;
  /** configuration values of this archive (else the host's own, spec.config). */
  config?: ConfigurationValues;
  /** This run's deadline (the target's backstop); the host's --host-timeout when not given. */
  deadlineMs?: number;
  /** Written into scan.json (what a container scan adds: engine, id, name, image). */
  extra?: Record<string, unknown>;
  attempt: number;
  startedAt: Date;
}

export interface ScriptResult {
  path: string;
  bytes: number;
  os: 'linux' | 'darwin';
  warnings: number;
  onTargetMs: number;
  /** The target's own fqdn (octoscan.xml). */
  fqdn: string;
  /** The command that ran the script. */
  command: string;
  refused?: string;
  /** How complete the archive is, for the report. */
  completeness: Completeness;
  /** For the report row: which commands failed, and where their standard error is. */
  message: string;
  /** The sha256 of the script as `octoscan-remote script` prints it for these options (scan.json, report). */
  scriptSha256: string;
}

/**
 * The probe script through one shell into one archive: the same collector,
 * caps, frame token and entry-name rules for a host and for each of its
 * containers. Throws a ScanError (or anything, for a bug); the caller classifies.
 */
export async function runScript(session: Session, spec: HostSpec, s: ScanSettings, r: ScriptRun): Promise<ScriptResult> {
  let phase: Phase = 'exec';
  const setPhase = (p: Phase): void => {
    phase = p;
    r.onPhase(p);
  };
  const { where, signal } = r;
  let writer: ArchiveWriter | undefined;
  let collector: Collector | undefined;
  let steering: Steering | undefined;
  let lingerTimer: NodeJS.Timeout | undefined;
  let proc: RemoteProcess | undefined;
  let lingered: (x: { code: number | null; signal?: string }) => void = () => {};
  const afterLinger = new Promise<{ code: number | null; signal?: string }>((res) => (lingered = res));
  try {
    const uuid = randomUUID();
    const token = newToken();
    const script = buildScript(s.sections, { token, javaDirs: s.javaDirs, deadlineSeconds: (r.deadlineMs ?? s.hostTimeoutMs) / 1000 });
    const sha256 = scriptSha256(s.sections, s.javaDirs);
    setPhase('exec');
    throwIfAborted(signal);
    writer = await ArchiveWriter.create(s.outDir, uuid);
    let spills = 0;
    const toScript = (line: string): void => {
      const stdin = proc?.stdin;
      if (stdin && stdin.writable && !stdin.writableEnded) stdin.write(line);
    };
    steering = new Steering(toScript, () => collector?.openEntry());
    const liveSteering = steering;
    collector = new Collector({
      steering: liveSteering,
      token,
      probes: allProbes(s.sections),
      writer,
      hostCap: s.hostCap,
      spillPath: () => `${s.outDir}/${tempName(uuid, 'spill', ++spills)}`,
      javaEnviron: s.javaEnviron,
      onDone: () => {
        // The script has ended: its reader is gone, and our end of input tells anything left over so.
        liveSteering.close();
        proc?.stdin.end();
        lingerTimer = setTimeout(() => {
          if (proc) r.linger(proc);
          // sshd confirms a channel's close only once the command's children let go;
          // the end record is in, so the data is complete: stop waiting for the stream.
          lingerTimer = setTimeout(() => {
            if (proc && !proc.stdout.readableEnded) {
              // Whatever the command still writes now is pushed after EOF: an 'error', never a crash.
              proc.stdout.on('error', () => {});
              proc.stdout.push(null);
            }
            lingered({ code: null, signal: 'left running' });
          }, AFTER_END_GRACE_MS);
        }, AFTER_END_GRACE_MS);
      },
    });
    const execStarted = performance.now();
    const started: Started = await abortable(r.start(script), signal);
    proc = started.proc;
    const liveProc = proc;

    setPhase('stream');
    const stderr = splitStream(liveProc.stderr, token, STDERR_KEEP);
    const abortStream = (): void => liveProc.kill();
    signal.addEventListener('abort', abortStream, { once: true });
    let collected: Collected;
    try {
      // Raced with the deadline: killing one command need not end its stream
      // (sshd may keep the channel while the command's children hold it).
      collected = await abortable(collector.consume(liveProc.stdout), signal);
    } catch (err) {
      throwIfAborted(signal);
      if (err instanceof FrameError) {
        if (session.failure) {
          // ssh's verdict comes with its exit, just after its output ended.
          let wait: NodeJS.Timeout | undefined;
          await Promise.race([liveProc.exit, new Promise((res) => (wait = setTimeout(res, 1000)))]);
          clearTimeout(wait);
          const failed = session.failure();
          if (failed) throw failed;
        }
        const lost = session.lostReason?.();
        throw protocolError(where, 'stream', `bad probe output: ${err.message}${lost ? ` (connection: ${lost})` : ''}`);
      }
      throw err;
    } finally {
      signal.removeEventListener('abort', abortStream);
    }
    throwIfAborted(signal);
    const onTargetMs = performance.now() - execStarted;
    const exit = await abortable(Promise.race([liveProc.exit, afterLinger]), signal);
    const failed = session.failure?.();
    if (failed && collected.facts['os'] === undefined) throw failed;

    setPhase('archive');
    if (started.refused) {
      // First in the list: it happened before any probe ran, and it explains the root-only warnings after it.
      collected.warnings.unshift({ id: 1004, message: `add_command_output exception ['sudo', '-n', '/bin/sh', '-s']: ${started.refused}` });
    }
    const err = stderr();
    const failedCommands = collected.failed.map((f) => ({ probe: f.probe, entry: f.entry, rc: f.rc, stderr: err.probes.get(`${f.probe}#${f.attempt}`) ?? '' }));
    const plan = finalPlan({ uuid, spec, where, collected, startedAt: r.startedAt, onTargetMs, stderr: err.own, config: r.config });
    const now = collector.targetDate();
    await writer.add('octoscan-remote/scan.json', Buffer.from(scanReport(spec, s, session, collected, {
      attempt: r.attempt, startedAt: r.startedAt, onTargetMs, exit, stderr: err.own.slice(0, 4096), failed: failedCommands,
      command: started.command, sudoRefused: started.refused, extra: r.extra, scriptSha256: sha256, killed: liveSteering.killed,
    })), { date: now });
    for (const e of plan.entries) await writer.add(e.name, e.data, { date: now });
    const { path, bytes } = await writer.commit(plan.ext);
    writer = undefined;
    const completeness = completenessOf(plan.os, collected, collected.entries.length + plan.entries.length + 1);
    // The row says where to look; the archive keeps what the commands said.
    const message = failedCommands.length
      ? `${failedCommands.length} command${failedCommands.length === 1 ? '' : 's'} failed (${failedCommands.map((f) => f.probe).join(', ')}): standard error in octoscan-remote/scan.json "failed"`
      : '';
    return {
      path, bytes, os: plan.os, warnings: collected.warnings.length, onTargetMs,
      fqdn: collected.facts['fqdn'] || spec.host, command: started.command, refused: started.refused,
      completeness, message, scriptSha256: sha256,
    };
  } catch (err) {
    throw signal.aborted && signal.reason instanceof ScanError ? signal.reason : asScanError(err, where, phase);
  } finally {
    clearTimeout(lingerTimer);
    steering?.close();
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

/**
 * The target's standard error as it arrives: the shell's own (its first `max`
 * bytes) and each command's head (StderrSplitter). Scrubbed as it comes,
 * before any cut: no part of a secret survives it.
 */
function splitStream(stream: Readable, token: string, max: number): () => SplitStderr {
  const scrub = new ScrubStream();
  const split = new StderrSplitter(token, max);
  stream.on('data', (c: Buffer) => split.push(scrub.push(c)));
  stream.on('error', () => {});
  return () => {
    split.push(scrub.end()); // what it held back; nothing more is read after this
    return split.end();
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
    command: string;
    sudoRefused?: string;
    extra?: Record<string, unknown>;
    scriptSha256: string;
    killed: import('./steering.js').Killed[];
  },
): string {
  return JSON.stringify(
    {
      tool: 'octoscan-remote',
      version: version(),
      // Evidence (README "What a root scan does and cannot do"): which script ran, from which options.
      script_sha256: run.scriptSha256,
      script_options: { java_dir: s.javaDirs ?? [] },
      java_environ: s.javaEnviron ?? 'redacted',
      transport: session.info,
      command: run.command,
      ...(run.sudoRefused ? { sudoRefused: run.sudoRefused } : {}),
      target: { host: spec.host, port: spec.port, user: spec.user },
      ...run.extra,
      attempt: run.attempt,
      startedAt: run.startedAt.toISOString(),
      onTargetMs: run.onTargetMs,
      exit: run.exit,
      entries: c.entries,
      skipped: c.skips,
      failed: run.failed,
      // Commands the controller ended: past their deadline, or past their entry's cap.
      killed: run.killed,
      bytesReceived: c.bytesReceived,
      hostCapReached: c.hostCapReached,
      noise: c.noise,
      stderr: run.stderr,
    },
    null,
    2,
  ) + '\n';
}
