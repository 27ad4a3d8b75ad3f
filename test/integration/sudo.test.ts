// Issue 11, privilege: --sudo and the sudo column against a real sshd and the
// real sudo, with sudoers drop-ins written for the test (validated with
// visudo, removed in finally): NOPASSWD, a password that is right, wrong or
// missing, no rule at all, and requiretty. A refused sudo still gives the
// archive of what the scan user can read, reported as class sudo.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { XMLParser } from 'fast-xml-parser';
import { cliBuilt, readReport, runCli, type ReportRow } from '../helpers/cli-sweep.js';
import { readArchive, type Archive } from '../helpers/fake-ssh-server.js';
import { installSudoRules, type SudoRules } from '../helpers/sudoers.js';
import { createTestUser, setPassword, sshdAvailable, startSshd, type Sshd, type TestUser } from '../helpers/sshd.js';

const SUDO = ['/usr/bin/sudo', '/usr/sbin/visudo'].find((p) => !existsSync(p));
const skip = sshdAvailable() ?? (SUDO ? `${SUDO} missing (apt-get install sudo)` : undefined) ?? (cliBuilt ? undefined : 'the CLI is not built');
if (skip) console.error(`\n*** SKIPPING sudo tests: ${skip} ***\n`);

const SUDO_PASSWORD = 'sudo-Secret-11b %s $HOME';
const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (name) => name === 'info' || name === 'warning' });

function xmlOf(a: Archive): { user: Record<string, string>; warnings: { id: string; message: string }[] } {
  const doc = parser.parse(a.get('octoscan.xml')!.toString('utf8')).octoscan;
  const user = Object.fromEntries(doc.user.info.map((i: { name: string; value: string }) => [i.name, i.value]));
  return { user, warnings: doc.warning ?? [] };
}

describe('--sudo against a real sshd and sudo', { skip }, () => {
  let work: string;
  let sshd: Sshd;
  let knownHosts: string;
  const users: Record<'nopasswd' | 'passwd' | 'none' | 'tty' | 'readme', TestUser> = {} as never;
  let sudoRules: SudoRules | undefined;

  before(async () => {
    work = mkdtempSync('/tmp/octoscan-sudo-');
    users.nopasswd = await createTestUser('oct11b-sudo');
    users.passwd = await createTestUser('oct11b-sudopw');
    users.none = await createTestUser('oct11b-nosudo');
    users.tty = await createTestUser('oct11b-sudotty');
    users.readme = await createTestUser('oct11b-sudosh');
    setPassword(users.passwd.name, SUDO_PASSWORD);
    const rules = [
      `${users.nopasswd.name} ALL=(root) NOPASSWD: ALL`,
      `${users.passwd.name} ALL=(root) ALL`,
      `Defaults:${users.tty.name} requiretty`,
      `${users.tty.name} ALL=(root) NOPASSWD: ALL`,
      // The README's rule, word for word: this account may run nothing else through sudo.
      `${users.readme.name} ALL=(root) NOPASSWD: /bin/sh -s`,
      `Defaults:${users.readme.name} !requiretty`,
    ];
    sudoRules = installSudoRules('11b-sudo', Object.values(users).map((u) => u.name), rules);
    sshd = await startSshd({ users: Object.values(users), addresses: ['127.0.0.1', '127.0.0.2'] });
    knownHosts = join(work, 'known_hosts');
    await sshd.writeKnownHosts(knownHosts);
  });
  after(async () => {
    sudoRules?.remove();
    await sshd?.stop();
    if (users.passwd) spawnSync('usermod', ['-p', '*', users.passwd.name]);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  async function sweep(rows: string[], extra: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stderr: string; rows: ReportRow[]; report: string; retry: string; archives: Map<string, Archive> }> {
    const hosts = join(work, `hosts-${randomBytes(3).toString('hex')}.csv`);
    writeFileSync(hosts, ['host,port,user,identity,sudo', ...rows].join('\n') + '\n');
    const out = mkdtempSync(join(work, 'out-'));
    const report = join(work, `report-${randomBytes(3).toString('hex')}.csv`);
    const retry = join(work, `retry-${randomBytes(3).toString('hex')}.csv`);
    const r = await runCli(['--hosts', hosts, '--out', out, '--known-hosts', knownHosts, '--report', report, '--retry-file', retry, '-j', '2', ...extra], {
      env: { ...process.env, SSH_AUTH_SOCK: '', ...env },
    });
    const archives = new Map<string, Archive>();
    const rowsRead = existsSync(report) ? readReport(report) : [];
    for (const row of rowsRead) if (row.archive) archives.set(`${row.host}/${(row as unknown as { user: string }).user}`, await readArchive(row.archive));
    return { code: r.code, stderr: r.stderr, rows: rowsRead, report: readFileSync(report, 'utf8'), retry: existsSync(retry) ? readFileSync(retry, 'utf8') : '', archives };
  }
  const row = (u: TestUser, host = '127.0.0.1', sudo = ''): string => `${host},${sshd.port},${u.name},${u.keyPath},${sudo}`;
  const find = (rows: ReportRow[], u: TestUser, host = '127.0.0.1'): ReportRow => rows.find((r) => (r as unknown as { user: string }).user === u.name && r.host === host)!;

  test('NOPASSWD, the right password, no rule, requiretty, and the sudo column saying no', async () => {
    const pwFile = join(work, 'sudo-password');
    writeFileSync(pwFile, `${SUDO_PASSWORD}\n`, { mode: 0o600 });
    const s = await sweep(
      [row(users.nopasswd), row(users.passwd), row(users.none), row(users.tty), row(users.readme), row(users.nopasswd, '127.0.0.2', 'no')],
      ['--sudo', '--sudo-password-file', pwFile],
    );
    assert.equal(s.code, 2, s.stderr);

    // Root through sudo -n, and through sudo -S with the password.
    for (const u of [users.nopasswd, users.passwd, users.readme]) {
      const r = find(s.rows, u);
      assert.equal(r.class, 'ok', `${u.name}: ${r.message}`);
      const a = s.archives.get(`127.0.0.1/${u.name}`)!;
      const x = xmlOf(a);
      assert.equal(x.user.user_id, '0', u.name);
      assert.equal(x.user.effective_user_id, '0', u.name);
      assert.equal(x.user.login, 'root', 'the account name of the uid (spec: no login terminal)');
      assert.ok(!x.warnings.some((w) => /readable by root only/.test(w.message)), `${u.name}: no root-only warnings: ${JSON.stringify(x.warnings)}`);
      for (const f of ['product_uuid', 'product_serial', 'board_serial', 'chassis_serial']) {
        if (existsSync(`/sys/class/dmi/id/${f}`)) assert.ok(a.get(`sys/class/dmi/id/${f}`), `${u.name}: DMI ${f} read as root`);
      }
      const scan = JSON.parse(a.get('octoscan-remote/scan.json')!.toString('utf8'));
      assert.equal(scan.command, u === users.passwd ? 'sudo -S -p octoscan-sudo-<random>: /bin/sh -s' : 'sudo -n /bin/sh -s');
      for (const e of a.entries) assert.ok(!e.data.includes(SUDO_PASSWORD), `${u.name}: the sudo password is not in ${e.name}`);
    }

    // The sudo column overrides --sudo: the same user unprivileged, with its root-only warnings.
    const plain = s.archives.get(`127.0.0.2/${users.nopasswd.name}`)!;
    assert.equal(find(s.rows, users.nopasswd, '127.0.0.2').class, 'ok');
    assert.equal(xmlOf(plain).user.user_id, String(users.nopasswd.uid));
    if (existsSync('/sys/class/dmi/id/product_uuid')) {
      assert.ok(xmlOf(plain).warnings.some((w) => /product_uuid.*readable by root only/.test(w.message)));
    }

    // Refused: still an archive, as the scan user, with sudo's own words; class sudo.
    const refused: [TestUser, RegExp][] = [
      // A password was given, and it is not this user's: sudo says so before it would say there is no rule.
      [users.none, /sudo: a password is required|not in the sudoers|not allowed|incorrect password attempt/],
      [users.tty, /you must have a tty/],
    ];
    for (const [u, says] of refused) {
      const r = find(s.rows, u);
      assert.equal(r.class, 'sudo', `${u.name}: ${r.message}`);
      assert.match(r.message, says);
      assert.match(r.message, new RegExp(`sudo refused for user ${u.name}: .*; scanned without root`));
      assert.ok(r.archive, `${u.name}: archive kept`);
      const x = xmlOf(s.archives.get(`127.0.0.1/${u.name}`)!);
      assert.equal(x.user.user_id, String(u.uid));
      assert.equal(x.warnings[0].id, '1004');
      assert.match(x.warnings[0].message, /^add_command_output exception \['sudo', '-n', '\/bin\/sh', '-s'\]: /);
      assert.match(x.warnings[0].message, says);
      assert.ok(s.retry.includes(u.name), `${u.name} is in the retry file`);
    }
    assert.ok(!s.retry.includes(`127.0.0.1,${sshd.port},${users.passwd.name}`), 'ok hosts are not retried');
    assert.ok(!s.report.includes(SUDO_PASSWORD) && !s.stderr.includes(SUDO_PASSWORD));
    // The README rule grants exactly /bin/sh -s and nothing else.
    const other = spawnSync('runuser', ['-u', users.readme.name, '--', 'sudo', '-n', '/bin/true'], { encoding: 'utf8' });
    assert.notEqual(other.status, 0, 'the tight rule does not allow other commands');
  });

  test('a wrong sudo password, and none at all: class sudo, the archive of the scan user', async () => {
    const wrong = await sweep([row(users.passwd)], ['--sudo'], { OCTOSCAN_SUDO_PASSWORD: 'not-the-sudo-password' });
    assert.equal(wrong.code, 2);
    assert.equal(wrong.rows[0].class, 'sudo', wrong.rows[0].message);
    assert.match(wrong.rows[0].message, /incorrect password|Sorry, try again/);
    assert.equal(xmlOf(wrong.archives.get(`127.0.0.1/${users.passwd.name}`)!).user.user_id, String(users.passwd.uid));
    assert.ok(!wrong.report.includes('not-the-sudo-password') && !wrong.stderr.includes('not-the-sudo-password'));
    for (const e of wrong.archives.get(`127.0.0.1/${users.passwd.name}`)!.entries) assert.ok(!e.data.includes('not-the-sudo-password'), e.name);

    const none = await sweep([row(users.passwd)], ['--sudo']);
    assert.equal(none.rows[0].class, 'sudo');
    assert.match(none.rows[0].message, /a password is required/);
  });

  test('the archive of an unprivileged scan through sudo is the same entry set as the plain scan', async () => {
    const s = await sweep([row(users.none, '127.0.0.1', 'yes'), row(users.none, '127.0.0.2', 'no')], []);
    const names = (a: Archive): string[] => a.entries.map((e) => e.name).filter((n) => !n.startsWith('java/dynamic/')).sort();
    assert.deepEqual(names(s.archives.get(`127.0.0.1/${users.none.name}`)!), names(s.archives.get(`127.0.0.2/${users.none.name}`)!));
    assert.deepEqual(readdirSync(work).filter((f) => f.startsWith('.octoscan-tmp')), []);
  });
});
