// Running the scan every night (issue 12), through the real CLI (a subprocess,
// as cron runs it): how complete an "ok" archive is, logs with timestamps and
// levels, report rows that say which run wrote them and when, --resume that
// keeps the whole night's record in one report, an empty retry file that is a
// successful no-op, and a plain host list. The targets are in-process ssh2
// servers answering with recorded-style probe output, because what is
// measured is a target without rpm or without the macOS hardware tools, which
// this machine cannot be.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { parse } from 'csv-parse/sync';
import {
  clientKeyFile,
  closeAllFakeSsh,
  entry,
  facts,
  minimalScan,
  readArchive,
  rec,
  startFakeSsh,
  type ExecHandler,
  type FakeSsh,
} from '../helpers/fake-ssh-server.js';
import { refusedPort } from '../helpers/farm.js';
import { workspace } from '../helpers/workspace.js';

const RUN_CLI = fileURLToPath(new URL('../helpers/run-cli.ts', import.meta.url));
const ROOT = path.resolve(path.dirname(RUN_CLI), '../..');
const VERSION = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const dir = workspace('nightly');
const STAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z /;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    const env = { ...process.env };
    delete env.SSH_AUTH_SOCK;
    const child = spawn(process.execPath, ['--import', 'tsx', RUN_CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env, cwd: ROOT });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

const debian: ExecHandler = async (x) => {
  const t = await x.token();
  await x.write(minimalScan(t, [entry(t, 'dpkg', 'dpkg/installed.txt', 'bash\t5.2\tamd64\tshell\n')]));
  await x.finish(0);
};

// A RHEL host whose PATH has no rpm: the script skips every package manager.
const rhelWithoutRpm: ExecHandler = async (x) => {
  const t = await x.token();
  await x.write(Buffer.concat([
    facts(t),
    entry(t, 'release', 'release/redhat-release', 'Red Hat Enterprise Linux release 9.4 (Plow)\n'),
    entry(t, 'release', 'release/os-release', 'NAME="Red Hat Enterprise Linux"\nID="rhel"\n'),
    entry(t, 'meminfo', 'proc/meminfo', 'MemTotal: 1024 kB\n'),
    rec(t, 'S', 'dpkg', 'not-found:dpkg-query'),
    rec(t, 'S', 'apk', 'not-found:apk'),
    rec(t, 'S', 'rpm', 'not-found:rpm'),
    rec(t, 'W', 1004, 'command hostnamectl failed'),
    rec(t, 'Z'),
  ]));
  await x.finish(0);
};

// A Mac without sysctl, ioreg and system_profiler.
const macWithoutHardwareTools: ExecHandler = async (x) => {
  const t = await x.token();
  await x.write(Buffer.concat([
    facts(t, { os: 'Darwin', 'uname-v': 'Darwin Kernel Version 23.0.0' }),
    rec(t, 'S', 'mac-sysctl', 'not-found:/usr/sbin/sysctl'),
    rec(t, 'S', 'mac-ioreg', 'not-found:/usr/sbin/ioreg'),
    rec(t, 'S', 'mac-system-profiler', 'not-found:/usr/sbin/system_profiler'),
    entry(t, 'mac-who', 'cmd/who', 'scan console\n'),
    rec(t, 'Z'),
  ]));
  await x.finish(0);
};

// hostnamectl fails, and says why on its standard error (framed as the script frames it).
const hostnamectlFails: ExecHandler = async (x) => {
  const t = await x.token();
  x.stderr(`login banner noise\n\n${t} P hostnamectl#0\nSystem has not been booted with systemd as init system (PID 1). Can't operate.\n\n${t} p\n`);
  await x.write(minimalScan(t, [entry(t, 'dpkg', 'dpkg/installed.txt', 'bash\t5.2\tamd64\tshell\n'), entry(t, 'hostnamectl#0', 'cmd/hostnamectl', '', { rc: 1 })]));
  await x.finish(0);
};

let deb: FakeSsh;
let noSystemd: FakeSsh;
let deb2: FakeSsh;
let rhel: FakeSsh;
let mac: FakeSsh;
let refused = 0;
let knownHosts = '';

before(async () => {
  [deb, deb2, rhel, mac, noSystemd] = await Promise.all([debian, debian, rhelWithoutRpm, macWithoutHardwareTools, hostnamectlFails].map((exec) => startFakeSsh({ exec })));
  refused = await refusedPort('127.0.0.1');
  knownHosts = path.join(dir('kh'), 'known_hosts');
  writeFileSync(knownHosts, [deb, deb2, rhel, mac, noSystemd].map((s) => s.knownHostsLine).join('\n') + '\n');
});
after(() => closeAllFakeSsh());

const target = (s: FakeSsh | number): string => `127.0.0.1:${typeof s === 'number' ? s : s.port}`;
const common = (out: string): string[] => ['--out', out, '-l', 'scan', '-i', clientKeyFile(), '--known-hosts', knownHosts, '--retries', '0', '--no-progress'];
const csvRows = (file: string): Record<string, string>[] => parse(readFileSync(file, 'utf8'), { columns: true }) as Record<string, string>[];
const jsonRows = (file: string): Record<string, unknown>[] => readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
const lines = (text: string): string[] => text.split('\n').filter((l) => l !== '');
const unstamped = (text: string): string[] => lines(text).map((l) => l.replace(STAMP, ''));

describe('"ok" says how complete the archive is', () => {
  test('RHEL without rpm and a Mac without sysctl/ioreg/system_profiler: ok, but incomplete in the report, --json, stderr and the summary', async () => {
    const out = dir('out');
    const report = path.join(dir('r'), 'run.csv');
    const r = await cli([...common(out), '--report', report, '--json', target(deb), target(rhel), target(mac)]);
    assert.equal(r.code, 0, r.stderr);
    const rows = csvRows(report);
    const by = (s: FakeSsh): Record<string, string> => rows.find((x) => x.port === String(s.port))!;
    assert.equal(by(deb).completeness, 'complete');
    assert.equal(by(deb).package_list, 'yes');
    assert.equal(by(deb).release, 'yes');

    const rh = by(rhel);
    assert.equal(rh.class, 'ok');
    assert.equal(rh.completeness, 'incomplete: no package list');
    assert.equal(rh.package_list, 'no');
    assert.equal(rh.release, 'yes');
    assert.match(rh.skipped, /(^| )rpm:not-found:rpm( |$)/);
    assert.equal(rh.warning_ids, '1004:1');
    assert.ok(Number(rh.entries) >= 5, `entries: ${rh.entries}`);

    const m = by(mac);
    assert.equal(m.class, 'ok');
    assert.equal(m.completeness, 'incomplete: no hardware data, no application list');
    assert.match(m.skipped, /mac-sysctl:not-found:\/usr\/sbin\/sysctl/);

    const json = lines(r.stdout).map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(json.find((o) => o['port'] === rhel.port)!['completeness'], 'incomplete: no package list');

    const err = unstamped(r.stderr);
    assert.ok(err.some((l) => l.startsWith(`ok scan@${target(rhel)} `) && l.endsWith('INCOMPLETE (no package list)')), r.stderr);
    assert.match(err.at(-1)!, /^3 hosts: 3 ok \(2 incomplete\), 0 failed in /);
  });
});

describe('logs for cron and for the person on call', () => {
  test('off a terminal every line is stamped; a start line names version, hosts, parallelism, shard and folder', async () => {
    const out = dir('out');
    const r = await cli([...common(out), '-j', '3', target(deb), target(deb2), target(refused)]);
    assert.equal(r.code, 2);
    for (const l of lines(r.stderr)) assert.match(l, STAMP, `unstamped line: ${l}`);
    const first = unstamped(r.stderr)[0];
    assert.match(first, new RegExp(`^octoscan-remote ${VERSION.replace(/\./g, '\\.')}, run [0-9a-f-]{36}, 3 hosts, parallel 3, shard all, out ${out.replace(/[/.]/g, '\\$&')}$`));
  });

  test('-q prints only failures and the summary', async () => {
    const out = dir('out');
    const r = await cli([...common(out), '-q', target(deb), target(deb2), target(refused)]);
    assert.equal(r.code, 2);
    const err = unstamped(r.stderr);
    assert.equal(err.length, 2, r.stderr);
    assert.match(err[0], /^FAILED unreachable /);
    assert.match(err[1], /^3 hosts: 2 ok, 1 failed \(unreachable 1\) in /);
    assert.equal(lines(r.stdout).length, 2, 'archive paths still on stdout');
  });

  test('-v shows phases, negotiated algorithms and the auth methods tried', async () => {
    const r = await cli([...common(dir('out')), '-v', target(deb)]);
    assert.equal(r.code, 0, r.stderr);
    const err = unstamped(r.stderr);
    const t = `scan@${target(deb)}`;
    for (const p of ['resolve', 'connect', 'handshake', 'auth']) assert.ok(err.includes(`${t}: ${p}`), `phase ${p}:\n${r.stderr}`);
    assert.ok(err.some((l) => l.startsWith(`${t}: logged in`) && /kex \S+, host key ssh-ed25519, cipher \S+/.test(l) && /auth tried: publickey ssh-ed25519/.test(l)), r.stderr);
  });

  test('report rows carry the run id, start and end times and the tool version', async () => {
    const report = path.join(dir('r'), 'run.jsonl');
    const before = Date.now();
    const r = await cli([...common(dir('out')), '--report', report, target(deb), target(refused)]);
    assert.equal(r.code, 2);
    const rows = jsonRows(report);
    assert.equal(rows.length, 2);
    assert.match(String(rows[0]['run_id']), UUID);
    assert.equal(rows[0]['run_id'], rows[1]['run_id']);
    for (const row of rows) {
      assert.equal(row['version'], VERSION);
      const s = Date.parse(String(row['started_at']));
      const f = Date.parse(String(row['finished_at']));
      assert.ok(s >= before - 1000 && f >= s && f <= Date.now(), `times: ${row['started_at']} ${row['finished_at']}`);
    }
  });
});

describe('why a command failed is kept', () => {
  test('a failed probe keeps the head of its stderr in scan.json, and the report message points there', async () => {
    const out = dir('out');
    const report = path.join(dir('r'), 'run.csv');
    const r = await cli([...common(out), '--report', report, target(noSystemd)]);
    assert.equal(r.code, 0, r.stderr);
    const [row] = csvRows(report);
    assert.equal(row.class, 'ok');
    assert.equal(row.message, '1 command failed (hostnamectl): standard error in octoscan-remote/scan.json "failed"');
    const archive = await readArchive(row.archive);
    const scan = JSON.parse(archive.get('octoscan-remote/scan.json')!.toString('utf8')) as {
      failed: { probe: string; entry: string; rc: number; stderr: string }[];
      stderr: string;
    };
    assert.deepEqual(scan.failed, [{ probe: 'hostnamectl', entry: 'cmd/hostnamectl', rc: 1, stderr: "System has not been booted with systemd as init system (PID 1). Can't operate.\n" }]);
    assert.equal(scan.stderr, 'login banner noise\n', "the shell's own stderr, without the probe's");
  });
});

describe('re-runs keep the record of the night', () => {
  test('--resume R --report R: one report still lists every host, the skipped ones carried over with their archives', async () => {
    const out = dir('out');
    const report = path.join(dir('r'), 'night.jsonl');
    const first = await cli([...common(out), '--report', report, target(deb), target(refused), target(deb2)]);
    assert.equal(first.code, 2);
    const firstRows = jsonRows(report);
    const okBefore = deb.connections + deb2.connections;

    const page = path.join(dir('p'), 'night.html');
    const again = await cli([...common(out), '--resume', report, '--report', report, '--summary', page, target(deb), target(refused), target(deb2)]);
    assert.equal(again.code, 2);
    // The page is the whole night too: the carried hosts count, with the OS their archives hold.
    const html = readFileSync(page, 'utf8');
    assert.match(html, /<h1>octoscan-remote: 3 hosts, 2 ok, 1 failed<\/h1>/);
    assert.doesNotMatch(html, /no archive could be read/);
    assert.equal(deb.connections + deb2.connections, okBefore, 'ok hosts were not scanned again');
    const rows = jsonRows(report);
    assert.deepEqual(rows.map((r) => r['port']), [deb.port, refused, deb2.port], 'the whole list, in order');
    for (const i of [0, 2]) {
      assert.equal(rows[i]['carried_over'], 'yes');
      assert.equal(rows[i]['archive'], firstRows[i]['archive'], 'archive path kept');
      assert.equal(rows[i]['run_id'], firstRows[i]['run_id'], 'says which run scanned it');
      assert.equal(rows[i]['started_at'], firstRows[i]['started_at'], 'says when it was scanned');
    }
    assert.equal(rows[1]['carried_over'], '');
    assert.notEqual(rows[1]['run_id'], firstRows[1]['run_id']);
    assert.match(unstamped(again.stderr).at(-1)!, /^1 host: 0 ok, 1 failed \(unreachable 1\), 2 carried over in /);

    // And a third time: carried rows are carried again, so the next --resume still skips them.
    const third = await cli([...common(out), '--resume', report, '--report', report, '--json', target(deb), target(refused), target(deb2)]);
    assert.equal(third.code, 2);
    // --json prints the report's rows: the carried ones first, then the host scanned now.
    const printed = lines(third.stdout).map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(printed.map((r) => [r['port'], r['carried_over']]), [[deb.port, 'yes'], [deb2.port, 'yes'], [refused, '']]);
    assert.equal(deb.connections + deb2.connections, okBefore);
    assert.equal(jsonRows(report).filter((r) => r['carried_over'] === 'yes').length, 2);
  });

  test('the first night: --resume R --report R with no R yet scans every host; a missing R that is not the report is still a mistake', async () => {
    const out = dir('out');
    const report = path.join(dir('r'), 'night.csv');
    const first = await cli([...common(out), '--resume', report, '--report', report, target(deb)]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /--resume: \S+night\.csv does not exist yet \(a first run\): every host is scanned/);
    assert.deepEqual(csvRows(report).map((r) => [r.class, r.carried_over]), [['ok', '']]);
    const typo = await cli([...common(out), '--resume', path.join(dir('r'), 'nigth.csv'), '--report', report, target(deb)]);
    assert.equal(typo.code, 1);
    assert.match(typo.stderr, /--resume \S+nigth\.csv: .*ENOENT/);
  });

  test('--resume-max-age: ok rows older than the limit are scanned again', async () => {
    const out = dir('out');
    const report = path.join(dir('r'), 'night.csv');
    assert.equal((await cli([...common(out), '--report', report, target(deb)])).code, 0);
    await new Promise((r) => setTimeout(r, 1500));
    const before = deb.connections;
    const r = await cli([...common(out), '--resume', report, '--resume-max-age', '0.0001', '--report', report, target(deb)]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(deb.connections, before + 1, 'scanned again');
    assert.match(r.stderr, /--resume: 1 ok host\(s\) scanned more than 0.0001 h ago \(or undated\) are scanned again/);
    assert.equal(csvRows(report)[0].carried_over, '');
    const young = await cli([...common(out), '--resume', report, '--resume-max-age', '24', '--report', report, target(deb)]);
    assert.equal(young.code, 0);
    assert.equal(deb.connections, before + 1, 'a fresh row is carried');
    assert.equal(csvRows(report)[0].carried_over, 'yes');
  });

  test('after a clean night the retry file is empty, and --hosts with it is a successful no-op', async () => {
    const out = dir('out');
    const retry = path.join(dir('r'), 'retry.csv');
    assert.equal((await cli([...common(out), '--retry-file', retry, target(deb)])).code, 0);
    assert.equal(readFileSync(retry, 'utf8'), 'host,port,user\n');
    const r = await cli([...common(out), '--hosts', retry]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(unstamped(r.stderr).some((l) => l === `--hosts ${retry}: a header row and no host rows: nothing to scan`), r.stderr);
  });
});

describe('a plain host list', () => {
  test('one [user@]host[:port] per line, as pssh and pdsh take it, is scanned', async () => {
    const list = path.join(dir('h'), 'hosts.txt');
    writeFileSync(list, `# web tier\nscan@${target(deb)}\n${target(deb2)}\n`);
    const report = path.join(dir('r'), 'run.csv');
    const r = await cli([...common(dir('out')), '-l', 'other', '--hosts', list, '--report', report, '--retry-file', path.join(dir('r'), 'retry.csv')]);
    assert.equal(r.code, 0, r.stderr);
    const rows = csvRows(report);
    assert.deepEqual(rows.map((x) => [x.port, x.user, x.class]), [[String(deb.port), 'scan', 'ok'], [String(deb2.port), 'other', 'ok']]);
  });
});
