// `octoscan-remote upload` through the real CLI (dist/), no SSH involved:
// archives waiting in a folder go to an HTTPS collector trusted through --ca,
// with basic auth from a file; a collector that is down leaves them waiting
// (exit 3); bad settings are refused before anything is sent (exit 1). Also
// --failed-exit, which the Kubernetes Job relies on.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { describe, test } from 'node:test';
import { CLI, cliBuilt, runCli, type CliRun } from '../helpers/cli-sweep.js';
import { startOctoCollect } from '../helpers/octo-collect.js';
import { makeTestCa } from '../helpers/test-ca.js';
import { workspace } from '../helpers/workspace.js';

const skip = cliBuilt ? undefined : `${CLI}: dist/ missing, run npm run build first`;
if (skip) console.error(`\n*** SKIPPING upload command tests: ${skip} ***\n`);
const fresh = workspace('octoscan-upload-cmd-');
const explain = (r: CliRun): string => `exit ${r.code}\n--- stderr:\n${r.stderr}`;

function spool(n: number): { dir: string; names: string[] } {
  const dir = fresh('spool');
  const names = Array.from({ length: n }, (_, i) => {
    const name = `${randomUUID()}.${i % 2 ? 'scam' : 'scal'}`;
    writeFileSync(path.join(dir, name), `archive ${i}`);
    return name;
  });
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
      const { dir, names } = spool(5);
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
    const { dir, names } = spool(3);
    const r = await cli(['upload', '--from', dir, '--upload-retries', '1', '--insecure', `https://127.0.0.1:${port}/`]);
    assert.equal(r.code, 3, explain(r));
    assert.match(r.stderr, /--insecure: the collector's certificate is not verified/);
    assert.match(r.stderr, /ECONNREFUSED/);
    assert.deepEqual(readdirSync(dir).filter((n) => n !== 'report.csv').sort(), names);
  });

  test('bad settings: exit 1 naming the option, nothing sent', async () => {
    const { dir } = spool(1);
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
