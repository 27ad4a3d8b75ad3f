// Test helper: runs the real CLI (bin/octoscan-remote.js, built dist/) in a
// sweep over hostile peers and good hosts, and measures what the issue asks
// of a sweep: exit code, report, archives, leftovers, the CLI's peak RSS and
// the time from its summary line to its exit.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'csv-parse/sync';
import { clientKeyFile, readArchive, IMPORT_PATTERN } from './fake-ssh-server.js';
import { startHostilePeers, type HostilePeer, type PeerRequest } from './hostile-peers.js';


export const CLI = fileURLToPath(new URL('../../bin/octoscan-remote.js', import.meta.url));
export const cliBuilt = existsSync(fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url)));

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** VmHWM of the CLI process, bytes (0 when /proc could not be read). */
  peakRss: number;
  /** From the summary line on stderr to the process's exit; undefined without a summary line. */
  summaryToExitMs: number | undefined;
  wallMs: number;
}

export interface RunCliOptions {
  /** Close our end of the CLI's stdout after this many lines (a `| head -N`). */
  closeStdoutAfterLines?: number;
  /** Close our end of the CLI's stderr at once. */
  closeStderr?: boolean;
  /** Kill the CLI if it has not exited after this long (a hang is then visible as signal SIGKILL). */
  killAfterMs?: number;
  env?: NodeJS.ProcessEnv;
}

// Off a terminal the line starts with its ISO timestamp.
const SUMMARY = /^(\S+Z )?\d+ hosts?: \d+ ok( \(\d+ incomplete\))?, \d+ failed/m;

/** The high-water mark of a process's resident memory, in bytes. */
function vmHwm(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

export function runCli(args: string[], o: RunCliOptions = {}): Promise<CliRun> {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: o.env ?? process.env });
    let stdout = '';
    let stderr = '';
    let lines = 0;
    let summaryAt: number | undefined;
    let peak = 0;
    const sampler = setInterval(() => {
      peak = Math.max(peak, vmHwm(child.pid!));
    }, 25);
    const killer = o.killAfterMs ? setTimeout(() => child.kill('SIGKILL'), o.killAfterMs) : undefined;
    child.stdout.on('data', (d: Buffer) => {
      stdout += d;
      lines += d.toString().split('\n').length - 1;
      if (o.closeStdoutAfterLines !== undefined && lines >= o.closeStdoutAfterLines) child.stdout.destroy();
    });
    if (o.closeStderr) child.stderr.destroy();
    child.stderr.on('data', (d: Buffer) => {
      stderr += d;
      if (summaryAt === undefined && SUMMARY.test(stderr)) summaryAt = performance.now();
    });
    child.on('exit', (code, signal) => {
      const exitAt = performance.now();
      clearInterval(sampler);
      clearTimeout(killer);
      // The last reading before exit: VmHWM only grows, so this is the peak to within one interval.
      resolve({ code, signal, stdout, stderr, peakRss: peak, summaryToExitMs: summaryAt === undefined ? undefined : exitAt - summaryAt, wallMs: exitAt - started });
    });
  });
}

export interface SweepFixture {
  dir: string;
  out: string;
  hostsFile: string;
  knownHosts: string;
  report: string;
  peers: HostilePeer[];
  close(): void;
}

/** Peers started, a hosts file listing them in order, a known_hosts file that trusts them. */
export async function sweepFixture(dir: string, requests: PeerRequest[]): Promise<SweepFixture> {
  const hp = await startHostilePeers(requests);
  const out = path.join(dir, 'out');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(out, { recursive: true });
  const hostsFile = path.join(dir, 'hosts.csv');
  writeFileSync(hostsFile, `host,port,user,tag\n${hp.peers.map((p) => `127.0.0.1,${p.port},scan,${p.label}`).join('\n')}\n`);
  const knownHosts = path.join(dir, 'known_hosts');
  writeFileSync(knownHosts, `${hp.knownHostsLines.join('\n')}\n`);
  return { dir, out, hostsFile, knownHosts, report: path.join(dir, 'report.csv'), peers: hp.peers, close: hp.close };
}

/** The CLI arguments for a sweep of the fixture, tight deadlines so stalls end soon. */
export function sweepArgs(f: SweepFixture, extra: string[] = []): string[] {
  return [
    '--hosts', f.hostsFile,
    '--out', f.out,
    '--report', f.report,
    '--known-hosts', f.knownHosts,
    '-i', clientKeyFile(),
    '--connect-timeout', '3',
    '--auth-timeout', '3',
    '--host-timeout', '8',
    '--retries', '0',
    '--no-progress',
    ...extra,
  ];
}

export interface ReportRow {
  host: string;
  port: string;
  tag: string;
  class: string;
  phase: string;
  message: string;
  archive: string;
  attempts: string;
}

export function readReport(file: string): ReportRow[] {
  return parse(readFileSync(file, 'utf8'), { columns: true }) as ReportRow[];
}

/** Files in the output folder that are not archives (temporaries, spills), and the archives, each read back whole. */
export async function outputFolder(out: string): Promise<{ archives: string[]; others: string[] }> {
  const archives: string[] = [];
  const others: string[] = [];
  for (const f of readdirSync(out)) {
    if (IMPORT_PATTERN.test(f) && !f.startsWith('.')) {
      await readArchive(path.join(out, f));
      archives.push(f);
    } else others.push(f);
  }
  return { archives, others };
}

export interface Swept {
  run: CliRun;
  rows: ReportRow[];
  archives: string[];
  others: string[];
  labels: string[];
}

/** Starts the peers, sweeps them with the CLI, reads back report and output folder, stops the peers. */
export async function sweepPeers(dir: string, requests: PeerRequest[], extra: string[] = [], opts: RunCliOptions = {}): Promise<Swept> {
  const f = await sweepFixture(dir, requests);
  try {
    const run = await runCli(sweepArgs(f, extra), { killAfterMs: 180_000, ...opts });
    const rows = existsSync(f.report) ? readReport(f.report) : [];
    const { archives, others } = await outputFolder(f.out);
    return { run, rows, archives, others, labels: f.peers.map((p) => p.label) };
  } finally {
    f.close();
  }
}

/** Longest a CLI may take from its summary line to its exit. */
export const SUMMARY_TO_EXIT_MS = 2000;

/**
 * What every sweep must show, whatever its peers did: the CLI ended by itself,
 * without a crash; the report lists every host, each classified (never
 * `internal`); every good host (tag "healthy") is ok with its archive; nothing
 * but archives is left in the output folder; the exit code matches the report;
 * and the process left soon after its summary. Returns the problems found.
 */
export function sweepProblems(s: Swept, goodHosts: number): string[] {
  const p: string[] = [];
  const { run, rows } = s;
  const tail = run.stderr.slice(-1500);
  if (run.signal !== null) p.push(`the CLI was killed by ${run.signal} (hung?); stderr: ${tail}`);
  if (/Unhandled|internal error|heap out of memory/i.test(run.stderr)) p.push(`stderr shows a crash: ${tail}`);
  if (rows.length !== s.labels.length) p.push(`the report has ${rows.length} rows for ${s.labels.length} hosts`);
  const healthy = rows.filter((r) => r.tag === 'healthy');
  if (healthy.length !== goodHosts) p.push(`${healthy.length} good hosts in the report, expected ${goodHosts}`);
  for (const r of healthy) if (r.class !== 'ok') p.push(`good host ${r.port}: ${r.class} ${r.message}`);
  if (s.archives.length < goodHosts) p.push(`${s.archives.length} archives for ${goodHosts} good hosts`);
  if (s.others.length) p.push(`left in the output folder: ${s.others.join(', ')}`);
  const failed = rows.filter((r) => r.class !== 'ok').length;
  if (rows.length && run.code !== (failed ? 2 : 0)) p.push(`exit code ${run.code} with ${failed} failed hosts`);
  for (const r of rows) if (r.class === 'internal') p.push(`${r.tag}: internal error: ${r.message}`);
  if (run.summaryToExitMs === undefined) p.push('no summary line');
  else if (run.summaryToExitMs > SUMMARY_TO_EXIT_MS) p.push(`exited ${run.summaryToExitMs.toFixed(0)} ms after its summary line`);
  return p;
}
