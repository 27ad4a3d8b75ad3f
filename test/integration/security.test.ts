// Security properties (issue 6): secrets stay secret, host keys are checked,
// the scan is read-only on the target, and nothing from the hosts file or the
// target is ever evaluated by a shell on the controller.
//
// Real sshd where it can show the property (passphrase keys, read-only
// proof), the scripted server where only it can (capturing the script and
// the user name the controller sends, answering with hostile values).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { WRITING_PROGRAMS } from '../../src/probe/catalogue.js';
import { buildScript } from '../../src/probe/script.js';
import { newToken } from '../../src/probe/frames.js';
import { scanHost } from '../../src/scan/scan-host.js';
import { linuxProbes } from '../../targets/index.js';
import {
  ARCHIVE_NAME,
  clientKeyFile,
  closeAllFakeSsh,
  entry,
  facts,
  type FakeSsh,
  fixtureHostKey,
  hostSpec,
  minimalScan,
  otherHostKey,
  readArchive,
  rec,
  scanSettings,
  startFakeSsh,
} from '../helpers/fake-ssh-server.js';
import { createTestUser, sshdAvailable, startSshd } from '../helpers/sshd.js';
import { workspace } from '../helpers/workspace.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const cliPath = path.join(repo, 'bin', 'octoscan-remote.js');
const cliSkip = existsSync(path.join(repo, 'dist', 'src', 'cli', 'main.js')) ? undefined : 'dist/ not built (npm run build)';
const sshdSkip = sshdAvailable();
if (sshdSkip) console.error(`\n*** SKIPPING real-sshd security tests: ${sshdSkip} ***\n`);

after(closeAllFakeSsh);
const freshDir = workspace('octoscan-security-');

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Every distinct /proc/<pid>/cmdline seen while it ran. */
  cmdlines: string[];
}

/** Runs the CLI asynchronously (fake servers live in this process) and samples its argv while it runs. */
function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cliPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
    let stdout = '';
    let stderr = '';
    const cmdlines = new Set<string>();
    const sample = () => {
      try {
        cmdlines.add(readFileSync(`/proc/${child.pid}/cmdline`, 'latin1'));
      } catch {
        /* gone */
      }
    };
    sample();
    const timer = setInterval(sample, 5);
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => {
      clearInterval(timer);
      resolve({ code, stdout, stderr, cmdlines: [...cmdlines] });
    });
  });
}

function cliEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env.SSH_AUTH_SOCK; // only the identity given with -i
  return env;
}

/** Every byte a secret could hide in: the file as stored, and every entry decompressed. */
async function archiveTexts(dir: string): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (const f of readdirSync(dir)) {
    const p = path.join(dir, f);
    out.push(readFileSync(p));
    if (ARCHIVE_NAME.test(f)) for (const e of (await readArchive(p)).entries) out.push(e.data);
  }
  return out;
}

// ---------------------------------------------------------------------------

describe('secrets: a key passphrase never leaves the environment variable it came in', { skip: sshdSkip ?? cliSkip }, () => {
  test('OCTOSCAN_SSH_PASSPHRASE: not in argv, stdout, stderr, report, archives or the script sent to the target; a wrong one is not echoed', { timeout: 90_000 }, async () => {
    const secret = `Pass-${randomBytes(12).toString('hex')}`;
    const wrong = `Wrong-${randomBytes(12).toString('hex')}`;
    const user = await createTestUser('octoscan-test', { passphrase: secret });
    const sshd = await startSshd({ users: [user] });
    const fake = await startFakeSsh({});
    try {
      const dir = freshDir('secret');
      const out = freshDir('out');
      const kh = path.join(dir, 'known_hosts');
      await sshd.writeKnownHosts(kh);
      writeFileSync(kh, `${readFileSync(kh, 'utf8')}${fake.knownHostsLine}\n`);
      const report = path.join(dir, 'report.csv');
      const args = ['-o', out, '--known-hosts', kh, '-i', user.keyPath, '-l', user.name, '--report', report, '--json', '--no-progress', '--retries', '0'];
      const r = await runCli([...args, `127.0.0.1:${sshd.port}`, `127.0.0.1:${fake.port}`], cliEnv({ OCTOSCAN_SSH_PASSPHRASE: secret, OCTOSCAN_DEBUG: '1' }));
      assert.equal(r.code, 0, `${r.stderr}\n${r.stdout}`);
      assert.equal(readdirSync(out).filter((f) => ARCHIVE_NAME.test(f)).length, 2, 'both hosts scanned with the decrypted key');
      assert.ok(r.cmdlines.length > 0, 'argv was sampled while the CLI ran');
      const places: [string, string | Buffer][] = [
        ...r.cmdlines.map((c, i): [string, string] => [`argv sample ${i}`, c]),
        ['stdout', r.stdout],
        ['stderr', r.stderr],
        ['report', readFileSync(report, 'utf8')],
        ['script sent to the target', fake.scripts.join('\n')],
        ...(await archiveTexts(out)).map((b, i): [string, Buffer] => [`archive bytes ${i}`, b]),
      ];
      for (const [where, text] of places) assert.ok(!text.includes(secret), `the passphrase appears in ${where}`);
      assert.ok(fake.scripts.length === 1 && fake.scripts[0].includes('_T=\'@@OCTO:'), 'the fake target received the script');

      // A wrong passphrase: an -i key every host would use, so the run stops at start-up
      // with a message that names the key but not what was tried.
      const out2 = freshDir('out');
      const report2 = path.join(dir, 'report2.csv');
      const w = await runCli(['-o', out2, '--known-hosts', kh, '-i', user.keyPath, '-l', user.name, '--report', report2, '--no-progress', '--retries', '0', `127.0.0.1:${sshd.port}`], cliEnv({ OCTOSCAN_SSH_PASSPHRASE: wrong, OCTOSCAN_DEBUG: '1' }));
      assert.equal(w.code, 1, w.stderr);
      assert.ok(w.stderr.includes(user.keyPath), 'the message says which key could not be used');
      assert.match(w.stderr, /cannot be decrypted with the passphrase given/);
      for (const [where, text] of [['stderr', w.stderr], ['stdout', w.stdout], ...w.cmdlines.map((c) => ['argv', c])]) {
        assert.ok(!text.includes(wrong), `the wrong passphrase appears in ${where}`);
      }
      assert.deepEqual(readdirSync(out2), []);
    } finally {
      await fake.close();
      await sshd.stop();
    }
  });

  test('--passphrase-file: a file others can read is refused before anything connects', { timeout: 30_000 }, async (ctx) => {
    const help = await runCli(['--help'], cliEnv());
    if (!help.stdout.includes('--passphrase-file')) return ctx.skip('no --passphrase-file option in this build');
    const fake = await startFakeSsh({});
    const dir = freshDir('ppfile');
    const file = path.join(dir, 'pp');
    const secret = `File-${randomBytes(8).toString('hex')}`;
    writeFileSync(file, `${secret}\n`, { mode: 0o644 });
    chmodSync(file, 0o644);
    const r = await runCli(['-o', freshDir('out'), '--known-hosts', path.join(dir, 'kh'), '-i', clientKeyFile(), '--passphrase-file', file, '--no-progress', `127.0.0.1:${fake.port}`], cliEnv());
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /readable by group or others/);
    assert.ok(!r.stderr.includes(secret));
    assert.equal(fake.connections, 0, 'nothing connected');
  });
});

// ---------------------------------------------------------------------------

async function scanOnce(target: FakeSsh, knownHostsText: string, policy: 'strict' | 'accept-new' | 'off') {
  const dir = freshDir('hk');
  const kh = path.join(dir, 'known_hosts');
  writeFileSync(kh, knownHostsText);
  const out = freshDir('out');
  const warnings: string[] = [];
  const outcome = await scanHost(hostSpec(target), scanSettings(out, { knownHosts: kh, hostKeyPolicy: policy, warnings }));
  return { outcome, warnings, kh, files: readdirSync(out), after: readFileSync(kh, 'utf8') };
}

describe('host keys', { concurrency: true }, () => {
  test('a changed key is refused under strict and under accept-new, and known_hosts is not touched', async () => {
    const s = await startFakeSsh({ hostKey: otherHostKey().private });
    const line = `[${s.host}]:${s.port} ${fixtureHostKey().public}\n`;
    for (const policy of ['strict', 'accept-new'] as const) {
      const r = await scanOnce(s, line, policy);
      assert.equal(r.outcome.class, 'hostkey-changed', `${policy}: ${r.outcome.class}: ${r.outcome.message}`);
      assert.equal(r.outcome.phase, 'handshake');
      assert.equal(r.after, line, `${policy}: known_hosts must stay as it was`);
      assert.deepEqual(r.files, []);
      assert.equal(r.outcome.transient, false, 'a changed key is not retried');
    }
  });

  test('accept-new records an unknown key once; the next scan matches it; a revoked key is refused even under off', async () => {
    const s = await startFakeSsh({});
    const first = await scanOnce(s, '', 'accept-new');
    assert.equal(first.outcome.class, 'ok', first.outcome.message);
    assert.equal(first.after.trim(), s.knownHostsLine);
    assert.match(first.warnings.join('\n'), /new host key accepted/);
    const revoked = `@revoked [${s.host}]:${s.port} ${fixtureHostKey().public}\n`;
    const r = await scanOnce(s, revoked, 'off');
    assert.equal(r.outcome.class, 'hostkey-changed', r.outcome.message);
    assert.deepEqual(r.files, []);
  });

  test('--host-key-policy off: one warning per host, naming it (CLI standard error)', { skip: cliSkip, timeout: 60_000 }, async () => {
    const servers = await Promise.all([startFakeSsh({}), startFakeSsh({}), startFakeSsh({ hostKey: otherHostKey().private })]);
    const dir = freshDir('off');
    const kh = path.join(dir, 'known_hosts');
    // The third host's key changed: off connects anyway, but must say so loudly.
    writeFileSync(kh, `[${servers[2].host}]:${servers[2].port} ${fixtureHostKey().public}\n`);
    const before = readFileSync(kh, 'utf8');
    const out = freshDir('out');
    const r = await runCli(['-o', out, '--known-hosts', kh, '--host-key-policy', 'off', '-i', clientKeyFile(), '-l', 'scan', '--no-progress', ...servers.map((s) => `127.0.0.1:${s.port}`)], cliEnv());
    assert.equal(r.code, 0, r.stderr);
    const warnings = r.stderr.split('\n').filter((l) => /WARNING/.test(l));
    assert.equal(warnings.length, 3, r.stderr);
    for (const s of servers) assert.equal(warnings.filter((w) => w.includes(`@127.0.0.1:${s.port}:`)).length, 1, `one warning for port ${s.port}:\n${r.stderr}`);
    assert.match(warnings.find((w) => w.includes(`:${servers[2].port}:`))!, /CHANGED/);
    assert.equal(readFileSync(kh, 'utf8'), before, 'off records nothing');
  });
});

// ---------------------------------------------------------------------------
// Read-only proof. A child process in its own mount namespace gets private,
// empty /tmp and /var/tmp (so concurrent tests elsewhere on the machine do
// not disturb the listing), starts a real sshd there, lists the scan user's
// home, /tmp and /var/tmp (paths, types, modes, owners, sizes, mtimes and
// ctimes), scans, and lists again. Then it makes /tmp read-only and /var/tmp
// full and scans once more: the scan needs neither.
//
// The checkout may itself live below /tmp or /var/tmp, where the empty tmpfs
// would hide it from the child (and the scanner reads targets/ lazily). So
// the child runs from a bind mount of the checkout made before the tmpfs goes
// over, at a path outside both trees: the listings stay those of an empty
// /tmp and /var/tmp, and no file the child loads late can go missing.

const CHILD = (repoDir: string) => `
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createTestUser, startSshd } from ${JSON.stringify(`${repoDir}/test/helpers/sshd.js`)};
import { scanHost } from ${JSON.stringify(`${repoDir}/src/scan/scan-host.js`)};
import { ssh2Transport } from ${JSON.stringify(`${repoDir}/src/transport/ssh2-transport.js`)};
import { linuxProbes } from ${JSON.stringify(`${repoDir}/targets/index.js`)};

const work = process.env.OCTO_WORK;
const sh = (...a) => execFileSync(a[0], a.slice(1), { stdio: 'pipe' });
sh('mount', '-t', 'tmpfs', '-o', 'mode=1777,size=16m', 'octoscan-ro-tmp', '/tmp');
sh('mount', '-t', 'tmpfs', '-o', 'mode=1777,size=16m', 'octoscan-ro-vartmp', '/var/tmp');

function list(root, acc = {}) {
  let st;
  try { st = lstatSync(root, { bigint: true }); } catch { return acc; }
  acc[root] = [st.mode, st.uid, st.gid, st.size, st.mtimeNs, st.ctimeNs].map(String).join(' ');
  if (st.isDirectory()) for (const n of readdirSync(root)) list(path.join(root, n), acc);
  return acc;
}

const user = await createTestUser('octoscan-ro');
// Something in each tree for the scan to (not) touch.
writeFileSync('/tmp/existing', 'x'); writeFileSync('/var/tmp/existing', 'y');
const sshd = await startSshd({ users: [user] });
const kh = path.join(work, 'known_hosts');
await sshd.writeKnownHosts(kh);
const scan = async () => {
  const out = mkdtempSync(path.join(work, 'out-'));
  const o = await scanHost({ host: '127.0.0.1', port: sshd.port, user: user.name, identities: [user.keyPath], tag: '', origin: { file: '<child>', line: 0 } }, {
    outDir: out, transport: ssh2Transport, hostTimeoutMs: 120000, sections: { linux: linuxProbes }, warn: () => {},
    connect: { connectTimeoutMs: 20000, authTimeoutMs: 20000, keepaliveIntervalMs: 60000, keepaliveCountMax: 3, knownHostsFiles: [kh], knownHostsWriteFile: kh, hostKeyPolicy: 'strict' },
  });
  return { class: o.class, phase: o.phase, message: o.message, archive: o.archive };
};
const result = {};
try {
  const trees = [user.home, '/tmp', '/var/tmp'];
  const before = {}; for (const t of trees) list(t, before);
  result.first = await scan();
  await new Promise((r) => setTimeout(r, 200));
  const afterList = {}; for (const t of trees) list(t, afterList);
  result.before = before; result.after = afterList; result.home = user.home;

  sh('mount', '-o', 'remount,ro', '/tmp');
  sh('mount', '-t', 'tmpfs', '-o', 'mode=1777,size=64k', 'octoscan-full-vartmp', '/var/tmp');
  try { sh('dd', 'if=/dev/zero', 'of=/var/tmp/fill', 'bs=4k'); } catch {}
  result.tmpWritable = (() => { try { writeFileSync('/tmp/probe-write', 'x'); return true; } catch { return false; } })();
  result.varTmpFull = (() => { try { writeFileSync('/var/tmp/more', 'x'.repeat(8192)); return false; } catch (e) { return e.code === 'ENOSPC'; } })();
  result.second = await scan();
} finally {
  await sshd.stop();
}
process.stdout.write(JSON.stringify(result));
`;

const unshareSkip = sshdSkip ?? (existsSync('/usr/bin/unshare') ? undefined : 'unshare (util-linux) not installed');

describe('the scan is read-only on the target (real sshd, private mount namespace)', { skip: unshareSkip }, () => {
  test('home, /tmp and /var/tmp listed before and after a scan are identical; a read-only /tmp and a full /var/tmp do not matter', { timeout: 120_000 }, async () => {
    const work = mkdtempSync('/run/octoscan-security-');
    const mnt = path.join(work, 'checkout');
    try {
      chmodSync(work, 0o755);
      mkdirSync(mnt);
      const child = path.join(work, 'child.mts');
      writeFileSync(child, CHILD(mnt));
      const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        // cwd is the bind mount so that --import tsx resolves through it too.
        const wrap = 'mount --bind "$1" "$2" && cd "$2" && shift 2 && exec "$@"';
        const p = spawn('unshare', ['--mount', '--propagation', 'private', '/bin/sh', '-c', wrap, 'wrap', repo, mnt, process.execPath, '--import', 'tsx', child], {
          cwd: work,
          // The harness's client keys go to TMPDIR: keep them out of the trees being compared.
          env: { ...process.env, OCTO_WORK: work, TMPDIR: work },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        p.stdout.on('data', (d) => (stdout += d));
        p.stderr.on('data', (d) => (stderr += d));
        p.on('close', (code) => resolve({ code, stdout, stderr }));
      });
      assert.equal(r.code, 0, r.stderr);
      const res = JSON.parse(r.stdout);
      assert.equal(res.first.class, 'ok', res.first.message);
      const before: Record<string, string> = res.before;
      const afterL: Record<string, string> = res.after;
      assert.ok(Object.keys(before).some((p) => p.startsWith(res.home)), 'the home directory was listed');
      assert.ok(before['/tmp/existing'] && before['/var/tmp/existing']);
      const diff: string[] = [];
      for (const p of new Set([...Object.keys(before), ...Object.keys(afterL)])) {
        if (before[p] !== afterL[p]) diff.push(`${p}: ${before[p] ?? '(absent)'} -> ${afterL[p] ?? '(absent)'}`);
      }
      assert.deepEqual(diff, [], `the scan changed the target:\n${diff.join('\n')}`);
      assert.equal(res.tmpWritable, false, '/tmp was read-only for the second scan');
      assert.equal(res.varTmpFull, true, '/var/tmp was full for the second scan');
      assert.equal(res.second.class, 'ok', `with /tmp read-only and /var/tmp full: ${res.second.message}`);
    } finally {
      // The bind mount lives only in the child's namespace; should it ever be
      // visible here, rmdir fails (busy, not empty) and the recursive removal
      // below must not run, or it would delete the checkout.
      if (existsSync(mnt)) rmdirSync(mnt);
      rmSync(work, { recursive: true, force: true });
    }
  });

  test('no command in the probe script can write: every redirection goes to /dev/null or a descriptor, no writing tool is called', () => {
    const script = buildScript({ linux: linuxProbes }, { token: newToken(), javaDirs: ['/srv/java'] });
    // Drop comments and quoted strings (probe argv and literals are all quoted), keep the code.
    const code = script
      .split('\n')
      .map((l) => (/^\s*#/.test(l) ? '' : l))
      .join('\n')
      .replace(/'[^']*'/g, "''")
      .replace(/"(?:[^"\\]|\\.)*"/g, '""');
    const redirections = [...code.matchAll(/(\d*)>(>?)\s*(\S*)/g)].map((m) => m[0]);
    assert.ok(redirections.length >= 5, `the redirection scan found too little to be believed: ${redirections.join(', ')}`);
    const bad = redirections.filter((r) => !/^\d*>(&(\d+|-)|\s*\/dev\/null)$/.test(r.replace(/[;)|].*$/, '')));
    assert.deepEqual(bad, [], `redirections that could write a file: ${bad.join(', ')}`);
    // The same list `octoscan-remote script --list` vouches for (src/probe/catalogue.ts); test/unit/script-list.test.ts
    // proves the programs that list names are the only ones the script starts.
    const writers = new RegExp(`(^|[\\s;|&(\`{])(${[...WRITING_PROGRAMS, 'sed\\s+-i'].join('|')})(?=[\\s;|&)]|$)`, 'm');
    // `getent passwd UID` names getent's database (the owner of an untrusted java, issue 20), not the passwd program.
    const hit = writers.exec(code.replace(/\bgetent passwd\b/g, 'getent'));
    assert.equal(hit, null, `a writing command in the probe script: ${hit?.[0]}`);
    for (const p of linuxProbes) {
      if (p.kind !== 'command') continue;
      for (const argv of [p.argv, ...(p.fallbackArgv ?? [])]) {
        assert.ok(!WRITING_PROGRAMS.includes(argv[0]), `probe ${p.id} runs ${argv[0]}`);
      }
    }
  });
});

// ---------------------------------------------------------------------------

describe('nothing from the hosts file or the target is ever evaluated by a shell', () => {
  test('hosts-file values with $(...), backticks and ; never run: bad hosts are refused, the rest reach no shell', { skip: cliSkip, timeout: 90_000 }, async () => {
    const marks = freshDir('marks');
    const mark = (n: string) => path.join(marks, n);
    const dir = freshDir('hostsfile');
    const fakeA = await startFakeSsh({});
    const fakeB = await startFakeSsh({
      exec: async (x) => {
        await x.write(minimalScan(await x.token()));
        await x.finish(0);
      },
    });
    const kh = path.join(dir, 'known_hosts');
    writeFileSync(kh, `${fakeA.knownHostsLine}\n${fakeB.knownHostsLine}\n`);

    // 1. Hostile host names: the whole file is refused, nothing connects, nothing runs.
    const badHosts = path.join(dir, 'bad.csv');
    writeFileSync(badHosts, [
      'host,port',
      `"$(touch ${mark('host1')})",${fakeA.port}`,
      `\`touch\${IFS}${mark('host2')}\`,${fakeA.port}`,
      `127.0.0.1;touch${'${IFS}'}${mark('host3')},${fakeA.port}`,
      `"127.0.0.1 && touch ${mark('host4')}",${fakeA.port}`,
      '',
    ].join('\n'));
    const bad = await runCli(['-o', freshDir('out'), '--known-hosts', kh, '-i', clientKeyFile(), '--hosts', badHosts, '--no-progress'], cliEnv());
    assert.equal(bad.code, 1, bad.stderr);
    assert.equal((bad.stderr.match(/bad\.csv:\d+:/g) ?? []).length, 4, `every bad row is named:\n${bad.stderr}`);
    assert.equal(fakeA.connections, 0);

    // 2. A user or a jump part that a shell would interpret is refused too (issue 20: one rule for
    // both transports; ssh builds shell lines from them), each row named with the character.
    const evilUser = `$(touch\${IFS}${mark('user')})`;
    const badCells = path.join(dir, 'bad-cells.csv');
    writeFileSync(badCells, [
      'host,port,user,jump',
      `127.0.0.1,${fakeA.port},"${evilUser}",`,
      `127.0.0.1,${fakeA.port},jumper,"evil$(touch${'${IFS}'}${mark('jump')})@bastion.invalid"`,
      '',
    ].join('\n'));
    const refused = await runCli(['-o', freshDir('out'), '--known-hosts', kh, '-i', clientKeyFile(), '--hosts', badCells, '--no-progress'], cliEnv());
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /bad-cells\.csv:2: column "user": .*user must not contain "\$"/);
    assert.match(refused.stderr, /bad-cells\.csv:3: column "jump": .*user must not contain "\$"/);
    assert.equal(fakeA.connections, 0);

    // 3. Hostile values in columns that are accepted: tag, identity; and --java-dir.
    const hosts = path.join(dir, 'hosts.csv');
    const plainUser = 'scan';
    const evilTag = `$(touch ${mark('tag')}); \`touch ${mark('tag2')}\` | touch ${mark('tag3')} & <x a="1">`;
    const evilIdentity = path.join(dir, `$(touch ${mark('identity')})`);
    const evilJava = `/opt/x'$(touch ${mark('java')})'\`touch ${mark('java2')}\``;
    writeFileSync(hosts, [
      'host,port,user,identity,jump,tag',
      `127.0.0.1,${fakeA.port},${plainUser},${clientKeyFile()},,"${evilTag.replace(/"/g, '""')}"`,
      `127.0.0.1,${fakeB.port},plain,"${evilIdentity}",,`,
      // The jump column is honoured: its bastion (a name that cannot resolve) fails the row in phase jump.
      `127.0.0.1,${fakeA.port},jumper,${clientKeyFile()},jumper@bastion.invalid,`,
      '',
    ].join('\n'));
    const out = freshDir('out');
    const report = path.join(dir, 'report.csv');
    const r = await runCli(['-o', out, '--known-hosts', kh, '--hosts', hosts, '--java-dir', evilJava, '--report', report, '--no-progress', '--retries', '0'], cliEnv());
    assert.equal(r.code, 2, r.stderr); // host B has no usable key
    const rep = readFileSync(report, 'utf8');
    assert.match(rep, new RegExp(`127\\.0\\.0\\.1,${fakeA.port},.*,ok,`));
    assert.match(rep, new RegExp(`127\\.0\\.0\\.1,${fakeB.port},plain,,auth,`));
    assert.match(rep, new RegExp(`127\\.0\\.0\\.1,${fakeA.port},jumper,,dns,jump,`));
    // The tag reaches octoscan.xml as text.
    const [archive] = readdirSync(out).filter((f) => ARCHIVE_NAME.test(f));
    const xml = (await readArchive(path.join(out, archive))).get('octoscan.xml')!.toString();
    assert.ok(xml.includes(evilTag.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')), xml);
    // What the target received: the script holds none of the hosts-file values; --java-dir is quoted.
    const script = fakeA.scripts[0];
    assert.ok(script, 'the target received a script');
    for (const v of [evilUser, evilTag, 'bastion']) assert.ok(!script.includes(v), `the script contains ${v}`);
    assert.deepEqual(fakeA.users, [plainUser]);
    // Run the Java search of that very script through /bin/sh here: the prelude and the
    // _java_static call with the hostile folder (read-only, as --local would run it).
    const javaCall = script.split('\n').filter((l) => l.startsWith('_java_static '));
    assert.equal(javaCall.length, 1);
    const mini = `${script.slice(0, script.indexOf('\n_facts_common\n'))}\n${javaCall[0]}\n`;
    await new Promise<void>((resolve) => {
      const sh = spawn('/bin/sh', ['-s'], { stdio: ['pipe', 'ignore', 'ignore'] });
      sh.on('close', () => resolve());
      sh.stdin.on('error', () => {});
      sh.stdin.end(mini);
    });
    assert.deepEqual(readdirSync(marks), [], 'a hosts-file or --java-dir value was run by a shell');
    assert.ok(script.includes(`'/opt/x'\\''$(touch ${mark('java')})'\\''\`touch ${mark('java2')}\`'`), 'the --java-dir folder is single-quoted in the script');
  });

  test('values from the target ($(...), backticks, ; | &) are stored as text, never run on the controller', { timeout: 30_000 }, async () => {
    const marks = freshDir('marks');
    const payload = (n: string) => `$(touch ${path.join(marks, n)});\`touch ${path.join(marks, `${n}-bt`)}\`|touch ${path.join(marks, `${n}-pipe`)}&`;
    const s = await startFakeSsh({
      exec: async (x) => {
        const tok = await x.token();
        await x.write(facts(tok, { fqdn: payload('fqdn'), login: payload('login'), 'uname-r': payload('uname'), python: payload('python'), constructor: 'x', tz: payload('tz') }));
        await x.write(rec(tok, 'W', 1002, payload('warning')));
        await x.write(rec(tok, 'S', 'dpkg', payload('skip')));
        await x.write(entry(tok, 'release', `release/${payload('name')}`, payload('content')));
        await x.write(rec(tok, 'Z'));
        await x.finish(0);
      },
    });
    const dir = freshDir('t');
    const kh = path.join(dir, 'known_hosts');
    writeFileSync(kh, `${s.knownHostsLine}\n`);
    const out = freshDir('out');
    const o = await scanHost(hostSpec(s), scanSettings(out, { knownHosts: kh }));
    assert.equal(o.class, 'ok', o.message);
    const a = await readArchive(o.archive!);
    const xml = a.get('octoscan.xml')!.toString();
    assert.ok(xml.includes(payload('fqdn').replace(/&/g, '&amp;')), 'the fqdn is kept as text');
    const contentEntry = a.entries.find((e) => e.name.startsWith('release/'));
    assert.equal(contentEntry?.data.toString(), payload('content'));
    assert.deepEqual(readdirSync(marks), [], 'a value from the target was run on the controller');
    // No file other than the archive appeared anywhere we can see.
    assert.deepEqual(readdirSync(out), [path.basename(o.archive!)]);
  });
});
