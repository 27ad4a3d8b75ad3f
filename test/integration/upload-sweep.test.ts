// Sweeps with --upload through the real CLI (dist/, as cron runs it) over a
// loopback farm of real sshds, against the octo-collect stand-in: a collector
// that refuses the first 10 requests still ends with every archive exactly
// once and nothing lost (after at most one `upload` run); a collector down for
// a whole run leaves the archives waiting (exit 3) and the next sweep sends
// them before its own. Needs root and /usr/sbin/sshd (else skipped, loudly).
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse as parseCsv } from 'csv-parse/sync';
import { CLI, cliBuilt, runCli, type CliRun } from '../helpers/cli-sweep.js';
import { hostsCsv, startFarm, type Farm } from '../helpers/farm.js';
import { startOctoCollect } from '../helpers/octo-collect.js';
import { sshdAvailable } from '../helpers/sshd.js';
import { workspace } from '../helpers/workspace.js';

const skip = sshdAvailable() ?? (cliBuilt ? undefined : `${CLI}: dist/ missing, run npm run build first`);
if (skip) console.error(`\n*** SKIPPING upload sweep tests: ${skip} ***\n`);

const HOSTS = 20;
const ARCHIVE = /^[0-9a-f-]{36}\.sca[lm]$/;
const fresh = workspace('octoscan-upload-sweep-');
let farm: Farm;
let home = '';

type Row = Record<string, string>;
const readReport = (f: string): Row[] => parseCsv(readFileSync(f, 'utf8'), { columns: true }) as Row[];
const archivesIn = (dir: string): string[] => readdirSync(dir).filter((n) => ARCHIVE.test(n)).sort();
const explain = (r: CliRun): string => `exit ${r.code} ${r.signal ?? ''} after ${r.wallMs.toFixed(0)} ms\n--- stderr:\n${r.stderr}`;

function cli(args: string[]): Promise<CliRun> {
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: home };
  for (const k of ['SSH_AUTH_SOCK', 'OCTOSCAN_SSH_PASSPHRASE', 'OCTOSCAN_UPLOAD_AUTH', 'HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy']) delete env[k];
  return runCli(args, { env, killAfterMs: 240_000 });
}

const scanArgs = (hostsFile: string, out: string, report: string, url: string, extra: string[] = []): string[] => [
  '--hosts', hostsFile, '--known-hosts', farm.knownHosts, '--out', out, '--report', report,
  '--upload', url, '--no-progress', '--connect-timeout', '10', '--auth-timeout', '20', ...extra,
];

describe('sweeps with --upload', { skip }, () => {
  before(async () => {
    home = mkdtempSync(path.join(os.tmpdir(), 'octoscan-upload-home-'));
    farm = await startFarm(HOSTS, { probe: 'replay' });
  });
  after(async () => {
    await farm?.stop();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  test('20 hosts, a collector refusing the first 10 requests: every archive on the collector exactly once, nothing lost', async () => {
    const collector = await startOctoCollect({ dir: fresh('collector'), failFirst: 10 });
    try {
      const out = fresh('out');
      const report = path.join(fresh('report'), 'run.csv');
      const sweep = await cli(scanArgs(farm.hostsFile, out, report, collector.url));
      assert.ok(sweep.code === 0 || sweep.code === 3, explain(sweep));
      const rows = readReport(report);
      assert.equal(rows.length, HOSTS);
      for (const r of rows) assert.equal(r.class, 'ok', `${r.host}: ${r.message}`);
      const names = rows.map((r) => path.basename(r.archive)).sort();
      assert.equal(new Set(names).size, HOSTS, 'one archive per host');
      const waiting = rows.filter((r) => r.upload === 'waiting').map((r) => path.basename(r.archive)).sort();
      assert.deepEqual(rows.filter((r) => r.upload !== 'waiting').map((r) => r.upload), Array(HOSTS - waiting.length).fill('uploaded'));
      // What the report says is where each archive is.
      assert.deepEqual(archivesIn(out), waiting, 'exactly the waiting archives are still in --out');
      assert.equal(sweep.code, waiting.length ? 3 : 0, explain(sweep));
      assert.match(sweep.stderr, /upload to http:\/\/127\.0\.0\.1:\d+: \d+ uploaded/);
      console.error(`# sweep: ${sweep.wallMs.toFixed(0)} ms, exit ${sweep.code}, ${HOSTS - waiting.length} uploaded during the sweep, ${waiting.length} waiting; collector saw ${collector.requests.length} requests`);

      if (waiting.length) {
        const up = await cli(['upload', '--from', out, collector.url]);
        assert.equal(up.code, 0, explain(up));
      }
      assert.deepEqual(collector.stored(), names, 'every archive on the collector');
      assert.deepEqual(archivesIn(out), [], 'nothing left waiting');
      assert.deepEqual(readdirSync(out), [], 'nor anything else');
      const accepted = collector.requests.filter((r) => r.status === 200).map((r) => r.name!).sort();
      assert.deepEqual(accepted, names, 'each stored exactly once');
      assert.equal(collector.requests.filter((r) => r.status === 500).length, 10);
      for (const r of collector.requests) if (r.status === 200) assert.match(r.contentLength ?? '', /^\d+$/);
      for (const n of names) assert.ok(!existsSync(path.join(collector.dir, `${n}.uploading`)));
    } finally {
      await collector.close();
    }
  });

  test('a collector down for the whole run: scans unaffected, archives wait (exit 3); the next sweep sends them first', async () => {
    const collector = await startOctoCollect({ dir: fresh('collector') });
    try {
      collector.mode = 'fail';
      const dir = fresh('hosts');
      const first = path.join(dir, 'first.csv');
      const second = path.join(dir, 'second.csv');
      writeFileSync(first, hostsCsv(farm.good.slice(0, 4)));
      writeFileSync(second, hostsCsv(farm.good.slice(4, 6)));
      const out = fresh('out');
      const report1 = path.join(dir, 'run1.csv');
      const down = await cli(scanArgs(first, out, report1, collector.url, ['--upload-retries', '1']));
      assert.equal(down.code, 3, explain(down));
      const rows1 = readReport(report1);
      assert.deepEqual(rows1.map((r) => [r.class, r.upload]), Array(4).fill(['ok', 'waiting']));
      assert.match(rows1[0].message, /(^|; )upload: .*answered 500/);
      const left = rows1.map((r) => path.basename(r.archive)).sort();
      assert.deepEqual(archivesIn(out), left);
      assert.match(down.stderr, /4 waiting in .*octoscan-remote upload --from/);

      collector.mode = 'ok';
      const before = collector.requests.length;
      const report2 = path.join(dir, 'run2.csv');
      const up = await cli(scanArgs(second, out, report2, collector.url));
      assert.equal(up.code, 0, explain(up));
      assert.match(up.stderr, /4 archive\(s\) left by earlier runs/);
      const sent = collector.requests.slice(before).filter((r) => r.status === 200).map((r) => r.name!);
      assert.deepEqual(sent.slice(0, 4).sort(), left, 'the leftovers go before the new archives');
      const rows2 = readReport(report2);
      assert.deepEqual(rows2.map((r) => r.upload), ['uploaded', 'uploaded']);
      assert.deepEqual(collector.stored(), [...left, ...rows2.map((r) => path.basename(r.archive))].sort());
      assert.deepEqual(readdirSync(out), []);
    } finally {
      await collector.close();
    }
  });

  test('bad upload settings stop the run before any connection (exit 1, naming the option)', async () => {
    const out = fresh('out');
    const r1 = await cli(['--hosts', farm.hostsFile, '--out', out, '--upload', 'http://u:p@127.0.0.1:1/']);
    assert.equal(r1.code, 1, explain(r1));
    assert.match(r1.stderr, /--upload: the URL holds credentials/);
    assert.doesNotMatch(r1.stderr, /u:p@/);
    const r2 = await cli(['--hosts', farm.hostsFile, '--out', out, '--ca', '/nonexistent.pem']);
    assert.equal(r2.code, 1);
    assert.match(r2.stderr, /--ca: only with --upload URL/);
    const r3 = await cli(['upload', '--from', path.join(out, 'nope'), 'http://127.0.0.1:1/']);
    assert.equal(r3.code, 1);
    assert.match(r3.stderr, /--from .*nope: not a folder/);
    assert.deepEqual(readdirSync(out), []);
  });
});
