// ssh_config evaluation held against OpenSSH itself: for several config files
// (aliases, wildcards, negation, Include, Match, tokens, a second `Match final`
// pass) the values we derive for each host equal what `ssh -G -F FILE host`
// prints. Plus the mapping onto HostSpec: precedence, policies, algorithms,
// and the keywords the ssh2 transport refuses by name.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { resolveHost, type ResolveContext } from '../../src/hosts/resolve.js';
import { formatRetryFile } from '../../src/hosts/retry-file.js';
import { buildCommand } from '../../src/cli/options.js';
import { configFiles, expandTokens, first, forgetParsedConfigs, resolveSshConfig, SshConfigError, type ConfigContext } from '../../src/hosts/ssh-config.js';
import { applyAlgorithmList, defaultAlgorithms } from '../../src/transport/algorithms.js';
import type { HostSpec } from '../../src/types.js';

const sshMissing = spawnSync('ssh', ['-V']).error ? 'the OpenSSH client (ssh) is not installed' : undefined;
if (sshMissing) console.error(`\n*** SKIPPING ssh -G comparisons: ${sshMissing} ***\n`);

const me = userInfo();
let dir: string;
const ctxFor = (file: string): ConfigContext => ({ files: configFiles(file, me.homedir), home: me.homedir, localUser: me.username, uid: me.uid });

/** `ssh -G` output as keyword -> values (identityfile repeats). */
function sshG(file: string, host: string, extra: string[] = []): Map<string, string[]> {
  const text = execFileSync('ssh', ['-G', '-F', file, ...extra, host], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const m = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const i = line.indexOf(' ');
    if (i < 0) continue;
    const k = line.slice(0, i);
    m.set(k, [...(m.get(k) ?? []), line.slice(i + 1)]);
  }
  return m;
}

// What -G prints for a keyword the files do not set.
const G_DEFAULTS: Record<string, string> = {
  connecttimeout: 'none',
  serveraliveinterval: '0',
  serveralivecountmax: '3',
  stricthostkeychecking: 'ask',
  identitiesonly: 'no',
  passwordauthentication: 'yes',
  kbdinteractiveauthentication: 'yes',
  addressfamily: 'any',
  userknownhostsfile: '~/.ssh/known_hosts ~/.ssh/known_hosts2',
  globalknownhostsfile: '/etc/ssh/ssh_known_hosts /etc/ssh/ssh_known_hosts2',
};
const G_BOOL: Record<string, string> = { yes: 'true', no: 'false', off: 'false', true: 'true', false: 'false', ask: 'ask', 'accept-new': 'accept-new' };

/** Our effective values, printed the way -G prints them. */
function ours(file: string, host: string, user?: string): Map<string, string[]> {
  const ctx = ctxFor(file);
  const c = resolveSshConfig(host, ctx, { user });
  const u = user ?? first(c, 'user') ?? me.username;
  const port = Number(first(c, 'port') ?? 22);
  const t = { h: c.hostname, n: host, p: port, r: u, d: me.homedir, u: me.username, i: me.uid };
  const m = new Map<string, string[]>();
  m.set('hostname', [c.hostname]);
  m.set('user', [u]);
  m.set('port', [String(port)]);
  for (const [k, d] of Object.entries(G_DEFAULTS)) {
    let v = first(c, k) ?? d;
    if (k === 'stricthostkeychecking') v = G_BOOL[v.toLowerCase()] ?? v;
    if (k.endsWith('knownhostsfile')) v = v.split(' ').map((f) => expandTokens(f, t)).join(' ');
    m.set(k, [v]);
  }
  // -G prints IdentityFile as written (expanded only at use); IdentityAgent and ProxyJump expanded / as given.
  const ids = (c.values.get('identityfile') ?? []).flatMap((v) => v.args);
  if (ids.length) m.set('identityfile', ids);
  const agent = first(c, 'identityagent');
  if (agent) m.set('identityagent', [agent === 'none' ? 'none' : expandTokens(agent, t)]);
  const jump = first(c, 'proxyjump');
  if (jump) m.set('proxyjump', [jump]);
  return m;
}

function assertSame(file: string, host: string, extra: string[] = [], user?: string): void {
  const g = sshG(file, host, extra);
  const o = ours(file, host, user);
  for (const [k, v] of o) {
    const want = g.get(k) ?? [];
    // -G lists the default identity files when none is configured; we add those later (defaultIdentities).
    assert.deepEqual(v, want, `${host}: ${k}`);
  }
  for (const k of ['identityfile', 'identityagent', 'proxyjump']) {
    if (!o.has(k) && g.has(k) && k !== 'identityfile' && k !== 'identityagent') assert.fail(`${host}: ssh -G has ${k} ${g.get(k)} and we have none`);
  }
}

describe('ssh_config against ssh -G', { skip: sshMissing }, () => {
  let main: string;
  let finalFile: string;
  let negation: string;
  before(() => {
    forgetParsedConfigs();
    dir = mkdtempSync(join(tmpdir(), 'octoscan-sshconfig-'));
    mkdirSync(join(dir, 'conf.d'));
    main = join(dir, 'config');
    writeFileSync(
      main,
      `# aliases, wildcards, negation, Include, Match, tokens
Host web-* !web-admin
  User webuser
  Port 2200
Host db01 db02
  HostName %h.internal.example
  IdentityFile ~/.ssh/id_%r@%h:%p
  IdentityFile "%d/keys/%u %n"
Host alias1
  HostName 10.1.2.3
  User aliasuser
  ProxyJump jumper@bastion.example:2222,[2001:db8::1]:22
Host v6
  HostName ::1
  Port=2222
Include ${dir}/conf.d/*.conf
Match host *.internal.example user dbadmin
  ConnectTimeout 7
Match originalhost db02
  User dbadmin
Match host *.internal.example
  ServerAliveInterval 30
Match localuser ${me.username}
  ServerAliveCountMax 5
Match !localuser ${me.username}
  ServerAliveCountMax 9
Match all
  StrictHostKeyChecking accept-new
Host *
  User defaultuser
  UserKnownHostsFile ~/.ssh/kh_%h %d/other_%r_%p
  IdentitiesOnly yes
`,
    );
    writeFileSync(
      join(dir, 'conf.d', '10-web.conf'),
      `Host web-admin
  User admin
  StrictHostKeyChecking no
  IdentityAgent ~/agent-%u.sock
Host web-*
  PasswordAuthentication no
  KbdInteractiveAuthentication no
  AddressFamily inet
  GlobalKnownHostsFile /etc/ssh/kh_global
`,
    );
    writeFileSync(join(dir, 'conf.d', '20-db.conf'), 'Match host db01.internal.example\n  ConnectTimeout 11\n');
    writeFileSync(join(dir, 'conf.d', 'ignored.txt'), 'Host *\n  User never\n');
    finalFile = join(dir, 'final');
    writeFileSync(
      finalFile,
      `Match final host final-*
  ConnectTimeout 9
  User finaluser
  IdentityFile ~/.ssh/id_final
Host final-*
  HostName %h.example
Host *
  User x
  IdentityFile ~/.ssh/id_all
  StrictHostKeyChecking no
  IdentityAgent none
`,
    );
    negation = join(dir, 'negation');
    writeFileSync(negation, 'Host !*.lan *\n  User outside\nHost *\n  User inside\n  Port 2022\n');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const host of ['web-1', 'web-admin', 'db01', 'db02', 'alias1', 'v6', 'other', 'WEB-2']) {
    test(`main config: ${host}`, () => assertSame(main, host));
  }
  test('main config: a user given on the command line is what Match user sees', () => assertSame(main, 'db02', ['-l', 'dbadmin'], 'dbadmin'));
  test('a second pass for Match final: only keywords still unset take its values', () => assertSame(finalFile, 'final-a'));
  test('negation: a negated pattern that matches rules the whole Host line out', () => {
    assertSame(negation, 'box.lan');
    assertSame(negation, 'box.example');
  });
});

describe('ssh_config onto HostSpec', () => {
  let file: string;
  let d: string;
  const base = (host: string, extra: Partial<HostSpec> = {}): HostSpec => ({ host, port: 0, user: '', identities: [], tag: '', origin: { file: '<args>', line: 0 }, ...extra });
  const ctx = (given: ResolveContext['given'] = {}, legacy = false): ResolveContext => ({
    config: { files: [{ path: file, system: false }], home: me.homedir, localUser: me.username, uid: me.uid },
    given,
    legacy,
    defaultIdentities: ['/default/id_ed25519'],
    identities: [],
  });
  before(() => {
    forgetParsedConfigs();
    d = mkdtempSync(join(tmpdir(), 'octoscan-sshconfig-map-'));
    file = join(d, 'config');
    writeFileSync(
      file,
      `Host legacy
  HostName 10.0.0.9
  HostKeyAlgorithms +ssh-rsa
  KexAlgorithms +diffie-hellman-group14-sha1
  Ciphers +aes128-cbc
Host proxied
  ProxyCommand ssh -W %h:%p gw
Host gss
  GSSAPIAuthentication yes
Host certs
  CertificateFile ~/.ssh/id_ed25519-cert.pub
Match originalhost execd exec "test -e /etc/hostname"
  User never
Host behind
  ProxyJump jump1,scan@[::1]:2200
Host jump1
  User bastionuser
  Port 2022
  StrictHostKeyChecking accept-new
  ProxyJump outer
Host outer
  User outeruser
Host loop1
  ProxyJump loop2
Host loop2
  ProxyJump loop1
Host nojump
  ProxyJump none
Host v6
  HostName ::1
  Port 2222
  AddressFamily inet6
Host v4only
  HostName ::1
  AddressFamily inet
Host *
  User cfguser
  Port 2201
  IdentityFile ~/.ssh/id_%h
  StrictHostKeyChecking no
  ConnectTimeout 4
  ServerAliveInterval 0
`,
    );
  });
  after(() => rmSync(d, { recursive: true, force: true }));

  test('command line over hosts-file column over config, and the config over the defaults', () => {
    const fromConfig = resolveHost(base('h1'), ctx());
    assert.equal(fromConfig.user, 'cfguser');
    assert.equal(fromConfig.port, 2201);
    assert.equal(fromConfig.hostKeyPolicy, 'off');
    assert.equal(fromConfig.connectTimeoutMs, 4000);
    assert.equal(fromConfig.keepaliveIntervalMs, 0);
    assert.deepEqual(fromConfig.identities, [`${me.homedir}/.ssh/id_h1`]);
    assert.deepEqual(resolveHost(base('nokeys'), { ...ctx(), config: { ...ctx().config, files: [] } }).identities, ['/default/id_ed25519'], 'no IdentityFile: the default files');
    const column = resolveHost(base('h1', { user: 'coluser', port: 2300, identities: ['/col/key'] }), ctx({ user: 'cliuser', port: 2400 }));
    assert.equal(column.user, 'coluser');
    assert.equal(column.port, 2300);
    assert.deepEqual(column.identities, ['/col/key', `${me.homedir}/.ssh/id_h1`]);
    const cli = resolveHost(base('h1'), ctx({ user: 'cliuser', port: 2400, hostKeyPolicy: 'strict', connectTimeoutMs: 1000 }));
    assert.equal(cli.user, 'cliuser');
    assert.equal(cli.port, 2400);
    assert.equal(cli.hostKeyPolicy, 'strict');
    assert.equal(cli.connectTimeoutMs, 1000);
  });

  test('HostName: the name connected to is the HostName; the alias is what the retry file gives back', () => {
    const s = resolveHost(base('legacy'), ctx());
    assert.equal(s.host, '10.0.0.9');
    assert.equal(s.alias, 'legacy');
    assert.equal(formatRetryFile([], [s]), 'host,port,user\nlegacy,2201,cfguser\n');
  });

  test('IPv6: HostName ::1 is the address connected to; AddressFamily inet refuses it by name', () => {
    const s = resolveHost(base('v6'), ctx());
    assert.deepEqual([s.host, s.port, s.addressFamily, s.unsupported], ['::1', 2222, 6, undefined]);
    assert.match(resolveHost(base('v4only'), ctx()).unsupported ?? '', /AddressFamily inet excludes the address ::1/);
  });

  test('legacy algorithms: off by default, per host with + lists, for every host with the run option', () => {
    const plain = resolveHost(base('h1'), ctx());
    assert.ok(!plain.algorithms!.serverHostKey.includes('ssh-rsa'), 'no ssh-rsa host keys by default');
    assert.ok(!plain.algorithms!.kex.some((k) => k.endsWith('-sha1')), 'no SHA-1 key exchange by default');
    assert.ok(!plain.algorithms!.cipher.some((c) => c.endsWith('-cbc')), 'no CBC by default');
    assert.ok(!plain.algorithms!.pubkey.includes('ssh-rsa'));
    const old = resolveHost(base('legacy'), ctx());
    assert.equal(old.algorithms!.serverHostKey.at(-1), 'ssh-rsa');
    assert.equal(old.algorithms!.kex.at(-1), 'diffie-hellman-group14-sha1');
    assert.equal(old.algorithms!.cipher.at(-1), 'aes128-cbc');
    const run = resolveHost(base('h1'), ctx({}, true));
    for (const a of ['ssh-rsa']) assert.ok(run.algorithms!.serverHostKey.includes(a));
    for (const a of ['diffie-hellman-group14-sha1', 'diffie-hellman-group1-sha1']) assert.ok(run.algorithms!.kex.includes(a));
    assert.ok(run.algorithms!.cipher.includes('aes256-cbc'));
  });

  test('algorithm lists: + appends, - removes with wildcards, ^ puts first, a plain list replaces; unknown names dropped', () => {
    const base = defaultAlgorithms(false).kex;
    assert.deepEqual(applyAlgorithmList('kex', base, '-ecdh-*').list, base.filter((k) => !k.startsWith('ecdh-')));
    assert.equal(applyAlgorithmList('kex', base, '^diffie-hellman-group14-sha1').list[0], 'diffie-hellman-group14-sha1');
    const r = applyAlgorithmList('kex', base, 'sntrup761x25519-sha512@openssh.com,curve25519-sha256');
    assert.deepEqual(r.list, ['curve25519-sha256']);
    assert.deepEqual(r.unknown, ['sntrup761x25519-sha512@openssh.com']);
  });

  test('keywords the ssh2 transport cannot honour fail the host naming the keyword, file and line, and --transport openssh', () => {
    const cases: Array<[string, RegExp]> = [
      ['proxied', /config:7: ProxyCommand ssh -W %h:%p gw: .*--transport openssh/],
      ['gss', /config:9: GSSAPIAuthentication yes: .*--transport openssh/],
      ['certs', /config:11: CertificateFile .*--transport openssh/],
      ['execd', /config:12: Match exec .*--transport openssh/],
    ];
    for (const [host, re] of cases) {
      const s = resolveHost(base(host), ctx());
      assert.match(s.unsupported ?? '', re, host);
    }
    assert.equal(resolveHost(base('h1'), ctx()).unsupported, undefined);
  });

  test('GSSAPIAuthentication yes from the system file (Debian turns it on for every host) does not fail hosts', () => {
    const sys = join(d, 'system');
    writeFileSync(sys, 'Host *\n  GSSAPIAuthentication yes\n');
    const c = ctx();
    c.config.files = [{ path: sys, system: true }];
    assert.equal(resolveHost(base('h1'), c).unsupported, undefined);
  });

  test('ProxyJump: each hop resolved through the config; -J and the column win; none means direct', () => {
    const s = resolveHost(base('behind'), ctx());
    assert.equal(s.jump, 'jump1,scan@[::1]:2200');
    // The first bastion's own ProxyJump (outer) comes before it, as ssh reaches it.
    assert.deepEqual(s.jumpHosts!.map((h) => [h.host, h.port, h.user, h.hostKeyPolicy]), [
      ['outer', 2201, 'outeruser', 'off'],
      ['jump1', 2022, 'bastionuser', 'accept-new'],
      ['::1', 2200, 'scan', 'off'],
    ]);
    assert.throws(() => resolveHost(base('h1'), ctx({ jump: 'loop1' })), /config:\d+: ProxyJump: bastions reached through more than 8 levels of ProxyJump \(a loop\?\)/);
    const cli = resolveHost(base('behind', { jump: 'col@colhop' }), ctx({ jump: 'clihop:2222' }));
    assert.deepEqual(cli.jumpHosts!.map((h) => `${h.user}@${h.host}:${h.port}`), ['cfguser@clihop:2222']);
    const column = resolveHost(base('behind', { jump: 'col@colhop' }), ctx());
    assert.deepEqual(column.jumpHosts!.map((h) => `${h.user}@${h.host}`), ['col@colhop']);
    const none = resolveHost(base('behind'), ctx({ jump: 'none' }));
    assert.equal(none.jumpHosts, undefined);
    assert.equal(resolveHost(base('nojump'), ctx()).jumpHosts, undefined);
    assert.throws(() => resolveHost(base('h1'), ctx({ jump: 'a,,b' })), /-J: .*one hop is empty/);
    const cmd = buildCommand().exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
    assert.throws(() => cmd.parse(['node', 'octoscan-remote', '-o', '/tmp', '-J', 'scan@[::1', 'h']), /--jump must be \[user@\]host\[:port\]\[,\.\.\.\] or none: "\[" must be closed/);
    const ok = buildCommand().exitOverride().parse(['node', 'octoscan-remote', '-o', '/tmp', '-J', 'a,scan@[::1]:2222', 'h']);
    assert.equal(ok.opts().jump, 'a,scan@[::1]:2222');
    assert.deepEqual(ok.opts().javaDir, [], '-J is no longer the Java folder');
  });

  test('tokens: unknown ones and a trailing % are errors naming the value', () => {
    const t = { h: 'h', n: 'n', p: 22, r: 'r', d: '/home/u', u: 'u', i: 1000 };
    assert.equal(expandTokens('~/.ssh/id_%r@%h:%p_%%', t), '/home/u/.ssh/id_r@h:22_%');
    assert.throws(() => expandTokens('%z', t), SshConfigError);
    assert.throws(() => expandTokens('abc%', t), /at the end/);
  });

  test('-F none reads nothing; -F of a missing file is an error naming it', () => {
    assert.deepEqual(configFiles('none', '/h'), []);
    assert.throws(() => configFiles(join(d, 'missing'), '/h'), /-F .*missing: ENOENT/);
    assert.deepEqual(configFiles(undefined, '/h').map((f) => f.path), ['/h/.ssh/config', '/etc/ssh/ssh_config']);
  });
});

// Issue 22: each way we used to read ssh_config differently from OpenSSH 9.2,
// held against `ssh -G` itself, and what the difference means for the scan.
describe('ssh_config: the differences from ssh -G that issue 22 lists', { skip: sshMissing }, () => {
  let d: string;
  const write = (name: string, text: string): string => {
    const p = join(d, name);
    writeFileSync(p, text);
    return p;
  };
  const base = (host: string): HostSpec => ({ host, port: 0, user: '', identities: [], tag: '', origin: { file: '<args>', line: 0 } });
  const resolveWith = (file: string, host: string): HostSpec =>
    resolveHost(base(host), { config: ctxFor(file), given: {}, legacy: false, defaultIdentities: [], identities: [] });
  /** ssh -G refuses the file (exit 255), and so do we, naming the file and line. */
  const bothRefuse = (file: string, host: string, line: number, why: RegExp): void => {
    const r = spawnSync('ssh', ['-G', '-F', file, host], { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
    assert.notEqual(r.status, 0, `ssh -G read ${file} for ${host}: ${r.stdout.slice(0, 200)}`);
    forgetParsedConfigs();
    assert.throws(() => resolveSshConfig(host, ctxFor(file)), (e: Error) => e instanceof SshConfigError && e.message.includes(`${file} line ${line}:`) && why.test(e.message));
  };
  before(() => {
    forgetParsedConfigs();
    d = mkdtempSync(join(tmpdir(), 'octoscan-sshconfig-22-'));
  });
  after(() => rmSync(d, { recursive: true, force: true }));

  test('negated Match criteria: !canonical, !final and !all are read, not a failure of the whole file', () => {
    const f = write('negated', 'Match !canonical host nb-*\n  User notcanonical\nMatch !final host nb-*\n  Port 2201\nMatch !all\n  User never\nHost *\n  User fallback\n  ConnectTimeout 3\n');
    for (const h of ['nb-1', 'other']) assertSame(f, h);
    assert.equal(resolveWith(f, 'nb-1').user, 'notcanonical');
  });

  test('the final pass: with Match final, Host lines see the final host name; without it, no second pass and no Match canonical', () => {
    const withFinal = write('final', 'Host web\n  HostName web.example.com\nHost *.example.com\n  User exuser\n  ProxyJump bastion\nMatch final host nothing-matches-this\n  Port 1\n');
    assertSame(withFinal, 'web');
    const s = resolveWith(withFinal, 'web');
    assert.deepEqual([s.host, s.user, s.jump], ['web.example.com', 'exuser', 'bastion']);
    const noFinal = write('nofinal', 'Host web\n  HostName web.example.com\nHost *.example.com\n  User exuser\nMatch canonical\n  User canonicaluser\nHost *\n  User plain\n');
    assertSame(noFinal, 'web');
    assert.equal(resolveWith(noFinal, 'web').user, 'plain');
  });

  test('commas: Host alpha,beta is one pattern (commas separate lists only in Match)', () => {
    const f = write('commas', 'Host alpha,beta\n  User commas\nMatch host gamma,delta\n  User listed\nHost *\n  User other\n');
    for (const h of ['alpha', 'beta', 'gamma', 'delta']) assertSame(f, h);
    assert.equal(resolveWith(f, 'alpha').user, 'other');
    assert.equal(resolveWith(f, 'delta').user, 'listed');
  });

  test('ProxyJump and ProxyCommand are one setting: the first wins, and ProxyCommand none first means direct', () => {
    const f = write('proxy', 'Host direct\n  ProxyCommand none\nHost pj-*\n  ProxyJump jumper\nHost pj-* direct\n  ProxyJump never\n  ProxyCommand ssh -W %h:%p gw\n');
    const g = (h: string) => sshG(f, h);
    assert.equal(g('direct').get('proxyjump'), undefined);
    assert.equal(g('direct').get('proxycommand'), undefined);
    assert.deepEqual(g('pj-1').get('proxyjump'), ['jumper']);
    const direct = resolveWith(f, 'direct');
    assert.deepEqual([direct.jump, direct.unsupported], [undefined, undefined]);
    const jumped = resolveWith(f, 'pj-1');
    assert.deepEqual([jumped.jump, jumped.unsupported], ['jumper', undefined], 'the ProxyCommand after it is no reason to refuse the host');
    const f2 = write('proxy2', 'Host *\n  ProxyCommand ssh -W %h:%p gw\n  ProxyJump never\n');
    assert.deepEqual(sshG(f2, 'x').get('proxyjump'), undefined);
    assert.match(resolveWith(f2, 'x').unsupported ?? '', /proxy2:2: ProxyCommand/);
  });

  test('tokens: %C, %k, %L, %l, %i and the rest in IdentityFile, UserKnownHostsFile and IdentityAgent, as ssh expands them', () => {
    const f = write('tokens', `Host tok
  HostName tok.example.net
  Port 2222
  User tokuser
  UserKnownHostsFile ~/.ssh/kh_%C %d/kh_%k_%L_%i
  IdentityAgent /tmp/agent-%C-%n
  IdentityFile ~/.ssh/id_%k_%h
`);
    assertSame(f, 'tok');
    const s = resolveWith(f, 'tok');
    const g = sshG(f, 'tok');
    assert.deepEqual(s.knownHostsFiles, g.get('userknownhostsfile')![0].split(' '));
    assert.equal(s.identityAgent, g.get('identityagent')![0]);
    assert.deepEqual(s.identities, [`${me.homedir}/.ssh/id_tok_tok.example.net`]);
  });

  test('keyword aliases: PubkeyAcceptedKeyTypes and ChallengeResponseAuthentication set PubkeyAcceptedAlgorithms and KbdInteractiveAuthentication', () => {
    const f = write('aliases', 'Host old\n  PubkeyAcceptedKeyTypes +ssh-rsa\n  ChallengeResponseAuthentication no\nHost *\n  PubkeyAcceptedAlgorithms -ssh-rsa\n');
    const g = sshG(f, 'old');
    assert.equal(g.get('pubkeyacceptedalgorithms')![0].split(',').at(-1), 'ssh-rsa');
    assert.deepEqual(g.get('kbdinteractiveauthentication'), ['no']);
    const s = resolveWith(f, 'old');
    assert.equal(s.algorithms!.pubkey.at(-1), 'ssh-rsa', 'the +ssh-rsa fix for old servers works');
    assert.equal(s.kbdInteractiveAuthentication, false);
  });

  test('numeric host names: HostName 1 is 0.0.0.1, as ssh writes it (and looks it up in known_hosts)', () => {
    const f = write('numeric', 'Host one\n  HostName 1\nHost ten\n  HostName 10.1\nHost hex\n  HostName 0x7f.1\nHost v6\n  HostName 0:0:0::1\n');
    for (const h of ['one', 'ten', 'hex', 'v6']) assertSame(f, h);
    assert.deepEqual(['one', 'ten', 'hex', 'v6'].map((h) => resolveWith(f, h).host), ['0.0.0.1', '10.0.0.1', '127.0.0.1', '::1']);
  });

  test('unknown keywords and malformed lines are errors naming file and line, as in ssh, unless IgnoreUnknown names them', () => {
    bothRefuse(write('nbsp', 'Host\u00a0web\n  User nbsp\nHost *\n  User star\n'), 'web', 1, /no argument after keyword "host\u00a0web".*non-breaking space/);
    bothRefuse(write('nbsp2', 'Host\u00a0 web\n  User nbsp\n'), 'web', 1, /Bad configuration option: host\u00a0.*non-breaking space/);
    bothRefuse(write('unknown', 'Host *\n  User u\n  Frobnicate yes\n'), 'x', 3, /Bad configuration option: frobnicate/);
    bothRefuse(write('port', 'Host other\n  Port abc\n'), 'x', 2, /bad port 'abc'/);
    bothRefuse(write('extra', 'Host *\n  User a b\n'), 'x', 2, /extra arguments/);
    bothRefuse(write('quotes', 'Host *\n  IdentityFile "~/.ssh/a b\n'), 'x', 2, /invalid quotes/);
    bothRefuse(write('noarg', 'Host *\n  User\n'), 'x', 2, /no argument after keyword "user"/);
    bothRefuse(write('matchattr', 'Match nonsense x\n  User u\n'), 'x', 1, /Unsupported Match attribute nonsense/);
    const ignored = write('ignored', 'IgnoreUnknown Frob*,UseKeychain\nHost *\n  UseKeychain yes\n  Frobnicate yes\n  User kept\n');
    assertSame(ignored, 'x');
    assert.equal(resolveWith(ignored, 'x').user, 'kept');
    // Debian's (and RHEL's) ssh knows the GSSAPI key exchange keywords: so do we.
    const gss = write('gss', 'Host *\n  GSSAPIKeyExchange yes\n  GSSAPITrustDns no\n  User gss\n');
    assertSame(gss, 'x');
  });
});
