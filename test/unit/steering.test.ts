// The controller's side of deadlines and caps (src/scan/steering.ts), the K,
// k and R records that drive it (frames.ts), and the collector's cap calling
// it: the lines written to the script's standard input, in order.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FrameError, FrameParser, newToken, StderrSplitter, STDERR_BOUNDS } from '../../src/probe/frames.js';
import { MAX_ARMED, MAX_KILLS, Steering } from '../../src/scan/steering.js';
import { Collector } from '../../src/scan/collector.js';
import { ArchiveWriter } from '../../src/archive/archive-writer.js';
import type { Probe } from '../../src/probe/probe.js';

const wait = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('Steering', () => {
  it('says H once after R, and nothing before it, not even for a deadline', async () => {
    const lines: string[] = [];
    const s = new Steering((l) => lines.push(l));
    s.onStarted(11, 0);
    await wait(20);
    assert.deepEqual(lines, [], 'before R nothing reads our lines');
    s.onReady();
    s.onReady();
    assert.deepEqual(lines, ['H\n']);
    s.close();
  });

  it('kills a command at its deadline, once; a command that ended in time is left alone', async () => {
    const lines: string[] = [];
    const s = new Steering((l) => lines.push(l), () => 'cmd/ps_ef');
    s.onReady();
    s.onStarted(21, 0);
    s.onStarted(22, 0);
    s.onEnded(22);
    await wait(30);
    assert.deepEqual(lines, ['H\n', 'K 21\n']);
    assert.deepEqual(s.killed, [{ pid: 21, why: 'deadline', seconds: 0, entry: 'cmd/ps_ef' }]);
    s.close();
  });

  it('past a cap: the newest running command goes, once, and stays the newest until its k record', () => {
    const lines: string[] = [];
    const s = new Steering((l) => lines.push(l));
    s.onReady();
    s.onStarted(31, 600); // a find feeding a loop
    s.onStarted(32, 60); // the java the loop started
    s.overCap();
    s.overCap();
    assert.deepEqual(lines, ['H\n', 'K 32\n'], 'the find is not taken for the writer of the entry');
    s.onEnded(32);
    s.overCap();
    assert.deepEqual(lines, ['H\n', 'K 32\n', 'K 31\n']);
    s.close();
  });

  it('after close: no lines, no timers left to hold the process', async () => {
    const lines: string[] = [];
    const s = new Steering((l) => lines.push(l));
    s.onReady();
    s.onStarted(41, 0);
    s.close();
    await wait(20);
    s.overCap();
    s.onStarted(42, 0);
    await wait(20);
    assert.deepEqual(lines, ['H\n']);
  });

  it(`a target that makes us kill more than ${MAX_KILLS} commands is not running our script (what we keep of kills is bounded)`, () => {
    const s = new Steering(() => {});
    s.onReady();
    for (let i = 0; i < MAX_KILLS; i++) {
      s.onStarted(i + 2, 600);
      s.overCap();
      s.onEnded(i + 2);
    }
    s.onStarted(99999, 600);
    assert.throws(() => s.overCap(), FrameError);
    assert.equal(s.killed.length, MAX_KILLS);
    s.close();
  });

  it(`a target announcing more than ${MAX_ARMED} running commands is not running our script`, () => {
    const s = new Steering(() => {});
    for (let i = 0; i < MAX_ARMED; i++) s.onStarted(1000 + i, 600);
    assert.throws(() => s.onStarted(5000, 600), FrameError);
    s.close();
  });
});

describe('K, k and R records', () => {
  it('inside a body they are cut out and the body stays as the command wrote it', () => {
    const t = newToken();
    const p = new FrameParser(t);
    // K right after a newline of the body and k right after its last byte: the body keeps both bytes.
    const stream = `\n${t} R\n\n${t} B ps#0 - - cmd/ps_ef\nline one\n${t}+K 123 600\nline t${t}+k 123\nwo\n\n${t} E 0 0\n\n${t} Z\n`;
    const frames = [];
    // byte by byte: no chunk boundary may change the result
    for (const b of Buffer.from(stream)) frames.push(...p.push(Buffer.from([b])));
    const body = Buffer.concat(frames.filter((f) => f.type === 'data').map((f) => (f as { chunk: Buffer }).chunk)).toString();
    assert.equal(body, 'line one\nline two\n');
    assert.deepEqual(frames.filter((f) => f.type !== 'data').map((f) => f.type), ['ready', 'begin', 'started', 'ended', 'end', 'done']);
    const started = frames.find((f) => f.type === 'started') as { pid: number; seconds: number };
    assert.deepEqual([started.pid, started.seconds], [123, 600]);
  });

  it('a malformed one is a protocol error', () => {
    const t = newToken();
    for (const bad of ['+K x 5', '+K 5', '+K 5 99999999', '+k', '+k -1', '-K 5 5']) {
      assert.throws(() => new FrameParser(t).push(Buffer.from(`\n${t}${bad}\n`)), FrameError, bad);
    }
  });
});

describe('StderrSplitter: each command\'s stderr capped by the controller, as it arrives', () => {
  it('keeps 4 KiB of a command that writes megabytes, and the sections after it', () => {
    const t = newToken();
    const s = new StderrSplitter(t, 1024);
    s.push(Buffer.from(`shell says\n${t} P find#0\n`));
    for (let i = 0; i < 100; i++) s.push(Buffer.alloc(64 * 1024, 'x'));
    s.push(Buffer.from(`\n${t} p\n\n${t} P ps#0\nps: bad\n${t} p\n`));
    const r = s.end();
    assert.equal(r.probes.get('find#0')!.length, STDERR_BOUNDS.headBytes);
    assert.equal(r.probes.get('ps#0'), 'ps: bad');
    assert.equal(r.own, 'shell says');
  });
});

describe('the collector calls the steering when an entry passes its cap', () => {
  it('past the cap: K for the command writing it; the entry keeps the cap, truncated', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'octoscan-steer-'));
    try {
      const t = newToken();
      const probes: Probe[] = [{ id: 'ps', kind: 'command', entry: 'cmd/ps_ef', argv: ['ps'], cap: 10 }];
      const writer = await ArchiveWriter.create(dir, '0f0f0f0f-0000-4000-8000-000000000000');
      const lines: string[] = [];
      let spill = 0;
      const steering = new Steering((l) => lines.push(l));
      const c = new Collector({ token: t, probes, writer, steering, spillPath: () => path.join(dir, `spill-${++spill}`) });
      // More than a delimiter's length after K: the parser holds back what could be the start of one.
      await c.push(Buffer.from(`\n${t} R\n\n${t} B ps#0 - - cmd/ps_ef\n0123456\n${t}+K 77 600\n${'x'.repeat(100)}`));
      assert.deepEqual(lines, ['H\n', 'K 77\n']);
      await c.push(Buffer.from(`ghij\n${t}+k 77\n\n${t} E 137 0\n\n${t} Z\n`));
      const r = await c.end();
      assert.deepEqual(r.entries, [{ name: 'cmd/ps_ef', probe: 'ps', bytes: 10, truncated: true }]);
      assert.match(r.warnings[0].message, /output truncated at 10 bytes/);
      steering.close();
      await writer.abort();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
