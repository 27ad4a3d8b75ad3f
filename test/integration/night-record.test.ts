// The night's record through the real CLI (dist/, as cron runs it) over a
// loopback farm of real sshds and the octo-collect stand-in (issue 21):
// a refused-sudo host delivered in the same run; a collector answering 200
// before the body (`upload`, exit 3, the archive kept); the morning page of a night
// whose archives were uploaded (OS families and delivery counts from the
// report alone, rendered by headless Chromium); `upload --report`; --compare
// on the first night; --report-dir with --compare previous over three nights;
// `summary` over three shard reports; a full --out and a full report folder
// (small tmpfs in a private mount namespace): exit 4, one message, no stack
// trace, no new host after the first ENOSPC; a SIGKILL mid-run keeps the
// finished rows and --resume reads them. Needs root and /usr/sbin/sshd.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse as parseCsv } from 'csv-parse/sync';
import { parse as parseHtml } from 'parse5';
import { CLI, cliBuilt, runCli, type CliRun } from '../helpers/cli-sweep.js';
import { startFarm, type Farm, type FarmHost } from '../helpers/farm.js';
import { startOctoCollect, type OctoCollect } from '../helpers/octo-collect.js';
import { sshdAvailable } from '../helpers/sshd.js';
import { workspace } from '../helpers/workspace.js';
import { writeContractArchive } from '../helpers/contract-archive.js';

const skip = sshdAvailable() ?? (cliBuilt ? undefined : `${CLI}: dist/ missing, run npm run build first`);
if (skip) console.error(`\n*** SKIPPING night record tests: ${skip} ***\n`);

const HOSTS = 6;
const ARCHIVE = /^[0-9a-f-]{36}\.sca[lm]$/;
const fresh = workspace('octoscan-night-record-');
let farm: Farm;
let home = '';
const collectors: OctoCollect[] = [];

type Row = Record<string, string>;
const readReport = (f: string): Row[] => parseCsv(readFileSync(f, 'utf8'), { columns: true }) as Row[];
const archivesIn = (dir: string): string[] => readdirSync(dir).filter((n) => ARCHIVE.test(n)).sort();
const explain = (r: CliRun): string => `exit ${r.code} ${r.signal ?? ''} after ${r.wallMs.toFixed(0)} ms\n--- stderr:\n${r.stderr}`;
const STACK = /^\s+at .+:\d+:\d+\)?$/m;

function env(): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env, HOME: home };
  for (const k of ['SSH_AUTH_SOCK', 'OCTOSCAN_SSH_PASSPHRASE', 'OCTOSCAN_UPLOAD_AUTH', 'HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy']) delete e[k];
  return e;
}
const cli = (args: string[]): Promise<CliRun> => runCli(args, { env: env(), killAfterMs: 240_000 });

function hostsFile(hosts: FarmHost[], sudo: (i: number) => string = () => ''): string {
  const f = path.join(fresh('hosts'), 'hosts.csv');
  writeFileSync(f, ['host,port,user,identity,tag,sudo', ...hosts.map((h, i) => `${h.host},${h.port},${h.user},${h.identity},${i % 2 ? 'web' : 'db'},${sudo(i)}`)].join('\n') + '\n');
  return f;
}
const scan = (hosts: string, out: string, extra: string[]): string[] => [
  '--hosts', hosts, '--known-hosts', farm.knownHosts, '--out', out, '--no-progress', '--connect-timeout', '10', '--auth-timeout', '20', ...extra,
];
async function collector(): Promise<OctoCollect> {
  const c = await startOctoCollect({ dir: fresh('collector') });
  collectors.push(c);
  return c;
}

// --- the page, parsed -------------------------------------------------------
interface Node { nodeName: string; tagName?: string; attrs?: { name: string; value: string }[]; childNodes?: Node[]; value?: string }
function* walk(n: Node): Generator<Node> {
  yield n;
  for (const c of n.childNodes ?? []) yield* walk(c);
}
const text = (n: Node): string => [...walk(n)].filter((x) => x.nodeName === '#text').map((x) => x.value).join('');
const byId = (doc: Node, id: string): Node | undefined => [...walk(doc)].find((n) => n.attrs?.some((a) => a.name === 'id' && a.value === id));
const cells = (table: Node): string[][] => [...walk(table)].filter((n) => n.tagName === 'tr').map((tr) => (tr.childNodes ?? []).filter((c) => c.tagName === 'td').map(text)).filter((r) => r.length);
const page = (file: string): Node => parseHtml(readFileSync(file, 'utf8')) as unknown as Node;
const need = (doc: Node, id: string): Node => {
  const n = byId(doc, id);
  assert.ok(n, `no #${id} on the page`);
  return n;
};


interface Ran { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

/**
 * Runs the CLI in a private mount namespace with a tmpfs of `sizeKb` at `mnt`
 * (`fill` bytes already taken), then copies what the tmpfs held to `copy`:
 * the mount ends with the namespace, so nothing is left mounted whatever happens.
 */
function inTmpfs(sizeKb: number, mnt: string, copy: string, fill: number, args: string[]): Promise<Ran> {
  const script = 'mnt=$1 copy=$2 fill=$3; shift 3; mount -t tmpfs -o size=${0}k octoscan-test "$mnt" || exit 99; '
    + '[ "$fill" -gt 0 ] && head -c "$fill" /dev/zero > "$mnt/.fill"; mkdir -p "$mnt/out"; '
    + '"$@"; rc=$?; rm -f "$mnt/.fill"; cp -a "$mnt"/. "$copy"/; exit $rc';
  return new Promise((resolve) => {
    const child = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, String(sizeKb), mnt, copy, String(fill), process.execPath, CLI, ...args], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const killer = setTimeout(() => child.kill('SIGKILL'), 240_000);
    child.on('exit', (code, signal) => {
      clearTimeout(killer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}
const explainRan = (r: Ran): string => `exit ${r.code} ${r.signal ?? ''}\n--- stderr:\n${r.stderr}`;
/** A report as far as it was written: rows cut short are left out, as --resume does. */
const readPartial = (f: string): Row[] => (existsSync(f) ? (parseCsv(readFileSync(f, 'utf8'), { columns: true, relax_column_count: true, relax_quotes: true }) as Row[]).filter((r) => r.upload !== undefined) : []);

const CHROMIUM = '/usr/bin/chromium';

describe('the night record', { skip }, () => {
  before(async () => {
    home = mkdtempSync(path.join(os.tmpdir(), 'octoscan-night-home-'));
    farm = await startFarm(HOSTS, { probe: 'replay' });
  });
  after(async () => {
    for (const c of collectors) await c.close();
    await farm?.stop();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  test('a refused-sudo host is delivered in the same run; the page of the uploaded night shows OS families and delivery from the report alone; Chromium renders it', async () => {
    const c = await collector();
    const out = fresh('out');
    const dir = fresh('report');
    const report = path.join(dir, 'night.csv');
    const html = path.join(dir, 'night.html');
    // The farm's user has no sudo rights: `sudo -n` is refused, the host is scanned without root.
    const run = await cli(scan(hostsFile(farm.good.slice(0, HOSTS), (i) => (i === 0 ? 'yes' : '')), out, ['--upload', c.url, '--report', report, '--summary', html]));
    assert.equal(run.code, 2, `sudo refused is a failed host, and nothing waits: ${explain(run)}`);
    const rows = readReport(report);
    assert.equal(rows.length, HOSTS);
    assert.equal(rows[0].class, 'sudo', rows[0].message);
    assert.ok(rows[0].archive, 'the refused-sudo host has its archive');
    assert.deepEqual(rows.map((r) => r.upload), Array(HOSTS).fill('uploaded'), 'every archive delivered, the sudo one too');
    assert.deepEqual(c.stored(), rows.map((r) => path.basename(r.archive)).sort());
    assert.match(run.stderr, new RegExp(`: ${HOSTS} uploaded`));
    assert.deepEqual(archivesIn(out), [], 'the archives are gone from --out');
    for (const r of rows) {
      assert.equal(r.os_family, 'linux');
      assert.ok(r.os_name, `${r.host}: os_name from the archive at scan time`);
    }

    const doc = page(html);
    const osRows = cells(need(doc, 'os-table'));
    assert.equal(osRows[0][0], rows[0].os_name, 'the OS family from the report');
    assert.equal(osRows[0][2], String(HOSTS));
    assert.equal(byId(doc, 'os-unknown'), undefined, 'no host without OS data');
    assert.match(text(need(doc, 'delivery-uploaded')), new RegExp(`uploaded: ${HOSTS}$`));
    assert.match(text(need(doc, 'delivery-waiting')), /: 0$/);
    assert.deepEqual(cells(need(doc, 'tag-table')).map((r) => r.slice(0, 2)), [['db', '3'], ['web', '3']]);
    assert.match(text(need(doc, 'run-facts-table')), /carried over \(--resume\)0/);

    if (!existsSync(CHROMIUM)) {
      assert.ok(!process.env.CI, `${CHROMIUM} missing in CI: .ci/run installs chromium`);
      console.error(`# ${CHROMIUM} not installed here: the render check is skipped`);
      return;
    }
    const profile = mkdtempSync(path.join(os.tmpdir(), 'octoscan-chromium-'));
    try {
      const flags = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', `--user-data-dir=${profile}`];
      const dom = spawnSync(CHROMIUM, [...flags, '--dump-dom', `file://${html}`], { encoding: 'utf8', timeout: 120_000 });
      assert.equal(dom.status, 0, dom.stderr);
      const rendered = parseHtml(dom.stdout) as unknown as Node;
      assert.equal(cells(need(rendered, 'os-table'))[0][0], rows[0].os_name, 'rendered by Chromium');
      assert.match(text(need(rendered, 'delivery-uploaded')), new RegExp(`uploaded: ${HOSTS}$`));
    } finally {
      rmSync(profile, { recursive: true, force: true });
    }
  });
  test('upload --report: the rows of the archives it delivered say uploaded; --resume carries the true state', async () => {
    const c = await collector();
    c.mode = 'fail';
    const out = fresh('out');
    const report = path.join(fresh('report'), 'night.csv');
    const hosts = hostsFile(farm.good.slice(0, 3));
    const down = await cli(scan(hosts, out, ['--upload', c.url, '--upload-retries', '0', '--report', report]));
    assert.equal(down.code, 3, explain(down));
    assert.deepEqual(readReport(report).map((r) => r.upload), ['waiting', 'waiting', 'waiting']);
    const waitingMessages = readReport(report).map((r) => r.message);
    for (const m of waitingMessages) assert.match(m, /(^|; )upload: (not uploaded after|collector .* failed \d+ times in a row)/, 'the reason comes last');
    c.mode = 'ok';
    const up = await cli(['upload', '--from', out, c.url, '--report', report]);
    assert.equal(up.code, 0, explain(up));
    assert.match(up.stderr, /--report .*night\.csv: 3 row\(s\) now say uploaded/);
    const rows = readReport(report);
    assert.deepEqual(rows.map((r) => [r.upload, r.message]), waitingMessages.map((m) => ['uploaded', m.replace(/(^|; )upload: .*$/, '')]), 'the waiting reason gone, the host\'s own message kept');
    assert.deepEqual(c.stored(), rows.map((r) => path.basename(r.archive)).sort());
    const resumed = await cli(scan(hosts, out, ['--resume', report, '--report', report]));
    assert.equal(resumed.code, 0, explain(resumed));
    assert.deepEqual(readReport(report).map((r) => [r.carried_over, r.upload]), Array(3).fill(['yes', 'uploaded']), 'carried with the true state');
  });

  test('--compare on the first night: a note and a line on the page, the scan goes on', async () => {
    const out = fresh('out');
    const dir = fresh('reports');
    const html = path.join(dir, 'night.html');
    const hosts = hostsFile(farm.good.slice(0, 2));
    const first = await cli(scan(hosts, out, ['--report-dir', dir, '--summary', html, '--compare', 'previous']));
    assert.equal(first.code, 0, explain(first));
    assert.match(first.stderr, /--compare previous: no earlier report in .* \(a first night\): nothing to compare with/);
    assert.match(text(need(page(html), 'compare-missing')), /^Nothing to compare with/);
    assert.equal(readdirSync(dir).filter((n) => n.endsWith('.csv')).length, 1);
    const yesterday = path.join(dir, 'no-such-yesterday.csv');
    const named = await cli(scan(hosts, out, ['--report', path.join(dir, 'today.csv'), '--summary', html, '--compare', yesterday]));
    assert.equal(named.code, 0, explain(named));
    assert.match(named.stderr, /--compare .*no-such-yesterday\.csv: does not exist yet \(a first night\?\): nothing to compare with/);
    assert.equal(readReport(path.join(dir, 'today.csv')).length, 2, 'scanned');
    assert.ok(byId(page(html), 'compare-missing'));
  });

  test('--report-dir with --compare previous over three nights: dated reports kept, each page compares with the night before', async () => {
    const out = fresh('out');
    const dir = fresh('reports');
    const nights = [farm.good.slice(0, 3), farm.good.slice(0, 4), farm.good.slice(1, 4)];
    const pages: string[] = [];
    for (const [i, hosts] of nights.entries()) {
      if (i) await new Promise((r) => setTimeout(r, 1100)); // a report name per second of start
      const html = path.join(fresh('pages'), `night${i}.html`);
      const run = await cli(scan(hostsFile(hosts), out, ['--report-dir', dir, '--summary', html, '--compare', 'previous']));
      assert.equal(run.code, 0, explain(run));
      pages.push(html);
    }
    const reports = readdirSync(dir).sort();
    assert.equal(reports.length, 3, reports.join(' '));
    for (const r of reports) assert.match(r, /^\d{8}T\d{6}Z\.csv$/);
    assert.deepEqual(reports.map((r) => readReport(path.join(dir, r)).length), [3, 4, 3]);
    assert.ok(byId(page(pages[0]), 'compare-missing'), 'the first night has nothing to compare with');
    assert.match(readFileSync(pages[1], 'utf8'), new RegExp(`compared with <code>${path.join(dir, reports[0]).replace(/[.*]/g, '\\$&')}</code>`));
    assert.equal(cells(need(page(pages[1]), 'added')).length, 1);
    const third = page(pages[2]);
    assert.match(readFileSync(pages[2], 'utf8'), new RegExp(`compared with <code>${path.join(dir, reports[1]).replace(/[.*]/g, '\\$&')}</code>`));
    assert.deepEqual(cells(need(third, 'gone')).map((r) => r[0]), [`${farm.good[0].user}@${farm.good[0].host}:${farm.good[0].port}`]);
  });

  test('summary over three shard reports (files, or the --report-dir folder): one page of the whole list', async () => {
    const out = fresh('out');
    const dir = fresh('reports');
    const hosts = hostsFile(farm.good.slice(0, HOSTS));
    for (let i = 0; i < 3; i++) {
      const run = await cli(scan(hosts, out, ['--shard', `${i}/3`, '--report-dir', dir, '--report-format', 'jsonl']));
      assert.ok(run.code === 0, explain(run));
    }
    const shards = readdirSync(dir).sort();
    assert.deepEqual(shards.map((n) => n.replace(/^\d{8}T\d{6}Z/, '')).sort(), ['.shard-0-of-3.jsonl', '.shard-1-of-3.jsonl', '.shard-2-of-3.jsonl']);
    for (const args of [[dir], shards.map((n) => path.join(dir, n))]) {
      const html = path.join(fresh('pages'), 'merged.html');
      const r = await cli(['summary', ...args, '-o', html]);
      assert.equal(r.code, 0, explain(r));
      const doc = page(html);
      assert.deepEqual(cells(need(doc, 'class-table')).map((x) => x.slice(0, 2)), [['ok', String(HOSTS)]]);
      assert.match(text(need(doc, 'run-facts-table')), /shards3/);
      assert.match(text(need(doc, 'run-facts-table')), new RegExp(`hosts${HOSTS}`));
    }
  });
  test('a full --out (small tmpfs, the report in it too): exit 4, one message, no stack trace, no host started after the first ENOSPC; the rest not-scanned, in the retry file', async () => {
    // How big one archive of this farm is, to size the tmpfs for two of them.
    const probe = path.join(fresh('report'), 'one.csv');
    const one = await cli(scan(hostsFile(farm.good.slice(0, 1)), fresh('out'), ['--report', probe]));
    assert.equal(one.code, 0, explain(one));
    const archiveBytes = Number(readReport(probe)[0].bytes);
    const sizeKb = Math.ceil((2.5 * archiveBytes) / 4096) * 4;
    const mnt = fresh('mnt');
    const copy = fresh('copy');
    const keep = fresh('keep');
    const retry = path.join(keep, 'retry.csv');
    const run = await inTmpfs(sizeKb, mnt, copy, 0, scan(hostsFile(farm.good.slice(0, HOSTS)), path.join(mnt, 'out'), [
      '-j', '1', '--retries', '0', '--report', path.join(mnt, 'night.csv'), '--retry-file', retry, '--summary', path.join(keep, 'night.html'),
    ]));
    console.error(`# archive ${archiveBytes} bytes, tmpfs ${sizeKb} KiB`);
    assert.equal(run.code, 4, explainRan(run));
    assert.doesNotMatch(run.stderr, STACK, 'no stack trace');
    assert.match(run.stderr, /MiB free, less than 6 host\(s\) times a typical archive/, 'said at the start');
    const faults = run.stderr.split('\n').filter((l) => /octoscan-remote: --out .*: ENOSPC/.test(l));
    assert.equal(faults.length, 1, run.stderr);
    assert.match(faults[0], /no new host is started/);
    assert.match(run.stderr, /exit 4: the controller could not keep what it scanned/);
    // Finished-host lines after the first ENOSPC: only not-scanned ones.
    const firstEnospc = run.stderr.lastIndexOf('\n', run.stderr.indexOf('ENOSPC')) + 1;
    const after = run.stderr.slice(firstEnospc).split('\n').filter((l) => / (ok|FAILED) /.test(l));
    assert.match(after[0], /FAILED internal .*cannot write the archive: ENOSPC/, 'the host that found --out full');
    for (const l of after.slice(1)) assert.match(l, /FAILED not-scanned .*not started: the controller could not keep what it scanned/, l);
    const notScanned = after.slice(1).length;
    assert.ok(notScanned >= 1, `hosts left for not-scanned: ${run.stderr}`);
    // The retry file names every host that is not ok: the ENOSPC one and the not-scanned.
    const retried = parseCsv(readFileSync(retry, 'utf8'), { columns: true }) as Row[];
    assert.equal(retried.length, notScanned + 1, readFileSync(retry, 'utf8'));
    // What the report kept (its own disk is the full one): every archive in --out has its row.
    const rows = readPartial(path.join(copy, 'night.csv'));
    for (const a of archivesIn(path.join(copy, 'out'))) assert.ok(rows.some((r) => path.basename(r.archive) === a), `${a} has no row`);
    const page = readFileSync(path.join(keep, 'night.html'), 'utf8');
    assert.match(page, /not-scanned/);
  });

  test('a full report folder: exit 4 naming the report, no stack trace; the scans, the retry file and the summary line still happen', async () => {
    const mnt = fresh('mnt');
    const copy = fresh('copy');
    const out = fresh('out');
    const keep = fresh('keep');
    // One page of tmpfs, and it is taken: not even the report's first line fits.
    const run = await inTmpfs(4, mnt, copy, 4096, scan(hostsFile(farm.good.slice(0, 3)), out, ['--report', path.join(mnt, 'night.csv'), '--retry-file', path.join(keep, 'retry.csv')]));
    assert.equal(run.code, 4, explainRan(run));
    assert.doesNotMatch(run.stderr, STACK);
    assert.match(run.stderr, /octoscan-remote: --report .*night\.csv: ENOSPC/);
    assert.match(run.stderr, /3 hosts: 3 ok, 0 failed/);
    assert.equal(archivesIn(out).length, 3);
    assert.ok(existsSync(path.join(keep, 'retry.csv')));
  });

  test('a SIGKILL mid-run keeps the finished rows: every archive in --out has its row, and --resume reads the report', async () => {
    const out = fresh('out');
    const report = path.join(fresh('report'), 'night.csv');
    const hosts = hostsFile(farm.good.slice(0, 4));
    farm.setReplayDelay(2);
    let killedAfter = 0;
    try {
      await new Promise<void>((resolve) => {
        const child = spawn(process.execPath, [CLI, ...scan(hosts, out, ['-j', '1', '--report', report])], { env: env(), stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => {
          stderr += d;
          killedAfter = stderr.split('\n').filter((l) => / ok /.test(l)).length;
          if (killedAfter >= 2) child.kill('SIGKILL');
        });
        child.on('exit', () => resolve());
      });
    } finally {
      farm.clearReplayDelays();
    }
    const archives = archivesIn(out);
    assert.ok(archives.length >= 2, `archives: ${archives.join(' ')}`);
    const rows = readReport(report);
    assert.ok(rows.length < 4, 'killed before the end');
    for (const a of archives) assert.ok(rows.some((r) => path.basename(r.archive) === a), `${a} in --out has no row after the SIGKILL`);
    const resumed = await cli(scan(hosts, out, ['--resume', report, '--report', report]));
    assert.equal(resumed.code, 0, explain(resumed));
    const all = readReport(report);
    assert.equal(all.length, 4);
    assert.equal(all.filter((r) => r.carried_over === 'yes').length, rows.filter((r) => r.class === 'ok').length, 'the killed run\'s rows carried over');
  });
  test('an early-200 collector through the CLI: `upload` does not take a 200 before the last body byte as delivered; the archive stays (exit 3)', async () => {
    const c = await collector();
    c.mode = 'early-200';
    const dir = fresh('spool');
    // An archive of ours (the spool sends nothing else), big enough that the collector answers before the body ends.
    const archive = await writeContractArchive(dir, 'scal', randomBytes(30 << 20).toString('base64'));
    const name = path.basename(archive);
    const bytes = readFileSync(archive);
    const up = await cli(['upload', '--from', dir, c.url, '--upload-retries', '1']);
    assert.equal(up.code, 3, explain(up));
    assert.match(up.stderr, /answered 200 after \d+ of \d+ bytes of the upload: not taken as delivered/);
    assert.deepEqual(archivesIn(dir), [name], 'the only copy stays');
    c.mode = 'ok';
    const again = await cli(['upload', '--from', dir, c.url]);
    assert.equal(again.code, 0, explain(again));
    assert.deepEqual(c.stored(), [name]);
    assert.ok(bytes.length > 30 << 20, `a big archive: ${bytes.length} bytes`);
    assert.ok(readFileSync(path.join(c.dir, name)).equals(bytes), 'the collector holds the whole archive');
  });
});
