// The command: read and check everything first (exit 1 on any problem, before
// a single connection), then sweep, then report. Standard output carries only
// results (archive paths, or JSON with --json); diagnostics go to standard error.
import { CommanderError } from 'commander';
import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { credentialError, type ScanError } from '../errors.js';
import { sweepStaleTemporaries } from '../archive/archive-writer.js';
import { FILE_REASON, HostsError, HostsFileError, hostKey, parseHostArg, parseShard, readHostsFile, selectShard, writeRetryFile } from '../hosts/index.js';
import { darwinProbes, linuxProbes } from '../../targets/index.js';
import { scanHost, type ScanSettings } from '../scan/scan-host.js';
import { autoParallelism } from '../sweep/parallelism.js';
import { createProgress, summaryLine } from '../sweep/progress.js';
import { createLog, startLine } from '../sweep/log.js';
import { carriedRow, okRowsOf, reportRow, resumeKey, scannedAt, writeReportRows, type ReportRow, type RunInfo } from '../sweep/report.js';
import { sweep } from '../sweep/sweep.js';
import { localTransport } from '../transport/local.js';
import { displayTarget, ssh2Transport } from '../transport/ssh2-transport.js';
import type { HostOutcome, HostSpec } from '../types.js';
import { buildCommand, readOptions, type CliOptions } from './options.js';
import { checkDestination, checkIdentities, checkKnownHosts, checkOutFolder, checkReportName, identityProblem, PreflightError, readPassphraseFile } from './preflight.js';
import { err, errSync, guardStdio, out } from './stdio.js';
import { runSubcommand } from './subcommands.js';
import { checkSummaryOptions, writeRunSummary } from './summary-command.js';
import { version } from '../version.js';

export const EXIT = { ok: 0, usage: 1, failed: 2, interrupted: 130 } as const;

class UsageError extends Error {}

export async function main(argv: string[]): Promise<number> {
  guardStdio();
  const sub = await runSubcommand(argv.slice(2));
  if (sub !== undefined) return sub;
  const cmd = buildCommand().exitOverride().configureOutput({ writeOut: out, writeErr: err });
  try {
    cmd.parse(argv);
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : EXIT.usage;
    throw e;
  }
  const opts = readOptions(cmd);
  let plan: Plan;
  try {
    plan = await prepare(opts);
  } catch (e) {
    if (e instanceof UsageError || e instanceof PreflightError || e instanceof HostsError || e instanceof HostsFileError) {
      err(`octoscan-remote: ${e.message}\n`);
      return EXIT.usage;
    }
    throw e;
  }
  return run(opts, plan);
}

interface Plan {
  /** The hosts to scan now. */
  hosts: HostSpec[];
  /** The whole list (after --shard), in order: the report describes all of it. */
  all: HostSpec[];
  /** Hosts --resume skips, with the earlier row the report carries over. */
  carried: Map<HostSpec, ReportRow>;
  columns: string[];
  /** Things to say at the start (after the start line). */
  notes: string[];
  passphrase?: string;
  /** Hosts that cannot be tried (a bad key of their own): they fail without connecting. */
  rejected: Map<HostSpec, ScanError>;
}

/**
 * The key passphrase, from a file only its owner can read, or the environment.
 * Never from an argument: arguments are visible to every user in ps.
 */
async function readPassphrase(opts: CliOptions): Promise<string | undefined> {
  const fromEnv = process.env.OCTOSCAN_SSH_PASSPHRASE || undefined;
  // Gone from our environment, so no child (the --local shell, its probes) can inherit it.
  delete process.env.OCTOSCAN_SSH_PASSPHRASE;
  if (opts.passphraseFile) return readPassphraseFile(opts.passphraseFile);
  return fromEnv;
}

async function prepare(opts: CliOptions): Promise<Plan> {
  opts.out = await checkOutFolder(opts.out);
  if (opts.report) {
    checkReportName(opts.report);
    await checkDestination('--report', opts.report);
  }
  if (opts.retryFile) await checkDestination('--retry-file', opts.retryFile);
  if (opts.summary) await checkDestination('--summary', opts.summary);
  const summaryProblem = await checkSummaryOptions(opts);
  if (summaryProblem) throw new UsageError(summaryProblem);

  if (opts.resumeMaxAge !== undefined && !opts.resume) throw new UsageError('--resume-max-age needs --resume REPORT');
  const notes: string[] = [];
  const defaults = { port: opts.port, user: opts.user, identities: opts.identity };
  let hosts: HostSpec[] = [];
  let columns: string[] = ['host', 'port', 'user'];
  if (opts.local) {
    if (opts.targets.length || opts.hosts) throw new UsageError('--local scans this machine; it takes no hosts');
    hosts = [{ host: 'localhost', port: 0, user: opts.user, identities: [], tag: '', origin: { file: '<local>', line: 0 } }];
  } else {
    let emptyFile = false;
    if (opts.hosts) {
      try {
        const r = await readHostsFile(opts.hosts, defaults);
        hosts = r.hosts;
        columns = r.columns;
      } catch (e) {
        // A retry file after a clean night has a header and no rows: nothing to do is a success.
        if (!(e instanceof HostsFileError && e.total === 1 && e.errors[0]?.reason === FILE_REASON.headerOnly)) throw e;
        emptyFile = true;
        notes.push(`--hosts ${opts.hosts}: a header row and no host rows: nothing to scan`);
      }
    }
    for (const t of opts.targets) hosts.push(parseHostArg(t, defaults));
    if (hosts.length === 0 && !emptyFile) throw new UsageError('no hosts: give [user@]host[:port] arguments, --hosts FILE, or --local');
    // The same host from the file and the command line is scanned once.
    const seen = new Set<string>();
    hosts = hosts.filter((h) => {
      const k = hostKey(h);
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
  }
  if (opts.shard) hosts = selectShard(hosts, parseShard(opts.shard));
  const all = hosts;
  const carried = new Map<HostSpec, ReportRow>();
  if (opts.resume) {
    const done = await okRowsOf(opts.resume).catch((err: Error) => {
      throw new UsageError(`--resume ${opts.resume}: ${err.message}`);
    });
    const oldest = opts.resumeMaxAge === undefined ? undefined : Date.now() - opts.resumeMaxAge * 3600_000;
    let stale = 0;
    for (const h of hosts) {
      const row = done.get(resumeKey(h));
      if (!row) continue;
      const at = scannedAt(row);
      if (oldest !== undefined && (at === undefined || at.getTime() < oldest)) stale++;
      else carried.set(h, carriedRow(row));
    }
    hosts = hosts.filter((h) => !carried.has(h));
    if (carried.size) notes.push(`--resume: ${carried.size} host(s) already ok in ${opts.resume}, skipped; their rows are carried into the report`);
    if (stale) notes.push(`--resume: ${stale} ok host(s) scanned more than ${opts.resumeMaxAge} h ago (or undated) are scanned again`);
  }
  const passphrase = await readPassphrase(opts);
  let rejected = new Map<HostSpec, ScanError>();
  if (!opts.local) {
    await checkIdentities(opts.identity, passphrase);
    // Without -i, ssh tries the usual key files; so do we. Like ssh, one that
    // cannot be used (readable by others, encrypted with no passphrase) is left
    // out with a note: it was not asked for by name.
    const fallback: string[] = [];
    for (const file of defaultIdentities()) {
      const problem = await identityProblem(file, passphrase);
      if (problem) notes.push(`${file}: ${problem}; not used`);
      else fallback.push(file);
    }
    for (const h of all) if (h.identities.length === 0) h.identities = fallback;
    await checkKnownHosts(opts.knownHosts, opts.hostKeyPolicy);
    rejected = await rowIdentityProblems(hosts, passphrase);
  }
  return { hosts, all, carried, columns, notes, passphrase, rejected };
}

/** Keys named by a hosts file's `identity` column concern their rows only: those hosts fail, before connecting. */
async function rowIdentityProblems(hosts: HostSpec[], passphrase: string | undefined): Promise<Map<HostSpec, ScanError>> {
  const problems = new Map<string, Promise<string | undefined>>();
  const rejected = new Map<HostSpec, ScanError>();
  for (const h of hosts) {
    const file = h.row?.['identity'];
    if (!file) continue;
    if (!problems.has(file)) problems.set(file, identityProblem(file, passphrase));
    const problem = await problems.get(file);
    if (problem) rejected.set(h, credentialError(displayTarget(h), `identity ${file} (${h.origin.file}:${h.origin.line})`, problem));
  }
  return rejected;
}

function defaultIdentities(): string[] {
  return ['id_ed25519', 'id_ecdsa', 'id_rsa'].map((n) => join(homedir(), '.ssh', n)).filter((p) => existsSync(p));
}

async function run(opts: CliOptions, plan: Plan): Promise<number> {
  const started = Date.now();
  const runInfo: RunInfo = { runId: randomUUID(), version: version() };
  const parallel = opts.parallel ?? autoParallelism(plan.hosts.length);
  const terminal = Boolean(process.stderr.isTTY);
  const log = createLog({ tty: terminal, quiet: opts.quiet, verbose: opts.verbose, write: err });
  log.info(startLine({ ...runInfo, hosts: plan.hosts.length, skipped: plan.carried.size, parallel, shard: opts.shard, out: opts.out }));
  for (const n of plan.notes) log.info(n);
  const removed = await sweepStaleTemporaries(opts.out);
  // The bar is for a person watching; -q asks for failures only.
  const tty = terminal && opts.progress !== false && !opts.quiet;
  const progress = createProgress(plan.hosts.length, { tty, write: log.write, quiet: opts.quiet });
  const info = (m: string): void => {
    if (!log.quiet) progress.log(m);
  };
  if (removed.length) info(`removed ${removed.length} temporary file(s) left by an interrupted run in ${opts.out}`);

  // First signal: stop starting hosts, abort those in flight, then report.
  // Second signal: leave at once (temporaries are swept at the next start).
  const interrupt = new AbortController();
  // Every host in flight (and every retry back-off) listens on this one
  // signal; past 10 Node prints a MaxListenersExceededWarning into stderr.
  setMaxListeners(0, interrupt.signal);
  let signals = 0;
  let sweeping = true;
  const onSignal = (sig: NodeJS.Signals): void => {
    signals++;
    if (signals > 1) {
      // Synchronous: process.exit() drops whatever is still queued for a slow stderr pipe.
      errSync(`\noctoscan-remote: ${sig} again, exiting now\n`);
      process.exit(EXIT.interrupted);
    }
    const message = `octoscan-remote: ${sig}: stopping; in-flight hosts are aborted, nothing half-written is kept`;
    // Once the bar is stopped, progress.log would start it again.
    if (sweeping) progress.log(message);
    else log.always(message);
    interrupt.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const settings: ScanSettings = {
    outDir: opts.out,
    transport: opts.local ? localTransport : ssh2Transport,
    connect: {
      connectTimeoutMs: opts.connectTimeout * 1000,
      authTimeoutMs: opts.authTimeout * 1000,
      keepaliveIntervalMs: opts.keepalive * 1000,
      keepaliveCountMax: 3,
      knownHostsFiles: [opts.knownHosts],
      knownHostsWriteFile: opts.knownHosts,
      hostKeyPolicy: opts.hostKeyPolicy,
      agent: process.env.SSH_AUTH_SOCK || undefined,
      passphrase: plan.passphrase,
    },
    hostTimeoutMs: opts.hostTimeout * 1000,
    sections: { linux: linuxProbes, darwin: darwinProbes },
    javaDirs: opts.javaDir,
    hostCap: opts.maxHostBytes,
    warn: (m) => progress.log(m),
    trace: log.verbose ? (m) => progress.log(m) : undefined,
    signal: interrupt.signal,
  };
  const emit = (o: HostOutcome): void => {
    if (opts.json) out(`${JSON.stringify(reportRow(o, runInfo))}\n`);
    else if (o.archive) out(`${o.archive}\n`);
  };
  let outcomes: HostOutcome[];
  try {
    outcomes = await sweep(plan.hosts, settings, {
      parallel,
      retries: opts.retries,
      retryDelayMs: 1000,
      rejected: plan.rejected,
      onStart: () => progress.started(),
      onResult: (o) => {
        progress.finished(o);
        emit(o);
      },
    });
  } catch (err) {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    throw err;
  } finally {
    sweeping = false;
    progress.stop();
  }
  // The handlers stay until the report is written: without them a signal now
  // would kill the process outright, with no report and no exit code 130.
  try {
    if (opts.report) await writeReportRows(opts.report, wholeList(plan, outcomes, runInfo));
    if (opts.summary) await writeRunSummary(opts.summary, outcomes, opts.compare, opts.report);
    const failed = outcomes.filter((o) => o.class !== 'ok');
    if (opts.retryFile) await writeRetryFile(opts.retryFile, plan.columns, failed.map((o) => o.spec));
    if (plan.hosts.length > 1 || failed.length || !tty) log.always(summaryLine(outcomes, Date.now() - started, plan.carried.size));
    if (interrupt.signal.aborted) return EXIT.interrupted;
    return failed.length ? EXIT.failed : EXIT.ok;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** The report's rows: every host of the list in order, each scanned now or carried over from --resume. */
function wholeList(plan: Plan, outcomes: HostOutcome[], run: RunInfo): ReportRow[] {
  const now = new Map(outcomes.map((o) => [o.spec, o]));
  const rows: ReportRow[] = [];
  for (const h of plan.all) {
    const o = now.get(h);
    if (o) rows.push(reportRow(o, run));
    else {
      const c = plan.carried.get(h);
      if (c) rows.push(c);
    }
  }
  return rows;
}

export { scanHost };
