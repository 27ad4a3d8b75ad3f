// Issue 3 end to end: the real CLI scans this machine through a real OpenSSH
// sshd on loopback as an unprivileged user, and the archive is read back entry
// by entry and compared with what that same user reads locally.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { XMLParser } from 'fast-xml-parser';
import { fingerprint } from '../../src/transport/known-hosts.js';
import { createTestUser, makeHostKeyDir, sshdAvailable, startSshd, type Sshd, type TestUser } from '../helpers/sshd.js';
import { readZip } from '../helpers/zip.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = join(ROOT, 'bin', 'octoscan-remote.js');
const skip = sshdAvailable();
if (skip) console.error(`\n*** SKIPPING real-sshd scan tests: ${skip} ***\n`);

const UUID_SCAL = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.scal$/;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], opts: { env?: NodeJS.ProcessEnv; asUser?: string } = {}): Promise<Run> {
  const [cmd, argv] = opts.asUser ? ['runuser', ['-u', opts.asUser, '--', process.execPath, CLI, ...args]] : [process.execPath, [CLI, ...args]];
  return new Promise((resolve) => {
    const child = spawn(cmd, argv, { env: { ...process.env, SSH_AUTH_SOCK: '', ...opts.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (name) => name === 'info' || name === 'warning' });

function asUser(user: string, cmd: string, args: string[]): Buffer {
  return execFileSync('runuser', ['-u', user, '--', 'env', '-i', 'LC_ALL=C', 'PATH=/usr/sbin:/usr/bin:/sbin:/bin', cmd, ...args], { maxBuffer: 64 << 20 });
}

const withoutMHz = (b: Buffer): string => b.toString('latin1').split('\n').filter((l) => !/^cpu MHz\s*:/.test(l)).join('\n');

describe('scan one Linux host over a real sshd', { skip }, () => {
  let user: TestUser;
  let sshd: Sshd;
  let work: string;
  let knownHosts: string;
  const target = (): string => `${user.name}@127.0.0.1:${sshd.port}`;
  const newOut = (): string => mkdtempSync(join(work, 'out-'));
  const baseArgs = (out: string): string[] => [target(), '--out', out, '-i', user.keyPath, '--known-hosts', knownHosts];

  before(async () => {
    user = await createTestUser();
    sshd = await startSshd({ users: [user] });
    work = mkdtempSync('/tmp/octoscan-scan-ssh-');
    chmodSync(work, 0o755); // the scan user runs --local into a folder below it
    knownHosts = join(work, 'known_hosts');
    await sshd.writeKnownHosts(knownHosts, ['127.0.0.1']);
  });
  after(async () => {
    await sshd?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('an unprivileged scan writes one complete .scal and prints only its path', async () => {
    const out = newOut();
    const r = await cli(baseArgs(out));
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n').filter(Boolean);
    assert.equal(lines.length, 1, `stdout: ${r.stdout}`);
    assert.equal(readdirSync(out).length, 1, 'exactly one file in the output folder');
    const file = readdirSync(out)[0];
    const m = UUID_SCAL.exec(file);
    assert.ok(m, `archive name ${file}`);
    assert.equal(lines[0], join(out, file));
    const uuid = m[1];

    const zip = await readZip(join(out, file));
    const names = [...zip.keys()];
    for (const n of names) assert.ok(n.startsWith(`${uuid}/`) && !n.includes('..'), `entry ${n} under ${uuid}/`);
    assert.equal(names.at(-1), `${uuid}/octoscan.xml`, 'octoscan.xml is the last entry');
    const e = (p: string): Buffer => {
      const entry = zip.get(`${uuid}/${p}`);
      assert.ok(entry, `entry ${p} present; have ${names.join(', ')}`);
      return entry.data;
    };

    // octoscan.xml: every attribute of the spec, in order, and the scan account.
    const xmlText = e('octoscan.xml').toString('utf8');
    const rootTag = /<octoscan ([^>]*)>/.exec(xmlText)![1];
    assert.deepEqual([...rootTag.matchAll(/(\w+)="/g)].map((x) => x[1]), ['uuid', 'python', 'platform', 'build', 'fqdn', 'timestamp']);
    const doc = parser.parse(xmlText).octoscan;
    assert.equal(doc.uuid, uuid);
    assert.match(doc.platform, /^Linux-.+-with-glibc\d+\.\d+$/);
    assert.equal(doc.platform, doc.operating_system.info[0].value);
    assert.equal(doc.build, '1.10.9.41 2024-06-13');
    assert.match(doc.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
    const info = Object.fromEntries(doc.user.info.map((i: { name: string; value: string }) => [i.name, i.value]));
    assert.deepEqual(info, { user_id: String(user.uid), effective_user_id: String(user.uid), login: user.name });
    assert.equal(doc.configuration.info[0].name, 'tag');
    assert.match(doc.octoscan.info[0].value, /^0:00:\d\d(\.\d{6})?$/);
    // The target's python3 as the scan user finds it (system folders first, like the probe script).
    const python = asUser(user.name, 'python3', ['-V']).toString().trim().replace(/^Python /, '');
    assert.equal(doc.python, python);

    // Byte for byte what the same user reads or runs locally.
    assert.deepEqual(e('release/os-release'), readFileSync('/etc/os-release'));
    assert.deepEqual(e('proc/version'), asUser(user.name, 'cat', ['/proc/version']));
    assert.equal(withoutMHz(e('proc/cpuinfo')), withoutMHz(asUser(user.name, 'cat', ['/proc/cpuinfo'])));
    assert.deepEqual(
      e('dpkg/installed.txt'),
      asUser(user.name, 'dpkg-query', ['-W', '-f', '${Package}\\t${Version}\\t${Architecture}\\t${binary:Summary}\\n']),
    );
    assert.ok(e('cmd/ps_ef').toString().includes('sshd'), 'process list seen');
    // Extras of the remote scan and our own report entry.
    assert.ok(zip.has(`${uuid}/cmd/who`));
    const report = JSON.parse(e('octoscan-remote/scan.json').toString());
    assert.equal(report.transport.transport, 'ssh2');
    assert.equal(report.target.user, user.name);

    // Text entries deflated 0644, as the reference writes them.
    const osRelease = zip.get(`${uuid}/release/os-release`)!;
    assert.equal(osRelease.method, 8);
    assert.equal(osRelease.mode, 0o644);
  });

  test('--local as the same user gives the same entry set as the SSH scan', async () => {
    const viaSsh = newOut();
    const local = newOut();
    chownSync(local, user.uid, user.gid);
    const a = await cli(baseArgs(viaSsh));
    assert.equal(a.code, 0, a.stderr);
    const b = await cli(['--local', '--out', local], { asUser: user.name });
    assert.equal(b.code, 0, b.stderr);
    const names = async (dir: string): Promise<string[]> => {
      const f = readdirSync(dir).find((n) => UUID_SCAL.test(n))!;
      const uuid = f.slice(0, 36);
      return [...(await readZip(join(dir, f))).keys()].map((n) => n.slice(uuid.length + 1)).sort();
    };
    assert.deepEqual(await names(local), await names(viaSsh));
  });

  test('strict: an unknown host key fails the host with the offered fingerprint', async () => {
    const out = newOut();
    const empty = join(work, 'empty_known_hosts');
    writeFileSync(empty, '');
    const r = await cli([target(), '--out', out, '-i', user.keyPath, '--known-hosts', empty, '--json']);
    assert.equal(r.code, 2);
    const row = JSON.parse(r.stdout.trim());
    assert.equal(row.class, 'hostkey-unknown');
    assert.ok(row.message.includes(fingerprint(sshd.hostPublicKeys[0].blob)), row.message);
    assert.deepEqual(readdirSync(out), [], 'nothing written');
    assert.equal(readFileSync(empty, 'utf8'), '', 'strict never records a key');
  });

  test('accept-new records a new key, then it matches', async () => {
    const out = newOut();
    const kh = join(work, 'accept_new_known_hosts');
    writeFileSync(kh, '');
    // -F none: Debian's /etc/ssh/ssh_config says HashKnownHosts yes (the next test).
    const r = await cli([target(), '--out', out, '-i', user.keyPath, '--known-hosts', kh, '--host-key-policy', 'accept-new', '-F', 'none']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(readFileSync(kh, 'utf8'), new RegExp(`^\\[127\\.0\\.0\\.1\\]:${sshd.port} ssh-ed25519 `));
    const again = await cli([target(), '--out', out, '-i', user.keyPath, '--known-hosts', kh]);
    assert.equal(again.code, 0, again.stderr);
  });

  test('accept-new under HashKnownHosts yes records the key hashed, as ssh does; ssh-keygen -F finds it', async () => {
    const out = newOut();
    const kh = join(work, 'accept_new_hashed_known_hosts');
    writeFileSync(kh, '');
    const config = join(work, 'hash_config');
    writeFileSync(config, 'Host *\n  HashKnownHosts yes\n');
    const r = await cli([target(), '--out', out, '-i', user.keyPath, '--known-hosts', kh, '--host-key-policy', 'accept-new', '-F', config]);
    assert.equal(r.code, 0, r.stderr);
    const text = readFileSync(kh, 'utf8');
    assert.match(text, /^\|1\|\S+ ssh-ed25519 /);
    assert.ok(!text.includes('127.0.0.1'));
    assert.match(execFileSync('ssh-keygen', ['-F', `[127.0.0.1]:${sshd.port}`, '-f', kh], { encoding: 'utf8' }), /ssh-ed25519/);
    const again = await cli([target(), '--out', out, '-i', user.keyPath, '--known-hosts', kh, '-F', config]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(readFileSync(kh, 'utf8'), text, 'the hashed entry matched: nothing added');
  });

  test('hashed known_hosts entries are matched', async () => {
    const kh = join(work, 'hashed_known_hosts');
    await sshd.writeKnownHosts(kh, ['127.0.0.1']);
    execFileSync('ssh-keygen', ['-H', '-f', kh], { stdio: 'ignore' });
    assert.match(readFileSync(kh, 'utf8'), /^\|1\|/);
    const r = await cli([target(), '--out', newOut(), '-i', user.keyPath, '--known-hosts', kh]);
    assert.equal(r.code, 0, r.stderr);
  });

  test('a key the server does not accept is an auth failure, not retried', async () => {
    const other = join(work, 'other_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
    const out = newOut();
    const r = await cli([target(), '--out', out, '-i', other, '--known-hosts', knownHosts, '--json']);
    assert.equal(r.code, 2);
    const row = JSON.parse(r.stdout.trim());
    assert.equal(row.class, 'auth');
    assert.equal(row.attempts, 1);
    assert.deepEqual(readdirSync(out), []);
  });

  test('a changed host key is refused under strict and accept-new; off connects and warns', async () => {
    const port = sshd.port;
    await sshd.stop();
    sshd = await startSshd({ users: [user], port, hostKeyDir: await makeHostKeyDir() });
    for (const policy of ['strict', 'accept-new']) {
      const out = newOut();
      const before = readFileSync(knownHosts, 'utf8');
      const r = await cli([...baseArgs(out), '--host-key-policy', policy, '--json']);
      assert.equal(r.code, 2, `${policy}: ${r.stderr}`);
      const row = JSON.parse(r.stdout.trim());
      assert.equal(row.class, 'hostkey-changed', `${policy}: ${row.message}`);
      assert.ok(row.message.includes(fingerprint(sshd.hostPublicKeys[0].blob)));
      assert.deepEqual(readdirSync(out), []);
      assert.equal(readFileSync(knownHosts, 'utf8'), before, 'known_hosts untouched');
    }
    const out = newOut();
    const r = await cli([...baseArgs(out), '--host-key-policy', 'off']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /WARNING: .*host key CHANGED and not verified \(--host-key-policy off\)/);
    assert.equal(readdirSync(out).filter((n) => UUID_SCAL.test(n)).length, 1);
  });
});
