// Issue 22: accept-new where ssh_config says HashKnownHosts yes writes the
// entry hashed, as ssh does: ssh-keygen -F (OpenSSH's own lookup) finds it
// under [host]:port, our reader matches it, and the host name is not in clear.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { resolveHost } from '../../src/hosts/resolve.js';
import { forgetParsedConfigs } from '../../src/hosts/ssh-config.js';
import { hashedHostField } from '../../src/transport/known-hosts-hashed.js';
import { appendKnownHost } from '../../src/transport/known-hosts.js';
import { decideHostKey, parseKnownHosts } from '../../src/transport/known-hosts.js';

const keygenMissing = spawnSync('ssh-keygen', ['-?']).error ? 'ssh-keygen is not installed' : undefined;
const dir = mkdtempSync(join(tmpdir(), 'octoscan-hashed-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function publicBlob(name: string): Buffer {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, name)]);
  return Buffer.from(readFileSync(join(dir, `${name}.pub`), 'utf8').split(' ')[1], 'base64');
}

describe('accept-new with HashKnownHosts yes', { skip: keygenMissing }, () => {
  test('the line is |1|salt|hash, found by ssh-keygen -F and by our reader; a fresh salt each time', async () => {
    const kh = join(dir, 'known_hosts');
    writeFileSync(kh, 'plain.example ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl'); // no final newline
    const a = publicBlob('a');
    const b = publicBlob('b');
    await appendKnownHost(kh, 'DB01.Example', 2222, a, true);
    await appendKnownHost(kh, 'web.example', 22, b, true);
    const text = readFileSync(kh, 'utf8');
    const lines = text.trimEnd().split('\n');
    assert.equal(lines.length, 3, 'the missing newline was added before the first new line');
    assert.match(lines[1], /^\|1\|[A-Za-z0-9+/]{27}=\|[A-Za-z0-9+/]{27}= ssh-ed25519 /);
    assert.ok(!text.includes('db01') && !text.includes('web.example'), 'no host name in clear');
    for (const [name, blob] of [['[db01.example]:2222', a], ['web.example', b]] as const) {
      const found = execFileSync('ssh-keygen', ['-F', name, '-f', kh], { encoding: 'utf8' });
      assert.ok(found.includes(blob.toString('base64')), `ssh-keygen -F ${name}`);
    }
    const entries = parseKnownHosts(text, kh);
    assert.equal(decideHostKey(entries, 'db01.example', 2222, a).verdict, 'match');
    assert.equal(decideHostKey(entries, 'db01.example', 22, a).verdict, 'unknown', 'the port is part of the hashed name');
    assert.notEqual(hashedHostField('x'), hashedHostField('x'));
  });

  test('HashKnownHosts from ssh_config reaches the host (first value wins; no by default)', () => {
    const cfg = join(dir, 'config');
    writeFileSync(cfg, 'Host hashed\n  HashKnownHosts yes\nHost *\n  HashKnownHosts no\n');
    forgetParsedConfigs();
    const me = userInfo();
    const ctx = { config: { files: [{ path: cfg, system: false }], home: me.homedir, localUser: me.username, uid: me.uid }, given: {}, legacy: false, defaultIdentities: [], identities: [] };
    const spec = (host: string) => resolveHost({ host, port: 0, user: '', identities: [], tag: '', origin: { file: '<args>', line: 0 } }, ctx);
    assert.equal(spec('hashed').hashKnownHosts, true);
    assert.equal(spec('plain').hashKnownHosts, undefined);
  });
});
