// Issue 10, case 7: a host with ed25519, ECDSA and RSA host keys, and a
// known_hosts that holds only one of them. `ssh` with StrictHostKeyChecking=yes
// connects, because it offers first the host-key algorithms known_hosts holds
// for that host; so must we, under every policy, instead of failing a host the
// operator verified (and advising accept-new).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { scanHost } from '../../src/scan/scan-host.js';
import { hostKeyAlgorithms } from '../../src/transport/known-hosts.js';
import { scanSettings } from '../helpers/fake-ssh-server.js';
import { createTestUser, sshdAvailable, startSshd, type Sshd, type TestUser } from '../helpers/sshd.js';

describe('host-key algorithms follow known_hosts (unit)', () => {
  test('known types first, in offer order; the rest after; RSA keys bring the SHA-2 signatures', () => {
    const offer = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'rsa-sha2-512', 'rsa-sha2-256'];
    assert.deepEqual(hostKeyAlgorithms([], offer), offer);
    assert.deepEqual(hostKeyAlgorithms(['ecdsa-sha2-nistp256'], offer), ['ecdsa-sha2-nistp256', 'ssh-ed25519', 'rsa-sha2-512', 'rsa-sha2-256']);
    assert.deepEqual(hostKeyAlgorithms(['ssh-rsa'], offer), ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-ed25519', 'ecdsa-sha2-nistp256']);
    assert.deepEqual(hostKeyAlgorithms(['ssh-rsa', 'ssh-ed25519'], offer), ['ssh-ed25519', 'rsa-sha2-512', 'rsa-sha2-256', 'ecdsa-sha2-nistp256']);
  });
});

const skip = sshdAvailable();

describe('a host with three host keys and a known_hosts holding one (real sshd)', { skip }, () => {
  let user: TestUser;
  let sshd: Sshd;
  let dir: string;
  before(async () => {
    user = await createTestUser('octoscan-hkalg');
    sshd = await startSshd({ users: [user], hostKeyTypes: ['ed25519', 'ecdsa', 'rsa'] });
    dir = mkdtempSync(path.join(os.tmpdir(), 'octoscan-hkalg-'));
  });
  after(async () => {
    await sshd?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const type of ['ecdsa-sha2-nistp256', 'ssh-rsa', 'ssh-ed25519']) {
    for (const policy of ['strict', 'accept-new'] as const) {
      test(`known_hosts holds only the ${type} key, policy ${policy}: ok, verified with that key, known_hosts unchanged`, async () => {
        const out = mkdtempSync(path.join(dir, 'out-'));
        const kh = path.join(out, 'known_hosts');
        const line = `${sshd.knownHostsLine('127.0.0.1', type)}\n`;
        writeFileSync(kh, line);
        // What OpenSSH itself does with the same file, for comparison.
        const ssh = spawnSync('ssh', ['-F', 'none', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${kh}`, '-o', 'GlobalKnownHostsFile=/dev/null', '-i', user.keyPath, '-p', String(sshd.port), `${user.name}@127.0.0.1`, 'true'], { encoding: 'utf8' });
        assert.equal(ssh.status, 0, `ssh itself: ${ssh.stderr}`);
        const warnings: string[] = [];
        const o = await scanHost(
          { host: '127.0.0.1', port: sshd.port, user: user.name, identities: [user.keyPath], tag: '', origin: { file: '<test>', line: 0 } },
          scanSettings(out, { knownHosts: kh, hostKeyPolicy: policy, warnings, hostTimeoutMs: 60_000 }),
        );
        assert.equal(o.class, 'ok', o.message);
        const { readFileSync } = await import('node:fs');
        assert.equal(readFileSync(kh, 'utf8'), line, 'nothing was added: the key was verified, not trusted anew');
        assert.deepEqual(warnings, []);
      });
    }
  }
});
