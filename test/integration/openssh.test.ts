// Issue 11, --transport openssh: the system ssh client runs the same script.
// Against a real sshd: the same entry set as the ssh2 transport, --sudo
// through it, and ssh's failures (exit 255 and its words) in the same classes;
// against the in-process server: a stalled scan is killed with its process
// group at the host deadline.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cliBuilt, readReport, runCli, type ReportRow } from '../helpers/cli-sweep.js';
import { blackholePort, clientKeyFile, closeAllFakeSsh, readArchive, startFakeSsh, type Archive } from '../helpers/fake-ssh-server.js';
import { installSudoRules, type SudoRules } from '../helpers/sudoers.js';
import { createTestUser, setPassword, sshdAvailable, startSshd, type Sshd, type TestUser } from '../helpers/sshd.js';

const noSsh = spawnSync('ssh', ['-V']).error ? 'the ssh client is missing (openssh-client)' : undefined;
const skip = sshdAvailable() ?? noSsh ?? (existsSync('/usr/bin/sudo') ? undefined : 'sudo missing') ?? (cliBuilt ? undefined : 'the CLI is not built');
if (skip) console.error(`\n*** SKIPPING openssh transport tests: ${skip} ***\n`);

const SUDO_PASSWORD = 'ossh-sudo-11b secret';
const entryNames = (a: Archive): string[] => a.entries.map((e) => e.name).filter((n) => !n.startsWith('java/dynamic/')).sort();

describe('--transport openssh', { skip }, () => {
  let work: string;
  let sshd: Sshd;
  let user: TestUser;
  let pwUser: TestUser;
  let knownHosts: string;
  let sudoRules: SudoRules | undefined;

  before(async () => {
    work = mkdtempSync('/tmp/octoscan-openssh-');
    user = await createTestUser('oct11b-ossh');
    pwUser = await createTestUser('oct11b-osshpw');
    setPassword(pwUser.name, SUDO_PASSWORD);
    sudoRules = installSudoRules('11b-openssh', [user.name, pwUser.name], [`${user.name} ALL=(root) NOPASSWD: ALL`, `${pwUser.name} ALL=(root) ALL`]);
    sshd = await startSshd({ users: [user, pwUser] });
    knownHosts = join(work, 'known_hosts');
    await sshd.writeKnownHosts(knownHosts, ['127.0.0.1']);
  });
  after(async () => {
    sudoRules?.remove();
    await closeAllFakeSsh();
    await sshd?.stop();
    if (pwUser) spawnSync('usermod', ['-p', '*', pwUser.name]);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  async function scan(target: string, extra: string[]): Promise<{ code: number | null; stderr: string; row: ReportRow; archive?: Archive; wallMs: number }> {
    const out = mkdtempSync(join(work, 'out-'));
    const report = join(work, `r-${randomBytes(3).toString('hex')}.csv`);
    const r = await runCli([target, '--out', out, '--report', report, '--retries', '0', ...extra], { env: { ...process.env, SSH_AUTH_SOCK: '' }, killAfterMs: 120_000 });
    const [row] = readReport(report);
    return { code: r.code, stderr: r.stderr, row, archive: row.archive ? await readArchive(row.archive) : undefined, wallMs: r.wallMs };
  }

  test('the same entry set as the ssh2 transport; --sudo runs as root through it too', async () => {
    const target = `${user.name}@127.0.0.1:${sshd.port}`;
    const args = ['-i', user.keyPath, '--known-hosts', knownHosts];
    const viaSsh2 = await scan(target, args);
    const viaOpenssh = await scan(target, [...args, '--transport', 'openssh']);
    assert.equal(viaSsh2.row.class, 'ok', viaSsh2.row.message);
    assert.equal(viaOpenssh.row.class, 'ok', `${viaOpenssh.row.message}\n${viaOpenssh.stderr}`);
    assert.deepEqual(entryNames(viaOpenssh.archive!), entryNames(viaSsh2.archive!));
    const scanJson = JSON.parse(viaOpenssh.archive!.get('octoscan-remote/scan.json')!.toString('utf8'));
    assert.equal(scanJson.transport.transport, 'openssh');

    const root = await scan(target, [...args, '--transport', 'openssh', '--sudo']);
    assert.equal(root.row.class, 'ok', root.row.message);
    assert.match(root.archive!.get('octoscan.xml')!.toString('utf8'), /<info name="user_id" type="I" value="0"\/>/);

    // sudo -S through ssh: the password goes down the session's standard input, never onto ssh's arguments.
    const pwFile = join(work, 'sudo-pw');
    writeFileSync(pwFile, `${SUDO_PASSWORD}\n`, { mode: 0o600 });
    const withPw = await scan(`${pwUser.name}@127.0.0.1:${sshd.port}`, ['-i', pwUser.keyPath, '--known-hosts', knownHosts, '--transport', 'openssh', '--sudo', '--sudo-password-file', pwFile]);
    assert.equal(withPw.row.class, 'ok', withPw.row.message);
    assert.match(withPw.archive!.get('octoscan.xml')!.toString('utf8'), /<info name="user_id" type="I" value="0"\/>/);
    for (const e of withPw.archive!.entries) assert.ok(!e.data.includes(SUDO_PASSWORD), e.name);
    assert.ok(!withPw.stderr.includes(SUDO_PASSWORD));
  });

  test("ssh's failures in the ssh2 transport's classes", async () => {
    const target = (host = '127.0.0.1', port = sshd.port): string => `${user.name}@${host}:${port}`;
    const base = ['--transport', 'openssh', '-i', user.keyPath];
    const empty = join(work, 'empty_known_hosts');
    writeFileSync(empty, '');
    const other = join(work, 'other_known_hosts');
    writeFileSync(other, `[127.0.0.1]:${sshd.port} ssh-ed25519 ${execFileSync('ssh-keygen', ['-y', '-f', clientKeyFile()]).toString().split(' ')[1]}\n`);
    const closed = await startFakeSsh();
    const closedPort = closed.port;
    await closed.close();

    const cases: [string, string[], string, string, RegExp][] = [
      ['unknown host key', [target(), ...base, '--known-hosts', empty], 'hostkey-unknown', 'handshake', /host key unknown \(ssh: .*Host key verification failed/],
      ['changed host key', [target(), ...base, '--known-hosts', other], 'hostkey-changed', 'handshake', /host key changed or revoked/],
      // A key the server does not know (a missing -i file is a start-up error, exit 1, since issue 12).
      ['no usable key', [target(), '--transport', 'openssh', '-i', clientKeyFile(), '--known-hosts', knownHosts], 'auth', 'auth', /Permission denied \(publickey\)/],
      ['refused', [target('127.0.0.1', closedPort), ...base, '--known-hosts', knownHosts], 'unreachable', 'connect', /connection refused/],
      ['no such name', [target('no-such-host-11b.invalid', 22), ...base, '--known-hosts', knownHosts], 'dns', 'resolve', /cannot resolve no-such-host-11b\.invalid: no such host/],
    ];
    // No password through ssh: refused before anything connects, naming the option.
    const pw = join(work, 'pw');
    writeFileSync(pw, 'secret-11b\n', { mode: 0o600 });
    const refused = await runCli([target(), '--out', work, ...base, '--password-file', pw], { env: { ...process.env, SSH_AUTH_SOCK: '' } });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /--transport openssh does not do password authentication/);
    assert.ok(!refused.stderr.includes('secret-11b'));

    for (const [what, args, cls, phase, message] of cases) {
      const r = await scan(args[0], args.slice(1));
      assert.equal(r.code, 2, what);
      assert.equal(r.row.class, cls, `${what}: ${r.row.message}`);
      assert.equal(r.row.phase, phase, what);
      assert.match(r.row.message, message, what);
    }
  });

  test('deadlines: the connect timeout, and the host deadline kills ssh and its process group', async () => {
    const hole = await blackholePort();
    if (hole) {
      try {
        const r = await scan(`${user.name}@127.0.0.1:${hole.port}`, ['--transport', 'openssh', '--known-hosts', knownHosts, '--connect-timeout', '2']);
        assert.equal(r.row.class, 'timeout', r.row.message);
        assert.ok(r.wallMs < 60_000, `${r.wallMs} ms`);
      } finally {
        hole.close();
      }
    }
    // Logged in, then nothing: the exec never answers. The host deadline must end ssh.
    const stall = await startFakeSsh({ exec: 'stall' });
    const kh = join(work, 'fake_known_hosts');
    writeFileSync(kh, `${stall.knownHostsLine}\n`);
    const before = sshPids();
    const r = await scan(`scan@127.0.0.1:${stall.port}`, ['--transport', 'openssh', '-i', clientKeyFile(), '--known-hosts', kh, '--host-timeout', '3']);
    assert.equal(r.row.class, 'timeout', r.row.message);
    assert.match(r.row.message, /per-host deadline of 3 s/);
    assert.ok(r.wallMs < 30_000, `ended in ${r.wallMs} ms`);
    const left = sshPids().filter((p) => !before.includes(p) && readCmdline(p).includes(String(stall.port)));
    assert.deepEqual(left, [], 'no ssh process of the scan is left');
  });
});

function sshPids(): number[] {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number).filter((p) => readCmdline(p).startsWith('ssh\0'));
}

function readCmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'latin1');
  } catch {
    return '';
  }
}
