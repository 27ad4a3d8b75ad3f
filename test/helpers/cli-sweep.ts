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

const SUMMARY = /^\d+ hosts?: \d+ ok, \d+ failed/m;

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
