// The command: read and check everything first (exit 1 on any problem, before
// a single connection), then sweep, then report. Standard output carries only
// results (archive paths, or JSON with --json); diagnostics go to standard error.
import { CommanderError } from 'commander';
import { setMaxListeners } from 'node:events';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { credentialError, type ScanError } from '../errors.js';
import { sweepStaleTemporaries } from '../archive/archive-writer.js';
import { HostsError, HostsFileError, hostKey, parseHostArg, parseShard, readHostsFile, selectShard, writeRetryFile } from '../hosts/index.js';
import { darwinProbes, linuxProbes } from '../../targets/index.js';
import { scanHost, type ScanSettings } from '../scan/scan-host.js';
import { autoParallelism } from '../sweep/parallelism.js';
import { createProgress, summaryLine } from '../sweep/progress.js';
import { okHostsOf, reportRow, resumeKey, writeReport } from '../sweep/report.js';
import { sweep } from '../sweep/sweep.js';
import { localTransport } from '../transport/local.js';
import { displayTarget, ssh2Transport } from '../transport/ssh2-transport.js';
import type { HostOutcome, HostSpec } from '../types.js';
import { buildCommand, readOptions, type CliOptions } from './options.js';
import { checkDestination, checkIdentities, checkKnownHosts, checkOutFolder, checkReportName, identityProblem, PreflightError, readPassphraseFile } from './preflight.js';
import { err, errSync, guardStdio, out } from './stdio.js';
import { runSubcommand } from './subcommands.js';
import { checkSummaryOptions, writeRunSummary } from './summary-command.js';

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
  hosts: HostSpec[];
  columns: string[];
  skipped: number;
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

  const defaults = { port: opts.port, user: opts.user, identities: opts.identity };
  let hosts: HostSpec[] = [];
  let columns: string[] = ['host', 'port', 'user'];
  if (opts.local) {
    if (opts.targets.length || opts.hosts) throw new UsageError('--local scans this machine; it takes no hosts');
    hosts = [{ host: 'localhost', port: 0, user: opts.user, identities: [], tag: '', origin: { file: '<local>', line: 0 } }];
  } else {
    if (opts.hosts) {
      const r = await readHostsFile(opts.hosts, defaults);
      hosts = r.hosts;
      columns = r.columns;
    }
    for (const t of opts.targets) hosts.push(parseHostArg(t, defaults));
    if (hosts.length === 0) throw new UsageError('no hosts: give [user@]host[:port] arguments, --hosts FILE, or --local');
    // The same host from the file and the command line is scanned once.
    const seen = new Set<string>();
    hosts = hosts.filter((h) => {
      const k = hostKey(h);
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
    // Without -i, ssh tries the usual key files; so do we.
    const fallback = defaultIdentities();
    for (const h of hosts) if (h.identities.length === 0) h.identities = fallback;
  }
  if (opts.shard) hosts = selectShard(hosts, parseShard(opts.shard));
  let skipped = 0;
  if (opts.resume) {
    const done = await okHostsOf(opts.resume).catch((err: Error) => {
      throw new UsageError(`--resume ${opts.resume}: ${err.message}`);
    });
    const before = hosts.length;
    hosts = hosts.filter((h) => !done.has(resumeKey(h)));
    skipped = before - hosts.length;
  }
  const passphrase = await readPassphrase(opts);
  let rejected = new Map<HostSpec, ScanError>();
  if (!opts.local) {
    await checkIdentities(opts.identity, passphrase);
    await checkKnownHosts(opts.knownHosts, opts.hostKeyPolicy);
    rejected = await rowIdentityProblems(hosts, passphrase);
  }
  return { hosts, columns, skipped, passphrase, rejected };
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
  const removed = await sweepStaleTemporaries(opts.out);
  const tty = Boolean(process.stderr.isTTY) && opts.progress !== false;
  const progress = createProgress(plan.hosts.length, { tty, write: err });
  if (removed.length) progress.log(`removed ${removed.length} temporary file(s) left by an interrupted run in ${opts.out}`);
  if (plan.skipped) progress.log(`--resume: ${plan.skipped} host(s) already ok, skipped`);

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
    else err(`${message}\n`);
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
    signal: interrupt.signal,
  };
  const emit = (o: HostOutcome): void => {
    if (opts.json) out(`${JSON.stringify(reportRow(o))}\n`);
    else if (o.archive) out(`${o.archive}\n`);
  };
  let outcomes: HostOutcome[];
  try {
    outcomes = await sweep(plan.hosts, settings, {
      parallel: opts.parallel ?? autoParallelism(plan.hosts.length),
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
    if (opts.report) await writeReport(opts.report, outcomes);
    if (opts.summary) await writeRunSummary(opts.summary, outcomes, opts.compare, opts.report);
    const failed = outcomes.filter((o) => o.class !== 'ok');
    if (opts.retryFile) await writeRetryFile(opts.retryFile, plan.columns, failed.map((o) => o.spec));
    if (plan.hosts.length > 1 || failed.length || !tty) err(`${summaryLine(outcomes, Date.now() - started)}\n`);
    if (interrupt.signal.aborted) return EXIT.interrupted;
    return failed.length ? EXIT.failed : EXIT.ok;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

export { scanHost };
