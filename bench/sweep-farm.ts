// Benchmark: a 200-host loopback sweep through the CLI at the default
// parallelism (200 addresses 127.0.0.2..201 on 13 real sshds), measuring wall
// time and the controller's peak RSS; then the same 200 rows with 10 of them
// broken (2 each: refused, silent, unauthorized key, changed host key,
// unresolvable name), checking archives, report classes, exit code and the
// retry file. Exits non-zero when an expectation fails.
//
//   npm run build && node --import tsx bench/sweep-farm.ts [--hosts 200] [--replay] [-- extra CLI options]
//
// --replay: targets replay one recorded probe run instead of each running the
// probe script (see test/helpers/farm.ts): measures the controller and SSH
// only, without the ~2.5 CPU-seconds each real target run costs here.
// Peak RSS comes from /usr/bin/time -v (the controller process itself) when
// present, else from polling VmHWM in /proc/<pid>/status.
// Needs root and /usr/sbin/sshd (test/helpers/sshd.ts).

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseCsv } from 'csv-parse/sync';
import yauzl from 'yauzl';
import type { Entry } from 'yauzl';

import { autoParallelism } from '../src/sweep/parallelism.js';
import { hostsCsv, startFarm, type FarmHost } from '../test/helpers/farm.js';
import { sshdAvailable } from '../test/helpers/sshd.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(ROOT, 'bin', 'octoscan-remote.js');
const TIME = '/usr/bin/time';

const argv = process.argv.slice(2);
const dashdash = argv.indexOf('--');
const extra = dashdash >= 0 ? argv.slice(dashdash + 1) : [];
const own = dashdash >= 0 ? argv.slice(0, dashdash) : argv;
const N = own.includes('--hosts') ? Number(own[own.indexOf('--hosts') + 1]) : 200;
if (!Number.isInteger(N) || N < 20 || N > 250) throw new Error('--hosts: 20..250');
const replay = own.includes('--replay');
const BROKEN = 10;

const skip = sshdAvailable();
if (skip) {
  console.log(`sweep-farm: skipped: ${skip}`);
  process.exit(0);
}
if (!existsSync(path.join(ROOT, 'dist', 'src', 'cli', 'main.js'))) {
  console.error('sweep-farm: dist/ missing: npm run build first');
  process.exit(1);
}

interface Measured {
  code: number | null;
  signal: NodeJS.Signals | null;
  wallMs: number;
  peakRssKiB: number | undefined;
  rssSource: string;
  stdout: string;
  stderr: string;
  command: string;
}

/** Runs the CLI (under time -v when there is one) and measures it. */
function measure(args: string[]): Promise<Measured> {
  const env = { ...process.env };
  delete env.SSH_AUTH_SOCK;
  const useTime = existsSync(TIME);
  const [cmd, ...cmdArgs] = useTime ? [TIME, '-v', process.execPath, CLI, ...args] : [process.execPath, CLI, ...args];
  const command = [cmd, ...cmdArgs].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, cmdArgs, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    // Fallback: the controller's high-water mark, polled (under time -v the controller is time's child).
    let hwm = 0;
    const poll = setInterval(() => {
      const pid = useTime ? childOf(child.pid!) : child.pid!;
      if (!pid) return;
      try {
        const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
        if (m) hwm = Math.max(hwm, Number(m[1]));
      } catch {
        /* gone */
      }
    }, 100);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearInterval(poll);
      const wallMs = performance.now() - t0;
      let peakRssKiB: number | undefined = hwm || undefined;
      let rssSource = 'VmHWM polled every 100 ms';
      const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
      if (m) {
        peakRssKiB = Number(m[1]);
        rssSource = '/usr/bin/time -v';
        stderr = stderr.slice(0, stderr.lastIndexOf('\tCommand being timed:'));
        if (code !== null) {
          const exit = /Exit status: (\d+)/.exec(m.input);
          if (exit) code = Number(exit[1]);
        }
      }
      resolve({ code, signal, wallMs, peakRssKiB, rssSource, stdout, stderr, command });
    });
  });
}

function childOf(pid: number): number | undefined {
  try {
    const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    return kids.length ? Number(kids[0]) : undefined;
  } catch {
    return undefined;
  }
}

/** The entry names of a zip, in order (all read: sizes are checked by yauzl). */
function zipNames(file: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    yauzl.open(file, { lazyEntries: true, autoClose: true }, (err, zf) => {
      if (err || !zf) return reject(err ?? new Error('no zip'));
      const names: string[] = [];
      zf.on('error', reject);
      zf.on('end', () => resolve(names));
      zf.on('entry', (e: Entry) => {
        names.push(e.fileName);
        zf.openReadStream(e, (err2, s) => {
          if (err2 || !s) return reject(err2 ?? new Error('no stream'));
          s.on('error', reject);
          s.on('end', () => zf.readEntry());
          s.resume();
        });
      });
      zf.readEntry();
    });
  });
}

let failures = 0;
function expect(ok: boolean, what: string): void {
  console.log(`  ${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures++;
}

async function completeArchives(dir: string): Promise<number> {
  let complete = 0;
  for (const n of readdirSync(dir)) {
    const m = /^([0-9a-f-]{36})\.scal$/.exec(n);
    if (!m) continue;
    const names = await zipNames(path.join(dir, n)).catch(() => []);
    if (names.at(-1) === `${m[1]}/octoscan.xml`) complete++;
  }
  return complete;
}

const key = (h: { host?: unknown; port?: unknown }): string => `${String(h.host)}:${String(h.port)}`;
const mib = (kib: number | undefined): string => (kib === undefined ? 'n/a' : `${(kib / 1024).toFixed(1)} MiB`);

function report(label: string, r: Measured, hosts: number, rows: Record<string, string>[]): void {
  console.log(`\n${label}`);
  console.log(`  command: ${r.command}`);
  console.log(`  exit ${r.code}${r.signal ? ` (signal ${r.signal})` : ''}; wall ${(r.wallMs / 1000).toFixed(1)} s (${(r.wallMs / hosts).toFixed(0)} ms/host); controller peak RSS ${mib(r.peakRssKiB)} (${r.rssSource})`);
  const summary = r.stderr.trim().split('\n').filter((l) => /^\d+ hosts?: /.test(l)).at(-1);
  if (summary) console.log(`  summary: ${summary}`);
  const ok = rows.filter((x) => x.class === 'ok').map((x) => Number(x.duration_ms)).sort((a, b) => a - b);
  if (ok.length) {
    const q = (f: number): string => (ok[Math.min(ok.length - 1, Math.floor(f * ok.length))] / 1000).toFixed(1);
    const retried = rows.filter((x) => x.class === 'ok' && Number(x.attempts) > 1).length;
    console.log(`  ok hosts: duration median ${q(0.5)} s, p90 ${q(0.9)} s, max ${q(1)} s; ${retried} needed a retry`);
  }
}

function readReport(file: string): Record<string, string>[] {
  return existsSync(file) ? (parseCsv(readFileSync(file, 'utf8'), { columns: true }) as Record<string, string>[]) : [];
}

const tmp = mkdtempSync(path.join(os.tmpdir(), 'octoscan-bench-sweep-'));
const t0 = performance.now();
const broken = { refused: 2, timeout: 2, auth: 2, hostkeyChanged: 2, dns: 2 };
const farm = await startFarm(N, { dir: tmp, broken, probe: replay ? 'replay' : 'real', interleave: false });
const goodSshds = Math.ceil(N / 16);
console.log(
  `sweep-farm: ${N} targets on ${goodSshds} sshds (+${farm.sshds.length - goodSshds} for broken hosts) up in ${((performance.now() - t0) / 1000).toFixed(1)} s; ` +
    `probe ${replay ? 'replayed (one real run)' : 'real on every target'}; ${os.availableParallelism()} CPUs, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}; ` +
    `default parallelism for ${N} hosts: ${autoParallelism(N)}`,
);

try {
  // Run 1: every host good.
  const allGood = path.join(tmp, 'hosts-all-good.csv');
  writeFileSync(allGood, hostsCsv(farm.good));
  const out1 = path.join(tmp, 'out-1');
  mkdirSync(out1);
  const r1 = await measure(['--hosts', allGood, '--known-hosts', farm.knownHosts, '-o', out1, '--report', path.join(tmp, 'report-1.csv'), ...extra]);
  const rows1 = readReport(path.join(tmp, 'report-1.csv'));
  report(`run 1: ${N} good hosts`, r1, N, rows1);
  expect(r1.code === 0, `exit 0 (got ${r1.code})`);
  expect((await completeArchives(out1)) === N && readdirSync(out1).length === N, `${N} complete archives, nothing else in --out (${readdirSync(out1).length} files)`);
  expect(rows1.length === N && rows1.every((x) => x.class === 'ok'), `${N} ok rows in the report (${rows1.filter((x) => x.class === 'ok').length} ok of ${rows1.length})`);
  expect(r1.stdout.trim().split('\n').length === N, `${N} archive paths on stdout`);

  // Run 2: the same number of rows, BROKEN of them broken.
  const mixedRows: FarmHost[] = [...farm.good.slice(0, N - BROKEN), ...farm.broken];
  const mixed = path.join(tmp, 'hosts-mixed.csv');
  writeFileSync(mixed, hostsCsv(mixedRows));
  const out2 = path.join(tmp, 'out-2');
  mkdirSync(out2);
  const retry = path.join(tmp, 'retry.csv');
  const r2 = await measure(['--hosts', mixed, '--known-hosts', farm.knownHosts, '-o', out2, '--report', path.join(tmp, 'report-2.csv'), '--retry-file', retry, ...extra]);
  const rows2 = readReport(path.join(tmp, 'report-2.csv'));
  report(`run 2: ${N - BROKEN} good + ${BROKEN} broken hosts`, r2, N, rows2);
  const rowOf = new Map(rows2.map((x) => [key(x), x]));
  expect(r2.code === 2, `exit 2 (got ${r2.code})`);
  expect((await completeArchives(out2)) === N - BROKEN && readdirSync(out2).length === N - BROKEN, `${N - BROKEN} complete archives, nothing else in --out`);
  expect(rows2.length === N && rows2.filter((x) => x.class === 'ok').length === N - BROKEN, `${N - BROKEN} ok rows of ${rows2.length}`);
  const wrong = farm.broken.filter((h) => rowOf.get(key(h))?.class !== h.expect || rowOf.get(key(h))?.phase !== h.phase);
  expect(
    wrong.length === 0,
    `each broken host in its class: ${farm.broken.map((h) => `${h.host}:${h.port} ${rowOf.get(key(h))?.class}/${rowOf.get(key(h))?.phase}`).join(', ')}`,
  );
  const retryRows = readReport(retry);
  expect(
    retryRows.length === BROKEN && [...retryRows.map(key)].sort().join() === [...farm.broken.map(key)].sort().join(),
    `retry file lists exactly the ${BROKEN} broken hosts (${retryRows.length} rows)`,
  );
  if (replay) console.log(`\n  (the probe script ran for real ${farm.realRuns()} time(s); every other session replayed it)`);
} finally {
  await farm.stop();
  if (!process.env.OCTOSCAN_BENCH_KEEP) rmSync(tmp, { recursive: true, force: true });
  else console.log(`kept ${tmp}`);
}
console.log(failures ? `\nsweep-farm: ${failures} expectation(s) FAILED` : '\nsweep-farm: all expectations met');
process.exitCode = failures ? 1 : 0;
