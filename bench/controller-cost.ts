// What the controller costs per host, apart from the targets: a sweep of
// emulated hosts (ssh2 servers in another process replaying one real scan's
// recorded output, token replaced per session) by the real CLI. The CLI's own
// CPU time comes from the shell's `times` after it exits.
//
//   npm run build && node --import tsx bench/controller-cost.ts [--hosts 200] [-j 20] [--prof DIR] [--farm real|replay]
//
// --farm: real OpenSSH sshds on loopback instead (test/helpers/farm.ts, at
// most 250 hosts): `real` runs the probe script on every target, `replay`
// replays one recorded run through the real sshd, so the targets cost little
// and the controller's share of a real SSH session shows on its own.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { newToken } from '../src/probe/frames.js';
import { buildScript } from '../src/probe/script.js';
import { darwinProbes, linuxProbes } from '../targets/index.js';
import { CLI, sweepArgs, sweepFixture } from '../test/helpers/cli-sweep.js';
import { startFarm } from '../test/helpers/farm.js';

const { values } = parseArgs({
  options: {
    hosts: { type: 'string', default: '200' },
    parallel: { type: 'string', short: 'j', default: '20' },
    prof: { type: 'string' },
    farm: { type: 'string' },
  },
});
const hosts = Number(values.hosts);

export async function recordScan(dir: string): Promise<{ file: string; token: string; bytes: number }> {
  const token = newToken();
  const script = buildScript({ linux: linuxProbes, darwin: darwinProbes }, { token });
  const r = spawnSync('/bin/sh', ['-s'], { input: script, maxBuffer: 1 << 30 });
  const file = path.join(dir, 'recorded-scan.bin');
  writeFileSync(file, r.stdout);
  return { file, token, bytes: r.stdout.length };
}

/** CPU seconds (user, system) of a command, from bash's `times` for its children. */
export function cpuOf(argv: string[], env: NodeJS.ProcessEnv): Promise<{ user: number; sys: number; wallMs: number; code: number }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
    const child = spawn('bash', ['-c', `${argv.map(q).join(' ')} >/dev/null 2>&1; rc=$?; times; exit $rc`], { env });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('close', (code) => {
      const lines = out.trim().split('\n');
      const m = /(\d+)m([\d.]+)s (\d+)m([\d.]+)s/.exec(lines[lines.length - 1]) ?? [];
      resolve({ user: Number(m[1]) * 60 + Number(m[2]), sys: Number(m[3]) * 60 + Number(m[4]), wallMs: performance.now() - t0, code: code ?? -1 });
    });
  });
}

const work = mkdtempSync(path.join(os.tmpdir(), 'octoscan-ctl-'));
try {
  if (values.farm) await onFarm(values.farm);
  else await onEmulated();
} finally {
  rmSync(work, { recursive: true, force: true });
}

function report(what: string, r: { user: number; sys: number; wallMs: number; code: number }, archives: number): void {
  const cpuMs = (r.user + r.sys) * 1000;
  console.log(`controller-cost: ${what}, -j ${values.parallel}: exit ${r.code}, ${archives} archives, wall ${(r.wallMs / 1000).toFixed(1)} s`);
  console.log(`  controller CPU ${cpuMs.toFixed(0)} ms (user ${r.user.toFixed(2)} s, sys ${r.sys.toFixed(2)} s) = ${(cpuMs / hosts).toFixed(1)} ms per host`);
}

async function onFarm(mode: string): Promise<void> {
  if (mode !== 'real' && mode !== 'replay') throw new Error(`--farm real|replay, not ${mode}`);
  const farm = await startFarm(hosts, { dir: work, probe: mode });
  try {
    const out = mkdtempSync(path.join(work, 'out-'));
    const prof = values.prof ? ['--cpu-prof', `--cpu-prof-dir=${values.prof}`] : [];
    const r = await cpuOf([process.execPath, ...prof, CLI, '--hosts', farm.hostsFile, '--out', out, '--known-hosts', farm.knownHosts, '-j', values.parallel!,
      '--no-progress', '--retries', '0', '--host-timeout', '300'], { ...process.env, SSH_AUTH_SOCK: '' });
    report(`${hosts} loopback sshd targets (${mode} probes)`, r, readdirSync(out).filter((n) => n.endsWith('.scal')).length);
  } finally {
    await farm.stop();
  }
}

async function onEmulated(): Promise<void> {
  const rec = await recordScan(work);
  const f = await sweepFixture(work, Array.from({ length: hosts }, () => ({
    recipe: { label: 'healthy', auth: 'accept' as const, exec: [{ t: 'replay' as const, file: rec.file, token: rec.token }, { t: 'finish' as const, code: 0 }] },
  })));
  try {
    const prof = values.prof ? ['--cpu-prof', `--cpu-prof-dir=${values.prof}`] : [];
    const r = await cpuOf([process.execPath, ...prof, CLI, ...sweepArgs(f, ['-j', values.parallel!, '--host-timeout', '120'])], process.env);
    report(`${hosts} emulated hosts (${(rec.bytes / 1024).toFixed(0)} KiB of probe output each)`, r, readdirSync(f.out).filter((n) => n.endsWith('.scal')).length);
  } finally {
    f.close();
  }
}
