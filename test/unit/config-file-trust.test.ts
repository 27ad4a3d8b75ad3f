// ssh_config files trusted as ssh trusts them (issue 20): owner the user or
// root, not writable by group or others; else "Bad owner or permissions on
// FILE". Held against ssh itself where it checks (~/.ssh/config, Include).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { configFileProblem, readConfigFileText } from '../../src/hosts/config-file-trust.js';
import { configFiles, forgetParsedConfigs, resolveSshConfig, SshConfigError, type ConfigContext } from '../../src/hosts/ssh-config.js';

const me = userInfo();
const asRoot = me.uid === 0;
const sshMissing = spawnSync('ssh', ['-V']).error ? 'ssh missing' : undefined;

describe('ssh_config file trust', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'octoscan-cfgtrust-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  beforeEach(() => forgetParsedConfigs());

  const file = (name: string, text: string, mode: number): string => {
    const p = join(dir, name);
    writeFileSync(p, text);
    chmodSync(p, mode);
    return p;
  };
  const home = (name: string, mode: number, uid?: number): ConfigContext => {
    const h = join(dir, name);
    mkdirSync(join(h, '.ssh'), { recursive: true });
    const p = file(`${name}/.ssh/config`, 'Host db\n  HostName 10.9.9.9\n  Port 2200\n', mode);
    if (uid !== undefined) chownSync(p, uid, -1);
    return { files: configFiles(undefined, h, join(dir, 'no-system-file')), home: h, localUser: me.username, uid: me.uid };
  };

  test('the rule: owner is the user or root, no group or other write bit', () => {
    assert.equal(configFileProblem({ uid: 1000, mode: 0o100644 }, 1000), undefined);
    assert.equal(configFileProblem({ uid: 0, mode: 0o100600 }, 1000), undefined);
    assert.equal(configFileProblem({ uid: 1000, mode: 0o100664 }, 1000), 'writable by group (mode 0664)');
    assert.equal(configFileProblem({ uid: 1000, mode: 0o100646 }, 1000), 'writable by others (mode 0646)');
    assert.equal(configFileProblem({ uid: 1001, mode: 0o100600 }, 1000), 'owned by uid 1001, neither you (uid 1000) nor root');
  });

  test('a group-writable ~/.ssh/config is refused with ssh\'s reason; a good one is read', () => {
    assert.throws(() => resolveSshConfig('db', home('gw', 0o664)), (e: Error) => e instanceof SshConfigError && /^Bad owner or permissions on .*\/gw\/\.ssh\/config: writable by group \(mode 0664\)/.test(e.message));
    assert.throws(() => resolveSshConfig('db', home('ow', 0o606)), /Bad owner or permissions on .*ow\/\.ssh\/config: writable by others/);
    assert.equal(resolveSshConfig('db', home('good', 0o644)).hostname, '10.9.9.9');
  });

  test('a ~/.ssh/config owned by another user is refused', { skip: asRoot ? undefined : 'needs root to chown' }, () => {
    assert.throws(() => resolveSshConfig('db', home('foreign', 0o644, 65534)), /Bad owner or permissions on .*foreign\/\.ssh\/config: owned by uid 65534/);
  });

  test('-F files and Included files are checked; the system file is not (as ssh)', () => {
    const gw = file('gw-f.conf', 'Host db\n  Port 2201\n', 0o664);
    assert.throws(() => resolveSshConfig('db', { files: configFiles(gw, dir), home: dir, localUser: me.username, uid: me.uid }), /Bad owner or permissions on .*gw-f\.conf/);
    const inc = file('inc.conf', 'Port 2202\n', 0o666);
    const top = file('top.conf', `Host db\n  Include ${inc}\n`, 0o644);
    forgetParsedConfigs();
    assert.throws(() => resolveSshConfig('db', { files: configFiles(top, dir), home: dir, localUser: me.username, uid: me.uid }), /Bad owner or permissions on .*inc\.conf/);
    const system = file('system.conf', 'Host db\n  Port 2203\n', 0o664);
    forgetParsedConfigs();
    const c = resolveSshConfig('db', { files: [{ path: system, system: true }], home: dir, localUser: me.username, uid: me.uid });
    assert.equal(c.values.get('port')?.[0]?.args[0], '2203');
  });

  // Debian's ssh lets a group write the file when the group is the owner's own (one member,
  // the owner); upstream does not, nor do we. Group 'users' (no members) is refused by both.
  test('ssh itself refuses the same Included file', { skip: sshMissing ?? (asRoot ? undefined : 'needs root to chgrp') }, () => {
    const inc = file('inc2.conf', 'Port 2204\n', 0o664);
    chownSync(inc, -1, 100);
    const top = file('top2.conf', `Include ${inc}\n`, 0o644);
    const r = spawnSync('ssh', ['-G', '-F', top, 'db'], { encoding: 'utf8' });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, new RegExp(`Bad owner or permissions on ${inc.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  });

  test('a missing file is no settings; the check is made on the file that is read', () => {
    assert.equal(readConfigFileText(join(dir, 'absent'), true), undefined);
    const ok = file('ok.conf', 'Port 1\n', 0o600);
    assert.equal(readConfigFileText(ok, true), 'Port 1\n');
  });
});
