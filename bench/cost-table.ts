// One table of what a sweep costs, every contender measured in the same run
// on the same loopback targets (real sshds, real probes), with each one's
// ratio to ours. The targets share this machine's cores, so "machine CPU per
// host" (every process, from /proc/stat) is the whole cost of one scan:
// target, sshd and controller together.
//
//   npm run bench                      quick mode (about 3-5 minutes on 2 cores)
//   node --import tsx bench/cost-table.ts --full   adds the scale runs (1,000 and 10,000 emulated hosts)
//
// Contenders, each only where it is installed (the table says when one is skipped):
//   floor      `ssh host true` for every host via xargs -P (the OpenSSH client)
//   on-host    the on-host scanner run by ssh and its archive fetched back; set
//              OCTOSCAN_ONHOST_SCANNER to its .pyz (it is not distributed here)
//   ansible    `ansible all -m setup -f P` (Debian's ansible-core, installed for the
//              bench when missing unless OCTOSCAN_BENCH_NO_INSTALL is set)
//   ours       octoscan-remote -j P
// Writes the results as JSON to bench-results.json (or $OCTOSCAN_BENCH_JSON).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { newToken } from '../src/probe/frames.js';
import { buildScript } from '../src/probe/script.js';
import { darwinProbes, linuxProbes } from '../targets/index.js';
import { countCommandProcesses, countScriptProcesses, describeCount, processCountUnavailable, type ProcessCount } from './process-count.js';
import { delayProxy } from './delay-proxy.js';
import { describeForkExec, measureForkExec, type ForkExecCost } from './fork-cost.js';
import { describeBreakdown, latencyBreakdown, type Breakdown } from './latency-breakdown.js';
import { CLI, cliBuilt, readReport, sweepArgs, sweepFixture } from '../test/helpers/cli-sweep.js';
import { startFarm, type Farm } from '../test/helpers/farm.js';
import { sshdAvailable } from '../test/helpers/sshd.js';

const { values } = parseArgs({
  options: {
    hosts: { type: 'string', default: '40' },
    parallel: { type: 'string', short: 'j', default: '20' },
    full: { type: 'boolean', default: false },
    // Only the controller-at-scale rows (no farm, no contenders): for tuning the controller.
    'scale-only': { type: 'boolean', default: false },
    // One scale row, HOSTS@PARALLEL (e.g. 500@500), in place of the default ones.
    'scale-at': { type: 'string' },
    // Only the latency rows and the breakdown of one host at 50 ms RTT (3 targets).
    'latency-only': { type: 'boolean', default: false },
  },
});
const N = Number(values.hosts);
const P = Number(values.parallel);
const TIME = '/usr/bin/time';
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

interface Row {
  contender: string;
  skipped?: string;
  wallS?: number;
  hostsPerS?: number;
  machineCpuPerHostS?: number;
  controllerCpuPerHostMs?: number;
  peakRssMb?: number;
  note?: string;
}

/** Busy jiffies of the whole machine (everything but idle and iowait). */
function machineBusy(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return f.reduce((a, b) => a + b, 0) - f[3] - (f[4] ?? 0);
}

interface Timed {
  code: number;
  wallS: number;
  cpuS: number;
  maxRssKb: number;
  machineCpuS: number;
  stderr: string;
}

/** Runs argv under GNU time: wall, the CPU of the command and everything it waited for, its peak RSS, and the machine's busy time. */
function timed(argv: string[], opts: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Timed> {
  return new Promise((resolve) => {
    const b0 = machineBusy();
    const t0 = performance.now();
    const child = spawn(TIME, ['-f', '@@TIME %U %S %M', ...argv], { env: opts.env ?? process.env, stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.stdin.end(opts.input ?? '');
    child.on('close', (code) => {
      const wallS = (performance.now() - t0) / 1000;
      const m = /@@TIME ([\d.]+) ([\d.]+) (\d+)/.exec(stderr) ?? [];
      resolve({ code: code ?? -1, wallS, cpuS: Number(m[1]) + Number(m[2]), maxRssKb: Number(m[3]), machineCpuS: (machineBusy() - b0) / CLK_TCK, stderr });
    });
  });
}

function row(contender: string, t: Timed, hosts: number, note?: string): Row {
  return {
    contender,
    wallS: t.wallS,
    hostsPerS: hosts / t.wallS,
    machineCpuPerHostS: t.machineCpuS / hosts,
    controllerCpuPerHostMs: (t.cpuS * 1000) / hosts,
    peakRssMb: t.maxRssKb / 1024,
    note,
  };
}

const sshBase = (farm: Farm, knownHosts = farm.knownHosts): string[] => [
  'ssh', '-F', '/dev/null', '-T', '-i', farm.user.keyPath, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes',
  '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'LogLevel=ERROR',
];

async function floor(farm: Farm): Promise<Row> {
  const r = await floorAt(farm, farm.good, P);
  return { ...r, contender: `floor: ssh host true (xargs -P${P})` };
}

async function onHost(farm: Farm): Promise<Row> {
  return onHostAt(farm, farm.good, P);
}

/** The on-host scanner's way: ssh in, run its .pyz into a fresh folder, fetch the archive by cat, remove the folder. */
async function onHostAt(farm: Farm, hosts: Farm['good'], parallel: number): Promise<Row> {
  const pyz = process.env.OCTOSCAN_ONHOST_SCANNER;
  const name = 'on-host scanner over OpenSSH, archive fetched back';
  if (!pyz || !existsSync(pyz)) return { contender: name, skipped: 'OCTOSCAN_ONHOST_SCANNER (the reference .pyz) not set' };
  const lines = hosts.map((h) => `${h.port} ${h.user}@${h.host}`).join('\n') + '\n';
  const remote = `d=$(mktemp -d) && python3 '${pyz}' -o "$d" >/dev/null 2>&1 && cat "$d"/*.scal; rm -rf "$d"`;
  const t = await timed(['xargs', '-P', String(parallel), '-L', '1', 'sh', '-c', `exec ${sshBase(farm).map((a) => `'${a}'`).join(' ')} -p "$0" "$1" '${remote.replace(/'/g, `'\\''`)}'`], { input: lines });
  return row(`${name} (${path.basename(pyz)})`, t, hosts.length);
}

function ensureAnsible(): string | undefined {
  if (spawnSync('sh', ['-c', 'command -v ansible'], { encoding: 'utf8' }).status === 0) return undefined;
  if (process.env.OCTOSCAN_BENCH_NO_INSTALL) return 'ansible not installed (OCTOSCAN_BENCH_NO_INSTALL set)';
  console.error('bench: installing Debian ansible-core for the Ansible contender (bench only)...');
  const r = spawnSync('sh', ['-c', 'DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends ansible-core >/dev/null 2>&1'], { stdio: 'inherit' });
  return r.status === 0 ? undefined : 'ansible-core could not be installed';
}

async function ansible(farm: Farm, work: string): Promise<Row> {
  const name = `Ansible setup -f ${P}`;
  const why = ensureAnsible();
  if (why) return { contender: name, skipped: why };
  return { ...(await ansibleAt(farm, work, farm.good, P)), contender: name };
}

async function ours(farm: Farm, work: string, extra: string[] = [], hostsFile = farm.hostsFile, n = farm.good.length): Promise<Row> {
  const out = mkdtempSync(path.join(work, 'out-'));
  const t = await timed([process.execPath, CLI, '--hosts', hostsFile, '--out', out, '--known-hosts', farm.knownHosts, '-j', String(P), '--no-progress', '--retries', '0', ...extra], {
    env: { ...process.env, SSH_AUTH_SOCK: '' },
  });
  if (t.code !== 0) return { contender: 'octoscan-remote', skipped: `failed (exit ${t.code}): ${t.stderr.slice(-300)}` };
  return row(`octoscan-remote -j ${P}`, t, n);
}

/** Median of 3: user + system CPU seconds of argv run as the farm user, from GNU time. */
function cpuAsFarmUser(farm: Farm, argv: string[], input = ''): number {
  const runs: number[] = [];
  for (let i = 0; i < 3; i++) {
    const r = spawnSync('runuser', ['-u', farm.user.name, '--', TIME, '-f', '@@TIME %U %S', ...argv], { input, maxBuffer: 1 << 28 });
    const m = /@@TIME ([\d.]+) ([\d.]+)/.exec(r.stderr.toString()) ?? [];
    runs.push(Number(m[1]) + Number(m[2]));
  }
  return runs.sort((a, b) => a - b)[1];
}

interface TargetCost {
  /** CPU seconds of one scan, median of 3: our probe script, and the on-host scanner where it is given. */
  ours: number;
  onHost?: number;
  /** Processes one run starts (strace -f), or why they were not counted. */
  oursProcs?: ProcessCount;
  onHostProcs?: ProcessCount;
  procsUnavailable?: string;
  /** This machine's fork+exec cost, measured beside them. */
  forkExec: ForkExecCost;
}

/** What one scan costs on the target, as the farm user: CPU and processes, ours and the on-host scanner's, and the fork+exec cost that decides much of it. */
function targetCost(farm: Farm): TargetCost {
  const script = buildScript({ linux: linuxProbes, darwin: darwinProbes }, { token: newToken() });
  const forkExec = measureForkExec();
  const ours = cpuAsFarmUser(farm, ['/bin/sh', '-s'], script);
  const procsUnavailable = processCountUnavailable();
  const oursProcs = procsUnavailable ? undefined : countScriptProcesses(farm.user.name, script);
  const pyz = process.env.OCTOSCAN_ONHOST_SCANNER;
  if (!pyz || !existsSync(pyz)) return { ours, oursProcs, procsUnavailable, forkExec };
  // Its archive goes to a folder the farm user owns, removed afterwards: the scanner writes where it runs.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'octoscan-onhost-'));
  try {
    spawnSync('chown', [farm.user.name, dir]);
    const argv = ['/usr/bin/python3', pyz, '-o', dir];
    const onHost = cpuAsFarmUser(farm, argv);
    const onHostProcs = procsUnavailable ? undefined : countCommandProcesses(farm.user.name, argv);
    return { ours, onHost, oursProcs, onHostProcs, procsUnavailable, forkExec };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The target-cost line: CPU, ratio and process counts side by side, and this machine's fork+exec cost. */
function describeTargetCost(c: TargetCost): string {
  const procs = (p: ProcessCount | undefined): string => (p ? `, ${p.execve} execve, ${p.forks} forks` : '');
  const x = (a: number | undefined, b: number | undefined): string => (a !== undefined && b ? `${(a / b).toFixed(2)}×` : '–');
  const onHost = c.onHost === undefined
    ? 'on-host scanner: not measured (OCTOSCAN_ONHOST_SCANNER not set)'
    : `on-host scanner ${c.onHost.toFixed(3)} CPU-s${procs(c.onHostProcs)} | ours/on-host: CPU ${x(c.ours, c.onHost)}`
      + (c.oursProcs && c.onHostProcs ? `, execve ${x(c.oursProcs.execve, c.onHostProcs.execve)}, forks ${x(c.oursProcs.forks, c.onHostProcs.forks)}` : '');
  const lines = [
    `Target cost of one scan, as the farm's unprivileged user (CPU median of 3; processes by strace -f): ours ${c.ours.toFixed(3)} CPU-s${procs(c.oursProcs)} | ${onHost} | fork+exec here ${c.forkExec.msPerForkExec.toFixed(2)} ms`,
    `  this machine: ${describeForkExec(c.forkExec)}`,
  ];
  if (c.procsUnavailable) lines.push(`  processes: not counted (${c.procsUnavailable})`);
  if (c.oursProcs) lines.push(`  our probe script: ${describeCount(c.oursProcs)}`);
  if (c.onHostProcs) lines.push(`  on-host scanner: ${describeCount(c.onHostProcs)}`);
  return lines.join('\n');
}

/** Per-host latency at 50 ms RTT: a few hosts one at a time through the delaying proxy, and where one host's time goes. */
async function latency(farm: Farm, work: string): Promise<{ rows: Row[]; breakdown?: Breakdown; breakdownError?: string }> {
  const hosts = farm.good.slice(0, 3);
  const proxies = await Promise.all(hosts.map((h) => delayProxy(h, 25)));
  try {
    const via = hosts.map((h, i) => ({ ...h, host: '127.0.0.1', port: proxies[i].port }));
    const kh = path.join(work, 'known_hosts.proxied');
    const keyLines = readFileSync(farm.knownHosts, 'utf8').split('\n').filter((l) => l.startsWith(`[${hosts[0].host}]:${hosts[0].port} `));
    writeFileSync(kh, via.flatMap((v) => keyLines.map((l) => l.replace(/^\S+/, `[127.0.0.1]:${v.port}`))).join('\n') + '\n');
    const hostsCsv = path.join(work, 'hosts.proxied.csv');
    writeFileSync(hostsCsv, `host,port,user,identity\n${via.map((v) => `${v.host},${v.port},${v.user},${v.identity}`).join('\n')}\n`);
    const proxiedFarm = { ...farm, knownHosts: kh } as Farm;
    const rows: Row[] = [];
    const per = (r: Row, label: string): Row => ({ contender: label, skipped: r.skipped, wallS: r.wallS ? r.wallS / via.length : undefined, note: 'seconds per host, one host at a time, 50 ms RTT' });
    // One host at a time: the figure is what round trips cost one host.
    const floorR = await floorAt(proxiedFarm, via, 1);
    rows.push(per(floorR, 'latency: ssh host true'));
    const oursR = await timed([process.execPath, CLI, '--hosts', hostsCsv, '--out', mkdtempSync(path.join(work, 'out-')), '--known-hosts', kh, '-j', '1', '--no-progress', '--retries', '0'], { env: { ...process.env, SSH_AUTH_SOCK: '' } });
    rows.push(per(oursR.code === 0 ? row('x', oursR, via.length) : { contender: 'x', skipped: `failed: ${oursR.stderr.slice(-200)}` }, 'latency: octoscan-remote'));
    // The issue's row: one host, start to archive (a whole CLI run per host, start-up included).
    let breakdown: Breakdown | undefined;
    let breakdownError: string | undefined;
    try {
      breakdown = await latencyBreakdown({
        hosts: via.map((v, i) => ({ host: v.host, port: v.port, user: v.user, identity: v.identity, proxy: proxies[i] })),
        knownHosts: kh, keyPath: farm.user.keyPath, farmUser: farm.user.name, work, rttMs: 50,
      });
      rows.push({ contender: 'latency: octoscan-remote, one host, start to archive', wallS: breakdown.totalMs / 1000, note: `seconds, a whole CLI run for one host, 50 ms RTT (median of ${breakdown.runs}; breakdown below)` });
    } catch (err) {
      breakdownError = (err as Error).message;
      rows.push({ contender: 'latency: octoscan-remote, one host, start to archive', skipped: breakdownError });
    }
    rows.push(per(await onHostAt(proxiedFarm, via, 1), 'latency: on-host scanner over OpenSSH'));
    const why = values['latency-only'] ? 'not run (--latency-only)' : ensureAnsible();
    if (!why) {
      const a = await ansibleAt(proxiedFarm, work, via, 1);
      rows.push(per(a, 'latency: Ansible setup'));
    } else rows.push({ contender: 'latency: Ansible setup', skipped: why });
    return { rows, breakdown, breakdownError };
  } finally {
    proxies.forEach((p) => p.close());
  }
}

async function floorAt(farm: Farm, hosts: Farm['good'], parallel: number): Promise<Row> {
  const lines = hosts.map((h) => `${h.port} ${h.user}@${h.host}`).join('\n') + '\n';
  const t = await timed(['xargs', '-P', String(parallel), '-L', '1', 'sh', '-c', `exec ${sshBase(farm).map((a) => `'${a}'`).join(' ')} -p "$0" "$1" true`], { input: lines });
  return t.code === 0 ? row('floor', t, hosts.length) : { contender: 'floor', skipped: `failed: ${t.stderr.slice(-300)}` };
}

async function ansibleAt(farm: Farm, work: string, hosts: Farm['good'], forks: number): Promise<Row> {
  const tag = `${forks}-${hosts.length}-${hosts[0]?.port}`;
  const inv = path.join(work, `inventory-${tag}.ini`);
  writeFileSync(inv, `[farm]\n${hosts.map((h, i) => `t${i} ansible_host=${h.host} ansible_port=${h.port} ansible_user=${h.user}`).join('\n')}\n`);
  const cfg = path.join(work, `ansible-${tag}.cfg`);
  writeFileSync(cfg, `[defaults]\nhost_key_checking = True\ninterpreter_python = /usr/bin/python3\n[ssh_connection]\nssh_args = -o UserKnownHostsFile=${farm.knownHosts} -o IdentitiesOnly=yes -o ControlMaster=no\n`);
  const env = { ...process.env, ANSIBLE_CONFIG: cfg, ANSIBLE_PRIVATE_KEY_FILE: farm.user.keyPath, ANSIBLE_LOCAL_TEMP: path.join(work, 'ansible-tmp') };
  const t = await timed(['ansible', 'all', '-i', inv, '-m', 'setup', '-f', String(forks), '-o'], { env });
  return t.code === 0 ? row('ansible', t, hosts.length) : { contender: 'ansible', skipped: `failed (exit ${t.code}): ${t.stderr.slice(-300)}` };
}

/** The controller alone at scale: emulated hosts replaying one recorded scan, in another process. */
async function scale(work: string, hosts: number, parallel: number): Promise<Row> {
  const token = newToken();
  const rec = spawnSync('/bin/sh', ['-s'], { input: buildScript({ linux: linuxProbes, darwin: darwinProbes }, { token }), maxBuffer: 1 << 28 });
  const file = path.join(work, `recorded-${hosts}.bin`);
  writeFileSync(file, rec.stdout);
  const dir = mkdtempSync(path.join(work, 'scale-'));
  const f = await sweepFixture(dir, Array.from({ length: hosts }, () => ({
    recipe: { label: 'healthy', auth: 'accept' as const, exec: [{ t: 'replay' as const, file, token }, { t: 'finish' as const, code: 0 }] },
  })));
  try {
    const t = await timed([process.execPath, CLI, ...sweepArgs(f, ['-j', String(parallel), '--host-timeout', '600', '--connect-timeout', '60', '--auth-timeout', '60'])]);
    const r = row(`scale: ${hosts} emulated hosts, -j ${parallel} (controller only)`, t, hosts);
    r.machineCpuPerHostS = undefined; // the emulated targets are not real targets
    if (t.code !== 0) r.note = `exit ${t.code}: ${failuresOf(f.report)}`;
    if (/still running/.test(t.stderr)) r.note = `${r.note ?? ''} handles left open: ${t.stderr}`;
    return r;
  } finally {
    f.close();
  }
}

/** The failed rows of a report, counted by class and message (host and port left out). */
function failuresOf(report: string): string {
  if (!existsSync(report)) return 'no report';
  const counts = new Map<string, number>();
  for (const r of readReport(report)) {
    if (r.class === 'ok') continue;
    const key = `${r.class} (${r.phase}): ${r.message.replace(/^\S+@?[\d.]+:\d+: /, '').replace(/\d+(\.\d+)? ?m?s\b/g, 'N s')}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([k, n]) => `${n}× ${k}`).join('; ') || 'no failed rows';
}

function table(rows: Row[], oursRow: Row | undefined): string {
  const f = (n: number | undefined, d = 1): string => (n === undefined || Number.isNaN(n) ? '–' : n.toFixed(d));
  const ratio = (a: number | undefined, b: number | undefined): string => (a && b ? `${(a / b).toFixed(2)}×` : '–');
  const head = '| contender | wall s | hosts/s | machine CPU / host s | controller CPU / host ms | peak RSS MB | wall vs ours | machine CPU vs ours |';
  const lines = [head, '|---|---|---|---|---|---|---|---|'];
  for (const r of rows) {
    if (r.skipped) {
      lines.push(`| ${r.contender} | skipped: ${r.skipped.replace(/\|/g, '/').replace(/\n/g, ' ')} | | | | | | |`);
      continue;
    }
    lines.push(`| ${r.contender} | ${f(r.wallS, 2)} | ${f(r.hostsPerS)} | ${f(r.machineCpuPerHostS, 3)} | ${f(r.controllerCpuPerHostMs)} | ${f(r.peakRssMb, 0)} | ${ratio(r.wallS, oursRow?.wallS)} | ${ratio(r.machineCpuPerHostS, oursRow?.machineCpuPerHostS)} |${r.note ? ` ${r.note}` : ''}`);
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------

if (!cliBuilt) {
  console.error('bench: dist/ not built: npm run build first');
  process.exit(1);
}
if (!existsSync(TIME)) {
  console.error('bench: needs GNU time (/usr/bin/time, Debian package "time")');
  process.exit(1);
}
const noSshd = sshdAvailable();
if (noSshd) {
  console.log(`bench: skipped: ${noSshd}`);
  process.exit(0);
}
async function scaleRows(work: string): Promise<Row[]> {
  const at = values['scale-at'] ? /^(\d+)@(\d+)$/.exec(values['scale-at']) : undefined;
  if (values['scale-at'] && !at) throw new Error(`--scale-at HOSTS@PARALLEL, not ${values['scale-at']}`);
  const rows = [at ? await scale(work, Number(at[1]), Number(at[2])) : await scale(work, values.full ? 1000 : 200, 20)];
  if (values.full && !at) {
    rows.push(await scale(work, 500, 500));
    rows.push(await scale(work, 10_000, 100));
  }
  console.log(`The controller alone at scale (emulated hosts in another process; ratios to the first row):\n${table(rows, rows[0])}\n`);
  return rows;
}

const work = mkdtempSync(path.join(os.tmpdir(), 'octoscan-cost-'));
if (values['scale-only']) {
  try {
    await scaleRows(work);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  process.exit(0);
}
const latencyOnly = values['latency-only'];
const farm = await startFarm(latencyOnly ? 3 : N, { dir: work });
// The on-host scanner runs `java -version` without -XX:-UsePerfData, so each JVM it starts
// makes the farm user's /tmp/hsperfdata_<user> (ours passes the flag); the bench takes away
// the folder it made.
const hsperfdata = path.join(os.tmpdir(), `hsperfdata_${farm.user.name}`);
const hsperfdataBefore = existsSync(hsperfdata);
const results: Record<string, unknown> = {
  machine: `${os.cpus().length} CPUs (${os.cpus()[0]?.model}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.type()} ${os.release()}, node ${process.version}`,
  hosts: latencyOnly ? 3 : N,
  parallel: P,
  date: new Date().toISOString(),
  ...(latencyOnly ? { latencyOnly: true } : {}),
};
try {
  const rows: Row[] = [];
  let oursRow: Row | undefined;
  if (!latencyOnly) {
    console.log(`bench: ${N} loopback targets (real sshd, real probes), parallelism ${P}; ${results.machine}`);
    rows.push(await floor(farm));
    rows.push(await onHost(farm));
    rows.push(await ansible(farm, work));
    oursRow = await ours(farm, work);
    rows.push(oursRow);
    const cost = targetCost(farm);
    console.log(`\n${describeTargetCost(cost)}`);
    results.targetCpuPerScanS = cost.ours;
    results.onHostTargetCpuPerScanS = cost.onHost;
    results.targetCpuRatioOursToOnHost = cost.onHost ? cost.ours / cost.onHost : undefined;
    results.forkExecMs = cost.forkExec.msPerForkExec;
    results.forkExec = cost.forkExec;
    if (cost.oursProcs) results.targetProcessesPerScan = { execve: cost.oursProcs.execve, execveFailed: cost.oursProcs.execveFailed, forks: cost.oursProcs.forks, byProgram: cost.oursProcs.byProgram };
    if (cost.onHostProcs) results.onHostProcessesPerScan = { execve: cost.onHostProcs.execve, execveFailed: cost.onHostProcs.execveFailed, forks: cost.onHostProcs.forks, byProgram: cost.onHostProcs.byProgram };
    if (cost.procsUnavailable) results.processesNotCounted = cost.procsUnavailable;
  } else {
    console.log(`bench: latency only, 3 loopback targets; ${results.machine}`);
  }
  const lat = await latency(farm, work);
  if (!latencyOnly) console.log(`\nA sweep of ${N} hosts, parallelism ${P} (ratios to ours):\n${table(rows, oursRow?.skipped ? undefined : oursRow)}\n`);
  const latOurs = lat.rows.find((r) => r.contender === 'latency: octoscan-remote' && !r.skipped);
  console.log(`Per host at 50 ms RTT, one host at a time (a delaying TCP proxy in front of the targets; ratios to ours):\n${table(lat.rows, latOurs)}\n`);
  if (lat.breakdown) {
    console.log(`Where one host's time goes at 50 ms RTT (bench/latency-breakdown.ts; marks from inside the CLI, flights from the proxy's log):\n${describeBreakdown(lat.breakdown)}\n`);
    results.latencyBreakdown = lat.breakdown;
  } else {
    console.log(`Where one host's time goes at 50 ms RTT: not measured (${lat.breakdownError})\n`);
  }
  const all = [...rows, ...lat.rows, ...(latencyOnly ? [] : await scaleRows(work))];
  results.rows = all;
  const out = process.env.OCTOSCAN_BENCH_JSON ?? 'bench-results.json';
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`results written to ${out}`);
} finally {
  await farm.stop();
  rmSync(work, { recursive: true, force: true });
  if (!hsperfdataBefore) rmSync(hsperfdata, { recursive: true, force: true });
}
