// Issue 22: `octoscan-remote plan` takes the scan's host-selecting options and
// shows each host's settings without connecting. The hosts here are loopback
// ports where the test listens and logs every connection (silent listeners: a
// scan would wait out its connect timeout on each), one port where nothing
// listens, a bastion, and a name that does not exist: plan is fast, exits 0,
// and nothing connects.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const RUN_CLI = fileURLToPath(new URL('../helpers/run-cli.ts', import.meta.url));
const me = userInfo();

function planCli(args: string[], home: string): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', RUN_CLI, 'plan', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, HOME: home, SSH_AUTH_SOCK: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stdout, stderr, ms: performance.now() - started }));
  });
}

describe('plan: settings per host, no connection', () => {
  let dir: string;
  const servers: Server[] = [];
  const ports: number[] = [];
  let closedPort = 0;
  const connections: string[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'octoscan-plan-'));
    for (let i = 0; i < 3; i++) {
      // Accepts and stays silent: an SSH client would wait for a banner until its timeout.
      const s = createServer((sock) => connections.push(`${sock.remoteAddress} -> ${(sock.address() as { port: number }).port}`));
      await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
      servers.push(s);
      ports.push((s.address() as { port: number }).port);
    }
    const gone = createServer();
    await new Promise<void>((r) => gone.listen(0, '127.0.0.1', r));
    closedPort = (gone.address() as { port: number }).port;
    await new Promise<void>((r) => gone.close(() => r()));
  });
  after(async () => {
    for (const s of servers) await new Promise<void>((r) => s.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  });

  test('hosts file, arguments and ssh_config aliases: every host planned, exit 0, fast, and not one connection', async () => {
    const hosts = join(dir, 'hosts.csv');
    writeFileSync(hosts, `host,port,user,sudo\n127.0.0.1,${ports[0]},alice,yes\n127.0.0.1,${closedPort},bob,no\n`);
    const config = join(dir, 'ssh_config');
    writeFileSync(config, `Host db01
  HostName 127.0.0.1
  Port ${ports[1]}
  User dbadmin
  ProxyJump gate
  IdentityFile ~/.ssh/id_%k
Host gate
  HostName 127.0.0.1
  Port ${ports[2]}
  User jumper
Host *
  ConnectTimeout 30
  StrictHostKeyChecking accept-new
`);
    const r = await planCli(['--json', '--hosts', hosts, '-F', config, '--containers', 'db01', 'no-such-host.invalid'], dir);
    assert.equal(r.code, 0, r.stderr);
    const plans = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(plans.map((p) => [p.name, p.hostname, p.port, p.user]), [
      ['127.0.0.1', '127.0.0.1', ports[0], 'alice'],
      ['127.0.0.1', '127.0.0.1', closedPort, 'bob'],
      ['db01', '127.0.0.1', ports[1], 'dbadmin'],
      ['no-such-host.invalid', 'no-such-host.invalid', 22, me.username],
    ]);
    const db = plans[2];
    assert.equal(db.proxyjump, 'gate');
    assert.deepEqual(db.jumphosts, [{ name: 'gate', hostname: '127.0.0.1', port: ports[2], user: 'jumper' }]);
    assert.deepEqual(db.identityfile, [join(dir, '.ssh', 'id_db01')]);
    assert.deepEqual([db.stricthostkeychecking, db.connecttimeout, db.transport, db.containers, db.unsupported], ['accept-new', 30, 'ssh2', true, null]);
    assert.deepEqual([plans[0].sudo, plans[1].sudo, plans[3].sudo], [true, false, false]);
    for (const k of ['hostkeyalgorithms', 'kexalgorithms', 'ciphers', 'macs', 'pubkeyacceptedalgorithms']) assert.match(String(db[k]), /^[a-z0-9@.,-]+$/, k);
    assert.equal(plans[0].proxyjump, null);
    // A scan would have waited on the silent ports; plan looked at none of them.
    assert.ok(r.ms < 20_000, `plan took ${r.ms} ms`);
    await new Promise((res) => setTimeout(res, 300));
    assert.deepEqual(connections, [], 'plan connected to a listener');
  });

  test('the text form: keyword value lines as ssh -G prints them, lower-case, a blank line between hosts', async () => {
    const r = await planCli(['-l', 'carol', '-p', String(ports[0]), '-F', 'none', '127.0.0.1', `127.0.0.1:${closedPort}`], dir);
    assert.equal(r.code, 0, r.stderr);
    const blocks = r.stdout.trimEnd().split('\n\n');
    assert.equal(blocks.length, 2);
    assert.deepEqual(blocks[0].split('\n').slice(0, 4), ['host 127.0.0.1', 'user carol', 'hostname 127.0.0.1', `port ${ports[0]}`]);
    assert.ok(blocks[1].split('\n').includes(`port ${closedPort}`));
    for (const line of r.stdout.split('\n').filter((l) => l && !l.startsWith('#'))) assert.match(line, /^[a-z]+ \S/, line);
    assert.deepEqual(connections, []);
  });

  test('--shard: the parts the scan would take, together the whole list, each host once', async () => {
    const names = Array.from({ length: 12 }, (_, i) => `node-${i}.example`);
    const parts = await Promise.all([0, 1, 2].map((i) => planCli(['--json', '-F', 'none', '--shard', `${i}/3`, ...names], dir)));
    const got = parts.flatMap((p) => {
      assert.equal(p.code, 0, p.stderr);
      return p.stdout.trim().split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { name: string }).name);
    });
    assert.deepEqual([...got].sort(), [...names].sort());
    assert.ok(parts.every((p) => p.stdout.trim() !== ''), 'twelve hosts fill each of three parts');
  });

  test('a host the ssh2 transport would refuse: the keyword and file:line, exit 2; with --transport openssh it would be tried', async () => {
    const config = join(dir, 'proxied');
    writeFileSync(config, 'Host old-*\n  ProxyCommand nc %h %p\nHost behind\n  ProxyJump old-gw\n');
    const r = await planCli(['--json', '-F', config, 'old-1', 'fine', 'behind'], dir);
    assert.equal(r.code, 2, r.stderr);
    const [old, fine, behind] = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { unsupported: unknown });
    assert.deepEqual((old.unsupported as { keyword: string; at: string }).keyword, 'ProxyCommand');
    assert.equal((old.unsupported as { at: string }).at, `${config}:2`);
    assert.equal(fine.unsupported, null);
    assert.equal((behind.unsupported as { at: string }).at, `${config}:2`, 'a host behind a refused bastion is refused too');
    assert.match(r.stderr, /2 of 3 host\(s\) would be refused/);
    const viaSsh = await planCli(['--json', '--transport', 'openssh', '-F', config, 'old-1'], dir);
    assert.equal(viaSsh.code, 0, viaSsh.stderr);
  });

  test('a bad list is exit 1 with the file and line: an ssh_config line ssh refuses, a hosts-file row', async () => {
    const config = join(dir, 'bad');
    writeFileSync(config, 'Host *\n  Usre typo\n');
    const r = await planCli(['-F', config, 'h1'], dir);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /bad line 2: Bad configuration option: usre/);
    const hosts = join(dir, 'bad.csv');
    writeFileSync(hosts, 'host,port\nok-host,22\nbad host,22\n');
    const h = await planCli(['--hosts', hosts], dir);
    assert.equal(h.code, 1);
    assert.match(h.stderr, /bad\.csv:3/);
    assert.equal(r.stdout + h.stdout, '', 'nothing planned from a bad list');
  });
});
