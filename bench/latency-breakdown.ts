// One host, start to archive, at a given RTT: where the time goes. The real
// CLI scans one host through the delaying proxy (bench/delay-proxy.ts) with
// bench/phase-marks.ts loaded by `node --import`, which stamps each point of
// the way (TCP connect, ssh2's handshake and ready, exec, output, archive
// rename, exit). The proxy logs every chunk, so each phase also shows how many
// client flights (round trips waited for) it took. The probe script's own run
// time is measured beside it without the network (the same script, as the
// same user, on this machine), and `ssh host true` through the same proxy is
// timed the same way: its start-up and its flights.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import { newToken } from '../src/probe/frames.js';
import { buildScript } from '../src/probe/script.js';
import { darwinProbes, linuxProbes } from '../targets/index.js';
import { CLI } from '../test/helpers/cli-sweep.js';
import { clientFlights, flightsBetween, type DelayProxy } from './delay-proxy.js';
import { summarize } from './profile-summary.js';

export interface Phase {
  phase: string;
  /** Median over the runs, milliseconds. */
  ms: number;
  /** Client flights in this phase (median), where the phase is on the wire. */
  flights?: number;
  /** Of its time, the controller's own between hearing the server and sending its next flight (median). */
  thinkMs?: number;
}

export interface Breakdown {
  rttMs: number;
  runs: number;
  /** Median of the runs' totals (spawn to process gone), ms. */
  totalMs: number;
  phases: Phase[];
  /** All client flights of one scan's connection (median). */
  flights: number;
  /** The probe script alone, as the farm user, no network: wall ms (median of 3). */
  scriptAloneMs: number;
  /** `ssh host true` through the same proxy. */
  sshTrue: { totalMs: number; startupMs: number; flights: number };
  /** Loading the CLI's modules alone: `await import(dist/src/cli/main.js)` in a fresh node, ms (median of 3). */
  moduleLoadMs: number;
  /** The first run's timeline, ms from its spawn: the marks, and every chunk through the proxy ('up' client to server, as the proxy got it). */
  timeline?: { marks: Record<string, number>; chunks: { dir: string; bytes: number; at: number }[] };
  /** One more run of the same scan under --cpu-prof: where the controller's CPU went (ms of samples). */
  profile?: { totalMs: number; byArea: [string, number][]; byFn: [string, number][] };
}

export interface ProxiedHost {
  host: string;
  port: number;
  user: string;
  identity: string;
  proxy: DelayProxy;
}

const now = (): number => performance.timeOrigin + performance.now();
const MAIN = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));

/** ms to import the CLI's main module in a fresh node (median of 3): the module-loading part of start-up. */
function moduleLoad(): number {
  const runs: number[] = [];
  for (let i = 0; i < 3; i++) {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', `const t = performance.now(); await import(${JSON.stringify(pathToFileURL(MAIN).href)}); console.log(performance.now() - t);`], { encoding: 'utf8' });
    runs.push(Number(r.stdout.trim()));
  }
  return median(runs);
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** phase-marks.ts as plain JavaScript in `work` (no TypeScript loader in the measured process). */
function hookFile(work: string): string {
  const src = readFileSync(fileURLToPath(new URL('./phase-marks.ts', import.meta.url)), 'utf8');
  const js = ts.transpileModule(src, { compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022, esModuleInterop: true } }).outputText;
  const file = path.join(work, 'phase-marks.mjs');
  writeFileSync(file, js);
  return file;
}

function run(argv: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; spawnAt: number; closeAt: number; stderr: string }> {
  return new Promise((resolve) => {
    const spawnAt = now();
    const child = spawn(argv[0], argv.slice(1), { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, spawnAt, closeAt: now(), stderr }));
  });
}

/** Wall ms of the probe script run by /bin/sh -s as `user` here (median of 3). */
function scriptAlone(user: string): number {
  const script = buildScript({ linux: linuxProbes, darwin: darwinProbes }, { token: newToken() });
  const runs: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    spawnSync('runuser', ['-u', user, '--', '/bin/sh', '-s'], { input: script, maxBuffer: 1 << 28, cwd: '/', stdio: ['pipe', 'ignore', 'ignore'] });
    runs.push(performance.now() - t0);
  }
  return median(runs);
}

export async function latencyBreakdown(o: {
  hosts: ProxiedHost[];
  knownHosts: string;
  keyPath: string;
  farmUser: string;
  work: string;
  rttMs: number;
}): Promise<Breakdown> {
  const hook = hookFile(o.work);
  const perRun: { phases: Phase[]; total: number; flights: number }[] = [];
  let timeline: Breakdown['timeline'];
  const csvOf = (i: number, h: ProxiedHost): string => {
    const csv = path.join(o.work, `breakdown-${i}.csv`);
    writeFileSync(csv, `host,port,user,identity\n${h.host},${h.port},${h.user},${h.identity}\n`);
    return csv;
  };
  const cliArgs = (csv: string): string[] => [CLI, '--hosts', csv, '--out', mkdtempSync(path.join(o.work, 'breakdown-out-')), '--known-hosts', o.knownHosts, '-j', '1', '--no-progress', '--retries', '0'];
  for (const [i, h] of o.hosts.entries()) {
    const marksFile = path.join(o.work, `breakdown-${i}.json`);
    const before = h.proxy.connections.length;
    const r = await run(
      [process.execPath, '--import', pathToFileURL(hook).href, ...cliArgs(csvOf(i, h))],
      { ...process.env, SSH_AUTH_SOCK: '', OCTOSCAN_PHASE_MARKS: marksFile },
    );
    if (r.code !== 0) throw new Error(`breakdown run ${i + 1} exited ${r.code}: ${r.stderr.slice(-300)}`);
    const conn = h.proxy.connections[before];
    if (!conn) throw new Error(`breakdown run ${i + 1}: no connection reached the proxy`);
    const m = (JSON.parse(readFileSync(marksFile, 'utf8')) as { marks: Record<string, number> }).marks;
    const need = ['hookStart', 'hookEnd', 'tcpConnectCall', 'tcpConnected', 'sshHandshake', 'sshReady', 'execCall', 'execReady', 'firstStdout', 'stdoutEnd', 'channelClose', 'archiveRenamed', 'exit'];
    const missing = need.filter((k) => m[k] === undefined);
    if (missing.length) throw new Error(`breakdown run ${i + 1}: no mark for ${missing.join(', ')}`);
    const fl = clientFlights(conn.chunks, o.rttMs / 2);
    const span = (phase: string, a: number, b: number, wire = false): Phase => ({ phase, ms: b - a, ...(wire ? flightsBetween(fl, a, b) : {}) });
    const phases = [
      span('node start-up (spawn to the first line of user code)', r.spawnAt, m.hookEnd),
      span('CLI start-up (modules, options, host list, up to the TCP connect)', m.hookEnd, m.tcpConnectCall),
      span('TCP connect (the proxy is on loopback: a real link adds 1 RTT here)', m.tcpConnectCall, m.tcpConnected, true),
      span('SSH version and key exchange (to ssh2 "handshake")', m.tcpConnected, m.sshHandshake, true),
      span('SSH authentication (to ssh2 "ready")', m.sshHandshake, m.sshReady, true),
      span('between login and exec (script built, archive file opened)', m.sshReady, m.execCall, true),
      span('channel open + exec request (ssh2 waits for both answers)', m.execCall, m.execReady, true),
      span('script sent, run on the target, output in (exec answered to end of output)', m.execReady, m.stdoutEnd, true),
      span('channel close after the output (exit status)', m.stdoutEnd, m.channelClose, true),
      span('archive finish (scan.json, octoscan.xml, flush, rename)', m.channelClose, m.archiveRenamed),
      span('report, connection end, process exit', m.archiveRenamed, m.exit),
      span('process gone (exit to the bench seeing it close)', m.exit, r.closeAt),
    ];
    perRun.push({ phases, total: r.closeAt - r.spawnAt, flights: fl.length });
    const rel = (t: number): number => Math.round((t - r.spawnAt) * 10) / 10;
    timeline ??= {
      marks: Object.fromEntries(Object.entries(m).map(([k, v]) => [k, rel(v)])),
      chunks: conn.chunks.map((c) => ({ dir: c.dir, bytes: c.bytes, at: rel(c.at) })),
    };
  }
  const phases: Phase[] = perRun[0].phases.map((p, k) => ({
    phase: p.phase,
    ms: median(perRun.map((x) => x.phases[k].ms)),
    ...(p.flights !== undefined ? { flights: median(perRun.map((x) => x.phases[k].flights ?? 0)), thinkMs: median(perRun.map((x) => x.phases[k].thinkMs ?? 0)) } : {}),
  }));

  // One more run under --cpu-prof (its own: the profiler slows what it watches).
  let profile: Breakdown['profile'];
  const profDir = mkdtempSync(path.join(o.work, 'breakdown-prof-'));
  const pr = await run([process.execPath, '--cpu-prof', '--cpu-prof-dir', profDir, '--cpu-prof-interval', '250', ...cliArgs(csvOf(0, o.hosts[0]))], { ...process.env, SSH_AUTH_SOCK: '' });
  const profFile = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
  if (pr.code === 0 && profFile) profile = summarize(JSON.parse(readFileSync(path.join(profDir, profFile), 'utf8')));

  // ssh host true, one host at a time through the same proxies.
  const ssh: { total: number; startup: number; flights: number }[] = [];
  for (const h of o.hosts) {
    const before = h.proxy.connections.length;
    const r = await run([
      'ssh', '-F', '/dev/null', '-T', '-i', o.keyPath, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-o', `UserKnownHostsFile=${o.knownHosts}`,
      '-o', 'StrictHostKeyChecking=yes', '-o', 'LogLevel=ERROR', '-p', String(h.port), `${h.user}@${h.host}`, 'true',
    ], { ...process.env, SSH_AUTH_SOCK: '' });
    const conn = h.proxy.connections[before];
    if (r.code !== 0 || !conn) throw new Error(`ssh host true through the proxy failed (exit ${r.code}): ${r.stderr.slice(-300)}`);
    ssh.push({ total: r.closeAt - r.spawnAt, startup: conn.acceptedAt - r.spawnAt, flights: clientFlights(conn.chunks, o.rttMs / 2).length });
  }
  return {
    rttMs: o.rttMs,
    runs: perRun.length,
    totalMs: median(perRun.map((x) => x.total)),
    phases,
    flights: median(perRun.map((x) => x.flights)),
    scriptAloneMs: scriptAlone(o.farmUser),
    sshTrue: { totalMs: median(ssh.map((x) => x.total)), startupMs: median(ssh.map((x) => x.startup)), flights: median(ssh.map((x) => x.flights)) },
    moduleLoadMs: moduleLoad(),
    timeline,
    profile,
  };
}

/** The breakdown as a table for the bench output. */
export function describeBreakdown(b: Breakdown): string {
  const lines = [
    `| one host, start to archive, ${b.rttMs} ms RTT (median of ${b.runs} runs, each phase a median) | ms | client flights | controller's own ms between them |`,
    '|---|---|---|---|',
  ];
  for (const p of b.phases) lines.push(`| ${p.phase} | ${p.ms.toFixed(1)} | ${p.flights ?? ''} | ${p.thinkMs === undefined ? '' : p.thinkMs.toFixed(1)} |`);
  const sum = b.phases.reduce((a, p) => a + p.ms, 0);
  lines.push(`| **total** (median run; the phases' medians add up to ${sum.toFixed(0)}) | **${b.totalMs.toFixed(0)}** | ${b.flights} | |`);
  lines.push('');
  lines.push(`Loading the CLI's modules alone (import of dist/src/cli/main.js in a fresh node, median of 3): ${b.moduleLoadMs.toFixed(0)} ms of the start-up above.`);
  lines.push(`The probe script alone, as the farm user without the network: ${b.scriptAloneMs.toFixed(0)} ms wall (median of 3).`);
  lines.push(`ssh host true through the same proxy: ${b.sshTrue.totalMs.toFixed(0)} ms (median of ${b.runs}), of which ${b.sshTrue.startupMs.toFixed(0)} ms before its TCP connection reached the proxy; ${b.sshTrue.flights} client flights.`);
  if (b.profile) {
    const p = b.profile;
    const pct = (ms: number): string => `${((100 * ms) / p.totalMs).toFixed(0)}%`;
    lines.push(`The controller's CPU in one more such run under --cpu-prof: ${p.totalMs.toFixed(0)} ms of samples outside idle; by area: ${p.byArea.filter(([a]) => a !== 'idle').slice(0, 8).map(([a, ms]) => `${a} ${ms.toFixed(0)} ms (${pct(ms)})`).join(', ')}`);
    lines.push(`  top functions by self time: ${p.byFn.filter(([f]) => !f.startsWith('(idle)')).slice(0, 10).map(([f, ms]) => `${f} ${ms.toFixed(0)} ms`).join('; ')}`);
  }
  return lines.join('\n');
}
