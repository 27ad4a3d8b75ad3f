// Reach through bastions, old servers and IPv6, end to end: the real CLI, real
// OpenSSH sshds on loopback, archives read back.
// - a two-hop ProxyJump chain, seen in each bastion's own log (direct-tcpip
//   to the next hop), and each hop's host key checked like the target's;
// - 50 hosts through one bastion: exactly one connection and one login on it;
//   the same sweep made directly, both wall times printed;
// - a bastion that fails: every host behind it fails once, phase jump, naming
//   the bastion, with one connection attempt however many hosts and retries;
// - ssh_config: an alias with HostName/Port/User/IdentityFile/ProxyJump, and a
//   ProxyCommand host refused naming the keyword;
// - IPv6 on ::1: a target and a bastion;
// - an sshd limited to legacy algorithms: refused by default, scanned with
//   --legacy-algorithms and with ssh_config `+` lists.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cliBuilt, readReport, runCli } from '../helpers/cli-sweep.js';
import { startFarm, type Farm } from '../helpers/farm.js';
import { createTestUser, makeHostKeyDir, sshdAvailable, startSshd, type Sshd, type TestUser } from '../helpers/sshd.js';
import { entryNames } from '../helpers/zip.js';

const skip = sshdAvailable() ?? (cliBuilt ? undefined : 'the CLI is not built (npm run build)');
if (skip) console.error(`\n*** SKIPPING ProxyJump / legacy / IPv6 tests: ${skip} ***\n`);

const ipv6 = (() => {
  try {
    return readdirSync('/proc/net').includes('if_inet6') ? undefined : 'no IPv6 on this machine';
  } catch {
    return 'no IPv6 on this machine';
  }
})();

const env = { ...process.env, SSH_AUTH_SOCK: '', OCTOSCAN_SSH_PASSPHRASE: '' };
const count = (text: string, re: RegExp): number => (text.match(new RegExp(re.source, 'g')) ?? []).length;

describe('ProxyJump, ssh_config, IPv6 and legacy servers over real sshds', { skip }, () => {
  let user: TestUser;
  let work: string;
  let b1: Sshd;
  let b2: Sshd;
  let target: Sshd;
  let kh: string;
  let n = 0;
  const out = (): string => {
    const d = join(work, `out-${++n}`);
    mkdirSync(d);
    return d;
  };
  const u = (): string => user.name;

  before(async () => {
    user = await createTestUser();
    work = mkdtempSync('/tmp/octoscan-jump-');
    // Bastions log every direct-tcpip request at DEBUG1 (sshd takes the first LogLevel).
    [b1, b2, target] = await Promise.all([
      startSshd({ addresses: ['127.0.32.1'], users: [user], extraConfig: 'LogLevel DEBUG1\nAllowTcpForwarding yes' }),
      startSshd({ addresses: ['127.0.32.2'], users: [user], extraConfig: 'LogLevel DEBUG1\nAllowTcpForwarding yes' }),
      startSshd({ addresses: ['127.0.32.3'], users: [user] }),
    ]);
    kh = join(work, 'known_hosts');
    await b1.writeKnownHosts(kh);
    await b2.writeKnownHosts(kh, undefined, { append: true });
    await target.writeKnownHosts(kh, undefined, { append: true });
  });
  after(async () => {
    await Promise.allSettled([b1?.stop(), b2?.stop(), target?.stop()]);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('a two-hop chain: each bastion forwards to the next hop (its own log says so); the archive is complete', async () => {
    const o = out();
    const report = join(work, 'two-hop.csv');
    const chain = `${u()}@127.0.32.1:${b1.port},${u()}@127.0.32.2:${b2.port}`;
    const r = await runCli(['-F', 'none', '-J', chain, `${u()}@127.0.32.3:${target.port}`, '-i', user.keyPath, '--known-hosts', kh, '-o', o, '--report', report, '--no-progress'], { env });
    assert.equal(r.code, 0, r.stderr);
    const [row] = readReport(report);
    assert.equal(row.class, 'ok', row.message);
    const archive = readdirSync(o)[0];
    assert.ok((await entryNames(join(o, archive))).some((e) => e.endsWith('/octoscan.xml')));
    await b1.waitForLog(new RegExp(`server_request_direct_tcpip: .*target 127\\.0\\.32\\.2 port ${b2.port}`));
    await b2.waitForLog(new RegExp(`server_request_direct_tcpip: .*target 127\\.0\\.32\\.3 port ${target.port}`));
    assert.equal(count(b1.log(), /Accepted publickey for octoscan-test/), 1, b1.log());
    assert.equal(count(b2.log(), /Accepted publickey for octoscan-test/), 1, b2.log());
    assert.ok(!/target 127\.0\.32\.3/.test(b1.log()), 'the first bastion never connects to the target itself');
  });

  test('a target the bastion cannot reach fails alone: refused is unreachable (connect), an unknown name is dns', async () => {
    const report = join(work, 'unreachable-behind.csv');
    const { freePort } = await import('../helpers/sshd.js');
    const closed = await freePort('127.0.32.3');
    const r = await runCli(['-F', 'none', '-J', `${u()}@127.0.32.1:${b1.port}`, `${u()}@127.0.32.3:${closed}`, `${u()}@no-such-host.invalid`, `${u()}@127.0.32.3:${target.port}`, '-i', user.keyPath, '--known-hosts', kh, '-o', out(), '--report', report, '--no-progress', '--retries', '0'], { env });
    assert.equal(r.code, 2, r.stderr);
    const rows = readReport(report);
    const refused = rows.find((x) => x.port === String(closed))!;
    assert.equal(refused.class, 'unreachable', refused.message);
    assert.equal(refused.phase, 'connect');
    assert.match(refused.message, new RegExp(`bastion octoscan-test@127\\.0\\.32\\.1:${b1.port} cannot connect to 127\\.0\\.32\\.3:${closed}: `));
    const unknown = rows.find((x) => x.host === 'no-such-host.invalid')!;
    assert.equal(unknown.class, 'dns', unknown.message);
    assert.equal(unknown.phase, 'resolve');
    assert.match(unknown.message, /bastion octoscan-test@127\.0\.32\.1:\d+ cannot resolve no-such-host\.invalid: /);
    assert.equal(rows.find((x) => x.port === String(target.port))!.class, 'ok', 'the bastion itself is fine: the other host is scanned');
  });

  test("each hop's host key is checked like the target's: the second bastion unknown fails the host in phase jump, naming it", async () => {
    const partial = join(work, 'known_hosts.partial');
    await b1.writeKnownHosts(partial);
    await target.writeKnownHosts(partial, undefined, { append: true });
    const report = join(work, 'hop-key.csv');
    const chain = `${u()}@127.0.32.1:${b1.port},${u()}@127.0.32.2:${b2.port}`;
    const r = await runCli(['-F', 'none', '-J', chain, `${u()}@127.0.32.3:${target.port}`, '-i', user.keyPath, '--known-hosts', partial, '-o', out(), '--report', report, '--no-progress'], { env });
    assert.equal(r.code, 2, r.stderr);
    const [row] = readReport(report);
    assert.equal(row.class, 'hostkey-unknown');
    assert.equal(row.phase, 'jump');
    assert.match(row.message, new RegExp(`bastion octoscan-test@127\\.0\\.32\\.2:${b2.port}: .*SHA256:`));
  });

  test('ssh_config: an alias (HostName, Port, User, IdentityFile, ProxyJump) is scanned; a ProxyCommand host fails naming the keyword', async () => {
    const cfg = join(work, 'ssh_config');
    writeFileSync(
      cfg,
      `Host db-alias
  HostName 127.0.32.3
  Port ${target.port}
  ProxyJump bastion
Host bastion
  HostName 127.0.32.1
  Port ${b1.port}
Host proxied
  HostName 127.0.32.3
  ProxyCommand nc %h %p
Host *
  User ${u()}
  IdentityFile ${user.keyPath}
  UserKnownHostsFile ${kh}
`,
    );
    const report = join(work, 'config.csv');
    const o = out();
    const r = await runCli(['-F', cfg, 'db-alias', 'proxied', '-o', o, '--report', report, '--no-progress', '--retries', '0'], { env });
    assert.equal(r.code, 2, r.stderr);
    const rows = readReport(report);
    // The report names the host as typed (the alias); address is the HostName connected to.
    const ok = rows.find((x) => x.host === 'db-alias' && x.class === 'ok') as (typeof rows)[number] & { address?: string };
    assert.ok(ok, JSON.stringify(rows));
    assert.equal(ok.address, '127.0.32.3');
    assert.equal(ok.port, String(target.port));
    const refused = rows.find((x) => x.class === 'unsupported')!;
    assert.ok(refused, JSON.stringify(rows));
    assert.match(refused.message, new RegExp(`${cfg.replace(/[.]/g, '\\.')}:10: ProxyCommand nc %h %p: .*--transport openssh`));
    assert.equal(readdirSync(o).length, 1);
  });

  test('a bastion that fails fails its hosts once: phase jump, the bastion named, one connection however many hosts and retries', async () => {
    const stranger = await startSshd({ addresses: ['127.0.32.9'], users: [user], hostKeyDir: await makeHostKeyDir() });
    try {
      const hosts = join(work, 'behind.csv');
      writeFileSync(hosts, `host,port,user,jump\n${[1, 2, 3, 4, 5].map((i) => `127.0.33.${i},22,${u()},${u()}@127.0.32.9:${stranger.port}`).join('\n')}\n`);
      const report = join(work, 'behind-report.csv');
      // The harness's own readiness probe is one connection already.
      const before = count(stranger.log(), /Connection from /);
      const r = await runCli(['-F', 'none', '--hosts', hosts, '-i', user.keyPath, '--known-hosts', kh, '-o', out(), '--report', report, '--retries', '2', '--no-progress'], { env });
      assert.equal(r.code, 2, r.stderr);
      const rows = readReport(report);
      assert.equal(rows.length, 5);
      for (const row of rows) {
        assert.equal(row.class, 'hostkey-unknown', row.message);
        assert.equal(row.phase, 'jump');
        assert.match(row.message, new RegExp(`^bastion octoscan-test@127\\.0\\.32\\.9:${stranger.port}: `));
      }
      assert.equal(count(stranger.log(), /Connection from /) - before, 1, stranger.log());
    } finally {
      await stranger.stop();
    }
  });

  test('IPv6 on ::1: user@[::1]:port directly, a [::1] bastion with -J, and [::1] in the hosts file with a jump column', { skip: ipv6 }, async () => {
    const [v6target, v6bastion] = await Promise.all([
      startSshd({ addresses: ['::1'], users: [user] }),
      startSshd({ addresses: ['::1'], users: [user], extraConfig: 'LogLevel DEBUG1' }),
    ]);
    try {
      const kh6 = join(work, 'known_hosts6');
      await v6target.writeKnownHosts(kh6);
      await v6bastion.writeKnownHosts(kh6, undefined, { append: true });
      const direct = await runCli(['-F', 'none', `${u()}@[::1]:${v6target.port}`, '-i', user.keyPath, '--known-hosts', kh6, '-o', out(), '--no-progress'], { env });
      assert.equal(direct.code, 0, direct.stderr);
      const hosts = join(work, 'v6.csv');
      writeFileSync(hosts, `host,port,user,jump\n[::1],${v6target.port},${u()},${u()}@[::1]:${v6bastion.port}\n`);
      const report = join(work, 'v6-report.csv');
      const viaFile = await runCli(['-F', 'none', '--hosts', hosts, '-i', user.keyPath, '--known-hosts', kh6, '-o', out(), '--report', report, '--no-progress'], { env });
      assert.equal(viaFile.code, 0, viaFile.stderr);
      assert.equal(readReport(report)[0].host, '::1');
      await v6bastion.waitForLog(new RegExp(`target ::1 port ${v6target.port}`));
      const viaJ = await runCli(['-F', 'none', '-J', `${u()}@[::1]:${v6bastion.port}`, `${u()}@[::1]:${v6target.port}`, '-i', user.keyPath, '--known-hosts', kh6, '-o', out(), '--no-progress'], { env });
      assert.equal(viaJ.code, 0, viaJ.stderr);
    } finally {
      await Promise.allSettled([v6target.stop(), v6bastion.stop()]);
    }
  });

  test('an sshd limited to legacy algorithms: refused by default, scanned with --legacy-algorithms and with ssh_config + lists', async () => {
    const old = await startSshd({
      addresses: ['127.0.32.30'],
      users: [user],
      hostKeyTypes: ['rsa'],
      extraConfig: 'HostKeyAlgorithms ssh-rsa\nKexAlgorithms diffie-hellman-group14-sha1\nCiphers aes128-cbc,aes256-cbc',
    });
    try {
      const khOld = join(work, 'known_hosts.old');
      await old.writeKnownHosts(khOld);
      const args = (o: string, report: string): string[] => [`${u()}@127.0.32.30:${old.port}`, '-i', user.keyPath, '--known-hosts', khOld, '-o', o, '--report', report, '--no-progress', '--retries', '0'];
      const refusedReport = join(work, 'legacy-default.csv');
      const refused = await runCli(['-F', 'none', ...args(out(), refusedReport)], { env });
      assert.equal(refused.code, 2, refused.stderr);
      const [row] = readReport(refusedReport);
      assert.equal(row.class, 'protocol');
      assert.equal(row.phase, 'handshake');
      assert.match(row.message, /no matching .*--legacy-algorithms/);
      assert.match(old.log(), /no matching|Unable to negotiate/);

      const optIn = await runCli(['-F', 'none', '--legacy-algorithms', ...args(out(), join(work, 'legacy-run.csv'))], { env });
      assert.equal(optIn.code, 0, optIn.stderr);

      const cfg = join(work, 'legacy_config');
      writeFileSync(cfg, 'Host 127.0.32.30\n  HostKeyAlgorithms +ssh-rsa\n  KexAlgorithms +diffie-hellman-group14-sha1\n  Ciphers +aes128-cbc\n');
      const perHost = await runCli(['-F', cfg, ...args(out(), join(work, 'legacy-config.csv'))], { env });
      assert.equal(perHost.code, 0, perHost.stderr);
    } finally {
      await old.stop();
    }
  });
});

describe('50 hosts through one bastion', { skip }, () => {
  let farm: Farm;
  let bastion: Sshd;
  let work: string;
  let kh: string;
  before(async () => {
    work = mkdtempSync('/tmp/octoscan-jump50-');
    farm = await startFarm(50, { probe: 'replay', dir: work });
    bastion = await startSshd({ addresses: ['127.0.34.1'], users: [farm.user] });
    kh = join(work, 'known_hosts.all');
    await bastion.writeKnownHosts(kh);
    const { readFileSync } = await import('node:fs');
    appendFileSync(kh, readFileSync(farm.knownHosts));
  });
  after(async () => {
    await Promise.allSettled([farm?.stop(), bastion?.stop()]);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('one connection and one login on the bastion for 50 hosts; every archive written; wall time beside the direct sweep', async () => {
    const run = async (label: string, extra: string[]) => {
      const o = join(work, `out-${label}`);
      mkdirSync(o);
      const report = join(work, `${label}.csv`);
      const r = await runCli(['-F', 'none', '--hosts', farm.hostsFile, '--known-hosts', kh, '-o', o, '--report', report, '--no-progress', '--retries', '0', ...extra], { env });
      assert.equal(r.code, 0, r.stderr);
      const rows = readReport(report);
      assert.equal(rows.filter((x) => x.class === 'ok').length, 50, r.stderr);
      assert.equal(readdirSync(o).length, 50);
      return r.wallMs;
    };
    const direct = await run('direct', []);
    const before = count(bastion.log(), /Connection from /); // the harness's readiness probe
    // -i: the rows name the targets' key; the bastion takes -i, as ssh -J takes the bastion's config.
    const viaBastion = await run('bastion', ['-J', `${farm.user.name}@127.0.34.1:${bastion.port}`, '-i', farm.user.keyPath, '--jump-channels', '16']);
    assert.equal(count(bastion.log(), /Connection from /) - before, 1, bastion.log());
    assert.equal(count(bastion.log(), /Accepted publickey for /), 1, bastion.log());
    console.log(`# 50-host sweep (replayed probes): direct ${(direct / 1000).toFixed(1)} s, through one bastion (--jump-channels 16) ${(viaBastion / 1000).toFixed(1)} s`);
  });
});
