// The bastion pool on its own, with links whose channels are in-memory
// streams: the bound on channels open at once, one login per bastion however
// many hosts, one failure per bastion shared by its hosts, and a host's abort
// never ending the shared bastion. (The real thing over sshd: integration/jump.)
import assert from 'node:assert/strict';
import { PassThrough, type Duplex } from 'node:stream';
import { describe, test } from 'node:test';
import { ScanError } from '../../src/errors.js';
import { BastionPool, type BastionLink, type HopConnector } from '../../src/transport/bastion-pool.js';
import { reachableAtOnce } from '../../src/sweep/parallelism.js';
import type { HostSpec } from '../../src/types.js';

const hop = (host: string): HostSpec => ({ host, port: 22, user: 'scan', identities: [], tag: '', origin: { file: '<args>', line: 0 } });

function fakeLinks() {
  let open = 0;
  let peak = 0;
  const logins: string[] = [];
  const streams: Duplex[] = [];
  const closed: string[] = [];
  const connect: HopConnector = async (h, via) => {
    logins.push(`${h.host}${via ? ' via channel' : ''}`);
    await new Promise((r) => setTimeout(r, 20));
    const link: BastionLink = {
      forward(_host, _port, cb) {
        const s = new PassThrough();
        open++;
        peak = Math.max(peak, open);
        s.on('close', () => open--);
        streams.push(s);
        setImmediate(() => cb(undefined, s));
      },
      onClose() {},
      close: () => closed.push(h.host),
    };
    return link;
  };
  return { connect, logins, streams, closed, peak: () => peak, open: () => open };
}

describe('bastion pool', () => {
  test('one login per bastion; at most N channels open at once, the rest wait their turn', async () => {
    const f = fakeLinks();
    const pool = new BastionPool(f.connect, 3, 1000);
    const chain = [hop('b1')];
    const signal = new AbortController().signal;
    const opens = Array.from({ length: 20 }, (_, i) => pool.open(chain, `t${i}`, 22, signal, `t${i}`, 1000));
    let done = 0;
    // Each host closes its channel a little after it got it, as a scan would.
    await Promise.all(
      opens.map(async (p) => {
        const s = await p;
        await new Promise((r) => setTimeout(r, 5));
        s.destroy();
        done++;
      }),
    );
    assert.equal(done, 20);
    assert.deepEqual(f.logins, ['b1']);
    assert.equal(f.peak(), 3, 'never more than --jump-channels channels at once');
    pool.closeAll();
    assert.deepEqual(f.closed, ['b1']);
  });

  test('a two-hop chain reaches the second bastion through a channel of the first, once', async () => {
    const f = fakeLinks();
    const pool = new BastionPool(f.connect, 8, 1000);
    const chain = [hop('b1'), hop('b2')];
    const signal = new AbortController().signal;
    const streams = await Promise.all([1, 2, 3].map((i) => pool.open(chain, `t${i}`, 22, signal, `t${i}`, 1000)));
    assert.deepEqual(f.logins, ['b1', 'b2 via channel']);
    for (const s of streams) s.destroy();
    pool.closeAll();
  });

  test('a bastion that fails is tried once; every host behind it gets that failure with phase jump', async () => {
    let tries = 0;
    const pool = new BastionPool(async () => {
      tries++;
      throw new ScanError('unreachable', 'connect', 'scan@b1:22: connection refused', true);
    }, 4, 1000);
    const signal = new AbortController().signal;
    const results = await Promise.allSettled(Array.from({ length: 5 }, (_, i) => pool.open([hop('b1')], `t${i}`, 22, signal, `t${i}`, 1000)));
    assert.equal(tries, 1);
    for (const r of results) {
      assert.equal(r.status, 'rejected');
      const e = (r as PromiseRejectedResult).reason as ScanError;
      assert.equal(e.phase, 'jump');
      assert.equal(e.cls, 'unreachable');
      assert.equal(e.transient, false, 'not retried host by host');
      assert.match(e.message, /^bastion scan@b1:22: connection refused/);
    }
    // A later host, too, gets the same answer without a new attempt.
    await assert.rejects(pool.open([hop('b1')], 'late', 22, signal, 'late', 1000), /bastion scan@b1:22/);
    assert.equal(tries, 1);
  });

  test("a host's deadline while it waits for a slot ends only that host; the slot queue goes on", async () => {
    const f = fakeLinks();
    const pool = new BastionPool(f.connect, 1, 1000);
    const chain = [hop('b1')];
    const first = await pool.open(chain, 't1', 22, new AbortController().signal, 't1', 1000);
    const ac = new AbortController();
    const waiting = pool.open(chain, 't2', 22, ac.signal, 't2', 1000);
    const third = pool.open(chain, 't3', 22, new AbortController().signal, 't3', 1000);
    ac.abort(new ScanError('timeout', 'jump', 't2: per-host deadline'));
    await assert.rejects(waiting, /per-host deadline/);
    first.destroy();
    const s3 = await third;
    assert.ok(s3, 'the next host in line got the slot');
    s3.destroy();
    assert.deepEqual(f.logins, ['b1']);
    pool.closeAll();
  });
});

describe('automatic parallelism behind bastions', () => {
  test('direct hosts count one each; hosts behind a bastion count up to its channels', () => {
    const b = (host: string) => [{ host, port: 22, user: 'scan' }];
    const hosts = [{}, {}, ...Array.from({ length: 100 }, () => ({ jumpHosts: b('b1') })), ...Array.from({ length: 100 }, () => ({ jumpHosts: b('b2') }))];
    assert.equal(reachableAtOnce(hosts, 8), 2 + 2 * 8);
    assert.equal(reachableAtOnce([{}, {}, {}], 8), 3);
  });
});
