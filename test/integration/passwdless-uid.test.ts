// Issue 26: the CLI run as a uid with no passwd entry (a container's --user,
// OpenShift's random uid, DynamicUser=yes, LDAP down) through setpriv, against
// a real sshd. os.userInfo() throws there; the login name falls back to $USER,
// then uid<N>. The same as a container: test/image/container-scan.test.ts.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createTestUser, sshdAvailable, startSshd, type Sshd, type TestUser } from '../helpers/sshd.js';
import { workspace } from '../helpers/workspace.js';
import { readZip } from '../helpers/zip.js';

const CLI = fileURLToPath(new URL('../../bin/octoscan-remote.js', import.meta.url));

/** The first uid from 4242 up that the system does not know. */
function unknownUid(): number {
  for (let uid = 4242; ; uid++) if (spawnSync('getent', ['passwd', String(uid)]).status === 2) return uid;
}

function notPossible(): string | undefined {
  const sshd = sshdAvailable();
  if (sshd) return sshd;
  if (spawnSync('setpriv', ['--version']).status !== 0) return 'setpriv (util-linux) not found';
  return undefined;
}
const skip = notPossible();
if (skip) console.error(`\n*** SKIPPING passwd-less uid tests: ${skip} ***\n`);

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The CLI as `uid`, with exactly `env` (no USER or HOME unless given). */
function cliAs(uid: number, args: string[], env: Record<string, string>): Promise<Run> {
  const argv = ['--reuid', String(uid), '--regid', String(uid), '--clear-groups', process.execPath, CLI, ...args];
  return new Promise((resolve) => {
    const child = spawn('setpriv', argv, { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, cwd: '/' });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('the CLI as a uid with no passwd entry', { skip }, () => {
  const fresh = workspace('octoscan-passwdless-');
  let uid: number;
  let user: TestUser;
  let sshd: Sshd;
  let mine: string; // the uid's own folder: key, known_hosts, output
  const target = (): string => `127.0.0.1:${sshd.port}`;

  before(async () => {
    uid = unknownUid();
    user = await createTestUser();
    sshd = await startSshd({ users: [user] });
    mine = fresh('uid');
    chmodSync(join(mine, '..'), 0o755);
    copyFileSync(user.keyPath, join(mine, 'id_ed25519'));
    await sshd.writeKnownHosts(join(mine, 'known_hosts'), ['127.0.0.1']);
    for (const f of ['', 'id_ed25519', 'known_hosts']) chownSync(join(mine, f), uid, uid);
    chmodSync(join(mine, 'id_ed25519'), 0o600);
  });
  after(async () => {
    await sshd?.stop();
  });

  const keyArgs = (): string[] => ['-i', join(mine, 'id_ed25519'), '--known-hosts', join(mine, 'known_hosts'), '--no-progress'];

  test('with $USER: it is the login name, and the scan writes a complete archive', async () => {
    assert.notEqual(spawnSync('getent', ['passwd', String(uid)]).status, 0, `uid ${uid} has no passwd entry`);
    const out = join(mine, 'out-user');
    const r0 = spawnSync('install', ['-d', '-o', String(uid), '-g', String(uid), out]);
    assert.equal(r0.status, 0);
    const r = await cliAs(uid, [target(), '--out', out, ...keyArgs()], { USER: user.name, HOME: mine });
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /internal error|ERR_SYSTEM_ERROR/);
    assert.match(r.stderr, new RegExp(` ok ${user.name}@127\\.0\\.0\\.1:${sshd.port} `));
    const [file] = readdirSync(out);
    assert.match(file, /^[0-9a-f-]{36}\.scal$/);
    assert.equal(r.stdout.trim(), join(out, file));
    const zip = await readZip(join(out, file));
    const uuid = file.slice(0, 36);
    assert.equal([...zip.keys()].at(-1), `${uuid}/octoscan.xml`);
    const scan = JSON.parse(zip.get(`${uuid}/octoscan-remote/scan.json`)!.data.toString());
    assert.equal(scan.target.user, user.name);
  });

  test('without $USER or $HOME: the login name is uid<N>, ~ is /, and the errors say so', async () => {
    // No -l and no known_hosts given: the defaults come from the fallbacks.
    const out = join(mine, 'out-bare');
    spawnSync('install', ['-d', '-o', String(uid), '-g', String(uid), out]);
    const r = await cliAs(uid, [target(), '--out', out, '-i', join(mine, 'id_ed25519')], {});
    assert.equal(r.code, 1, r.stderr);
    assert.doesNotMatch(r.stderr, /internal error|ERR_SYSTEM_ERROR/);
    assert.match(r.stderr, /\/\.ssh\/known_hosts/, 'the default known_hosts is below /');
    // With a known_hosts file: the login is tried as uid<N>, which the target does not know.
    const r2 = await cliAs(uid, [target(), '--out', out, ...keyArgs(), '--json'], {});
    assert.equal(r2.code, 2, r2.stderr);
    assert.doesNotMatch(r2.stderr, /internal error|ERR_SYSTEM_ERROR/);
    const row = JSON.parse(r2.stdout.trim().split('\n').at(-1)!);
    assert.equal(row.user, `uid${uid}`);
    assert.equal(row.class, 'auth');
    assert.deepEqual(readdirSync(out), []);
  });

  test('--transport openssh stops at once with the reason: ssh itself needs a passwd entry', async () => {
    const out = join(mine, 'out-openssh');
    spawnSync('install', ['-d', '-o', String(uid), '-g', String(uid), out]);
    const r = await cliAs(uid, [target(), '--out', out, ...keyArgs(), '--transport', 'openssh'], { USER: user.name, HOME: mine });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`--transport openssh: the system ssh refuses to run as uid ${uid}, which has no passwd entry`));
    assert.deepEqual(readdirSync(out), []);
  });
});
