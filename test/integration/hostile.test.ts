// Hostile and broken hosts (issue 6): no hang, no escape, no partial archive.
//
// A scripted ssh2 server (test/helpers/fake-ssh-server.ts) produces what only
// a scripted server can: stalls in every phase, garbage, endless output,
// resets, forged frames carrying the real token. The real sshd harness
// produces login-shell noise, tcsh and fish login shells, odd PATH and LANG.
// (A read-only or full /tmp on the target is in security.test.ts, next to the
// read-only proof that shares its mount-namespace child.)
//
// Every case asserts its own deadline, so a build whose deadline, cap or
// escaping is disabled fails here instead of passing late. Needs root for
// sshd and tmpfs mounts; tcsh and fish cases skip when the shells are absent;
// the SYN-drop case needs python3; the CLI cases need dist/ (npm run build).

import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';

import { scanHost } from '../../src/scan/scan-host.js';
import { sweep } from '../../src/sweep/sweep.js';
import type { HostOutcome, HostSpec } from '../../src/types.js';
import {
  ARCHIVE_NAME,
  blackholePort,
  clientKeyFile,
  closeAllFakeSsh,
  entry,
  facts,
  type FakeSsh,
  type FakeSshOptions,
  fixtureHostKey,
  hostSpec,
  IMPORT_PATTERN,
  minimalScan,
  otherHostKey,
  raw,
  readArchive,
  rec,
  scanSettings,
  type SettingsOverrides,
  startFakeSsh,
  startFakeSshChild,
  textLines,
} from '../helpers/fake-ssh-server.js';
import { createTestUser, sshdAvailable, startSshd, type Sshd, type TestUser } from '../helpers/sshd.js';
import { workspace } from '../helpers/workspace.js';

const MiB = 1024 * 1024;
/** How late a deadline may fire and still count as "at its deadline". */
const MARGIN_MS = 1000;

after(closeAllFakeSsh);
const freshDir = workspace('octoscan-hostile-');

interface Run {
  outcome: HostOutcome;
  elapsedMs: number;
  out: string;
  files: string[];
  warnings: string[];
}

type ScanOpts = Partial<SettingsOverrides> & { spec?: Partial<HostSpec>; out?: string; knownHostsText?: string };

async function scanFake(target: FakeSsh | { host: string; port: number; knownHostsLine?: string }, o: ScanOpts = {}): Promise<Run> {
  const out = o.out ?? freshDir('out');
  const knownHosts = o.knownHosts ?? path.join(freshDir('kh'), 'known_hosts');
  if (!o.knownHosts) writeFileSync(knownHosts, o.knownHostsText ?? `${target.knownHostsLine ?? ''}\n`);
  const warnings: string[] = [];
  const t0 = performance.now();
  const outcome = await scanHost(hostSpec(target, o.spec), scanSettings(out, { ...o, knownHosts, warnings }));
  return { outcome, elapsedMs: performance.now() - t0, out, files: readdirSync(out), warnings };
}

async function fake(opts: FakeSshOptions): Promise<FakeSsh> {
  return startFakeSsh(opts);
}

function assertFailed(r: Run, cls: HostOutcome['class'], phase: HostOutcome['phase'] | undefined, what: string): void {
  const o = r.outcome;
  assert.equal(o.class, cls, `${what}: expected ${cls}, got ${o.class}/${o.phase}: ${o.message}`);
  if (phase) assert.equal(o.phase, phase, `${what}: expected phase ${phase}, got ${o.phase}: ${o.message}`);
  assert.equal(o.archive, undefined);
  assert.deepEqual(r.files, [], `${what}: the output folder must stay empty (no archive, no temporaries)`);
}

function assertWithin(r: Run, deadlineMs: number, what: string): void {
  assert.ok(r.elapsedMs >= deadlineMs - 50, `${what}: ended after ${r.elapsedMs.toFixed(0)} ms, before its ${deadlineMs} ms deadline`);
  assert.ok(r.elapsedMs <= deadlineMs + MARGIN_MS, `${what}: took ${r.elapsedMs.toFixed(0)} ms, deadline ${deadlineMs} ms + ${MARGIN_MS} ms margin`);
}

/** The one archive of a successful run, strictly read. */
async function archiveOf(r: Run) {
  assert.equal(r.outcome.class, 'ok', `${r.outcome.class}/${r.outcome.phase}: ${r.outcome.message}`);
  assert.equal(r.files.length, 1, `exactly one file expected, got ${r.files.join(', ')}`);
  assert.match(r.files[0], ARCHIVE_NAME);
  return readArchive(path.join(r.out, r.files[0]));
}

function scanJson(a: Awaited<ReturnType<typeof readArchive>>): Record<string, any> {
  return JSON.parse(a.get('octoscan-remote/scan.json')!.toString('utf8'));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const never = () => new Promise<void>(() => {});

// ---------------------------------------------------------------------------

describe('stalls at every phase end at their deadline, classified with the phase', { concurrency: true }, () => {
  const CONNECT = 1000;
  const AUTH = 1000;
  const HOST = 2000;
  const t = { timeout: 20_000 };

  test('TCP connect never completes (SYN dropped): timeout/connect', t, async (ctx) => {
    const hole = await blackholePort();
    if (!hole) return ctx.skip('python3 not available to hold a full accept queue');
    try {
      const r = await scanFake({ host: '127.0.0.1', port: hole.port }, { connectTimeoutMs: CONNECT, hostTimeoutMs: 10_000 });
      assertFailed(r, 'timeout', 'connect', 'connect stall');
      assertWithin(r, CONNECT, 'connect stall');
    } finally {
      hole.close();
    }
  });

  test('TCP accepted, no banner ever: timeout/handshake', t, async () => {
    const s = await fake({ raw: raw.silent() });
    const r = await scanFake(s, { connectTimeoutMs: CONNECT, hostTimeoutMs: 10_000 });
    assertFailed(r, 'timeout', 'handshake', 'no banner');
    assertWithin(r, CONNECT, 'no banner');
    assert.match(r.outcome.message, /deadline of 1 s passed during handshake/);
  });

  test('banner, then silence: timeout/handshake', t, async () => {
    const s = await fake({ raw: raw.bannerThenSilence() });
    const r = await scanFake(s, { connectTimeoutMs: CONNECT, hostTimeoutMs: 10_000 });
    assertFailed(r, 'timeout', 'handshake', 'banner then silence');
    assertWithin(r, CONNECT, 'banner then silence');
  });

  test('silence in the middle of key exchange: timeout/handshake', t, async () => {
    const s = await fake({ raw: raw.kexStall() });
    const r = await scanFake(s, { connectTimeoutMs: CONNECT, hostTimeoutMs: 10_000 });
    assertFailed(r, 'timeout', 'handshake', 'kex stall');
    assertWithin(r, CONNECT, 'kex stall');
  });

  test('silence during authentication: timeout/auth', t, async () => {
    const s = await fake({ auth: 'stall' });
    const r = await scanFake(s, { connectTimeoutMs: 5000, authTimeoutMs: AUTH, hostTimeoutMs: 10_000 });
    assertFailed(r, 'timeout', 'auth', 'auth stall');
    // The auth deadline starts after key exchange, which takes a few ms on loopback.
    assertWithin(r, AUTH, 'auth stall');
    assert.equal(r.outcome.transient, false, 'a stall after key exchange is not retried');
  });

  test('exec request never confirmed: timeout/exec at the per-host deadline', t, async () => {
    const s = await fake({ exec: 'stall' });
    const r = await scanFake(s, { hostTimeoutMs: HOST });
    assertFailed(r, 'timeout', 'exec', 'exec stall');
    assertWithin(r, HOST, 'exec stall');
  });

  test('channel open, no output at all: timeout/stream', t, async () => {
    const s = await fake({ exec: () => never() });
    const r = await scanFake(s, { hostTimeoutMs: HOST });
    assertFailed(r, 'timeout', 'stream', 'no output');
    assertWithin(r, HOST, 'no output');
  });

  test('half the output, then silence (inside an entry): timeout/stream, nothing kept', t, async () => {
    const s = await fake({
      exec: async (x) => {
        const tok = await x.token();
        await x.write(facts(tok));
        await x.write(entry(tok, 'release', 'release/os-release', 'ID=fake\n'));
        await x.write(`\n${tok} B cpuinfo - - proc/cpuinfo\n`);
        await x.stream(3 * MiB, randomBytes(64 * 1024)); // spills to a temporary file
        await never();
      },
    });
    const r = await scanFake(s, { hostTimeoutMs: HOST });
    assertFailed(r, 'timeout', 'stream', 'half output');
    assertWithin(r, HOST, 'half output');
  });
});

// ---------------------------------------------------------------------------

const gc: () => void = (() => {
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
})();

/** JS heap plus buffers after a full garbage collection: what is actually held (RSS keeps freed pages). */
function retained(): number {
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

/** Samples this process's RSS (controller and in-process fake server together). */
function rssSampler() {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 10);
  timer.unref(); // never what keeps a failing run alive
  return {
    now: () => process.memoryUsage().rss,
    stop: () => {
      clearInterval(timer);
      return Math.max(peak, process.memoryUsage().rss);
    },
  };
}


describe('endless and huge output: caps hold, memory stays flat', () => {
  test('warm-up: a healthy scan (loads every module before memory is measured)', async () => {
    const s = await fake({});
    const r = await scanFake(s);
    const a = await archiveOf(r);
    assert.equal(a.get('release/os-release')?.toString(), 'PRETTY_NAME="Fake GNU/Linux 12"\nID=fake\n');
    gc();
  });

  test('a "10 GB file" (2.2 GB streamed) and a 256 MiB stderr flood: entry cut at its cap with a warning, controller RSS growth < 100 MB', { timeout: 90_000 }, async () => {
    const TOTAL = 2200 * MiB;
    // The target runs in a child process: what is measured here is the controller alone.
    const s = await startFakeSshChild('huge', { total: TOTAL, stderr: 256 * MiB });
    let warmHeld = 0;
    let r: Run;
    const mem = rssSampler();
    const base = mem.now();
    try {
      const out = freshDir('out');
      const probe = setInterval(() => {
        // Once the entry's spill file has reached the cap, the rest of the stream is only counted
        // and dropped: from here to the end, nothing may pile up.
        if (warmHeld) return;
        const spill = readdirSync(out).find((f) => f.endsWith('.spill'));
        if (spill && statSync(path.join(out, spill), { throwIfNoEntry: false })?.size === 16 * MiB) warmHeld = retained();
      }, 20);
      probe.unref();
      r = await scanFake(s, { hostTimeoutMs: 80_000, out });
      clearInterval(probe);
      assert.equal((await s.report).sent, TOTAL);
    } finally {
      s.close();
    }
    const peak = mem.stop();
    // Native handles (zlib, file streams) are released a few turns after the scan
    // ends; measure what is really held, not what is still on its way out.
    let endHeld = Infinity;
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setTimeout(r, 50));
      endHeld = Math.min(endHeld, retained());
    }
    const a = await archiveOf(r);
    const cpu = a.get('proc/cpuinfo')!;
    assert.equal(cpu.length, 16 * MiB, 'proc/cpuinfo is cut at its 16 MiB cap');
    assert.ok(cpu.equals(Buffer.concat(Array(64).fill(textLines('cpu', 256 * 1024)))), 'what is kept is the head of the stream, byte for byte');
    assert.equal(a.get('proc/meminfo')?.toString(), 'MemTotal: 1 kB\n', 'later entries are still collected');
    const xml = a.get('octoscan.xml')!.toString();
    assert.match(xml, /<warning id="1003" message="cannot read proc\/cpuinfo: truncated at 16777216 bytes"\/>/);
    const sj = scanJson(a);
    assert.ok(sj.bytesReceived >= TOTAL, `bytesReceived ${sj.bytesReceived}`);
    assert.equal(sj.entries.find((e: { name: string }) => e.name === 'proc/cpuinfo').truncated, true);
    assert.ok(sj.stderr.length < 8192, 'only the head of standard error is kept');
    const growth = (peak - base) / 1e6;
    const late = (endHeld - warmHeld) / 1e6;
    console.error(`[memory] RSS base ${(base / 1e6).toFixed(0)} MB, peak +${growth.toFixed(1)} MB; held after GC: under way ${(warmHeld / 1e6).toFixed(1)} MB, at the end ${(endHeld / 1e6).toFixed(1)} MB; ${r.elapsedMs.toFixed(0)} ms`);
    // Peak includes garbage V8 has not collected yet (it lets tens of MB of buffers pile up between collections).
    assert.ok(growth < 100, `controller RSS grew by ${growth.toFixed(1)} MB while 2.2 GB streamed through`);
    // What stays after a collection must not grow with the volume streamed.
    assert.ok(warmHeld > 0, 'the spill file was seen at the cap');
    assert.ok(late < 30, `memory held grew by ${late.toFixed(1)} MB between a quarter of the stream and its end: memory is not flat`);
  });

  test('a process list of millions of lines: cmd/ps_ef cut at 32 MiB with warning 1004', { timeout: 60_000 }, async () => {
    const LINES = 6_000_000;
    const s = await fake({
      exec: async (x) => {
        const tok = await x.token();
        await x.write(facts(tok));
        await x.write(`\n${tok} B ps#0 - - cmd/ps_ef\n`);
        let batch: string[] = [];
        for (let i = 0; i < LINES && !x.isClosed; i++) {
          batch.push(`root ${i} 1 0 10:00 ? 00:00:00 /usr/bin/worker --id=${i}\n`);
          if (batch.length === 2000) {
            await x.write(batch.join(''));
            batch = [];
          }
        }
        await x.write(batch.join(''));
        await x.write(rec(tok, 'E', 141, 1)); // the target's head cut the pipe: SIGPIPE
        await x.write(rec(tok, 'Z'));
        await x.finish(0);
      },
    });
    const r = await scanFake(s, { hostTimeoutMs: 50_000 });
    const a = await archiveOf(r);
    const ps = a.get('cmd/ps_ef')!;
    assert.equal(ps.length, 32 * MiB);
    assert.ok(ps.toString('latin1').startsWith('root 0 1 0 10:00 ? 00:00:00 /usr/bin/worker --id=0\nroot 1 1 '));
    assert.match(a.get('octoscan.xml')!.toString(), /<warning id="1004" message="add_command_output exception \[&apos;ps&apos;, &apos;-ef&apos;\]: output truncated at 33554432 bytes"\/>|<warning id="1004" message="add_command_output exception \['ps', '-ef'\]: output truncated at 33554432 bytes"\/>/);
  });

  test('/dev/zero-like endless entry: the host deadline ends it, nothing kept, memory flat', { timeout: 30_000 }, async () => {
    const HOST = 3000;
    const mem = rssSampler();
    const base = mem.now();
    const zeros = Buffer.alloc(256 * 1024);
    const s = await fake({
      exec: async (x) => {
        const tok = await x.token();
        await x.write(facts(tok));
        await x.write(`\n${tok} B hyperv - 0644 hyperv/.kvp_pool_0\n`);
        while (!x.isClosed) await x.write(zeros);
      },
    });
    const r = await scanFake(s, { hostTimeoutMs: HOST });
    const peak = mem.stop();
    assertFailed(r, 'timeout', 'stream', 'endless zeros');
    assertWithin(r, HOST, 'endless zeros');
    assert.ok((peak - base) / 1e6 < 100, `RSS grew by ${((peak - base) / 1e6).toFixed(1)} MB`);
  });

  test('per-host cap: entries stop at the cap, a warning says so, no empty stand-ins for what was dropped', { timeout: 30_000 }, async () => {
    const HOST_CAP = 1 * MiB;
    const body = (i: number) => Buffer.alloc(300 * 1024, 0x41 + i);
    const s = await fake({
      exec: async (x) => {
        const tok = await x.token();
        await x.write(facts(tok));
        for (let i = 0; i < 6; i++) await x.write(entry(tok, 'release', `/etc/f${i}-release`.replace('/etc/', 'release/'), body(i)));
        await x.write(entry(tok, 'dpkg', 'dpkg/installed.txt', 'bash\t5.2\tamd64\tshell\n'));
        await x.write(rec(tok, 'Z'));
        await x.finish(0);
      },
    });
    const r = await scanFake(s, { hostCap: HOST_CAP });
    const a = await archiveOf(r);
    const probeEntries = a.entries.filter((e) => e.name !== 'octoscan.xml' && e.name !== 'octoscan-remote/scan.json');
    const kept = probeEntries.reduce((n, e) => n + e.data.length, 0);
    assert.equal(kept, HOST_CAP, 'exactly the host cap is kept');
    assert.deepEqual(probeEntries.map((e) => e.name), ['release/f0-release', 'release/f1-release', 'release/f2-release', 'release/f3-release']);
    assert.equal(a.get('release/f3-release')!.length, HOST_CAP - 3 * 300 * 1024);
    assert.equal(a.get('dpkg/installed.txt'), undefined, 'an entry that got no byte under the host cap must not appear as an empty list');
    assert.match(a.get('octoscan.xml')!.toString(), /host output cap of 1048576 bytes reached in release\/f3-release/);
    assert.equal(scanJson(a).hostCapReached, true);
  });
});

// ---------------------------------------------------------------------------

/** Facts, one entry, then the start of a large entry: "the middle of the stream". */
async function midStream(x: import('../helpers/fake-ssh-server.js').FakeExec): Promise<string> {
  const tok = await x.token();
  await x.write(facts(tok));
  await x.write(entry(tok, 'release', 'release/os-release', 'ID=fake\n'));
  await x.write(`\n${tok} B dpkg - - dpkg/installed.txt\n`);
  await x.stream(2 * MiB, textLines('pkg'));
  return tok;
}

describe('disconnects, missing exit status, garbled framing', { concurrency: true }, () => {
  const t = { timeout: 20_000 };
  const HOST = 10_000;

  test('TCP RST in the middle of the stream: protocol/stream at once, no archive', t, async () => {
    const s = await fake({
      exec: async (x) => {
        await midStream(x);
        x.reset();
      },
    });
    const r = await scanFake(s, { hostTimeoutMs: HOST });
    assertFailed(r, 'protocol', 'stream', 'RST mid-stream');
    assert.ok(r.elapsedMs < HOST / 2, `took ${r.elapsedMs} ms: a reset must not wait for the deadline`);
  });

  test('TCP FIN in the middle of the stream (no SSH close): protocol/stream, no archive', t, async () => {
    const s = await fake({
      exec: async (x) => {
        await midStream(x);
        x.disconnect();
      },
    });
    const r = await scanFake(s, { hostTimeoutMs: HOST });
    assertFailed(r, 'protocol', 'stream', 'FIN mid-stream');
    assert.ok(r.elapsedMs < HOST / 2, `took ${r.elapsedMs} ms: a FIN must not wait for the deadline`);
  });

  test('channel closes without exit status before the end record: protocol/stream, no archive', t, async () => {
    const s = await fake({
      exec: async (x) => {
        await midStream(x);
        await x.closeWithoutStatus();
      },
    });
    const r = await scanFake(s, { hostTimeoutMs: HOST });
    assertFailed(r, 'protocol', 'stream', 'no exit status, unfinished');
    assert.match(r.outcome.message, /output ended before the script finished/);
  });

  test('channel closes without exit status after the end record: archive kept, scan.json records exit code null', t, async () => {
    const s = await fake({
      exec: async (x) => {
        await x.write(minimalScan(await x.token()));
        await x.closeWithoutStatus();
      },
    });
    const r = await scanFake(s, { hostTimeoutMs: HOST });
    const a = await archiveOf(r);
    assert.deepEqual(scanJson(a).exit, { code: null });
  });

  test('output complete, then the channel held open (a background process keeps stdout): archive after a short grace, not at the deadline', t, async () => {
    const s = await fake({
      exec: async (x) => {
        await x.write(minimalScan(await x.token()));
        await x.write('trailing bytes after the end record\n');
        await never();
      },
    });
    const r = await scanFake(s, { hostTimeoutMs: HOST });
    const a = await archiveOf(r);
    assert.ok(r.elapsedMs < HOST / 2, `took ${r.elapsedMs.toFixed(0)} ms: a held channel must not cost the deadline and the archive`);
    const sj = scanJson(a);
    assert.equal(sj.exit.code, null);
    assert.ok(sj.noise.trailing > 0);
  });

  test('the script is killed by a signal mid-stream (exit-signal, no status): protocol/stream', t, async () => {
    const s = await fake({
      exec: async (x) => {
        await midStream(x);
        x.channel.exit('KILL', false, '');
        x.channel.end();
        x.channel.close();
      },
    });
    const r = await scanFake(s, { hostTimeoutMs: HOST });
    assertFailed(r, 'protocol', 'stream', 'killed');
  });

  test('garbage instead of an SSH packet after the banner: protocol/handshake', t, async () => {
    const s = await fake({ raw: raw.garbageAfterBanner() });
    const r = await scanFake(s, { hostTimeoutMs: HOST });
    assertFailed(r, 'protocol', 'handshake', 'garbage after banner');
  });

  test('not an SSH server at all (HTTP answer): protocol/handshake', t, async () => {
    const s = await fake({ raw: raw.notSsh() });
    const r = await scanFake(s, { hostTimeoutMs: HOST });
    assertFailed(r, 'protocol', 'handshake', 'not ssh');
  });

  test('banner, then the connection is reset: classified at handshake, retried as transient', t, async () => {
    const s = await fake({ raw: raw.bannerThenReset() });
    const r = await scanFake(s, { hostTimeoutMs: HOST });
    assert.ok(['unreachable', 'protocol'].includes(r.outcome.class), `${r.outcome.class}: ${r.outcome.message}`);
    assert.equal(r.outcome.phase, 'handshake');
    assert.deepEqual(r.files, []);
  });

  test('exec request refused by the server: protocol/exec', t, async () => {
    const s = await fake({ exec: 'reject' });
    const r = await scanFake(s, { hostTimeoutMs: HOST });
    assertFailed(r, 'protocol', 'exec', 'exec refused');
  });

  test('authentication refused: auth', t, async () => {
    const s = await fake({ auth: 'reject' });
    const r = await scanFake(s, { hostTimeoutMs: HOST });
    assertFailed(r, 'auth', 'auth', 'auth refused');
  });

  const garbled: [string, (tok: string) => Buffer, RegExp][] = [
    ['random bytes, never a record', () => randomBytes(256 * 1024), /no probe output at all/],
    ['a record of an unknown type', (tok) => Buffer.concat([facts(tok), rec(tok, 'X', 'boom')]), /unknown record type/],
    ['a begin record without its fields', (tok) => Buffer.concat([facts(tok), rec(tok, 'B', 'release')]), /malformed begin record/],
    ['a record for a probe that does not exist', (tok) => Buffer.concat([facts(tok), entry(tok, 'evil', 'evil/x', 'x'), rec(tok, 'Z')]), /unknown probe "evil"/],
    ['a begin inside an open entry', (tok) => Buffer.concat([facts(tok), Buffer.from(`\n${tok} B release - - release/a\nA`), entry(tok, 'release', 'release/b', 'B'), rec(tok, 'Z')]), /began before the previous one ended/],
    ['an end record without a begin', (tok) => Buffer.concat([facts(tok), rec(tok, 'E', 0), rec(tok, 'Z')]), /end record without an entry/],
    ['the end record inside an entry', (tok) => Buffer.concat([facts(tok), Buffer.from(`\n${tok} B release - - release/a\nA`), rec(tok, 'Z')]), /script ended inside entry/],
    ['a header line of 1 MiB with no newline', (tok) => Buffer.concat([facts(tok), Buffer.from(`\n${tok} I `), Buffer.alloc(MiB, 0x61)]), /record header longer than/],
    ['a malformed warning id', (tok) => Buffer.concat([facts(tok), rec(tok, 'W', '1e3', 'x'), rec(tok, 'Z')]), /malformed warning record/],
  ];
  for (const [name, body, why] of garbled) {
    test(`garbled framing with the real token: ${name} -> protocol/stream`, t, async () => {
      const s = await fake({
        exec: async (x) => {
          await x.write(body(await x.token()));
          await x.finish(0);
        },
      });
      const r = await scanFake(s, { hostTimeoutMs: HOST });
      assertFailed(r, 'protocol', 'stream', name);
      assert.match(r.outcome.message, why);
    });
  }
});

// ---------------------------------------------------------------------------

describe('forged frames and hostile names', { concurrency: true }, () => {
  test('frame headers printed inside a file (any token but the real one) stay content and inject nothing', async () => {
    const other = (hex: string) => `@@OCTO:${hex}@@`;
    const forged = [
      `\n${other('0'.repeat(32))} B release - - release/injected\nEVIL\n${other('0'.repeat(32))} E 0\n`,
      `\n${other('f'.repeat(32))} I fqdn evil.example\n`,
      `\n${other('deadbeef'.repeat(4))} Z\n`,
      `\n@@OCTO:@@ B meminfo - - proc/meminfo\n`,
      `\n@@OCTO: B release - - release/x\n`,
      `\n${other('0'.repeat(31))} E 0\n`,
    ].join('');
    let realToken = '';
    const s = await fake({
      exec: async (x) => {
        const tok = (realToken = await x.token());
        const nearMiss = `\n${tok.slice(0, -3)}X@@ B release - - release/near-miss\nNEAR\n`;
        const body = Buffer.from(`NAME=evil\n${forged}${nearMiss}\nlast line without newline`);
        await x.write(facts(tok));
        // The file body is written in 7-byte pieces so every delimiter candidate is split across chunks.
        await x.write(`\n${tok} B release 1700000000 - release/os-release\n`);
        for (let i = 0; i < body.length; i += 7) await x.write(body.subarray(i, i + 7));
        await x.write(rec(tok, 'E', 0));
        await x.write(entry(tok, 'meminfo', 'proc/meminfo', 'MemTotal: 1 kB\n'));
        await x.write(rec(tok, 'Z'));
        await x.finish(0);
      },
    });
    const r = await scanFake(s);
    const a = await archiveOf(r);
    assert.deepEqual(a.entries.map((e) => e.name).sort(), ['octoscan-remote/scan.json', 'octoscan.xml', 'proc/meminfo', 'release/os-release']);
    const content = a.get('release/os-release')!.toString();
    assert.ok(content.startsWith(`NAME=evil\n${forged}`), 'the forged records are kept as file content, byte for byte');
    assert.ok(content.endsWith('\nlast line without newline'));
    assert.equal(a.get('proc/meminfo')!.toString(), 'MemTotal: 1 kB\n');
    assert.doesNotMatch(a.get('octoscan.xml')!.toString(), /evil\.example/);
    assert.ok(!a.entries.some((e) => e.data.includes(realToken)), 'the real token is in no entry');
  });

  test('a compromised target with the real token: every name stays under <uuid>/, nothing overwrites anything', async () => {
    const names: [string, string | Buffer, string][] = [
      // [probe, announced name, content]
      ['release', 'release/os-release', 'FIRST\n'],
      ['release', 'release/os-release', 'SECOND (must be dropped)\n'],
      ['release-version', 'release/os-release', 'THIRD (must be dropped)\n'],
      ['release', 'release/../../../etc/cron.d/evil', 'dotdot\n'],
      ['release', 'release/..', 'dotdot-only\n'],
      ['release', 'release/.', 'dot-only\n'],
      ['release', 'release/', 'empty name\n'],
      ['release', '/etc/passwd', 'absolute\n'],
      ['release', '../octoscan.xml', 'relative escape\n'],
      ['release', Buffer.concat([Buffer.from('release/nul'), Buffer.from([0]), Buffer.from('byte')]), 'nul\n'],
      ['release', Buffer.concat([Buffer.from('release/'), Buffer.from([0xff, 0xfe, 0xc3, 0x28]), Buffer.from('-release')]), 'invalid utf-8\n'],
      ['release', 'release/back\\slash', 'backslash\n'],
      ['release', 'release/C:\\Windows\\evil', 'drive\n'],
      ['release', 'release/%2E%2E', 'literal percent\n'],
      ['release', `release/${'L'.repeat(4000)}`, 'long\n'],
      ['release', 'release/ü-release', 'utf-8\n'],
      ['meminfo', 'octoscan.xml', 'fixed entry renamed\n'],
      ['meminfo', 'proc/meminfo', 'MemTotal: 1 kB\n'],
      ['ps', 'dpkg/installed.txt', 'wrong probe for this entry\n'],
      ['java-dynamic', 'java/dynamic/1/../../../octoscan.xml', 'builtin escape\n'],
      ['java-dynamic', 'java/dynamic/1/version', 'JVM one\n'],
      ['java-dynamic', 'java/dynamic/1/version', 'JVM one again (dropped)\n'],
      ['hyperv', 'hyperv/.kvp_pool_0', 'pool\n'],
    ];
    const s = await fake({
      exec: async (x) => {
        const tok = await x.token();
        await x.write(facts(tok));
        for (const [probe, name, body] of names) await x.write(entry(tok, probe, name, body, probe === 'hyperv' ? { mode: '4777' } : {}));
        await x.write(rec(tok, 'Z'));
        await x.finish(0);
      },
    });
    const r = await scanFake(s);
    const a = await archiveOf(r); // checks: all under <uuid>/, no '.', '..' or empty segment, printable, unique
    const got = new Map(a.entries.map((e) => [e.name, e.data.toString('latin1')]));
    const L = 'L'.repeat(4000);
    assert.deepEqual([...got.keys()].sort(), [
      'hyperv/.kvp_pool_0',
      'java/dynamic/1/version',
      'octoscan-remote/scan.json',
      'octoscan.xml',
      'proc/meminfo',
      'release/%2E',
      'release/%2E%2E',
      'release/%252E%252E',
      'release/%C3%BC-release',
      'release/%FF%FE%C3%28-release',
      'release/..%2F..%2F..%2Fetc%2Fcron.d%2Fevil',
      'release/C%3A%5CWindows%5Cevil',
      'release/back%5Cslash',
      `release/${L}`,
      'release/nul%00byte',
      'release/os-release',
    ].sort());
    assert.equal(got.get('release/os-release'), 'FIRST\n', 'a second announcement of a name never replaces the first');
    assert.equal(got.get('java/dynamic/1/version'), 'JVM one\n');
    assert.equal(got.get('release/%2E%2E'), 'dotdot-only\n');
    assert.equal(got.get('proc/meminfo'), 'MemTotal: 1 kB\n');
    const xml = got.get('octoscan.xml')!;
    assert.match(xml, /^<\?xml version="1\.0" encoding="utf-8"\?>\n<octoscan uuid="/, 'octoscan.xml is the controller\'s own');
    assert.doesNotMatch(xml, /fixed entry renamed/);
    const refused = (xml.match(/<warning id="9001"/g) ?? []).length;
    assert.equal(refused, 9, `${refused} names refused or dropped with a warning:\n${xml}`);
    const pool = a.entries.find((e) => e.name === 'hyperv/.kvp_pool_0')!;
    assert.equal(pool.mode & 0o7000, 0, `no setuid/setgid/sticky bit from the target in the archive (mode ${pool.mode.toString(8)})`);
    // Unpacked anywhere, every path stays inside the folder it is unpacked into.
    for (const e of a.entries) {
      const dest = path.resolve('/import', a.uuid, e.name);
      assert.ok(dest.startsWith(`/import/${a.uuid}/`), dest);
    }
  });
});

// ---------------------------------------------------------------------------
// A strict reader for the XML subset octoscan.xml uses (declaration, elements,
// attributes): fails on anything XML 1.0 does not allow, and applies XML's
// attribute-value normalisation, so "parses back to the same text" means what
// a conforming parser would say.

interface XEl {
  name: string;
  attrs: Record<string, string>;
  children: XEl[];
}

function isXmlChar(cp: number): boolean {
  return cp === 9 || cp === 10 || cp === 13 || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
}

function parseXmlStrict(doc: string): XEl {
  for (const ch of doc) if (!isXmlChar(ch.codePointAt(0)!)) throw new Error(`character U+${ch.codePointAt(0)!.toString(16)} is not allowed in XML 1.0`);
  const src = doc.replace(/\r\n?/g, '\n'); // end-of-line handling (XML 1.0 section 2.11)
  let i = 0;
  const fail = (m: string): never => {
    throw new Error(`${m} at ${i}: ${JSON.stringify(src.slice(i, i + 60))}`);
  };
  const ws = () => {
    while (/[ \t\n]/.test(src[i] ?? '')) i++;
  };
  const name = () => {
    const m = /^[A-Za-z_][A-Za-z0-9._-]*/.exec(src.slice(i));
    if (!m) fail('name expected');
    i += m![0].length;
    return m![0];
  };
  const decl = /^<\?xml version="1\.0" encoding="utf-8" ?\?>/.exec(src);
  if (!decl) fail('XML declaration expected');
  i = decl![0].length;
  const element = (): XEl => {
    if (src[i] !== '<') fail('"<" expected');
    i++;
    const el: XEl = { name: name(), attrs: {}, children: [] };
    for (;;) {
      const before = i;
      ws();
      if (src.startsWith('/>', i)) {
        i += 2;
        return el;
      }
      if (src[i] === '>') {
        i++;
        break;
      }
      if (i === before) fail('whitespace expected before an attribute');
      const an = name();
      ws();
      if (src[i] !== '=') fail('"=" expected');
      i++;
      ws();
      const q = src[i];
      if (q !== '"' && q !== "'") fail('quote expected');
      i++;
      let v = '';
      while (src[i] !== q) {
        const c = src[i];
        if (c === undefined) fail('unterminated attribute value');
        if (c === '<') fail('"<" in an attribute value');
        if (c === '&') {
          const m = /^&(lt|gt|amp|apos|quot|#[0-9]+|#x[0-9a-fA-F]+);/.exec(src.slice(i));
          if (!m) fail('bad reference');
          const ref = m![1];
          const named: Record<string, string> = { lt: '<', gt: '>', amp: '&', apos: "'", quot: '"' };
          if (named[ref]) v += named[ref];
          else {
            const cp = ref.startsWith('#x') ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
            if (!isXmlChar(cp)) fail('reference to a character XML does not allow');
            v += String.fromCodePoint(cp);
          }
          i += m![0].length;
          continue;
        }
        v += c === '\t' || c === '\n' ? ' ' : c; // attribute-value normalisation
        i++;
      }
      i++;
      if (an in el.attrs) fail(`duplicate attribute ${an}`);
      el.attrs[an] = v;
    }
    for (;;) {
      ws();
      if (src.startsWith('</', i)) {
        i += 2;
        if (name() !== el.name) fail('mismatched end tag');
        ws();
        if (src[i] !== '>') fail('">" expected');
        i++;
        return el;
      }
      if (src[i] !== '<') fail('only elements are expected as content');
      el.children.push(element());
    }
  };
  ws();
  const root = element();
  ws();
  if (i !== src.length) fail('content after the root element');
  return root;
}

/** Python's expat (a conforming parser) as a second opinion, when python3 exists. */
function expatAttributes(xml: string): Record<string, string>[] | undefined {
  const py = spawnSync('python3', ['-c', [
    'import sys, json, xml.parsers.expat',
    'out = []',
    'p = xml.parsers.expat.ParserCreate()',
    'p.StartElementHandler = lambda n, a: out.append(dict(a, __name__=n))',
    'p.Parse(sys.stdin.buffer.read(), True)',
    'print(json.dumps(out))',
  ].join('\n')], { input: xml, encoding: 'utf8' });
  if (py.error) return undefined;
  if (py.status !== 0) throw new Error(`expat rejects octoscan.xml: ${py.stderr}`);
  return JSON.parse(py.stdout);
}

const NOT_XML = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

describe('values from the target and the hosts file in octoscan.xml', () => {
  test('<, &, quotes, tabs, newlines and control characters: well formed, and each value parses back to the same text', async () => {
    const nasty = `a<b>c&d&amp;e"f'g\th\ri]]>j\x01k\x1fl\x7fm\u0085n\uFFFEo`;
    const fqdn = `host${nasty}`;
    const login = `user"/><injected a="1`;
    const warning = `cannot read /etc/<x>&"y": ${nasty}`;
    const tag = `tag ${nasty}\nsecond line\r\n\uD800 lone surrogate \u{1F600}`;
    const s = await fake({
      exec: async (x) => {
        const tok = await x.token();
        // Record values cannot hold a newline (it ends the record); everything else goes through as is.
        await x.write(facts(tok, { fqdn, login, 'uname-r': `6.1<&>"'` }));
        await x.write(rec(tok, 'W', 1002, warning));
        await x.write(Buffer.concat([Buffer.from(`\n${tok} W 1003 bad utf-8 `), Buffer.from([0xff, 0xc3, 0x28]), Buffer.from('\n')]));
        await x.write(rec(tok, 'Z'));
        await x.finish(0);
      },
    });
    const r = await scanFake(s, { spec: { tag } });
    const a = await archiveOf(r);
    const xml = a.get('octoscan.xml')!.toString('utf8');
    const root = parseXmlStrict(xml);
    const want = (v: string) => v.replace(NOT_XML, '\uFFFD');
    assert.equal(root.name, 'octoscan');
    assert.equal(root.attrs.fqdn, want(fqdn));
    assert.equal(root.attrs.uuid, a.uuid);
    const info = (el: XEl, n: string) => el.children.find((c) => c.name === 'info' && c.attrs.name === n)?.attrs.value;
    const user = root.children.find((c) => c.name === 'user')!;
    assert.equal(info(user, 'login'), login);
    const conf = root.children.find((c) => c.name === 'configuration')!;
    assert.equal(info(conf, 'tag'), want(tag));
    const warnings = root.children.filter((c) => c.name === 'warning').map((w) => w.attrs.message);
    assert.deepEqual(warnings, [want(warning), 'bad utf-8 \uFFFD\uFFFD(']);
    assert.equal(root.children.filter((c) => c.name === 'injected').length, 0);
    const expat = expatAttributes(xml);
    if (expat) {
      assert.equal(expat[0].fqdn, want(fqdn));
      assert.equal(expat.find((e) => e.__name__ === 'info' && e.name === 'tag')!.value, want(tag));
      assert.deepEqual(expat.filter((e) => e.__name__ === 'warning').map((e) => e.message), warnings);
    }
  });
});

// ---------------------------------------------------------------------------

const sshdSkip = sshdAvailable();
if (sshdSkip) console.error(`\n*** SKIPPING real-sshd hostile tests: ${sshdSkip} ***\n`);

/** Writes a file into a test user's home, owned by the user. */
function userFile(u: TestUser, rel: string, text: string): void {
  const p = path.join(u.home, rel);
  mkdirSync(path.dirname(p), { recursive: true });
  writeFileSync(p, text);
  execFileSync('chown', ['-R', `${u.uid}:${u.gid}`, path.join(u.home, rel.split('/')[0])]);
}

const JUNK_FRAME = '\\n@@OCTO:00000000000000000000000000000000@@ B release - - release/junk\\n';

describe('login shells that print junk, tcsh and fish, PATH without /usr/sbin, odd LANG (real sshd)', { skip: sshdSkip }, () => {
  const shells: { user: string; shell: string; rc: string; text: string }[] = [
    {
      user: 'octoscan-noisy',
      shell: '/bin/bash',
      rc: '.bashrc',
      text: [
        'echo "Welcome to $(hostname)! Last login: yesterday (motd-like junk)"',
        'printf "junk without a newline"',
        `printf '${JUNK_FRAME}'`,
        'echo "junk on stderr" >&2',
        'export PATH=/nonexistent/bin',
        'export LANG=tr_TR.ISO-8859-9 LC_ALL=xx_XX.bogus LC_CTYPE=garbage',
        '',
      ].join('\n'),
    },
    {
      user: 'octoscan-tcsh',
      shell: '/usr/bin/tcsh',
      rc: '.tcshrc',
      text: ['echo "tcsh says hello"', `printf '${JUNK_FRAME}'`, 'setenv PATH /nonexistent/bin', 'setenv LANG xx_XX.bogus', 'setenv LC_ALL tr_TR.ISO-8859-9', ''].join('\n'),
    },
    {
      user: 'octoscan-fish',
      shell: '/usr/bin/fish',
      rc: '.config/fish/config.fish',
      text: ['echo "fish says hello"', `printf '${JUNK_FRAME}'`, 'set -gx PATH /nonexistent/bin', 'set -gx LANG xx_XX.bogus', 'set -gx LC_ALL tr_TR.ISO-8859-9', ''].join('\n'),
    },
  ];
  let sshd: Sshd | undefined;
  const users = new Map<string, TestUser>();
  let knownHosts = '';

  after(async () => {
    await sshd?.stop();
  });

  const results = new Map<string, Run>();
  const scanAs = async (shell: string): Promise<Run> => {
    if (!sshd) {
      const workdir = freshDir('sshd');
      const banner = path.join(workdir, 'banner');
      writeFileSync(banner, `Authorized use only\n${JUNK_FRAME.replace(/\\n/g, '\n')}\n`);
      for (const s of shells) {
        if (!existsSync(s.shell)) continue;
        const u = await createTestUser(s.user, { shell: s.shell });
        userFile(u, s.rc, s.text);
        users.set(s.shell, u);
      }
      sshd = await startSshd({
        users: [...users.values()],
        // A pre-authentication banner, and an environment sshd itself sets for every session.
        extraConfig: `Banner ${banner}\nSetEnv LANG=de_DE.bogus LC_ALL=ja_JP.SJIS`,
      });
      knownHosts = path.join(workdir, 'known_hosts');
      await sshd.writeKnownHosts(knownHosts);
    }
    const u = users.get(shell);
    assert.ok(u, `no user for ${shell}`);
    const r = await scanFake({ host: '127.0.0.1', port: sshd.port }, { knownHosts, spec: { user: u.name, identities: [u.keyPath] }, hostTimeoutMs: 60_000 });
    results.set(shell, r);
    return r;
  };

  for (const s of shells) {
    test(`${s.shell} login shell with junk in ${s.rc}: complete archive, junk counted as noise, nothing injected`, { timeout: 90_000 }, async (ctx) => {
      if (!existsSync(s.shell)) return ctx.skip(`${s.shell} not installed (apt-get install ${path.basename(s.shell)})`);
      const r = await scanAs(s.shell);
      const a = await archiveOf(r);
      const names = a.entries.map((e) => e.name);
      for (const want of ['release/os-release', 'proc/cpuinfo', 'proc/meminfo', 'dpkg/installed.txt', 'cmd/ps_ef']) {
        assert.ok(names.includes(want), `${want} missing: ${names.join(', ')}`);
      }
      // ip lives in /usr/sbin or /sbin on many systems; the prelude's PATH finds it although the login shell hid it.
      assert.ok(names.includes('cmd/ip_addr'), `cmd/ip_addr missing although PATH had no /usr/sbin: ${names.join(', ')}`);
      assert.ok(!names.some((n) => n.includes('junk')), 'the forged record in the login junk is not an entry');
      const sj = scanJson(a);
      assert.ok(sj.noise.preamble > 0, 'the junk before the script is counted as preamble noise');
      const xml = parseXmlStrict(a.get('octoscan.xml')!.toString());
      const login = xml.children.find((c) => c.name === 'user')!.children.find((c) => c.attrs.name === 'login')!.attrs.value;
      assert.equal(login, users.get(s.shell)!.name);
      assert.ok(!a.get('cmd/ps_ef')!.includes('@@OCTO:'), 'the frame token is never in a process argv');
      // dpkg output must not be translated or mangled by the odd locale.
      assert.match(a.get('dpkg/installed.txt')!.toString(), /^bash\t\S+\t\S+\t/m);
    });
  }

  test('every shell gives the same package list', async (ctx) => {
    if (results.size < 2) return ctx.skip('fewer than two shells scanned');
    const dpkg = await Promise.all([...results.values()].map(async (r) => (await archiveOf(r)).get('dpkg/installed.txt')!.toString()));
    for (const d of dpkg) assert.equal(d, dpkg[0]);
  });
});

// ---------------------------------------------------------------------------

const mountSkip = process.getuid?.() !== 0 ? 'needs root to mount a small tmpfs' : undefined;
const cliPath = fileURLToPath(new URL('../../bin/octoscan-remote.js', import.meta.url));
const cliSkip = existsSync(fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url))) ? undefined : 'dist/ not built (npm run build)';

function mountTmpfs(size: string): string {
  const dir = freshDir('tmpfs');
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0755`, 'octoscan-hostile', dir]);
  return dir;
}

function unmount(dir: string): void {
  spawnSync('umount', ['-l', dir]);
}

/** Every file that matches the import pattern is a complete, readable archive; returns the others. */
async function checkFolder(dir: string): Promise<{ archives: string[]; others: string[] }> {
  const archives: string[] = [];
  const others: string[] = [];
  for (const f of readdirSync(dir)) {
    if (IMPORT_PATTERN.test(f)) {
      await readArchive(path.join(dir, f)); // throws on anything incomplete
      archives.push(f);
    } else others.push(f);
  }
  return { archives, others };
}

function runCli(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A healthy target whose dpkg list is `size` random (incompressible) bytes. */
function bigTarget(size: number): FakeSshOptions {
  return {
    exec: async (x) => {
      const tok = await x.token();
      await x.write(facts(tok));
      await x.write(`\n${tok} B dpkg - - dpkg/installed.txt\n`);
      await x.stream(size, randomBytes(64 * 1024));
      await x.write(rec(tok, 'E', 0));
      await x.write(rec(tok, 'Z'));
      await x.finish(0);
    },
  };
}

describe('the output folder fills up, turns read-only, or the controller is SIGKILLed', () => {
  test('ENOSPC at every stage (spill, zip, finalize): a complete archive or nothing, and no temporary left', { skip: mountSkip, timeout: 60_000 }, async () => {
    const dir = mountTmpfs('2m');
    try {
      const outcomes: string[] = [];
      for (const size of [0.4, 0.9, 1.3, 1.7, 1.95, 2.5, 8].map((m) => Math.round(m * MiB))) {
        const s = await fake(bigTarget(size));
        const r = await scanFake(s, { out: dir });
        const { archives, others } = await checkFolder(dir);
        assert.deepEqual(others, [], `${size} bytes: temporaries left behind: ${others.join(', ')}`);
        if (r.outcome.class === 'ok') {
          assert.equal(archives.length, 1);
          const a = await readArchive(path.join(dir, archives[0]));
          assert.equal(a.get('dpkg/installed.txt')!.length, size);
        } else {
          assert.deepEqual(archives, [], `${size} bytes failed (${r.outcome.message}) but left an archive`);
          assert.match(r.outcome.message, /ENOSPC|no space left/i);
        }
        outcomes.push(`${size}:${r.outcome.class}`);
        for (const f of archives) rmSync(path.join(dir, f));
      }
      assert.ok(outcomes.some((o) => o.endsWith(':ok')), `no size fitted: ${outcomes.join(' ')}`);
      assert.ok(outcomes.filter((o) => !o.endsWith(':ok')).length >= 3, `too few sizes ran out of space: ${outcomes.join(' ')}`);
      // Space is back after the failures: nothing was leaked.
      const r = await scanFake(await fake({}), { out: dir });
      await archiveOf(r);
    } finally {
      unmount(dir);
    }
  });

  test('read-only output folder: the host fails, nothing is written', { skip: mountSkip, timeout: 30_000 }, async () => {
    const dir = mountTmpfs('1m');
    try {
      execFileSync('mount', ['-o', 'remount,ro', dir]);
      const r = await scanFake(await fake({}), { out: dir });
      assert.notEqual(r.outcome.class, 'ok');
      assert.match(r.outcome.message, /EROFS|read-only/i);
      assert.deepEqual(readdirSync(dir), []);
    } finally {
      unmount(dir);
    }
  });

  test('controller SIGKILLed mid-write, again and again: no file matching the import pattern is ever incomplete', { skip: cliSkip, timeout: 90_000 }, async () => {
    const out = freshDir('killed');
    const kh = path.join(freshDir('kh'), 'known_hosts');
    const targets = await Promise.all(Array.from({ length: 6 }, (_, i) => fake(bigTarget((1 + i) * MiB))));
    writeFileSync(kh, targets.map((t) => t.knownHostsLine).join('\n') + '\n');
    const args = [cliPath, '-o', out, '--known-hosts', kh, '-i', clientKeyFile(), '-l', 'scan', '-j', '2', '--no-progress', '--retries', '0', ...targets.map((t) => `127.0.0.1:${t.port}`)];
    const verified = new Set<string>();
    const watch = async (): Promise<void> => {
      for (const f of readdirSync(out)) {
        if (!IMPORT_PATTERN.test(f) || verified.has(f)) continue;
        await readArchive(path.join(out, f)); // the moment it has its name, it is complete
        verified.add(f);
      }
    };
    // Kill at different moments: the first temporary file, the first spill, the first and third archives.
    const archivesIn = (n: string[]) => n.filter((f) => IMPORT_PATTERN.test(f)).length;
    const triggers: [string, (names: string[], before: number) => boolean][] = [
      ['first partial archive', (n) => n.some((f) => f.endsWith('.partial'))],
      ['first spill file', (n) => n.some((f) => f.endsWith('.spill'))],
      ['first archive', (n, before) => archivesIn(n) >= before + 1],
      ['third archive', (n, before) => archivesIn(n) >= before + 3],
    ];
    for (const [what, fire] of triggers) {
      const before = archivesIn(readdirSync(out));
      const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
      let killed = false;
      let done = false;
      void exited.then(() => (done = true));
      const t0 = Date.now();
      while (!done && Date.now() - t0 < 30_000) {
        const names = readdirSync(out);
        if (!killed && fire(names, before)) {
          child.kill('SIGKILL');
          killed = true;
        }
        await watch();
        await sleep(2);
      }
      await exited;
      await watch();
      assert.ok(killed, `${what}: the run ended before it could be killed:\n${stderr}`);
      await checkFolder(out);
    }
    // The next run removes what the killed runs left, and adds its own complete archive.
    // (Asynchronously: the fake servers live in this process.)
    const next = await runCli([cliPath, '-o', out, '--known-hosts', kh, '-i', clientKeyFile(), '-l', 'scan', '--no-progress', `127.0.0.1:${targets[0].port}`]);
    assert.equal(next.code, 0, next.stderr);
    assert.match(next.stderr, /removed \d+ temporary file\(s\) left by an interrupted run/);
    const { archives, others } = await checkFolder(out);
    assert.deepEqual(others, [], `stray files after the next run: ${others.join(', ')}`);
    assert.ok(archives.length >= 2, `archives: ${archives.join(', ')}`);
    if (readdirSync(out).length !== archives.length) assert.fail('unexpected files');
  });
});

// ---------------------------------------------------------------------------

describe('a 50-host sweep, 25 of them faulty in 25 different ways', () => {
  test('ends within the per-host deadline plus a small margin: 25 complete archives, 25 classified failures, no stray files', { timeout: 60_000 }, async () => {
    const CONNECT = 1500;
    const AUTH = 1500;
    const HOST = 5000;
    const SWEEP_MARGIN = 2000;
    const trickle = async (x: import('../helpers/fake-ssh-server.js').FakeExec) => {
      // Endless, but paced, so this one host does not starve the other 49 of CPU in this process.
      const tok = await x.token();
      await x.write(facts(tok));
      await x.write(`\n${tok} B cpuinfo - - proc/cpuinfo\n`);
      const z = Buffer.alloc(64 * 1024);
      while (!x.isClosed) {
        await x.write(z);
        await sleep(5);
      }
    };
    const answer = (body: (tok: string) => Buffer) => async (x: import('../helpers/fake-ssh-server.js').FakeExec) => {
      await x.write(body(await x.token()));
      await x.finish(0);
    };
    const faulty: { name: string; opts: FakeSshOptions; cls: HostOutcome['class']; phase: HostOutcome['phase']; keyLine?: 'other' | 'none' }[] = [
      { name: 'no banner', opts: { raw: raw.silent() }, cls: 'timeout', phase: 'handshake' },
      { name: 'banner then silence', opts: { raw: raw.bannerThenSilence() }, cls: 'timeout', phase: 'handshake' },
      { name: 'kex stall', opts: { raw: raw.kexStall() }, cls: 'timeout', phase: 'handshake' },
      { name: 'auth stall', opts: { auth: 'stall' }, cls: 'timeout', phase: 'auth' },
      { name: 'auth refused', opts: { auth: 'reject' }, cls: 'auth', phase: 'auth' },
      { name: 'exec stall', opts: { exec: 'stall' }, cls: 'timeout', phase: 'exec' },
      { name: 'exec refused', opts: { exec: 'reject' }, cls: 'protocol', phase: 'exec' },
      { name: 'no output', opts: { exec: () => never() }, cls: 'timeout', phase: 'stream' },
      { name: 'half output', opts: { exec: async (x) => { await midStream(x); await never(); } }, cls: 'timeout', phase: 'stream' },
      { name: 'endless output', opts: { exec: trickle }, cls: 'timeout', phase: 'stream' },
      { name: 'RST mid-stream', opts: { exec: async (x) => { await midStream(x); x.reset(); } }, cls: 'protocol', phase: 'stream' },
      { name: 'FIN mid-stream', opts: { exec: async (x) => { await midStream(x); x.disconnect(); } }, cls: 'protocol', phase: 'stream' },
      { name: 'closed without status', opts: { exec: async (x) => { await midStream(x); await x.closeWithoutStatus(); } }, cls: 'protocol', phase: 'stream' },
      { name: 'killed by a signal', opts: { exec: async (x) => { await midStream(x); x.channel.exit('KILL', false, ''); x.channel.end(); x.channel.close(); } }, cls: 'protocol', phase: 'stream' },
      { name: 'garbage after banner', opts: { raw: raw.garbageAfterBanner() }, cls: 'protocol', phase: 'handshake' },
      { name: 'not SSH', opts: { raw: raw.notSsh() }, cls: 'protocol', phase: 'handshake' },
      { name: 'random bytes', opts: { exec: answer(() => randomBytes(64 * 1024)) }, cls: 'protocol', phase: 'stream' },
      { name: 'unknown record', opts: { exec: answer((tok) => Buffer.concat([facts(tok), rec(tok, 'Q')])) }, cls: 'protocol', phase: 'stream' },
      { name: 'unknown probe', opts: { exec: answer((tok) => Buffer.concat([facts(tok), entry(tok, 'nope', 'x', 'y'), rec(tok, 'Z')])) }, cls: 'protocol', phase: 'stream' },
      { name: 'endless header', opts: { exec: answer((tok) => Buffer.concat([facts(tok), Buffer.from(`\n${tok} I x `), Buffer.alloc(200 * 1024, 0x41)])) }, cls: 'protocol', phase: 'stream' },
      { name: 'end inside an entry', opts: { exec: answer((tok) => Buffer.concat([facts(tok), Buffer.from(`\n${tok} B release - - release/a\nA`), rec(tok, 'Z')])) }, cls: 'protocol', phase: 'stream' },
      { name: 'host key changed', opts: { hostKey: otherHostKey().private }, cls: 'hostkey-changed', phase: 'handshake', keyLine: 'other' },
      { name: 'host key unknown', opts: {}, cls: 'hostkey-unknown', phase: 'handshake', keyLine: 'none' },
      { name: 'connection refused', opts: {}, cls: 'unreachable', phase: 'connect' },
      { name: 'unsupported OS', opts: { exec: answer((tok) => Buffer.concat([facts(tok, { os: 'Plan9' }), rec(tok, 'I', 'unsupported', 'Plan9'), rec(tok, 'Z')])) }, cls: 'unsupported', phase: 'stream' },
    ];
    assert.equal(faulty.length, 25);
    assert.equal(new Set(faulty.map((f) => f.name)).size, 25);

    // Good hosts are not all alike either: noise before the script, forged content, no exit status after the end.
    const good: ((i: number) => FakeSshOptions)[] = [
      () => ({}),
      () => ({ exec: async (x) => { await x.write('Last login: never\nmotd junk\n'); await x.write(minimalScan(await x.token())); await x.finish(0); } }),
      () => ({ exec: async (x) => { const t = await x.token(); await x.write(minimalScan(t, [entry(t, 'version', 'proc/version', `\n@@OCTO:${'0'.repeat(32)}@@ B release - - release/evil\n`)])); await x.finish(0); } }),
      () => ({ exec: async (x) => { await x.write(minimalScan(await x.token())); await x.closeWithoutStatus(); } }),
      () => ({ exec: async (x) => { await x.write(minimalScan(await x.token())); await x.finish(3); } }),
    ];

    const known: string[] = [];
    const specs: HostSpec[] = [];
    const expect = new Map<string, { cls: HostOutcome['class']; phase?: HostOutcome['phase']; name: string }>();
    const addr = (i: number) => `127.0.2.${i + 1}`;
    for (let i = 0; i < 50; i++) {
      const isFaulty = i % 2 === 1;
      const f = isFaulty ? faulty[(i - 1) / 2] : undefined;
      let target: { host: string; port: number; knownHostsLine: string };
      if (f?.name === 'connection refused') {
        const probe = await fake({ address: addr(i) });
        target = { host: probe.host, port: probe.port, knownHostsLine: probe.knownHostsLine };
        await probe.close(); // nothing listens there any more
      } else {
        target = await fake({ ...(f ? f.opts : good[(i / 2) % good.length](i)), address: addr(i) });
      }
      if (f?.keyLine === 'other') known.push(`[${target.host}]:${target.port} ${fixtureHostKey().public}`);
      else if (f?.keyLine !== 'none') known.push(target.knownHostsLine);
      specs.push(hostSpec(target, { tag: `host-${i}` }));
      expect.set(`host-${i}`, f ? { cls: f.cls, phase: f.phase, name: f.name } : { cls: 'ok', name: 'good' });
    }
    const kh = path.join(freshDir('kh'), 'known_hosts');
    const khText = known.join('\n') + '\n';
    writeFileSync(kh, khText);
    const out = freshDir('sweep');
    const warnings: string[] = [];
    const settings = scanSettings(out, { knownHosts: kh, connectTimeoutMs: CONNECT, authTimeoutMs: AUTH, hostTimeoutMs: HOST, warnings });

    const t0 = performance.now();
    const outcomes = await sweep(specs, settings, { parallel: 50, retries: 0, retryDelayMs: 100 });
    const elapsed = performance.now() - t0;

    assert.equal(outcomes.length, 50);
    const wrong: string[] = [];
    for (const o of outcomes) {
      const e = expect.get(o.spec.tag)!;
      if (o.class !== e.cls || (e.phase && o.phase !== e.phase)) wrong.push(`${e.name} (${o.spec.tag}): expected ${e.cls}/${e.phase ?? '-'}, got ${o.class}/${o.phase}: ${o.message}`);
    }
    assert.deepEqual(wrong, [], wrong.join('\n'));
    const ok = outcomes.filter((o) => o.class === 'ok');
    assert.equal(ok.length, 25);
    assert.equal(outcomes.filter((o) => o.class !== 'ok' && !o.archive).length, 25);
    const files = readdirSync(out).sort();
    assert.deepEqual(files, ok.map((o) => path.basename(o.archive!)).sort(), 'the folder holds the 25 archives and nothing else');
    for (const f of files) {
      const a = await readArchive(path.join(out, f));
      assert.equal(a.get('release/os-release')?.toString(), 'PRETTY_NAME="Fake GNU/Linux 12"\nID=fake\n');
      assert.ok(!a.entries.some((e) => e.name.includes('evil')));
    }
    assert.equal(readFileSync(kh, 'utf8'), khText, 'strict policy: known_hosts untouched');
    assert.ok(elapsed <= HOST + SWEEP_MARGIN, `the sweep took ${elapsed.toFixed(0)} ms; per-host deadline ${HOST} ms + ${SWEEP_MARGIN} ms`);
  });
});
