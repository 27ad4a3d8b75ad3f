// Benchmark: one unprivileged scan of this machine over loopback SSH, against
// the OpenSSH client running the very same probe script in the same run, so
// the ratio shows what our transport, parsing and zip writing cost on top of
// the probes themselves.
//   node --import tsx bench/scan-one.ts [rounds]
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildScript } from '../src/probe/script.js';
import { newToken } from '../src/probe/frames.js';
import { linuxProbes } from '../targets/index.js';
import { createTestUser, sshdAvailable, startSshd } from '../test/helpers/sshd.js';
import { readZip } from '../test/helpers/zip.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const rounds = Number(process.argv[2] ?? 5);

function run(cmd: string, args: string[], input?: string): Promise<{ ms: number; code: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { env: { ...process.env, SSH_AUTH_SOCK: '' } });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ ms: performance.now() - t0, code, stdout: Buffer.concat(out), stderr }));
    if (input !== undefined) child.stdin.end(input);
    else child.stdin.end();
  });
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const skip = sshdAvailable();
if (skip) {
  console.log(`scan-one: skipped: ${skip}`);
  process.exit(0);
}
const user = await createTestUser();
const sshd = await startSshd({ users: [user] });
const work = mkdtempSync('/tmp/octoscan-bench-');
try {
  const kh = join(work, 'known_hosts');
  await sshd.writeKnownHosts(kh, ['127.0.0.1']);
  const ours: number[] = [];
  const onTarget: number[] = [];
  const sizes: number[] = [];
  const openssh: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const out = mkdtempSync(join(work, 'out-'));
    const r = await run(process.execPath, [join(ROOT, 'bin/octoscan-remote.js'), `${user.name}@127.0.0.1:${sshd.port}`, '--out', out, '-i', user.keyPath, '--known-hosts', kh]);
    if (r.code !== 0) throw new Error(`scan failed: ${r.stderr}`);
    ours.push(r.ms);
    const file = join(out, readdirSync(out)[0]);
    sizes.push(statSync(file).size);
    const zip = await readZip(file);
    const scan = [...zip.entries()].find(([n]) => n.endsWith('/octoscan-remote/scan.json'))![1];
    onTarget.push(JSON.parse(scan.data.toString()).onTargetMs);

    const script = buildScript({ linux: linuxProbes }, { token: newToken() });
    const o = await run('ssh', ['-F', '/dev/null', '-T', '-i', user.keyPath, '-o', 'IdentitiesOnly=yes', '-o', `UserKnownHostsFile=${kh}`, '-o', 'BatchMode=yes', '-p', String(sshd.port), `${user.name}@127.0.0.1`, '/bin/sh -s'], script);
    if (o.code !== 0) throw new Error(`ssh failed: ${o.stderr}`);
    openssh.push(o.ms);
  }
  const [w, t, s, p] = [median(ours), median(onTarget), median(sizes), median(openssh)];
  console.log(`scan-one (${rounds} rounds, medians; node ${process.version}, ${spawnSync('ssh', ['-V'], { encoding: 'utf8' }).stderr.trim()})`);
  console.log(`  octoscan-remote, whole CLI run (start, connect, scan, archive): ${w.toFixed(0)} ms`);
  console.log(`  of which the probe script ran on the target:                   ${t.toFixed(0)} ms`);
  console.log(`  archive size:                                                  ${s} bytes`);
  console.log(`  OpenSSH client, same script, output to /dev/null:              ${p.toFixed(0)} ms`);
  console.log(`  ratio octoscan-remote / OpenSSH:                               ${(w / p).toFixed(2)}`);
} finally {
  await sshd.stop();
  rmSync(work, { recursive: true, force: true });
}
