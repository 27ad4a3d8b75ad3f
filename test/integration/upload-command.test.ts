// `octoscan-remote upload` through the real CLI (dist/), no SSH involved:
// archives waiting in a folder go to an HTTPS collector trusted through --ca,
// with basic auth from a file; a collector that is down leaves them waiting
// (exit 3); bad settings are refused before anything is sent (exit 1). Also
// --failed-exit, which the Kubernetes Job relies on.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { describe, test } from 'node:test';
import { CLI, cliBuilt, runCli, type CliRun } from '../helpers/cli-sweep.js';
import { startOctoCollect } from '../helpers/octo-collect.js';
import { makeTestCa } from '../helpers/test-ca.js';
import { workspace } from '../helpers/workspace.js';
import { writeContractArchive } from '../helpers/contract-archive.js';

const skip = cliBuilt ? undefined : `${CLI}: dist/ missing, run npm run build first`;
if (skip) console.error(`\n*** SKIPPING upload command tests: ${skip} ***\n`);
const fresh = workspace('octoscan-upload-cmd-');
const explain = (r: CliRun): string => `exit ${r.code}\n--- stderr:\n${r.stderr}`;

/** n archives that keep the contract (only such are sent), and a report beside them. */
async function spool(n: number): Promise<{ dir: string; names: string[] }> {
  const dir = fresh('spool');
  const names: string[] = [];
  for (let i = 0; i < n; i++) names.push(path.basename(await writeContractArchive(dir, i % 2 ? 'scam' : 'scal', `archive ${i}\n`)));
  writeFileSync(path.join(dir, 'report.csv'), 'not an archive\n');
  return { dir, names: names.sort() };
}

function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  const e: NodeJS.ProcessEnv = { ...process.env, ...env };
  for (const k of ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy']) delete e[k];
  if (!env.OCTOSCAN_UPLOAD_AUTH) delete e.OCTOSCAN_UPLOAD_AUTH;
  return runCli(args, { env: e, killAfterMs: 120_000 });
}

describe('octoscan-remote upload', { skip }, () => {
  test('HTTPS with --ca and basic auth from a file: all sent, removed, nothing else touched', async () => {
    const ca = makeTestCa(fresh('ca'));
    const collector = await startOctoCollect({ dir: fresh('collector'), tls: { key: ca.key, cert: ca.cert }, basicAuth: 'octo:pw' });
    try {
      const { dir, names } = await spool(5);
      const auth = path.join(fresh('auth'), 'collector.auth');
      writeFileSync(auth, 'octo:pw\n', { mode: 0o600 });
      const untrusted = await cli(['upload', '--from', dir, '--upload-auth-file', auth, '--upload-retries', '0', collector.url]);
      assert.equal(untrusted.code, 3, explain(untrusted));
      assert.match(untrusted.stderr, /certificate not trusted .*--ca FILE/);
      assert.match(untrusted.stderr, /5 waiting in /);
      const r = await cli(['upload', '--from', dir, '--ca', ca.caFile, '--upload-auth-file', auth, collector.url]);
      assert.equal(r.code, 0, explain(r));
      assert.deepEqual(collector.stored(), names);
      assert.deepEqual(readdirSync(dir), ['report.csv']);
      assert.match(r.stderr, /upload to https:\/\/127\.0\.0\.1:\d+: 5 uploaded/);
      assert.doesNotMatch(r.stderr + untrusted.stderr, /octo:pw|b2N0bzpwdw/, 'credentials never printed');
    } finally {
      await collector.close();
    }
  });

  test('a collector that is down: exit 3, the archives stay; --insecure is warned about', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const { dir, names } = await spool(3);
    const r = await cli(['upload', '--from', dir, '--upload-retries', '1', '--insecure', `https://127.0.0.1:${port}/`]);
    assert.equal(r.code, 3, explain(r));
    assert.match(r.stderr, /--insecure: the collector's certificate is not verified/);
    assert.match(r.stderr, /ECONNREFUSED/);
    assert.deepEqual(readdirSync(dir).filter((n) => n !== 'report.csv').sort(), names);
  });

  test('bad settings: exit 1 naming the option, nothing sent', async () => {
    const { dir } = await spool(1);
    const auth = path.join(fresh('auth'), 'open.auth');
    writeFileSync(auth, 'octo:pw\n', { mode: 0o644 });
    const cases: [string[], RegExp][] = [
      [['upload', '--from', dir, '--upload-auth-file', auth, 'http://127.0.0.1:1/'], /--upload-auth-file .*open\.auth: readable by group or others \(mode 644\); chmod 600 it/],
      [['upload', '--from', dir, 'ftp://127.0.0.1/'], /must start with http:\/\/ or https:\/\//],
      [['upload', '--from', dir, '--upload-parallel', '0', 'http://127.0.0.1:1/'], /--upload-parallel must be an integer from 1 to 64, got "0"/],
      [['upload', '--from', dir], /missing required argument 'url'/],
    ];
    for (const [args, message] of cases) {
      const r = await cli(args);
      assert.equal(r.code, 1, `${args.join(' ')}: ${explain(r)}`);
      assert.match(r.stderr, message);
    }
    assert.equal(readdirSync(dir).length, 2);
  });

  // Issue 20: only our own archives leave the spool.
  test('a symlink and a text file under archive names: neither sent by upload --from nor by --upload, each named once, both stay', async () => {
    const collector = await startOctoCollect({ dir: fresh('collector') });
    try {
      const { dir, names } = await spool(2);
      const secret = path.join(fresh('secret'), 'uploader-only.key');
      writeFileSync(secret, 'PRIVATE KEY of the uploader\n', { mode: 0o600 });
      const link = `${randomUUID()}.scal`;
      symlinkSync(secret, path.join(dir, link));
      const text = `${randomUUID()}.scam`;
      writeFileSync(path.join(dir, text), 'PK but not a zip\n');
      const r = await cli(['upload', '--from', dir, collector.url]);
      assert.equal(r.code, 0, explain(r));
      assert.deepEqual(collector.stored(), names, 'only the two archives of ours');
      assert.equal(collector.requests.length, 2);
      assert.equal(r.stderr.split(link).length - 1, 1, `the link is named once:\n${r.stderr}`);
      assert.match(r.stderr, new RegExp(`${link.replace(/[.]/g, '\\.')} is not sent: a symbolic link; it stays where it is`));
      assert.equal(r.stderr.split(text).length - 1, 1, `the text file is named once:\n${r.stderr}`);
      assert.match(r.stderr, new RegExp(`${text.replace(/[.]/g, '\\.')} is not sent: not an archive of ours: not a zip archive`));
      assert.deepEqual(readdirSync(dir).sort(), [link, text, 'report.csv'].sort(), 'both stay where they are');

      // --upload beside a scan (--local: this machine through the real /bin/sh) sends its own archive, not those two.
      const scan = await cli(['--local', '--out', dir, '--upload', collector.url, '--no-progress', '--host-timeout', '300']);
      assert.equal(scan.code, 0, explain(scan));
      assert.equal(collector.stored().length, 3, 'the scan\'s own archive was sent');
      assert.equal(collector.requests.length, 3);
      assert.equal(scan.stderr.split(link).length - 1, 1, scan.stderr);
      assert.equal(scan.stderr.split(text).length - 1, 1, scan.stderr);
      assert.ok(!collector.stored().includes(link) && !collector.stored().includes(text));
      assert.deepEqual(readdirSync(dir).sort(), [link, text, 'report.csv'].sort());
    } finally {
      await collector.close();
    }
  });

  test('--failed-exit 0: a run whose hosts failed exits 0 and the report keeps the truth; other codes refused', async () => {
    const port = await new Promise<number>((resolve) => {
      const srv = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (srv.address() as net.AddressInfo).port;
        srv.close(() => resolve(p));
      });
    });
    const dir = fresh('failed');
    const report = path.join(dir, 'run.csv');
    // An existing (empty) known_hosts: a missing one under strict is a start-up error (exit 1).
    const kh = path.join(fresh('kh'), 'known_hosts');
    writeFileSync(kh, '');
    const args = [`scan@127.0.0.1:${port}`, '--out', dir, '--report', report, '--retries', '0', '--known-hosts', kh, '--no-progress'];
    const normal = await cli(args);
    assert.equal(normal.code, 2, explain(normal));
    const mapped = await cli([...args, '--failed-exit', '0']);
    assert.equal(mapped.code, 0, explain(mapped));
    assert.match(readFileSync(report, 'utf8'), /,unreachable,connect,.*connection refused/);
    const bad = await cli([...args, '--failed-exit', '1']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--failed-exit must be 0 or 2, got "1"/);
  });
});
