// The estate as teams describe it, end to end: the real CLI, the real sshd
// farm (replayed probes) and a real bastion sshd on loopback, Ansible itself.
// - an INI and a YAML inventory (groups, children, group vars, a bastion)
//   swept: the report names hosts by their inventory names, `address` holds
//   ansible_host; the bastion's own log shows the hop;
// - --limit cases, each compared with `ansible all --limit P --list-hosts`;
// - the same inventory saved as JSON, swept with Ansible absent from PATH;
// - an ssh_config alias: the report's host is the alias, address the HostName;
// - hosts-file labels carried into the report, and a typo of a column refused;
// - per-host transport: one run mixes openssh (a ProxyCommand host) and ssh2.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { cliBuilt, runCli } from '../helpers/cli-sweep.js';
import { startFarm, type Farm } from '../helpers/farm.js';
import { sshdAvailable, startSshd, type Sshd } from '../helpers/sshd.js';
import { readZip } from '../helpers/zip.js';
import { REPORT_COLUMNS } from '../../src/sweep/report.js';

const run = promisify(execFile);
const noAnsible = (() => {
  try {
    execFileSync('ansible-inventory', ['--version'], { stdio: 'ignore' });
    return undefined;
  } catch {
    return 'ansible-core is not installed (.ci/run installs it)';
  }
})();
const skip = sshdAvailable() ?? noAnsible ?? (cliBuilt ? undefined : 'the CLI is not built (npm run build)');
if (skip) console.error(`\n*** SKIPPING inventory / names / labels / transport tests: ${skip} ***\n`);

const env = { ...process.env, SSH_AUTH_SOCK: '', OCTOSCAN_SSH_PASSPHRASE: '' };
type Row = Record<string, string>;
const readRows = (file: string): Row[] => parse(readFileSync(file, 'utf8'), { columns: true }) as Row[];
const sorted = (xs: string[]): string[] => xs.slice().sort();

describe('inventories, names, labels and per-host transport over real sshds', { skip }, () => {
  let farm: Farm;
  let bastion: Sshd;
  let work: string;
  let kh: string;
  let n = 0;
  const out = (): string => {
    const d = join(work, `out-${++n}`);
    mkdirSync(d);
    return d;
  };
  const addr = (i: number): string => farm.good[i].host;

  let ini: string;
  before(async () => {
    work = mkdtempSync('/tmp/octoscan-inventory-');
    farm = await startFarm(4, { probe: 'replay', dir: work });
    bastion = await startSshd({ addresses: ['127.0.34.1'], users: [farm.user], extraConfig: 'LogLevel DEBUG1\nAllowTcpForwarding yes' });
    kh = join(work, 'known_hosts');
    writeFileSync(kh, readFileSync(farm.knownHosts));
    await bastion.writeKnownHosts(kh, undefined, { append: true });
    ini = join(work, 'hosts.ini');
    writeFileSync(
      ini,
      `controller ansible_connection=local

[web]
web01 ansible_host=${addr(0)}
web02 ansible_host=${addr(1)}
web03 ansible_host=${addr(2)}

[db]
db01 ansible_host=${addr(3)}

[prod:children]
web
db

[prod:vars]
ansible_port=${farm.good[0].port}
ansible_user=${farm.user.name}
ansible_ssh_private_key_file=${farm.user.keyPath}
env=prod

[db:vars]
ansible_ssh_common_args='-o ProxyJump=${farm.user.name}@127.0.34.1:${bastion.port} -o StrictHostKeyChecking=no'
ansible_become=no
ansible_become_password=not-to-be-read
`,
    );
  });
  after(async () => {
    await Promise.allSettled([farm?.stop(), bastion?.stop()]);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const sweep = (args: string[], runEnv = env) => {
    const report = join(work, `report-${++n}.csv`);
    // -i: as with ssh -J, the bastion does not get the target's ansible_ssh_private_key_file.
    return runCli(['-F', 'none', '-i', farm.user.keyPath, '--known-hosts', kh, '-o', out(), '--report', report, '--no-progress', ...args], { env: runEnv }).then((r) => ({ ...r, report }));
  };

  test('an INI inventory: inventory names in the report and the log, ansible_host as address, the db group through its bastion', async () => {
    const r = await sweep(['--inventory', ini]);
    assert.equal(r.code, 0, r.stderr);
    const rows = readRows(r.report);
    assert.deepEqual(
      rows.map((x) => [x.host, x.address, x.port, x.user, x.class]),
      [
        ['web01', addr(0), String(farm.good[0].port), farm.user.name, 'ok'],
        ['web02', addr(1), String(farm.good[0].port), farm.user.name, 'ok'],
        ['web03', addr(2), String(farm.good[0].port), farm.user.name, 'ok'],
        ['db01', addr(3), String(farm.good[0].port), farm.user.name, 'ok'],
      ],
    );
    assert.match(r.stderr, new RegExp(`ok ${farm.user.name}@db01:${farm.good[0].port} `), 'log lines use the name');
    assert.match(r.stderr, /skipped, ansible_connection local \(this machine: scan it with --local\): controller/);
    assert.match(r.stderr, /never read: ansible_become_password;/);
    assert.doesNotMatch(r.stderr, /not-to-be-read/);
    assert.match(r.stderr, /variables a scan does not use: env\b/);
    assert.match(r.stderr, /ssh arguments a scan does not use: ansible_ssh_common_args: -o StrictHostKeyChecking=no/);
    await bastion.waitForLog(new RegExp(`server_request_direct_tcpip: .*target ${addr(3).replace(/\./g, '\\.')} port ${farm.good[0].port}`));
    assert.ok(!new RegExp(`target ${addr(0).replace(/\./g, '\\.')} `).test(bastion.log()), 'web hosts are reached directly');
  });

  test('--limit selects what `ansible --limit P --list-hosts` selects', async () => {
    for (const pattern of ['prod:!db', 'web:&prod:!web02', 'db*,web01', '~web0[13]']) {
      const { stdout } = await run('ansible', ['all', '-i', ini, '--limit', pattern, '--list-hosts']);
      const ansible = stdout.split('\n').slice(1).map((l) => l.trim()).filter(Boolean);
      const r = await sweep(['--inventory', ini, '--limit', pattern]);
      assert.equal(r.code, 0, `${pattern}: ${r.stderr}`);
      assert.deepEqual(sorted(readRows(r.report).map((x) => x.host)), sorted(ansible), pattern);
    }
    const none = await sweep(['--inventory', ini, '--limit', 'nosuch']);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /--limit "nosuch" selects none of the 4 host\(s\) listed/);
  });

  test('a YAML inventory with children, group vars and a bastion in ansible_ssh_extra_args', async () => {
    const yml = join(work, 'hosts.yml');
    writeFileSync(
      yml,
      `all:
  vars:
    ansible_user: ${farm.user.name}
    ansible_ssh_private_key_file: ${farm.user.keyPath}
    ansible_port: ${farm.good[0].port}
  children:
    eu:
      children:
        frontend:
          hosts:
            fe1: { ansible_host: ${addr(0)} }
        backend:
          hosts:
            be1: { ansible_host: ${addr(1)} }
          vars:
            ansible_ssh_extra_args: -J ${farm.user.name}@127.0.34.1:${bastion.port}
`,
    );
    const r = await sweep(['--inventory', yml, '--limit', 'eu']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(readRows(r.report).map((x) => [x.host, x.address, x.class]), [['fe1', addr(0), 'ok'], ['be1', addr(1), 'ok']]);
    await bastion.waitForLog(new RegExp(`server_request_direct_tcpip: .*target ${addr(1).replace(/\./g, '\\.')} port`));
  });

  test('the inventory saved as ansible-inventory --list JSON is swept with Ansible absent from PATH', async () => {
    const saved = join(work, 'inventory.json');
    writeFileSync(saved, (await run('ansible-inventory', ['-i', ini, '--list'])).stdout);
    const bare = join(work, 'empty-path');
    mkdirSync(bare);
    const noAnsibleEnv = { ...env, PATH: bare };
    const without = await sweep(['--inventory', ini], noAnsibleEnv);
    assert.equal(without.code, 1, 'the INI file needs ansible-inventory, which is not on this PATH');
    assert.match(without.stderr, /ansible-inventory not found on PATH/);
    const r = await sweep(['--inventory', saved, '--limit', 'prod:!web03'], noAnsibleEnv);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(readRows(r.report).map((x) => [x.host, x.address, x.class]), [['web01', addr(0), 'ok'], ['web02', addr(1), 'ok'], ['db01', addr(3), 'ok']]);
  });

  test('an ssh_config alias: the report host is the alias, address its HostName; the log and the summary page use the alias', async () => {
    const cfg = join(work, 'ssh_config');
    writeFileSync(cfg, `Host db-alias\n  HostName ${addr(2)}\n  Port ${farm.good[0].port}\n  User ${farm.user.name}\n  IdentityFile ${farm.user.keyPath}\n  UserKnownHostsFile ${kh}\n`);
    const report = join(work, 'alias.csv');
    const summary = join(work, 'alias.html');
    const r = await runCli(['-F', cfg, 'db-alias', '-o', out(), '--report', report, '--summary', summary, '--no-progress'], { env });
    assert.equal(r.code, 0, r.stderr);
    const [row] = readRows(report);
    assert.equal(row.host, 'db-alias');
    assert.equal(row.address, addr(2));
    assert.match(r.stderr, new RegExp(`ok ${farm.user.name}@db-alias:${farm.good[0].port} `));
    assert.match(readFileSync(summary, 'utf8'), /db-alias/);
    // --resume knows the host by that name: carried over, not scanned again.
    const again = join(work, 'alias-again.csv');
    const o2 = out();
    const r2 = await runCli(['-F', cfg, 'db-alias', '-o', o2, '--resume', report, '--report', again, '--no-progress'], { env });
    assert.equal(r2.code, 0, r2.stderr);
    assert.deepEqual(readRows(again).map((x) => [x.host, x.address, x.carried_over]), [['db-alias', addr(2), 'yes']]);
    assert.deepEqual(readdirSync(o2), []);
  });

  test('hosts-file labels become report columns (CSV and JSON lines); a typo of a known column is refused before connecting', async () => {
    const hosts = join(work, 'labelled.csv');
    const g = farm.good;
    writeFileSync(hosts, `host,port,user,identity,Owner,rack,name\n${g[0].host},${g[0].port},${g[0].user},${g[0].identity},Team A,"r 4, left",web-a\n${g[1].host},${g[1].port},${g[1].user},${g[1].identity},,r5,\n`);
    const r = await sweep(['--hosts', hosts]);
    assert.equal(r.code, 0, r.stderr);
    const header = readFileSync(r.report, 'utf8').split('\n')[0].split(',');
    // The report's own columns, then the labels as the header names them.
    assert.deepEqual(header.slice(REPORT_COLUMNS.length - 1), [REPORT_COLUMNS[REPORT_COLUMNS.length - 1], 'Owner', 'rack']);
    assert.ok(header.includes('address'));
    assert.deepEqual(readRows(r.report).map((x) => [x.host, x.address, x.Owner, x.rack]), [['web-a', g[0].host, 'Team A', 'r 4, left'], [g[1].host, g[1].host, '', 'r5']]);
    const jsonl = join(work, 'labelled.jsonl');
    const j = await runCli(['-F', 'none', '--hosts', hosts, '--known-hosts', kh, '-o', out(), '--report', jsonl, '--no-progress'], { env });
    assert.equal(j.code, 0, j.stderr);
    const first = JSON.parse(readFileSync(jsonl, 'utf8').split('\n')[0]) as Row;
    assert.equal(first.Owner, 'Team A');
    assert.equal(first.rack, 'r 4, left');
    // Rows carried over by --resume get the labels the list gives now.
    writeFileSync(hosts, readFileSync(hosts, 'utf8').replace('Team A', 'Team B'));
    const resumed = await sweep(['--hosts', hosts, '--resume', r.report]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.deepEqual(readRows(resumed.report).map((x) => [x.host, x.carried_over, x.Owner, x.rack]), [['web-a', 'yes', 'Team B', 'r 4, left'], [g[1].host, 'yes', '', 'r5']]);

    const typo = join(work, 'typo.csv');
    writeFileSync(typo, `host,port,user,idnetity\n${g[0].host},${g[0].port},${g[0].user},${g[0].identity}\n`);
    const t = await sweep(['--hosts', typo]);
    assert.equal(t.code, 1);
    assert.equal(t.stderr, `octoscan-remote: ${typo}:1: unknown column "idnetity": did you mean "identity"? (a column the program does not know is a label, carried into the report, but this name is too close to "identity" to be one; rename it if it is meant as a label)\n`);
    assert.equal(existsSync(t.report), false, 'nothing ran: no report');
  });

  test('per-host transport: a ProxyCommand host through openssh and the others through ssh2, in one run', async () => {
    const cfg = join(work, 'proxy_config');
    const g = farm.good;
    // The ProxyCommand reaches the target through the bastion: only OpenSSH can do that.
    writeFileSync(
      cfg,
      `Host proxied
  HostName ${g[0].host}
  ProxyCommand ssh -F none -o BatchMode=yes -o UserKnownHostsFile=${kh} -i ${farm.user.keyPath} -p ${bastion.port} -W %h:%p ${farm.user.name}@127.0.34.1
`,
    );
    const hosts = join(work, 'mixed.csv');
    writeFileSync(
      hosts,
      `host,port,user,identity,transport\nproxied,${g[0].port},${g[0].user},${g[0].identity},openssh\n${g[1].host},${g[1].port},${g[1].user},${g[1].identity},ssh2\n${g[2].host},${g[2].port},${g[2].user},${g[2].identity},\n`,
    );
    const o = out();
    const report = join(work, 'mixed-report.csv');
    const r = await runCli(['-F', cfg, '--hosts', hosts, '--known-hosts', kh, '-o', o, '--report', report, '--no-progress'], { env });
    assert.equal(r.code, 0, r.stderr);
    const rows = readRows(report);
    assert.deepEqual(rows.map((x) => [x.host, x.class]), [['proxied', 'ok'], [g[1].host, 'ok'], [g[2].host, 'ok']]);
    const transports: string[] = [];
    for (const row of rows) {
      const entries = [...(await readZip(row.archive))];
      const scanJson = entries.find(([name]) => name.endsWith('octoscan-remote/scan.json'));
      assert.ok(scanJson, `${row.host}: scan.json in ${entries.map(([name]) => name).join(' ')}`);
      const scan = JSON.parse(scanJson[1].data.toString('utf8')) as { transport: { transport: string } };
      transports.push(scan.transport.transport);
    }
    assert.deepEqual(transports, ['openssh', 'ssh2', 'ssh2']);
    await bastion.waitForLog(new RegExp(`server_request_direct_tcpip: .*target ${g[0].host.replace(/\./g, '\\.')} port ${g[0].port}`));
    assert.equal(readdirSync(o).length, 3);

    // The same row without its transport: the run's ssh2 refuses the ProxyCommand, naming it.
    writeFileSync(hosts, `host,port,user,identity\nproxied,${g[0].port},${g[0].user},${g[0].identity}\n`);
    const plain = await runCli(['-F', cfg, '--hosts', hosts, '--known-hosts', kh, '-o', out(), '--report', report, '--no-progress'], { env });
    assert.equal(plain.code, 2);
    const [refused] = readRows(report);
    assert.equal(refused.class, 'unsupported');
    assert.match(refused.message, /ProxyCommand .*--transport openssh/);
  });
});
