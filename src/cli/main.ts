// The command: read and check everything first (exit 1 on any problem, before
// a single connection), then sweep, then report. Standard output carries only
// results (archive paths, or JSON with --json); diagnostics go to standard error.
import { CommanderError } from 'commander';
import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { existsSync } from 'node:fs';
import { statfs } from 'node:fs/promises';
import { resolve as resolvePath } from 'node:path';
import { credentialError, type ScanError } from '../errors.js';
import { preloadArchiver, sweepStaleTemporaries } from '../archive/archive-writer.js';
import { HostsError, HostsFileError, parseShard, selectShard, writeRetryFile } from '../hosts/index.js';
import { hostName } from '../hosts/host-name.js';
import { resolveHost } from '../hosts/resolve.js';
import { SshConfigError } from '../hosts/ssh-config.js';
import { darwinProbes, linuxProbes } from '../../targets/index.js';
import { scanHost, type ScanSettings } from '../scan/scan-host.js';
import { autoParallelism, reachableAtOnce } from '../sweep/parallelism.js';
import { createProgress, hostFailed, summaryLine } from '../sweep/progress.js';
import { createLog, startLine } from '../sweep/log.js';
import { carriedRow, columnsForLabels, doneHostsOf, failedClass, REPORT_COLUMNS, reportRow, resumeKey, scannedAt, withLabels, type ReportRow, type RunInfo } from '../sweep/report.js';
import { ReportLog } from '../sweep/report-log.js';
import { datedReportName, previousReport } from '../sweep/report-history.js';
import { sweep } from '../sweep/sweep.js';
import { CONTAINER_DEFAULTS } from '../containers/scan-containers.js';
import { localTransport } from '../transport/local.js';
import { closeBastions, displayTarget, forgetKnownHosts } from '../transport/ssh2-transport.js';
import { perHostTransport } from '../transport/per-host.js';
import { sshPathProblem } from '../transport/openssh.js';
import { escapeControls } from '../text/peer-text.js';
import { registerSecret } from '../text/secret-scrub.js';
import type { HostOutcome, HostSpec } from '../types.js';
import { version } from '../version.js';
import { defaultIdentities, HostListError, InventoryError, readHostList, resolveContextOf, typedOptions, UsageError } from './host-list.js';
import { buildCommand, readOptions, type CliOptions } from './options.js';
import { localAccount } from './local-account.js';
import { checkDestination, checkIdentities, checkKnownHosts, checkOutFolder, checkReportName, identityProblem, PreflightError } from './preflight.js';
import { err, errSync, guardStdio, out } from './stdio.js';
import { runSubcommand } from './subcommands.js';
import { readSecret, SecretError } from './secrets.js';
import { checkSummaryOptions, writeRunSummary } from './summary-command.js';
import { AUTH_ENV, CollectorConfigError, collectorConfig, type CollectorConfig } from '../upload/collector-config.js';
import { uploadOnlyOptionsGiven } from '../upload/upload-options.js';
import { startUploadRun, uploadSummaryLine, type UploadRun } from '../upload/upload-run.js';

export const EXIT = { ok: 0, usage: 1, failed: 2, waiting: 3, controller: 4, interrupted: 130 } as const;

/** A typical archive, for the start-up check of --out's free space. */
const TYPICAL_ARCHIVE_BYTES = 1 << 20;

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
    plan = await prepare(opts, typedOptions(cmd));
  } catch (e) {
    if (
      e instanceof UsageError || e instanceof PreflightError || e instanceof HostsError || e instanceof HostsFileError ||
      e instanceof SshConfigError || e instanceof CollectorConfigError || e instanceof HostListError || e instanceof InventoryError
    ) {
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
  /** Hosts --resume skips: their rows (the host's, then its containers'), carried into the report. */
  carried: Map<HostSpec, ReportRow[]>;
  columns: string[];
  /** Things to say at the start (after the start line). */
  notes: string[];
  passphrase?: string;
  password?: string;
  sudoPassword?: string;
  collector?: CollectorConfig;
  /** Hosts that cannot be tried (a bad key of their own): they fail without connecting. */
  rejected: Map<HostSpec, ScanError>;
  /** The run's start (names the report in --report-dir). */
  startedAt: Date;
  /** --compare named no report yet (a first night): the page says so. */
  compareMissing?: string;
}

/** The run's secrets, each read once: files, environment or one prompt, never arguments. */
async function readSecrets(opts: CliOptions): Promise<Pick<Plan, 'passphrase' | 'password' | 'sudoPassword'>> {
  try {
    const passphrase = await readSecret({ fileOption: '--passphrase-file', file: opts.passphraseFile, env: 'OCTOSCAN_SSH_PASSPHRASE' });
    const password = await readSecret({
      fileOption: '--password-file', file: opts.passwordFile, env: 'OCTOSCAN_SSH_PASSWORD', askOption: '--ask-pass', ask: opts.askPass, prompt: 'octoscan-remote: SSH login password: ',
    });
    const sudoPassword = await readSecret({
      fileOption: '--sudo-password-file', file: opts.sudoPasswordFile, env: 'OCTOSCAN_SUDO_PASSWORD', askOption: '--ask-sudo-pass', ask: opts.askSudoPass, prompt: 'octoscan-remote: sudo password: ',
    });
    if (password !== undefined && opts.transport === 'openssh') {
      throw new UsageError('--transport openssh does not do password authentication (a password must never reach ssh\'s arguments); use keys, the agent or Kerberos, or --transport ssh2');
    }
    // Whatever a target sends back is scrubbed of these before anything is written (secret-scrub.ts).
    registerSecret(password);
    registerSecret(sudoPassword);
    return { passphrase, password, sudoPassword };
  } catch (e) {
    if (e instanceof SecretError) throw new UsageError(e.message);
    throw e;
  }
}

async function prepare(opts: CliOptions, typed: Set<string>): Promise<Plan> {
  opts.out = await checkOutFolder(opts.out);
  const notes: string[] = [];
  const startedAt = new Date();
  let compareMissing: string | undefined;
  if (opts.reportDir) {
    if (opts.report) throw new UsageError('--report and --report-dir exclude each other: --report-dir names each run\'s report itself');
    const shard = opts.shard ? parseShard(opts.shard) : undefined;
    opts.report = datedReportName(opts.reportDir, startedAt, opts.reportFormat, shard);
    await checkDestination('--report-dir', opts.report);
    if (opts.compare === 'previous') {
      opts.compare = await previousReport(opts.reportDir, startedAt, shard);
      if (!opts.compare) compareMissing = `--compare previous: no earlier report in ${opts.reportDir} (a first night): nothing to compare with`;
    }
  } else if (opts.compare === 'previous') {
    throw new UsageError('--compare previous needs --report-dir DIR (it takes the newest earlier report there)');
  }
  if (opts.compare && !existsSync(opts.compare)) {
    compareMissing = `--compare ${opts.compare}: does not exist yet (a first night?): nothing to compare with`;
    opts.compare = undefined;
  }
  // Said once at the start (also with -q) and on the page; the scan goes on.
  if (compareMissing && !opts.summary) throw new UsageError('--compare needs --summary FILE.html');
  if (opts.report) {
    checkReportName(opts.report);
    await checkDestination('--report', opts.report);
  }
  if (opts.retryFile) await checkDestination('--retry-file', opts.retryFile);
  if (opts.summary) await checkDestination('--summary', opts.summary);
  const summaryProblem = await checkSummaryOptions(opts);
  if (summaryProblem) throw new UsageError(summaryProblem);
  if (opts.resumeMaxAge !== undefined && !opts.resume) throw new UsageError('--resume-max-age needs --resume REPORT');
  const strayUploadOptions = uploadOnlyOptionsGiven(opts);
  if (!opts.upload && strayUploadOptions.length) throw new UsageError(`${strayUploadOptions.join(', ')}: only with --upload URL`);
  const me = localAccount();
  // ssh exits with "No user exists for uid N" on every host: say so once, before a sweep of failures.
  if (!opts.local && opts.transport === 'openssh' && !me.known) {
    throw new UsageError(
      `--transport openssh: the system ssh refuses to run as uid ${me.uid}, which has no passwd entry; ` +
        'run as a user this system knows (in the container image: its own user, uid 10001) or use --transport ssh2',
    );
  }

  const { hosts: listed, columns, notes: listNotes } = await readHostList(opts, typed, REPORT_COLUMNS);
  for (const n of listNotes) notes.push(n);
  let hosts = listed;
  const secrets = await readSecrets(opts);
  const collector = opts.upload ? await collectorConfig({ url: opts.upload, ca: opts.ca, insecure: opts.insecure, authFile: opts.uploadAuthFile }) : undefined;
  // Unused without --upload, but still a secret no child (the --local shell) may inherit.
  delete process.env[AUTH_ENV];
  let rejected = new Map<HostSpec, ScanError>();
  if (!opts.local) {
    await checkIdentities(opts.identity, secrets.passphrase);
    // Without -i or IdentityFile, ssh tries the usual key files; so do we. Like
    // ssh, one that cannot be used (readable by others, encrypted with no
    // passphrase) is left out with a note: it was not asked for by name.
    const fallback: string[] = [];
    for (const file of defaultIdentities(me.home)) {
      const problem = await identityProblem(file, secrets.passphrase);
      if (problem) notes.push(`${file}: ${problem}; not used`);
      else fallback.push(file);
    }
    const ctx = resolveContextOf(opts, typed, fallback);
    hosts = hosts.map((h) => resolveHost(h, ctx));
    checkSshPaths(hosts.filter((h) => (h.transport ?? opts.transport) === 'openssh'));
    await checkKnownHostsOf(hosts, opts);
    rejected = await rowIdentityProblems(hosts, secrets.passphrase);
  }
  applyConfigDefaults(hosts, opts);
  if (opts.shard) hosts = selectShard(hosts, parseShard(opts.shard));
  const all = hosts;
  const carried = new Map<HostSpec, ReportRow[]>();
  // `--resume R --report R` every night: on the first night R does not exist yet,
  // and that is no mistake (a missing R that is not also the report still is).
  const firstNight = opts.resume !== undefined && opts.report !== undefined && !existsSync(opts.resume) && resolvePath(opts.resume) === resolvePath(opts.report);
  if (firstNight) notes.push(`--resume: ${opts.resume} does not exist yet (a first run): every host is scanned`);
  if (opts.resume && !firstNight) {
    const done = await doneHostsOf(opts.resume).catch((e: Error) => {
      throw new UsageError(`--resume ${opts.resume}: ${e.message}`);
    });
    const oldest = opts.resumeMaxAge === undefined ? undefined : Date.now() - opts.resumeMaxAge * 3600_000;
    let stale = 0;
    for (const h of hosts) {
      // Reports name hosts as hostName() does; those of earlier versions gave the address.
      const d = done.get(resumeKey({ ...h, host: hostName(h) })) ?? done.get(resumeKey(h));
      if (!d) continue;
      const at = scannedAt(d.row);
      if (oldest !== undefined && (at === undefined || at.getTime() < oldest)) stale++;
      else carried.set(h, [d.row, ...d.containers].map(carriedRow));
    }
    hosts = hosts.filter((h) => !carried.has(h));
    if (carried.size) notes.push(`--resume: ${carried.size} host(s) already ok in ${opts.resume}, skipped; their rows are carried into the report`);
    if (stale) notes.push(`--resume: ${stale} ok host(s) scanned more than ${opts.resumeMaxAge} h ago (or undated) are scanned again`);
  }
  return { hosts, all, carried, columns, notes, ...secrets, collector, rejected, startedAt, compareMissing };
}

/**
 * The known_hosts files the hosts will use, each checked once as its policy
 * needs it: --known-hosts, or what ssh_config gave a host (UserKnownHostsFile,
 * StrictHostKeyChecking). Of a list, ssh reads every file that exists; strict
 * needs one of them, accept-new needs to write the first.
 */
async function checkKnownHostsOf(hosts: HostSpec[], opts: CliOptions): Promise<void> {
  const seen = new Set<string>();
  for (const h of hosts) {
    const files = h.knownHostsFiles ?? [opts.knownHosts];
    const policy = h.hostKeyPolicy ?? opts.hostKeyPolicy;
    const writeFile = h.knownHostsWriteFile ?? files[0];
    const key = `${policy}\0${writeFile}\0${files.join('\0')}`;
    if (seen.has(key)) continue;
    seen.add(key);
    if (policy === 'accept-new') await checkKnownHosts(writeFile, policy);
    else await checkKnownHosts(files.find((f) => existsSync(f)) ?? files[0], policy);
  }
}

/** --transport openssh: every typed key file must reach ssh as written (sshPathProblem). */
function checkSshPaths(hosts: HostSpec[]): void {
  for (const h of hosts) {
    for (const file of h.typed?.identities ?? []) {
      const problem = sshPathProblem(file);
      if (problem) throw new UsageError(`${h.row?.['identity'] === file ? `${h.origin.file}:${h.origin.line}: column "identity"` : '-i'}: ${problem}`);
    }
    const kh = h.typed?.knownHosts;
    const problem = kh === undefined ? undefined : sshPathProblem(kh);
    if (problem) throw new UsageError(`--known-hosts: ${problem}`);
  }
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

/** --tag, --machine, --config-host, --cluster, --virt: for every host whose row does not give its own. */
function applyConfigDefaults(hosts: HostSpec[], opts: CliOptions): void {
  const given = { machine: opts.machine, host: opts.configHost, cluster: opts.cluster, virt: opts.virt };
  for (const h of hosts) {
    if (opts.tag !== undefined && h.tag === '') h.tag = opts.tag;
    for (const [k, v] of Object.entries(given) as [keyof typeof given, string | undefined][]) {
      if (v === undefined || h.config?.[k] !== undefined) continue;
      h.config = { ...h.config, [k]: v };
    }
  }
}

/** The host's row, then one per container (and per engine that would not list). */
export function rowsOf(outcomes: HostOutcome[]): HostOutcome[] {
  return outcomes.flatMap((o) => [o, ...(o.containers ?? [])]);
}

/** The one rule (failedClass): no-shell, not-running, needs-root and skipped are facts about a container or engine, not failures. */
function failedRow(o: HostOutcome): boolean {
  return failedClass(o.class, Boolean(o.container));
}

function containerLine(c: HostOutcome): string {
  const what = c.container?.id ? `${c.container.engine} ${c.container.id.slice(0, 12)} ${c.container.name} (${c.container.image})` : `${c.container?.engine ?? 'containers'}`;
  const missing = c.completeness?.missing.length ? ` INCOMPLETE (${c.completeness.missing.join(', ')})` : '';
  return c.class === 'ok'
    ? `  container ok ${what} ${(c.durationMs / 1000).toFixed(1)}s ${c.warnings} warnings ${c.archive}${missing}`
    : `  container ${failedRow(c) ? `FAILED ${c.class}` : c.class.toUpperCase()} ${what}: ${c.message}`;
}

function containerSummary(rows: HostOutcome[]): string {
  const by = new Map<string, number>();
  for (const r of rows) by.set(r.class, (by.get(r.class) ?? 0) + 1);
  const ms = rows.filter((r) => r.class === 'ok').map((r) => r.durationMs);
  const avg = ms.length ? ` (${(ms.reduce((a, b) => a + b, 0) / ms.length / 1000).toFixed(1)} s each on average)` : '';
  const incomplete = rows.filter((r) => r.completeness?.missing.length).length;
  const failed = rows.filter(failedRow).length;
  return `${rows.length} container row${rows.length === 1 ? '' : 's'}: ${[...by].map(([c, n]) => `${c} ${n}`).join(', ')}${avg}; ${failed} failed${incomplete ? `, ${incomplete} incomplete` : ''}`;
}

async function run(opts: CliOptions, plan: Plan): Promise<number> {
  const started = plan.startedAt.getTime();
  const runInfo: RunInfo = { runId: randomUUID(), version: version() };
  const parallel = opts.parallel ?? Math.min(autoParallelism(plan.hosts.length), Math.max(1, reachableAtOnce(plan.hosts, opts.jumpChannels)));
  const terminal = Boolean(process.stderr.isTTY);
  const log = createLog({ tty: terminal, quiet: opts.quiet, verbose: opts.verbose, write: err });
  log.info(startLine({ ...runInfo, hosts: plan.hosts.length, skipped: plan.carried.size, parallel, shard: opts.shard, out: opts.out }));
  for (const n of plan.notes) log.info(n);
  if (plan.compareMissing) log.always(`octoscan-remote: ${plan.compareMissing}`);
  const low = await lowSpaceNote(opts.out, plan.hosts.length);
  if (low) log.always(`octoscan-remote: ${low}`);
  const removed = await sweepStaleTemporaries(opts.out).catch((e: Error) => {
    log.always(`octoscan-remote: --out ${opts.out}: cannot remove the temporaries of an earlier run: ${e.message}`);
    return [];
  });
  // The bar is for a person watching; -q asks for failures only.
  const tty = terminal && opts.progress !== false && !opts.quiet;
  const progress = createProgress(plan.hosts.length, { tty, write: log.write, quiet: opts.quiet });
  const info = (m: string): void => {
    if (!log.quiet) progress.log(m);
  };
  if (removed.length) info(`removed ${removed.length} temporary file(s) left by an interrupted run in ${opts.out}`);

  // Faults of the controller's own files (exit 4): each said once, as it happens.
  const faults: string[] = [];
  let outFault: string | undefined;
  const fault = (message: string): void => {
    faults.push(message);
    const line = `octoscan-remote: ${message}`;
    if (sweeping) progress.log(line);
    else log.always(line);
  };

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
    transport: opts.local ? localTransport : perHostTransport(opts.transport),
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
      jumpChannels: opts.jumpChannels,
      sshConfig: opts.config,
      password: plan.password,
    },
    sudo: opts.sudo,
    sudoPassword: plan.sudoPassword,
    containers: {
      enabled: opts.containers,
      parallel: opts.containerParallel,
      timeoutMs: opts.containerTimeout * 1000,
      listTimeoutMs: CONTAINER_DEFAULTS.listTimeoutSeconds * 1000,
      max: opts.maxContainers,
      allTimeoutMs: opts.containersTimeout * 1000,
    },
    hostTimeoutMs: opts.hostTimeout * 1000,
    sections: { linux: linuxProbes, darwin: darwinProbes },
    javaDirs: opts.javaDir,
    javaEnviron: opts.javaEnviron,
    hostCap: opts.maxHostBytes,
    warn: (m) => progress.log(m),
    trace: log.verbose ? (m) => progress.log(m) : undefined,
    signal: interrupt.signal,
  };
  let uploads: UploadRun | undefined;
  if (plan.collector) {
    if (opts.insecure) progress.log('octoscan-remote: --insecure: the collector\'s certificate is not verified; anyone on the path can take the archives');
    uploads = await startUploadRun(plan.collector, { ...opts, dir: opts.out, signal: interrupt.signal, log: (m) => (sweeping ? progress.log(m) : log.always(escapeControls(m))) });
  }
  const reportLog = opts.report ? new ReportLog(opts.report, fault, columnsForLabels(plan.all.map((h) => h.labels))) : undefined;
  // The carried rows first, in list order: a run killed now still leaves them.
  await reportLog?.begin(plan.all.flatMap((h) => plan.carried.get(h) ?? []));
  const emit = (o: HostOutcome): void => {
    for (const r of rowsOf([o])) {
      if (opts.json) out(`${JSON.stringify(reportRow(r, runInfo))}\n`);
      else if (r.archive) out(`${r.archive}\n`);
    }
  };
  // --json gives the report's rows, so the carried ones too, first. Archive paths
  // (without --json) are only this run's: a carried archive was delivered before.
  if (opts.json) for (const rows of plan.carried.values()) for (const r of rows) out(`${JSON.stringify(r)}\n`);
  let outcomes: HostOutcome[];
  // The archive writer's and reader's modules load while the first connections wait for the network.
  void preloadArchiver().catch(() => {});
  const archiveFacts = import('../sweep/archive-facts.js');
  archiveFacts.catch(() => {});
  const addArchiveFacts = async (o: HostOutcome): Promise<void> => (await archiveFacts).addArchiveFacts(o);
  try {
    outcomes = await sweep(plan.hosts, settings, {
      parallel,
      retries: opts.retries,
      retryDelayMs: 1000,
      rejected: plan.rejected,
      stopReason: () => (outFault ? `the controller could not keep what it scanned (${outFault})` : undefined),
      enrich: addArchiveFacts,
      onStart: () => progress.started(),
      onResult: (o) => {
        // With a collector, a host's line says where its archive ended up, so it waits for that.
        if (uploads) uploads.add(o, () => emit(o));
        else emit(o);
        // After add() (the row says `waiting` while the archive is in --out), before the host's line.
        reportLog?.append(rowsOf([o]).map((r) => reportRow(r, runInfo)));
        progress.finished(o);
        for (const c of o.containers ?? []) progress.log(containerLine(c));
        if (o.controllerFault && !outFault) {
          outFault = o.controllerFault;
          fault(`${outFault}; no new host is started (those left are not-scanned, in the retry file)`);
        }
      },
    });
  } catch (e) {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    throw e;
  } finally {
    sweeping = false;
    closeBastions();
    forgetKnownHosts(); // read once per run: the next run in this process reads the files again
    progress.stop();
  }
  // The handlers stay until the report is written: without them a signal now
  // would kill the process outright, with no report and no exit code 130.
  try {
    const uploaded = uploads && plan.collector ? await uploads.finish() : undefined;
    // One list for the report and the page: the hosts scanned now and those carried over.
    const listed = wholeList(plan, outcomes, runInfo);
    await reportLog?.finish(listed);
    if (opts.summary) {
      const problem = await writeRunSummary(opts.summary, listed, { compare: opts.compare, compareMissing: plan.compareMissing, report: opts.report });
      if (problem) fault(problem);
    }
    // A host is retried when it or one of its containers failed (the retry re-scans both).
    const failed = outcomes.filter(hostFailed);
    if (opts.retryFile) {
      await writeRetryFile(opts.retryFile, plan.columns, failed.map((o) => o.spec)).catch((e: Error) => fault(`--retry-file ${opts.retryFile}: ${e.message}`));
    }
    if (plan.hosts.length > 1 || failed.length || !tty) log.always(summaryLine(outcomes, Date.now() - started, plan.carried.size));
    if (uploaded && plan.collector) log.always(uploadSummaryLine(uploaded, plan.collector, opts.out));
    const containerRows = outcomes.flatMap((o) => o.containers ?? []);
    if (containerRows.length) log.always(containerSummary(containerRows));
    if (interrupt.signal.aborted) return EXIT.interrupted;
    // What was scanned and not kept is the biggest news: it wins over 2 and 3.
    if (faults.length) {
      log.always(`octoscan-remote: exit 4: the controller could not keep what it scanned (${faults.length} problem${faults.length === 1 ? '' : 's'} above)`);
      return EXIT.controller;
    }
    // Archives not delivered are the bigger news: the inventory has not got them.
    if (uploaded?.waiting) return EXIT.waiting;
    return failed.length ? opts.failedExit : EXIT.ok;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** A note when --out has less room than the hosts' archives typically need; undefined when there is enough (or it cannot tell). */
async function lowSpaceNote(out: string, hosts: number): Promise<string | undefined> {
  const st = await statfs(out).catch(() => undefined);
  if (!st || hosts === 0) return undefined;
  const free = st.bavail * st.bsize;
  const need = hosts * TYPICAL_ARCHIVE_BYTES;
  if (free >= need) return undefined;
  return `--out ${out}: ${(free / (1 << 20)).toFixed(1)} MiB free, less than ${hosts} host(s) times a typical archive (${TYPICAL_ARCHIVE_BYTES >> 20} MiB); the run stops starting hosts when it is full`;
}

/** The report's rows: every host of the list in order (each followed by its containers), scanned now or carried over from --resume. */
export function wholeList(plan: Pick<Plan, 'all' | 'carried'>, outcomes: HostOutcome[], run: RunInfo): ReportRow[] {
  const now = new Map(outcomes.map((o) => [o.spec, o]));
  const rows: ReportRow[] = [];
  for (const h of plan.all) {
    const o = now.get(h);
    // Loops, not push(...): a host may list more containers than a call takes arguments.
    if (o) for (const r of rowsOf([o])) rows.push(reportRow(r, run));
    // A carried row gets the labels the list gives the host now.
    else for (const r of plan.carried.get(h) ?? []) rows.push(withLabels(r, h.labels));
  }
  return rows;
}

export { scanHost };
