// The real-sshd harness itself: multi-address listen, login with the system
// ssh client, host key reuse / change, clean stop.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  createTestUser,
  freePort,
  makeHostKeyDir,
  pidAlive,
  sshdAvailable,
  startSshd,
  withSshd,
  type TestUser,
} from '../helpers/sshd.js';

const skip = sshdAvailable() ?? (existsSync('/usr/bin/ssh') ? undefined : '/usr/bin/ssh (OpenSSH client) not installed');
if (skip) console.error(`\n*** SKIPPING sshd harness tests: ${skip} ***\n`);

interface SshResult {
  code: number;
  stdout: string;
  stderr: string;
}

function ssh(user: TestUser, knownHosts: string, host: string, port: number, command: string): Promise<SshResult> {
  const args = [
    '-F', '/dev/null',
    '-i', user.keyPath,
    '-o', 'IdentitiesOnly=yes',
    '-o', `UserKnownHostsFile=${knownHosts}`,
    '-o', 'GlobalKnownHostsFile=/dev/null',
    '-o', 'StrictHostKeyChecking=yes',
    '-o', 'BatchMode=yes',
    '-o', 'ConnectTimeout=5',
    '-p', String(port),
    `${user.name}@${host}`,
    command,
  ];
  const env = { ...process.env };
  delete env.SSH_AUTH_SOCK;
  return new Promise((resolve) => {
    execFile('/usr/bin/ssh', args, { env, timeout: 20_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** Live (non-zombie) pids whose command line is exactly `cmdline`. */
function processesRunning(cmdline: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const args = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      if (args === cmdline && state !== 'Z') out.push(Number(e));
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}

describe('sshd harness', { skip }, () => {
  let user: TestUser;
  let tmp: string;

  before(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'octoscan-harness-test-'));
    user = await createTestUser('octoscan-test');
  });
  after(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  test('freePort returns a usable port', async () => {
    const p = await freePort();
    assert.ok(p > 0 && p < 65536);
  });

  test('createTestUser is idempotent and gives each call a fresh key', async () => {
    const again = await createTestUser('octoscan-test');
    assert.equal(again.uid, user.uid);
    assert.equal(again.home, user.home);
    assert.notEqual(again.keyPath, user.keyPath);
    assert.match(user.publicKey, /^ssh-ed25519 AAAA/);
    assert.ok(!user.keyPath.startsWith(user.home), 'client key must not live in the home directory');
  });

  test('two addresses, one port; the system ssh client logs in on both', async () => {
    const sshd = await startSshd({ addresses: ['127.0.0.1', '127.0.0.2'], users: [user] });
    try {
      assert.deepEqual(sshd.addresses, ['127.0.0.1', '127.0.0.2']);
      assert.equal(sshd.hostPublicKeys.length, 1);
      assert.equal(sshd.hostPublicKeys[0].type, 'ssh-ed25519');
      assert.match(sshd.knownHostsLine('127.0.0.2'), new RegExp(`^\\[127\\.0\\.0\\.2\\]:${sshd.port} ssh-ed25519 AAAA`));

      const kh = path.join(tmp, 'known_hosts');
      await sshd.writeKnownHosts(kh);
      for (const host of ['127.0.0.2', '127.0.0.1']) {
        const r = await ssh(user, kh, host, sshd.port, 'id -un');
        assert.equal(r.code, 0, `ssh to ${host} failed: ${r.stderr}\n--- sshd log:\n${sshd.log()}`);
        assert.equal(r.stdout.trim(), 'octoscan-test');
      }
      await sshd.waitForLog(/Connection from \S+ port \d+ on 127\.0\.0\.2 port/);
      await sshd.waitForLog(/Accepted publickey for octoscan-test/);

      // A key that is not authorized is refused; addKey authorizes it live.
      const other = await createTestUser('octoscan-test');
      const refused = await ssh(other, kh, '127.0.0.1', sshd.port, 'true');
      assert.equal(refused.code, 255, refused.stderr);
      assert.match(refused.stderr, /Permission denied/);
      user.addKey(other.publicKey);
      const accepted = await ssh(other, kh, '127.0.0.1', sshd.port, 'id -un');
      assert.equal(accepted.code, 0, `${accepted.stderr}\n${sshd.log()}`);
      assert.equal(accepted.stdout.trim(), 'octoscan-test');
    } finally {
      await sshd.stop();
    }
  });

  test('host keys: same hostKeyDir keeps the key, a different one changes it', async () => {
    const dirA = await makeHostKeyDir();
    const dirB = await makeHostKeyDir();
    const kh = path.join(tmp, 'known_hosts_rotate');

    const first = await startSshd({ hostKeyDir: dirA, users: [user] });
    const port = first.port;
    const keyA = first.hostPublicKeys[0].blob;
    try {
      await first.writeKnownHosts(kh);
      const r = await ssh(user, kh, '127.0.0.1', port, 'id -un');
      assert.equal(r.code, 0, r.stderr);
    } finally {
      await first.stop();
    }

    await withSshd({ hostKeyDir: dirA, port, users: [user] }, async (same) => {
      assert.ok(same.hostPublicKeys[0].blob.equals(keyA), 'same hostKeyDir must give the same key');
      const r = await ssh(user, kh, '127.0.0.1', port, 'id -un');
      assert.equal(r.code, 0, r.stderr);
    });

    await withSshd({ hostKeyDir: dirB, port, users: [user] }, async (changed) => {
      assert.equal(changed.port, port);
      assert.ok(!changed.hostPublicKeys[0].blob.equals(keyA), 'a different hostKeyDir must give a different key');
      const r = await ssh(user, kh, '127.0.0.1', port, 'id -un');
      assert.equal(r.code, 255);
      assert.match(r.stderr, /REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);
    });
  });

  test('multiple host key types', async () => {
    await withSshd({ hostKeyTypes: ['ed25519', 'rsa'], users: [user] }, async (sshd) => {
      assert.deepEqual(
        sshd.hostPublicKeys.map((k) => k.type),
        ['ssh-ed25519', 'ssh-rsa'],
      );
      assert.match(sshd.knownHostsLine('127.0.0.1', 'ssh-rsa'), / ssh-rsa AAAA/);
      assert.equal(sshd.knownHostsLines().length, 2);
      const kh = path.join(tmp, 'known_hosts_multi');
      await sshd.writeKnownHosts(kh);
      const r = await ssh(user, kh, '127.0.0.1', sshd.port, 'id -un');
      assert.equal(r.code, 0, r.stderr);
    });
  });

  test('stop() kills sshd and its sessions, and is idempotent', async () => {
    const sshd = await startSshd({ users: [user] });
    const pid = sshd.pid;
    const workdir = sshd.workdir;
    const kh = path.join(tmp, 'known_hosts_stop');
    await sshd.writeKnownHosts(kh);
    assert.ok(pidAlive(pid));
    assert.equal(sshd.running, true);

    // A long-running session that must not survive stop(): its shell runs in
    // its own session, so it is not simply a child of the sshd listener.
    const marker = `sleep 61.${process.pid}`;
    const session = ssh(user, kh, '127.0.0.1', sshd.port, marker);
    let sleepers: number[] = [];
    for (let i = 0; i < 200 && sleepers.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 25));
      sleepers = processesRunning(marker);
    }
    assert.ok(sleepers.length > 0, `session command never started:\n${sshd.log()}`);

    const t0 = Date.now();
    await Promise.all([sshd.stop(), sshd.stop()]);
    await sshd.stop();
    assert.ok(Date.now() - t0 < 8000);
    assert.equal(sshd.running, false);
    assert.equal(pidAlive(pid), false, `sshd pid ${pid} still alive`);
    assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' });
    assert.equal(existsSync(workdir), false);
    assert.deepEqual(processesRunning(marker), [], 'session processes survived stop()');
    const s = await session;
    assert.notEqual(s.code, 0, 'the session should have been cut');
    assert.match(sshd.log(), /Server listening on 127\.0\.0\.1/);
  });

  test('a broken extraConfig fails fast with sshd -t output', async () => {
    await assert.rejects(startSshd({ extraConfig: 'NoSuchOption yes' }), /Bad configuration option|NoSuchOption/);
  });
});
