// Issue 11, the pure parts of authentication, sudo and the openssh transport:
// which prompts get the password, what of sudo's words is reported, how ssh's
// failures are classed, how a path reaches ssh's arguments, where secrets come from.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { readSecret, SecretError } from '../../src/cli/secrets.js';
import { sudoSays } from '../../src/scan/privilege.js';
import { isPasswordPrompt } from '../../src/transport/auth.js';
import { classifySshFailure, configPath, identityArg, sshArgs } from '../../src/transport/openssh.js';
import type { HostSpec } from '../../src/types.js';
import { parseHostArg } from '../../src/hosts/host-arg.js';
import { resolveHost, type ResolveContext } from '../../src/hosts/resolve.js';
import { configFiles } from '../../src/hosts/ssh-config.js';

describe('keyboard-interactive prompts', () => {
  it('answers password prompts that do not echo, nothing else', () => {
    assert.equal(isPasswordPrompt({ prompt: 'Password: ', echo: false }), true);
    assert.equal(isPasswordPrompt({ prompt: "scan@db01's password: " }), true);
    assert.equal(isPasswordPrompt({ prompt: 'Verification code: ', echo: false }), false);
    assert.equal(isPasswordPrompt({ prompt: 'Password: ', echo: true }), false, 'an echoed prompt is not asking for a secret');
  });
});

describe("sudo's message", () => {
  it('keeps sudo\'s own lines, without the prompt, the lecture or repeats', () => {
    const p = 'octoscan-sudo-abc:';
    assert.equal(sudoSays(`${p}Sorry, try again.\n${p}sudo: no password was provided\nsudo: 1 incorrect password attempt\n`, p, 1), 'sudo: 1 incorrect password attempt');
    assert.equal(sudoSays('\nWe trust you have received the usual lecture\n\nsudo: a password is required\n', undefined, 1), 'sudo: a password is required');
    assert.equal(sudoSays('sudo: sorry, you must have a tty to run sudo\n', undefined, 1), 'sudo: sorry, you must have a tty to run sudo');
    assert.equal(sudoSays('bash: line 1: sudo: command not found\n', undefined, 127), 'bash: line 1: sudo: command not found');
    assert.equal(sudoSays('', undefined, 1), 'sudo exited with code 1 and no message');
    assert.ok(!/\x1b/.test(sudoSays('sudo: \x1b[31mred\n', undefined, 1)), 'control characters are escaped');
  });
});

describe('openssh transport', () => {
  const typed = { identities: ['/keys/a b', '/keys/100%', '~odd', '/k/x"y\\z'], user: 'jdoe@corp.example.com', port: 2222, knownHosts: '/home/ops/my hosts' };
  const spec: HostSpec = { host: '10.1.1.1', alias: 'db01', port: 2222, user: 'scan', identities: ['/from/config'], tag: '', origin: { file: '<t>', line: 0 }, typed };

  it('passes paths so that ssh neither splits them nor expands tokens in them', () => {
    assert.equal(configPath('/keys/a b'), '"/keys/a b"');
    assert.equal(configPath('/keys/100%'), '"/keys/100%%"');
    assert.equal(configPath('/k/x"y\\z'), '"/k/x\\"y\\\\z"');
    assert.equal(identityArg('~odd'), './~odd');
    assert.throws(() => identityArg('/k/${HOME}'), /environment variable/);
    const args = sshArgs(spec, {}, 'sudo -n /bin/sh -s');
    assert.deepEqual(args.slice(-3), ['--', 'db01', 'sudo -n /bin/sh -s']);
    assert.ok(args.includes('UserKnownHostsFile="/home/ops/my hosts"'));
    assert.ok(args.includes('BatchMode=yes'));
    // -i is one argument: no quotes, only ~ and % made literal
    assert.deepEqual(args.filter((_, i) => args[i - 1] === '-i'), ['/keys/a b', '/keys/100%%', './~odd', '/k/x"y\\z']);
    assert.equal(args[args.indexOf('-l') + 1], 'jdoe@corp.example.com');
    assert.equal(args[args.indexOf('-p') + 1], '2222');
    assert.ok(sshArgs({ ...spec, typed: { ...typed, hostKeyPolicy: 'accept-new' } }, {}, '/bin/sh -s').includes('StrictHostKeyChecking=accept-new'));
    const off = sshArgs({ ...spec, typed: { ...typed, hostKeyPolicy: 'off' } }, {}, '/bin/sh -s');
    for (const o of ['StrictHostKeyChecking=no', 'UserKnownHostsFile=/dev/null']) assert.ok(off.includes(o), o);
    const jumped = sshArgs({ ...spec, typed: { ...typed, jump: 'ops@bastion:2200,[2001:db8::1]:22' } }, {}, '/bin/sh -s');
    assert.equal(jumped[jumped.indexOf('-J') + 1], 'ops@bastion:2200,[2001:db8::1]:22');
  });

  it('passes nothing ssh_config gave and none of our defaults: ssh reads its own config', () => {
    // resolve.ts filled user, port, identities, host-key policy and known_hosts from the config (or defaults)
    const derived: HostSpec = {
      host: '10.1.1.1', alias: 'db01', port: 22, user: 'localme', identities: ['/home/me/.ssh/id_ed25519'], tag: '', origin: { file: '<t>', line: 0 },
      hostKeyPolicy: 'off', knownHostsFiles: ['/cfg/kh'], identitiesOnly: true, identityAgent: 'none', connectTimeoutMs: 5000, jump: 'cfgbastion',
      typed: { identities: [] },
    };
    assert.deepEqual(sshArgs(derived, {}, '/bin/sh -s'), ['-T', '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR', '--', 'db01', '/bin/sh -s']);
    assert.deepEqual(sshArgs(derived, { sshConfig: '/etc/my cfg' }, '/bin/sh -s').slice(0, 2), ['-F', '/etc/my cfg']);
    const none = sshArgs({ ...derived, typed: { identities: [], jump: 'none' } }, {}, '/bin/sh -s');
    assert.equal(none[none.indexOf('-J') + 1], 'none');
  });

  it("classes ssh's messages as the ssh2 transport would", () => {
    const c = (stderr: string) => {
      const e = classifySshFailure('scan@db01:2222', 'db01', stderr, 15);
      return [e.cls, e.phase, e.transient];
    };
    assert.deepEqual(c('ssh: Could not resolve hostname db01: Name or service not known\n'), ['dns', 'resolve', false]);
    assert.deepEqual(c('ssh: Could not resolve hostname db01: Temporary failure in name resolution\n'), ['dns', 'resolve', true]);
    assert.deepEqual(c('ssh: connect to host db01 port 2222: Connection refused\n'), ['unreachable', 'connect', true]);
    assert.deepEqual(c('ssh: connect to host db01 port 2222: No route to host\n'), ['unreachable', 'connect', true]);
    assert.deepEqual(c('ssh: connect to host db01 port 2222: Connection timed out\n'), ['timeout', 'connect', true]);
    assert.deepEqual(c('Connection timed out during banner exchange\n'), ['timeout', 'handshake', true]);
    assert.deepEqual(c('No ED25519 host key is known for [db01]:2222 and you have requested strict checking.\nHost key verification failed.\n'), ['hostkey-unknown', 'handshake', false]);
    assert.deepEqual(c('@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\nHost key verification failed.\n'), ['hostkey-changed', 'handshake', false]);
    assert.deepEqual(c('scan@db01: Permission denied (publickey,gssapi-with-mic).\n'), ['auth', 'auth', false]);
    assert.deepEqual(c('Timeout, server db01 not responding.\n'), ['timeout', 'stream', false]);
    assert.deepEqual(c('Connection to db01 closed by remote host.\n'), ['protocol', 'stream', false]);
    assert.deepEqual(c('kex_exchange_identification: read: Connection reset by peer\n'), ['unreachable', 'handshake', true]);
    assert.deepEqual(c('something new\n'), ['protocol', 'handshake', false]);
  });
});

describe('secrets', () => {
  const dir = mkdtempSync(join(tmpdir(), 'octoscan-secrets-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reads an owner-only file, refuses a looser one naming it, and removes the variable from the environment', async () => {
    const f = join(dir, 'pw');
    writeFileSync(f, 'pw one\n', { mode: 0o600 });
    process.env.OCTOSCAN_TEST_SECRET = 'from env';
    assert.equal(await readSecret({ fileOption: '--x-file', file: f, env: 'OCTOSCAN_TEST_SECRET' }), 'pw one');
    assert.equal(process.env.OCTOSCAN_TEST_SECRET, undefined, 'gone even when the file won');
    process.env.OCTOSCAN_TEST_SECRET = 'from env';
    assert.equal(await readSecret({ fileOption: '--x-file', env: 'OCTOSCAN_TEST_SECRET' }), 'from env');
    assert.equal(process.env.OCTOSCAN_TEST_SECRET, undefined);
    chmodSync(f, 0o640);
    await assert.rejects(readSecret({ fileOption: '--x-file', file: f, env: 'OCTOSCAN_TEST_SECRET' }), (e: Error) => e instanceof SecretError && /--x-file .*pw: readable by group or others \(mode 640\); chmod 600 it/.test(e.message));
    await assert.rejects(readSecret({ fileOption: '--x-file', file: f, env: 'E', askOption: '--ask-x', ask: true }), /--x-file and --ask-x both give the same secret/);
    await assert.rejects(readSecret({ fileOption: '--x-file', file: join(dir, 'none'), env: 'E' }), /--x-file .*none: ENOENT/);
  });
});

describe('--transport openssh gets what was typed, after ssh_config was read (issue 20)', () => {
  it('a host named bare gets no -l, -p, -i, -J or host-key option from the config; typed values do reach ssh', () => {
    const dir = mkdtempSync(join(tmpdir(), 'octoscan-typed-'));
    try {
      const cfg = join(dir, 'config');
      writeFileSync(cfg, 'Host db01\n  HostName 10.1.1.1\n  User cfguser\n  Port 2200\n  StrictHostKeyChecking no\n  IdentityFile /cfg/key\n  ProxyJump cfgbastion\n  UserKnownHostsFile /cfg/kh\n', { mode: 0o644 });
      const me = userInfo();
      const ctx = (given: ResolveContext['given'], identities: string[] = []): ResolveContext => ({
        config: { files: configFiles(cfg, me.homedir), home: me.homedir, localUser: me.username, uid: me.uid }, given, legacy: false, defaultIdentities: ['/home/me/.ssh/id_ed25519'], identities,
      });
      const bare = resolveHost(parseHostArg('db01', { port: 0, user: '' }), ctx({}));
      assert.equal(bare.user, 'cfguser');
      assert.equal(bare.hostKeyPolicy, 'off');
      assert.deepEqual(sshArgs(bare, {}, '/bin/sh -s'), ['-T', '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR', '--', 'db01', '/bin/sh -s']);
      const typed = resolveHost(parseHostArg('ops@db01:2222', { port: 0, user: '' }), ctx({ jump: 'none', hostKeyPolicy: 'strict', connectTimeoutMs: 5000 }, ['/my key']));
      const args = sshArgs(typed, {}, '/bin/sh -s');
      for (const [flag, value] of [['-l', 'ops'], ['-p', '2222'], ['-i', '/my key'], ['-J', 'none']]) assert.equal(args[args.indexOf(flag) + 1], value, flag);
      assert.ok(args.includes('StrictHostKeyChecking=yes') && args.includes('ConnectTimeout=5'));
      assert.ok(!args.includes('/cfg/key') && !args.some((a) => a.includes('/cfg/kh')));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
