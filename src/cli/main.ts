// The command: read and check everything first (exit 1 on any problem, before
// a single connection), then sweep, then report. Standard output carries only
// results (archive paths, or JSON with --json); diagnostics go to standard error.
import { CommanderError } from 'commander';
import { setMaxListeners } from 'node:events';
import { constants } from 'node:fs';
import { access, readFile, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { sweepStaleTemporaries } from '../archive/archive-writer.js';
import { HostsError, HostsFileError, hostKey, parseHostArg, parseShard, readHostsFile, selectShard, writeRetryFile } from '../hosts/index.js';
import { darwinProbes, linuxProbes } from '../../targets/index.js';
import { scanHost, type ScanSettings } from '../scan/scan-host.js';
import { autoParallelism } from '../sweep/parallelism.js';
import { createProgress, summaryLine } from '../sweep/progress.js';
import { okHostsOf, reportRow, resumeKey, writeReport } from '../sweep/report.js';
import { sweep } from '../sweep/sweep.js';
import { CONTAINER_DEFAULTS } from '../containers/scan-containers.js';
import { localTransport } from '../transport/local.js';
import { ssh2Transport } from '../transport/ssh2-transport.js';
import { opensshTransport } from '../transport/openssh.js';
import type { HostOutcome, HostSpec } from '../types.js';
import { buildCommand, readOptions, type CliOptions } from './options.js';
import { err, errSync, guardStdio, out } from './stdio.js';
import { runSubcommand } from './subcommands.js';
import { readSecret, SecretError } from './secrets.js';
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
    if (e instanceof UsageError || e instanceof HostsError || e instanceof HostsFileError) {
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
  password?: string;
  sudoPassword?: string;
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
    return { passphrase, password, sudoPassword };
  } catch (e) {
    if (e instanceof SecretError) throw new UsageError(e.message);
    throw e;
  }
}

async function prepare(opts: CliOptions): Promise<Plan> {
  const out = resolve(opts.out);
  const st = await stat(out).catch(() => undefined);
  if (!st?.isDirectory()) throw new UsageError(`--out ${opts.out}: not a folder`);
  await access(out, constants.W_OK).catch(() => {
    throw new UsageError(`--out ${opts.out}: folder is not writable`);
  });
  opts.out = out;
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
  applyConfigDefaults(hosts, opts);
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
  return { hosts, columns, skipped, ...(await readSecrets(opts)) };
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

/** no-shell is a fact about the container, not a failure: nothing there can run the script. */
function failedRow(o: HostOutcome): boolean {
  return o.class !== 'ok' && !(o.container && o.class === 'no-shell');
}

function containerLine(c: HostOutcome): string {
  const what = c.container?.id ? `${c.container.engine} ${c.container.id.slice(0, 12)} ${c.container.name} (${c.container.image})` : `${c.container?.engine ?? 'containers'}`;
  return c.class === 'ok'
    ? `  container ok ${what} ${(c.durationMs / 1000).toFixed(1)}s ${c.warnings} warnings ${c.archive}`
    : `  container ${c.class === 'no-shell' ? 'NO SHELL' : `FAILED ${c.class}`} ${what}: ${c.message}`;
}

function containerSummary(rows: HostOutcome[]): string {
  const by = new Map<string, number>();
  for (const r of rows) by.set(r.class, (by.get(r.class) ?? 0) + 1);
  const ms = rows.filter((r) => r.class === 'ok').map((r) => r.durationMs);
  const avg = ms.length ? ` (${(ms.reduce((a, b) => a + b, 0) / ms.length / 1000).toFixed(1)} s each on average)` : '';
  return `${rows.length} container row${rows.length === 1 ? '' : 's'}: ${[...by].map(([c, n]) => `${c} ${n}`).join(', ')}${avg}`;
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
    transport: opts.local ? localTransport : opts.transport === 'openssh' ? opensshTransport : ssh2Transport,
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
      password: plan.password,
    },
    sudo: opts.sudo,
    sudoPassword: plan.sudoPassword,
    containers: {
      enabled: opts.containers,
      parallel: opts.containerParallel,
      timeoutMs: opts.containerTimeout * 1000,
      listTimeoutMs: CONTAINER_DEFAULTS.listTimeoutSeconds * 1000,
    },
    hostTimeoutMs: opts.hostTimeout * 1000,
    sections: { linux: linuxProbes, darwin: darwinProbes },
    javaDirs: opts.javaDir,
    hostCap: opts.maxHostBytes,
    warn: (m) => progress.log(m),
    signal: interrupt.signal,
  };
  const emit = (o: HostOutcome): void => {
    for (const r of rowsOf([o])) {
      if (opts.json) out(`${JSON.stringify(reportRow(r))}\n`);
      else if (r.archive) out(`${r.archive}\n`);
    }
  };
  let outcomes: HostOutcome[];
  try {
    outcomes = await sweep(plan.hosts, settings, {
      parallel: opts.parallel ?? autoParallelism(plan.hosts.length),
      retries: opts.retries,
      retryDelayMs: 1000,
      onStart: () => progress.started(),
      onResult: (o) => {
        progress.finished(o);
        for (const c of o.containers ?? []) progress.log(containerLine(c));
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
    if (opts.report) await writeReport(opts.report, rowsOf(outcomes));
    if (opts.summary) await writeRunSummary(opts.summary, outcomes, opts.compare, opts.report);
    // A host is retried when it or one of its containers failed (the retry re-scans both).
    const failed = outcomes.filter((o) => rowsOf([o]).some(failedRow));
    if (opts.retryFile) await writeRetryFile(opts.retryFile, plan.columns, failed.map((o) => o.spec));
    if (plan.hosts.length > 1 || failed.length || !tty) err(`${summaryLine(outcomes, Date.now() - started)}\n`);
    const containerRows = outcomes.flatMap((o) => o.containers ?? []);
    if (containerRows.length) err(`${containerSummary(containerRows)}\n`);
    if (interrupt.signal.aborted) return EXIT.interrupted;
    return failed.length ? EXIT.failed : EXIT.ok;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

export { scanHost };
