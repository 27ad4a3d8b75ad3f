// Issue 11, authentication: every way in, against a real OpenSSH sshd on
// loopback where OpenSSH can offer it (password, key files in each format, a
// real ssh-agent), and the in-process ssh2 server for keyboard-interactive,
// which OpenSSH without PAM cannot offer. Where the password could leak
// (report, archive, messages, standard error), the test looks for it.
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import { chmodSync, closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ScanError } from '../../src/errors.js';
import { identity } from '../../src/transport/auth.js';
import { ssh2Transport } from '../../src/transport/ssh2-transport.js';
import type { ConnectOptions } from '../../src/transport/transport.js';
import type { HostSpec } from '../../src/types.js';
import { cliBuilt, readReport, runCli } from '../helpers/cli-sweep.js';
import { closeAllFakeSsh, hostSpec, readArchive, startFakeSsh } from '../helpers/fake-ssh-server.js';
import { createTestUser, setPassword, sshdAvailable, startSshd, type Sshd, type TestUser } from '../helpers/sshd.js';

const skip = sshdAvailable() ?? (cliBuilt ? undefined : 'the CLI is not built (npm run build)');
if (skip) console.error(`\n*** SKIPPING authentication tests: ${skip} ***\n`);

const PASSWORD = 'Tr0ub4dor&3 horse-11b';
const PASSPHRASE = 'key pass phrase 11b';

function connectOptions(knownHosts: string, over: Partial<ConnectOptions> = {}): ConnectOptions {
  return {
    connectTimeoutMs: 20_000,
    authTimeoutMs: 20_000,
    keepaliveIntervalMs: 60_000,
    keepaliveCountMax: 3,
    knownHostsFiles: [knownHosts],
    knownHostsWriteFile: knownHosts,
    hostKeyPolicy: 'strict',
    signal: new AbortController().signal,
    onPhase: () => {},
    warn: () => {},
    ...over,
  };
}

/** Logs in and out again: the way in is what is tested, not the scan. */
async function login(spec: HostSpec, opts: ConnectOptions): Promise<string | undefined> {
  try {
    const session = await ssh2Transport.connect(spec, opts);
    session.close();
    return undefined;
  } catch (err) {
    if (err instanceof ScanError) return `${err.cls}: ${err.message}`;
    throw err;
  }
}

function keygen(path: string, type: string, format: string | undefined, passphrase: string): string {
  execFileSync('ssh-keygen', ['-q', '-t', type, ...(format ? ['-m', format] : []), '-N', passphrase, '-C', `${type}-${format ?? 'openssh'}`, '-f', path]);
  return readFileSync(`${path}.pub`, 'utf8').trim();
}


describe('authentication against a real sshd', { skip }, () => {
  let work: string;
  let user: TestUser;
  let sshd: Sshd;
  let knownHosts: string;
  let agentPid: number | undefined;

  before(async () => {
    work = mkdtempSync('/tmp/octoscan-auth-');
    user = await createTestUser('oct11b-auth');
    setPassword(user.name, PASSWORD);
    sshd = await startSshd({ users: [user], extraConfig: 'PasswordAuthentication yes' });
    knownHosts = join(work, 'known_hosts');
    await sshd.writeKnownHosts(knownHosts, ['127.0.0.1']);
  });
  after(async () => {
    if (agentPid) {
      try {
        process.kill(agentPid, 'SIGTERM');
      } catch {
        /* gone */
      }
    }
    await sshd?.stop();
    // The account keeps no usable password after the test.
    if (user) spawnSync('usermod', ['-p', '*', user.name]);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const spec = (over: Partial<HostSpec> = {}): HostSpec => ({
    host: '127.0.0.1', port: sshd.port, user: user.name, identities: [], tag: '', origin: { file: '<test>', line: 0 }, ...over,
  });

  test('encrypted key files: RSA and ECDSA in OpenSSH, PEM and PKCS#8 form, Ed25519 in OpenSSH and PKCS#8 form', async () => {
    const keys: [string, string][] = [];
    for (const type of ['rsa', 'ecdsa']) {
      for (const format of [undefined, 'PEM', 'PKCS8']) {
        const path = join(work, `id_${type}_${format ?? 'openssh'}`);
        user.addKey(keygen(path, type, format, PASSPHRASE));
        keys.push([path, `${type} ${format ?? 'OpenSSH'}`]);
      }
    }
    const ed = join(work, 'id_ed25519_openssh');
    user.addKey(keygen(ed, 'ed25519', undefined, PASSPHRASE));
    keys.push([ed, 'ed25519 OpenSSH']);
    // ssh-keygen writes Ed25519 only in its own form; openssl writes encrypted PKCS#8.
    const edPkcs8 = join(work, 'id_ed25519_pkcs8');
    execFileSync('openssl', ['genpkey', '-algorithm', 'ed25519', '-aes-256-cbc', '-pass', `pass:${PASSPHRASE}`, '-out', edPkcs8]);
    chmodSync(edPkcs8, 0o600);
    // OpenSSH cannot read this form either: the public line is built from Node's reading of it.
    const x = Buffer.from(createPrivateKey({ key: readFileSync(edPkcs8), passphrase: PASSPHRASE }).export({ format: 'jwk' }).x!, 'base64url');
    const sshString = (b: Buffer): Buffer => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
    user.addKey(`ssh-ed25519 ${Buffer.concat([sshString(Buffer.from('ssh-ed25519')), sshString(x)]).toString('base64')} ed25519-pkcs8`);
    keys.push([edPkcs8, 'ed25519 PKCS#8']);

    for (const [path, what] of keys) {
      assert.match(String(identity(path, undefined)), /is encrypted and no passphrase was given/, `${what}: the file is encrypted`);
      assert.equal(await login(spec({ identities: [path] }), connectOptions(knownHosts, { passphrase: PASSPHRASE })), undefined, what);
    }
    // The server saw each key: one "Accepted publickey" per format.
    const accepted = sshd.log().match(/Accepted publickey for oct11b-auth/g) ?? [];
    assert.ok(accepted.length >= keys.length, `sshd accepted ${accepted.length} keys:\n${sshd.log()}`);

    // Wrong or missing passphrase: the failure says which file and why.
    const wrong = await login(spec({ identities: [keys[2][0]] }), connectOptions(knownHosts, { passphrase: 'not it' }));
    assert.match(wrong ?? '', /^auth: .*identity .*id_rsa_PKCS8: wrong passphrase/);
    const none = await login(spec({ identities: [keys[1][0]] }), connectOptions(knownHosts));
    assert.match(none ?? '', /identity .*id_rsa_PEM is encrypted and no passphrase was given/);
  });

  test('a real ssh-agent: SSH_AUTH_SOCK, a per-host IdentityAgent, IdentityAgent none, IdentitiesOnly', async () => {
    const sock = join(work, 'agent.sock');
    const out = execFileSync('ssh-agent', ['-s', '-a', sock]).toString();
    agentPid = Number(/SSH_AGENT_PID=(\d+)/.exec(out)?.[1]);
    assert.ok(agentPid > 0, out);
    const inAgent = join(work, 'id_agent');
    user.addKey(keygen(inAgent, 'ed25519', undefined, ''));
    execFileSync('ssh-add', [inAgent], { env: { ...process.env, SSH_AUTH_SOCK: sock }, stdio: 'ignore' });
    const notAuthorized = join(work, 'id_other');
    keygen(notAuthorized, 'ed25519', undefined, '');

    assert.equal(await login(spec(), connectOptions(knownHosts, { agent: sock })), undefined, 'SSH_AUTH_SOCK');
    assert.equal(await login(spec({ identityAgent: sock }), connectOptions(knownHosts)), undefined, 'IdentityAgent for this host');
    const off = await login(spec({ identityAgent: 'none' }), connectOptions(knownHosts, { agent: sock }));
    assert.match(off ?? '', /^auth: .*no usable method/, 'IdentityAgent none: the agent is not asked');
    // IdentitiesOnly: the agent's key is not the named identity, so it is never offered.
    const only = await login(spec({ identities: [notAuthorized], identitiesOnly: true }), connectOptions(knownHosts, { agent: sock }));
    assert.match(only ?? '', /^auth: .*tried agent keys, publickey ssh-ed25519/);
    assert.equal(await login(spec({ identities: [notAuthorized] }), connectOptions(knownHosts, { agent: sock })), undefined, 'without IdentitiesOnly the agent key logs in');
    // An agent that is not there costs its keys, not the host.
    const gone = await login(spec(), connectOptions(knownHosts, { agent: join(work, 'no-agent.sock'), password: PASSWORD }));
    assert.equal(gone, undefined);
  });

  test('password: --password-file and OCTOSCAN_SSH_PASSWORD log in; a wrong one is an auth failure naming the methods, never the password', async () => {
    const pwFile = join(work, 'password');
    writeFileSync(pwFile, `${PASSWORD}\n`, { mode: 0o600 });
    const env = { ...process.env, SSH_AUTH_SOCK: '' };
    const target = `${user.name}@127.0.0.1:${sshd.port}`;

    const outA = mkdtempSync(join(work, 'out-'));
    const reportA = join(work, 'a.csv');
    const a = await runCli([target, '--out', outA, '--known-hosts', knownHosts, '--password-file', pwFile, '--report', reportA], { env });
    assert.equal(a.code, 0, a.stderr);
    const archive = readdirSync(outA).find((f) => f.endsWith('.scal'));
    assert.ok(archive);
    for (const e of (await readArchive(join(outA, archive))).entries) assert.ok(!e.data.includes(PASSWORD), `password in ${e.name}`);
    assert.match(sshd.log(), /Accepted password for oct11b-auth/);

    const outB = mkdtempSync(join(work, 'out-'));
    const b = await runCli([target, '--out', outB, '--known-hosts', knownHosts], { env: { ...env, OCTOSCAN_SSH_PASSWORD: PASSWORD } });
    assert.equal(b.code, 0, b.stderr);

    const wrongFile = join(work, 'wrong');
    writeFileSync(wrongFile, 'not-the-password\n', { mode: 0o600 });
    const reportC = join(work, 'c.csv');
    const c = await runCli([target, '--out', mkdtempSync(join(work, 'out-')), '--known-hosts', knownHosts, '--password-file', wrongFile, '--report', reportC], { env });
    assert.equal(c.code, 2);
    const [row] = readReport(reportC);
    assert.equal(row.class, 'auth');
    assert.match(row.message, /tried password; the server offers publickey, password/);
    for (const text of [c.stderr, c.stdout, readFileSync(reportC, 'utf8'), readFileSync(reportA, 'utf8'), a.stderr, b.stderr]) {
      assert.ok(!text.includes('not-the-password') && !text.includes(PASSWORD), 'no password in output or report');
    }

    // A password file others can read is refused before anything connects, naming the option.
    const loose = join(work, 'loose');
    writeFileSync(loose, PASSWORD, { mode: 0o644 });
    chmodSync(loose, 0o644);
    const d = await runCli([target, '--out', outA, '--password-file', loose], { env });
    assert.equal(d.code, 1);
    assert.match(d.stderr, /--password-file .*loose: readable by group or others \(mode 644\); chmod 600 it/);
    assert.ok(!d.stderr.includes(PASSWORD));
    // --ask-pass without a terminal says so (CI has none; from a terminal it would ask).
    let terminal = true;
    try {
      closeSync(openSync('/dev/tty', 'r'));
    } catch {
      terminal = false;
    }
    if (!terminal) {
      const e = await runCli([target, '--out', outA, '--ask-pass'], { env });
      assert.equal(e.code, 1);
      assert.match(e.stderr, /--ask-pass: no terminal to ask on/);
    }
  });
});

describe('keyboard-interactive and the order of methods (in-process ssh2 server)', { skip: cliBuilt ? undefined : 'CLI not built' }, () => {
  let work: string;
  before(() => {
    work = mkdtempSync('/tmp/octoscan-kbd-');
  });
  after(async () => {
    await closeAllFakeSsh();
    rmSync(work, { recursive: true, force: true });
  });

  async function attempt(offer: ('publickey' | 'keyboard-interactive' | 'password')[], password: string, over: Partial<HostSpec> = {}) {
    const server = await startFakeSsh({ password: { password: PASSWORD, offer } });
    const knownHosts = join(work, `kh-${server.port}`);
    writeFileSync(knownHosts, `${server.knownHostsLine}\n`);
    const result = await login(hostSpec(server, over), connectOptions(knownHosts, { password }));
    return { result, server };
  }

  test('keyboard-interactive answers the password prompt; publickey first, as OpenSSH', async () => {
    const { result, server } = await attempt(['publickey', 'keyboard-interactive', 'password'], PASSWORD);
    assert.equal(result, undefined);
    assert.deepEqual(server.methods, ['none', 'publickey', 'keyboard-interactive']);
    assert.deepEqual(server.kbdAnswers, [[PASSWORD]]);
  });

  test('only what the server offers is tried, in OpenSSH order; a wrong password names every method, not the password', async () => {
    const pwOnly = await attempt(['password'], PASSWORD);
    assert.equal(pwOnly.result, undefined);
    assert.deepEqual(pwOnly.server.methods, ['none', 'password'], 'no key offered to a server that does not take keys');

    const wrong = await attempt(['publickey', 'keyboard-interactive', 'password'], 'wrong-password-11b');
    assert.deepEqual(wrong.server.methods, ['none', 'publickey', 'keyboard-interactive', 'password']);
    assert.match(wrong.result ?? '', /^auth: .*tried publickey ssh-ed25519 \(.*\), keyboard-interactive \(password\), password; the server offers publickey, keyboard-interactive, password$/);
    assert.ok(!wrong.result!.includes('wrong-password-11b'));
    assert.deepEqual(wrong.server.kbdAnswers, [['wrong-password-11b']], 'the password is given once per keyboard-interactive attempt');

    const noKbd = await attempt(['keyboard-interactive', 'password'], PASSWORD, { kbdInteractiveAuthentication: false, passwordAuthentication: false });
    assert.match(noKbd.result ?? '', /^auth: .*no usable method/);
    assert.deepEqual(noKbd.server.methods, ['none']);
  });
});

describe('--ask-pass and --ask-sudo-pass on a real terminal (a pty)', { skip: cliBuilt ? (spawnSync('python3', ['-V']).error ? 'python3 missing' : undefined) : 'CLI not built' }, () => {
  after(() => closeAllFakeSsh());

  test('one prompt each, nothing echoed, the password used for the login', async () => {
    const server = await startFakeSsh({ password: { password: PASSWORD, offer: ['password'] } });
    const work = mkdtempSync('/tmp/octoscan-askpass-');
    try {
      const knownHosts = join(work, 'known_hosts');
      writeFileSync(knownHosts, `${server.knownHostsLine}\n`);
      const out = mkdtempSync(join(work, 'out-'));
      // The CLI on the slave side of a new pty; the answers are typed when each prompt shows
      // (readline follows a prompt with cursor escapes, so it is looked for anywhere).
      const driver = [
        'import os, pty, sys, select',
        'pid, fd = pty.fork()',
        'if pid == 0:',
        '    os.execv(sys.argv[1], sys.argv[1:])',
        'answers = {b"SSH login password: ": sys.stdin.readline().rstrip("\\n").encode(), b"sudo password: ": b"sudo-typed"}',
        'seen = b""',
        'while True:',
        '    try:',
        '        chunk = os.read(fd, 4096)',
        '    except OSError:',
        '        break',
        '    if not chunk:',
        '        break',
        '    seen += chunk',
        '    for prompt, answer in list(answers.items()):',
        '        if prompt in seen:',
        '            os.write(fd, answer + b"\\r")',
        '            del answers[prompt]',
        'sys.stdout.buffer.write(seen)',
        'sys.exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))',
      ].join('\n');
      const cli = join(process.cwd(), 'bin', 'octoscan-remote.js');
      // Not spawnSync: the fake server answers from this very event loop.
      const child = spawn('python3', ['-c', driver, process.execPath, cli, `scan@127.0.0.1:${server.port}`, '--out', out, '--known-hosts', knownHosts, '--ask-pass', '--ask-sudo-pass', '--no-progress'], {
        env: { ...process.env, SSH_AUTH_SOCK: '' },
      });
      const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.stdin.end(`${PASSWORD}\n`);
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      const status = await new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      clearTimeout(killer);
      const r = { status, stdout, stderr };
      assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
      assert.equal(r.stdout.split('SSH login password: ').length, 2, 'asked once for the login password');
      assert.equal(r.stdout.split('sudo password: ').length, 2, 'asked once for the sudo password');
      assert.ok(!r.stdout.includes(PASSWORD) && !r.stdout.includes('sudo-typed'), `nothing typed is echoed: ${r.stdout}`);
      assert.deepEqual(server.methods.slice(0, 2), ['none', 'password']);
      assert.equal(readdirSync(out).filter((f) => f.endsWith('.scal')).length, 1);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});
