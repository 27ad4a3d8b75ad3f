// The octo-collect client and its queue against a real HTTP(S) server on
// loopback that behaves like octo-collect (test/helpers/octo-collect.ts):
// the request curl would make, the answers, retries, faults, TLS, proxies and
// credentials, and that an archive leaves the folder only once accepted.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { chmodSync, existsSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { collectorConfig, CollectorConfigError, type CollectorOptions } from '../../src/upload/collector-config.js';
import { UploadQueue, type UploadResult } from '../../src/upload/upload-queue.js';
import { waitingArchives } from '../../src/upload/spool.js';
import { startOctoCollect, type OctoCollect } from '../helpers/octo-collect.js';
import { makeTestCa } from '../helpers/test-ca.js';
import { workspace } from '../helpers/workspace.js';

const fresh = workspace('octoscan-upload-');
const servers: OctoCollect[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

async function collector(o: Partial<Parameters<typeof startOctoCollect>[0]> = {}): Promise<OctoCollect> {
  const s = await startOctoCollect({ dir: fresh('collector'), ...o });
  servers.push(s);
  return s;
}

/** n archives with distinct content in a fresh folder. */
function archives(n: number, ext = 'scal'): { dir: string; files: string[] } {
  const dir = fresh('out');
  const files = Array.from({ length: n }, (_, i) => {
    const f = path.join(dir, `${randomUUID()}.${ext}`);
    writeFileSync(f, `PK fake archive ${i} ${'x'.repeat(i * 1000)}`);
    return f;
  });
  return { dir, files };
}

async function upload(files: string[], o: CollectorOptions, q: Partial<ConstructorParameters<typeof UploadQueue>[0]> = {}): Promise<{ results: UploadResult[]; logs: string[] }> {
  const logs: string[] = [];
  const queue = new UploadQueue({ config: await collectorConfig(o), parallel: 3, retries: 4, timeoutMs: 10_000, keep: false, baseDelayMs: 20, maxDelayMs: 200, log: (m) => logs.push(m), ...q });
  const pending = files.map((f) => queue.add(f));
  await queue.finish();
  return { results: await Promise.all(pending), logs };
}

describe('upload to octo-collect', () => {
  it('sends the request curl -F upload=@FILE makes; the archive leaves the folder once accepted', async () => {
    const c = await collector();
    const { dir, files } = archives(3);
    const contents = files.map((f) => readFileSync(f));
    const { results } = await upload(files, { url: c.url });
    assert.deepEqual(results.map((r) => r.state), ['uploaded', 'uploaded', 'uploaded']);
    assert.deepEqual(c.stored(), files.map((f) => path.basename(f)).sort());
    files.forEach((f, i) => assert.deepEqual(readFileSync(path.join(c.dir, path.basename(f))), contents[i]));
    for (const r of c.requests) {
      assert.equal(r.status, 200, r.reason);
      assert.match(r.contentLength ?? '', /^\d+$/, 'Content-Length set');
    }
    assert.deepEqual(readdirSync(dir), [], 'sent archives are removed, nothing else left');
    assert.equal(readdirSync(c.dir).filter((n) => n.endsWith('.uploading')).length, 0);
  });

  it('--keep leaves the archive; 303 (already there) is success', async () => {
    const c = await collector();
    const { dir, files } = archives(2, 'scam');
    await upload(files, { url: c.url }, { keep: true });
    assert.equal(readdirSync(dir).length, 2, 'kept');
    const again = await upload(files, { url: c.url });
    assert.deepEqual(again.results.map((r) => [r.state, r.duplicate]), [['uploaded', true], ['uploaded', true]]);
    assert.deepEqual(c.requests.map((r) => r.status), [200, 200, 303, 303]);
    assert.deepEqual(readdirSync(dir), []);
  });

  it('retries a collector that refuses the first requests; every archive arrives exactly once', async () => {
    const c = await collector({ failFirst: 5 });
    const { dir, files } = archives(6);
    const { results, logs } = await upload(files, { url: c.url }, { retries: 8 });
    assert.ok(results.every((r) => r.state === 'uploaded'), JSON.stringify(results));
    assert.equal(c.stored().length, 6);
    assert.equal(c.requests.filter((r) => r.status === 500).length, 5);
    assert.equal(c.requests.filter((r) => r.status === 200).length, 6, 'each stored once, no duplicates sent');
    assert.deepEqual(readdirSync(dir), []);
    assert.ok(logs.some((l) => /answered 500/.test(l)), logs.join('\n'));
  });

  it('a collector answering 500 to everything: the archives wait in the folder, the reason is given', async () => {
    const c = await collector();
    c.mode = 'fail';
    const { dir, files } = archives(3);
    const { results } = await upload(files, { url: c.url }, { retries: 2 });
    assert.ok(results.every((r) => r.state === 'waiting'));
    assert.match(results[0].message, /answered 500: Internal Server Error/);
    assert.equal(readdirSync(dir).length, 3);
    // The spool lists them oldest first: that is the order the next run sends them in.
    files.forEach((f, i) => utimesSync(f, 1_700_000_000 + (3 - i) * 60, 1_700_000_000 + (3 - i) * 60));
    assert.deepEqual(await waitingArchives(dir), [...files].reverse());
    // Half-open: while failing, one probe at a time, so far fewer requests than archives x attempts.
    assert.ok(c.requests.length <= 3 + 3, `${c.requests.length} requests`);
  });

  it('a stalled collector hits the upload deadline; one that closes mid-body is retried', async () => {
    const c = await collector();
    c.mode = 'stall';
    const { dir, files } = archives(1);
    const t0 = Date.now();
    const stalled = await upload(files, { url: c.url }, { retries: 0, timeoutMs: 500 });
    assert.equal(stalled.results[0].state, 'waiting');
    assert.match(stalled.results[0].message, /deadline|abort/i);
    assert.ok(Date.now() - t0 < 10_000);
    c.mode = 'close-mid-body';
    const cut = await upload(files, { url: c.url }, { retries: 1 });
    assert.equal(cut.results[0].state, 'waiting');
    assert.ok(existsSync(files[0]));
    c.mode = 'ok';
    const ok = await upload(files, { url: c.url });
    assert.equal(ok.results[0].state, 'uploaded');
    assert.deepEqual(readdirSync(dir), []);
  });

  it('a collector that answers 200 at once, before the body: a failure, retried, and the archive stays (40 MB archive)', async () => {
    const c = await collector();
    c.mode = 'early-200';
    const dir = fresh('out');
    const file = path.join(dir, `${randomUUID()}.scal`);
    writeFileSync(file, randomBytes(40 << 20));
    const early = await upload([file], { url: c.url }, { retries: 2 });
    assert.equal(early.results[0].state, 'waiting', 'a 200 before the last body byte is not a delivery');
    assert.match(early.results[0].message, /answered 200 after \d+ of \d+ bytes of the upload: not taken as delivered/);
    assert.ok(existsSync(file), 'the only copy stays in the spool');
    assert.equal(c.requests.length, 3, 'tried again: the first attempt and 2 retries');
    assert.deepEqual(c.stored(), []);
    c.mode = 'ok';
    const ok = await upload([file], { url: c.url });
    assert.equal(ok.results[0].state, 'uploaded');
    assert.deepEqual(readdirSync(dir), []);
    assert.equal(readFileSync(path.join(c.dir, path.basename(file))).length, 40 << 20, 'the whole archive arrived');
  });

  it('basic auth from an owner-only file or the environment, never from the URL', async () => {
    const c = await collector({ basicAuth: 'scan:s3cret pass' });
    const ws = fresh('auth');
    const authFile = path.join(ws, 'auth');
    writeFileSync(authFile, 'scan:s3cret pass\n', { mode: 0o600 });
    const a = archives(1);
    assert.equal((await upload(a.files, { url: c.url, authFile })).results[0].state, 'uploaded');

    const b = archives(1);
    process.env.OCTOSCAN_UPLOAD_AUTH = 'scan:s3cret pass';
    assert.equal((await upload(b.files, { url: c.url })).results[0].state, 'uploaded');
    assert.equal(process.env.OCTOSCAN_UPLOAD_AUTH, undefined, 'removed from the environment once read');

    const d = archives(1);
    const denied = await upload(d.files, { url: c.url }, { retries: 0 });
    assert.match(denied.results[0].message, /answered 401.*--upload-auth-file/);
    assert.doesNotMatch(JSON.stringify(denied), /s3cret/);

    chmodSync(authFile, 0o644);
    await assert.rejects(collectorConfig({ url: c.url, authFile }), (e: Error) => e instanceof CollectorConfigError && /--upload-auth-file .*readable by group or others \(mode 644\)/.test(e.message));
    await assert.rejects(collectorConfig({ url: 'http://scan:pw@127.0.0.1:1/' }), /holds credentials; put user:password in --upload-auth-file/);
    await assert.rejects(collectorConfig({ url: 'ftp://127.0.0.1/' }), /--upload "ftp:\/\/127.0.0.1\/": the collector URL must start with http:\/\/ or https:\/\//);
    await assert.rejects(collectorConfig({ url: 'collector 8080' }), /not a URL/);
  });

  it('TLS: a private CA needs --ca; --insecure is an explicit opt-in', async () => {
    const ca = makeTestCa(fresh('ca'));
    const c = await collector({ tls: { key: ca.key, cert: ca.cert } });
    const a = archives(1);
    const untrusted = await upload(a.files, { url: c.url }, { retries: 0 });
    assert.equal(untrusted.results[0].state, 'waiting');
    assert.match(untrusted.results[0].message, /certificate not trusted .*--ca FILE/);
    assert.equal((await upload(a.files, { url: c.url, ca: ca.caFile })).results[0].state, 'uploaded');
    const b = archives(1);
    assert.equal((await upload(b.files, { url: c.url, insecure: true })).results[0].state, 'uploaded');
    await assert.rejects(collectorConfig({ url: c.url, ca: ca.caFile, insecure: true }), /--ca and --insecure exclude each other/);
    const notPem = path.join(fresh('ca'), 'x.pem');
    writeFileSync(notPem, 'hello');
    await assert.rejects(collectorConfig({ url: c.url, ca: notPem }), /--ca .*x\.pem: no PEM certificate/);
  });

  it('proxies from HTTP(S)_PROXY, bypassed for NO_PROXY', async (t) => {
    const c = await collector();
    // A proxy that tunnels CONNECT requests (undici tunnels to HTTP targets too), and counts them.
    let proxied = 0;
    const proxy = http.createServer((_req, res) => res.writeHead(405).end());
    proxy.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
      proxied++;
      const [host, port] = req.url!.split(':');
      const up = net.connect(Number(port), host, () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        up.write(head);
        up.pipe(client);
        client.pipe(up);
      });
      up.on('error', () => client.destroy());
      client.on('error', () => up.destroy());
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    t.after(() => proxy.close());
    const dead = await new Promise<number>((r) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => r(p));
      });
    });
    const saved = { ...process.env };
    t.after(() => {
      for (const k of ['HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'http_proxy', 'https_proxy', 'no_proxy']) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
    });
    for (const k of ['http_proxy', 'https_proxy', 'no_proxy', 'NO_PROXY']) delete process.env[k];
    process.env.HTTP_PROXY = `http://127.0.0.1:${(proxy.address() as net.AddressInfo).port}`;
    const a = archives(2);
    assert.deepEqual((await upload(a.files, { url: c.url })).results.map((r) => r.state), ['uploaded', 'uploaded']);
    assert.equal(proxied, 2, 'both uploads went through the proxy');

    // HTTPS through the tunnel: the collector's certificate is still checked, against --ca.
    const ca = makeTestCa(fresh('ca'));
    const tlsCollector = await collector({ tls: { key: ca.key, cert: ca.cert } });
    delete process.env.HTTP_PROXY;
    process.env.HTTPS_PROXY = `http://127.0.0.1:${(proxy.address() as net.AddressInfo).port}`;
    const h = archives(1);
    const untrusted = await upload(h.files, { url: tlsCollector.url }, { retries: 0 });
    assert.match(untrusted.results[0].message, /certificate not trusted/);
    assert.equal((await upload(h.files, { url: tlsCollector.url, ca: ca.caFile })).results[0].state, 'uploaded');
    assert.equal(proxied, 4, 'HTTPS_PROXY carried both HTTPS attempts');
    delete process.env.HTTPS_PROXY;

    process.env.HTTP_PROXY = `http://127.0.0.1:${dead}`;
    process.env.NO_PROXY = '127.0.0.1';
    const b = archives(1);
    assert.equal((await upload(b.files, { url: c.url })).results[0].state, 'uploaded', 'NO_PROXY: straight to the collector');
  });

  it('an interrupt during the back-off settles the queue at once: the archives wait, untouched', async () => {
    const c = await collector();
    c.mode = 'fail';
    const { dir, files } = archives(2);
    const interrupt = new AbortController();
    const queue = new UploadQueue({ config: await collectorConfig({ url: c.url }), parallel: 2, retries: 5, timeoutMs: 10_000, keep: false, baseDelayMs: 60_000, maxDelayMs: 60_000, signal: interrupt.signal, log: () => {} });
    const pending = files.map((f) => queue.add(f));
    // As in the CLI: the scans are done and the run waits for the queue when the signal comes.
    const finished = queue.finish();
    while (c.requests.length < 2) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 50));
    const t0 = Date.now();
    interrupt.abort();
    await finished;
    assert.ok(Date.now() - t0 < 2000, `settled ${Date.now() - t0} ms after the interrupt, not after the 60 s back-off`);
    for (const r of await Promise.all(pending)) assert.deepEqual(r.state, 'waiting');
    assert.match((await pending[0]).message, /interrupted/);
    assert.equal(readdirSync(dir).length, 2);
  });

  it('an archive renamed into place under the same name while its older one is in flight is sent too, never deleted unsent', async () => {
    const c = await collector();
    c.mode = 'stall';
    const { dir, files } = archives(1);
    const logs: string[] = [];
    const queue = new UploadQueue({ config: await collectorConfig({ url: c.url }), parallel: 1, retries: 3, timeoutMs: 400, keep: false, baseDelayMs: 20, maxDelayMs: 50, log: (m) => logs.push(m) });
    const first = queue.add(files[0]);
    await new Promise((r) => setTimeout(r, 100));
    const newer = `${files[0]}.new`;
    writeFileSync(newer, 'the newer archive');
    const { renameSync } = await import('node:fs');
    renameSync(newer, files[0]);
    const second = queue.add(files[0]);
    c.mode = 'ok';
    await queue.finish();
    assert.equal((await first).state, 'uploaded', JSON.stringify([await first, logs]));
    assert.equal(await second, await first);
    assert.equal(readFileSync(path.join(c.dir, path.basename(files[0])), 'utf8'), 'the newer archive');
    assert.deepEqual(readdirSync(dir), []);
  });
});
