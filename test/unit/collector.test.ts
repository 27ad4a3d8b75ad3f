// The Collector (src/scan/collector.ts) driven with synthetic frame streams
// (same record syntax as the probe script) into a real ArchiveWriter, read
// back with an independent zip reader.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ArchiveWriter, tempName } from '../../src/archive/archive-writer.js';
import { FrameError } from '../../src/probe/frames.js';
import type { Probe } from '../../src/probe/probe.js';
import { Collector, type Collected } from '../../src/scan/collector.js';
import { REDACTED_VALUE, type JavaEnvironMode } from '../../src/scan/java-environ.js';
import { linuxProbes } from '../../targets/index.js';
import { readZip, type ZipEntryInfo } from '../helpers/zip.js';

const TOKEN = '@@OCTO:0f1e2d3c4b5a69788796a5b4c3d2e1f0@@';
const rec = (fields: string): Buffer => Buffer.from(`\n${TOKEN} ${fields}\n`, 'latin1');

/** Small-cap probes of every kind, besides the real Linux list. */
const testProbes: Probe[] = [
  { id: 't-cmd', kind: 'command', entry: 'cmd/t_cmd', argv: ['tcmd', '-x'], cap: 10 },
  { id: 't-file', kind: 'file', entry: 't/file', paths: ['/t/file'], cap: 10 },
  { id: 't-glob', kind: 'glob', entryDir: 't/glob', pattern: '/t/glob/*', cap: 10 },
];
const PROBES = [...linuxProbes, ...testProbes];

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'octoscan-collector-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

interface Outcome {
  collected: Collected;
  zip: Map<string, ZipEntryInfo>;
  uuid: string;
  dir: string;
  /** entries by name below <uuid>/ */
  entry: (name: string) => ZipEntryInfo | undefined;
  names: string[];
}

interface RunOptions {
  hostCap?: number;
  chunk?: number;
  now?: () => number;
  /** Called after each pushed chunk (to look at the folder mid-stream). */
  onChunk?: (dir: string, index: number) => void | Promise<void>;
  javaEnviron?: JavaEnvironMode;
}

/** Feeds `parts` (ending with Z unless the test says otherwise) and commits the archive. */
async function collect(parts: Buffer[], opts: RunOptions = {}): Promise<Outcome> {
  const dir = await mkdtemp(join(root, 'out-'));
  const uuid = randomUUID();
  const writer = await ArchiveWriter.create(dir, uuid);
  let spills = 0;
  const collector = new Collector({
    token: TOKEN,
    probes: PROBES,
    writer,
    hostCap: opts.hostCap,
    spillPath: () => join(dir, tempName(uuid, 'spill', ++spills)),
    now: opts.now ?? (() => 1_700_000_000_000),
    javaEnviron: opts.javaEnviron,
  });
  const all = Buffer.concat(parts);
  const size = opts.chunk ?? all.length;
  try {
    let i = 0;
    for (let at = 0; at < all.length; at += size, i++) {
      await collector.push(all.subarray(at, at + size));
      await opts.onChunk?.(dir, i);
    }
    const collected = await collector.end();
    const { path } = await writer.commit('scal');
    const zip = await readZip(path);
    const prefix = `${uuid}/`;
    for (const name of zip.keys()) assert.ok(name.startsWith(prefix), `entry outside the uuid folder: ${name}`);
    return {
      collected, zip, uuid, dir,
      entry: (name) => zip.get(`${prefix}${name}`),
      names: [...zip.keys()].map((n) => n.slice(prefix.length)),
    };
  } catch (err) {
    await collector.dispose();
    await writer.abort();
    throw err;
  }
}

const Z = rec('Z');
const facts = [rec('I os Linux'), rec('I epoch 1700000000'), rec('I tz +0000')];

describe('Collector: entry caps', () => {
  for (const chunk of [undefined, 1, 3, 7]) {
    it(`a command over its cap is cut to exactly the cap, kept, warning 1004 (chunk ${chunk ?? 'whole'})`, async () => {
      const body = Buffer.from('0123456789ABCDEFGHIJKLMNO'); // 25 bytes, cap 10
      const o = await collect([...facts, rec('B t-cmd#0 - - cmd/t_cmd'), body, rec('E 141 0'), Z], { chunk });
      assert.deepEqual(o.entry('cmd/t_cmd')?.data, Buffer.from('0123456789'));
      assert.deepEqual(o.collected.warnings, [{ id: 1004, message: "add_command_output exception ['tcmd', '-x']: output truncated at 10 bytes" }]);
      assert.deepEqual(o.collected.entries, [{ name: 'cmd/t_cmd', probe: 't-cmd', bytes: 10, truncated: true }]);
      assert.equal(o.collected.bytesReceived, 25);
    });
  }

  it('a file of cap + 1 bytes (what the target\'s head sends) is cut to cap, warning 1003', async () => {
    const o = await collect([...facts, rec('B t-file 1700000000 - t/file'), Buffer.from('abcdefghijk'), rec('E 0'), Z], { chunk: 4 });
    assert.deepEqual(o.entry('t/file')?.data, Buffer.from('abcdefghij'));
    assert.deepEqual(o.collected.warnings, [{ id: 1003, message: 'cannot read t/file: truncated at 10 bytes' }]);
  });

  it('exactly cap bytes is not truncated: no warning', async () => {
    const o = await collect([...facts, rec('B t-file - - t/file'), Buffer.from('abcdefghij'), rec('E 0'), rec('B t-cmd#0 - - cmd/t_cmd'), Buffer.from('0123456789'), rec('E 0 0'), Z], { chunk: 3 });
    assert.deepEqual(o.entry('t/file')?.data, Buffer.from('abcdefghij'));
    assert.deepEqual(o.entry('cmd/t_cmd')?.data, Buffer.from('0123456789'));
    assert.deepEqual(o.collected.warnings, []);
  });

  it('the cap applies per glob file', async () => {
    const o = await collect([...facts, rec('B t-glob - - t/glob/a'), Buffer.alloc(15, 0x61), rec('E 0'), rec('B t-glob - - t/glob/b'), Buffer.alloc(5, 0x62), rec('E 0'), Z]);
    assert.equal(o.entry('t/glob/a')?.data.length, 10);
    assert.equal(o.entry('t/glob/b')?.data.toString(), 'bbbbb');
    assert.deepEqual(o.collected.warnings.map((w) => w.id), [1003]);
  });

  it('a glob file whose name holds a newline (announced as <dir>//<%0A-escaped>) is kept under its escaped name', async () => {
    const o = await collect([
      ...facts,
      rec('W 1003 file name /x/a%0Ab holds a newline: stored as t/glob/a%0Ab'),
      rec('B t-glob - - t/glob//a%0Ab'), Buffer.from('kept'), rec('E 0'),
      Z,
    ]);
    assert.equal(o.entry('t/glob/a%0Ab')?.data.toString(), 'kept');
    assert.deepEqual(o.collected.warnings.map((w) => w.id), [1003]);
  });
});

describe('Collector: host cap', () => {
  it('the entry reaching the cap is cut, a 9001 warning is given once, later entries are not written', async () => {
    const parts = [
      ...facts,
      rec('B t-glob - - t/glob/a'), Buffer.alloc(8, 0x61), rec('E 0'),
      rec('B t-glob - - t/glob/b'), Buffer.alloc(8, 0x62), rec('E 0'), // host cap 12: cut to 4
      rec('B t-glob - - t/glob/c'), Buffer.alloc(8, 0x63), rec('E 0'),
      rec('B t-cmd#0 - - cmd/t_cmd'), Buffer.from('later'), rec('E 0 0'),
      Z,
    ];
    const o = await collect(parts, { hostCap: 12, chunk: 5 });
    assert.equal(o.collected.hostCapReached, true);
    assert.equal(o.entry('t/glob/a')?.data.toString(), 'aaaaaaaa');
    assert.equal(o.entry('t/glob/b')?.data.toString(), 'bbbb');
    const w9001 = o.collected.warnings.filter((w) => w.id === 9001);
    assert.equal(w9001.length, 1);
    assert.match(w9001[0].message, /^Exception: host output cap of 12 bytes reached in t\/glob\/b/);
    // no 1003/1004 truncation warnings on top of the 9001
    assert.deepEqual(o.collected.warnings.map((w) => w.id), [9001]);
    assert.equal(o.collected.bytesReceived, 8 + 8 + 8 + 5);
  });

  // Found written as empty entries while these tests were written; fixed in collector.ts since.
  it('entries after the host cap are dropped, not written empty', async () => {
    const parts = [
      ...facts,
      rec('B t-glob - - t/glob/a'), Buffer.alloc(8, 0x61), rec('E 0'),
      rec('B t-glob - - t/glob/b'), Buffer.alloc(8, 0x62), rec('E 0'),
      rec('B t-glob - - t/glob/c'), Buffer.alloc(8, 0x63), rec('E 0'),
      rec('B t-cmd#0 - - cmd/t_cmd'), Buffer.from('later'), rec('E 0 0'),
      Z,
    ];
    const o = await collect(parts, { hostCap: 12 });
    assert.deepEqual(o.names, ['t/glob/a', 't/glob/b']);
    assert.deepEqual(o.collected.entries.map((e) => e.name), ['t/glob/a', 't/glob/b']);
  });
});

describe('Collector: command outcomes', () => {
  it('a failed command: warning 1004 worded exactly as the reference, and no entry', async () => {
    const o = await collect([...facts, rec('B hostnamectl#0 - - cmd/hostnamectl'), Buffer.from('partial output'), rec('E 1 0'), Z], { chunk: 2 });
    assert.equal(o.entry('cmd/hostnamectl'), undefined);
    assert.deepEqual(o.collected.warnings, [
      { id: 1004, message: "add_command_output exception ['hostnamectl', 'status']: CalledProcessError(1, ['hostnamectl', 'status'])" },
    ]);
    assert.deepEqual(o.collected.entries, []);
  });

  it('an empty status (E with no rc) counts as a failure, rc 255', async () => {
    const o = await collect([...facts, rec('B systemctl#0 - - cmd/systemctl_units_all'), rec('E'), Z]);
    assert.equal(o.entry('cmd/systemctl_units_all'), undefined);
    assert.deepEqual(o.collected.warnings, [
      { id: 1004, message: "add_command_output exception ['systemctl', 'list-units', '-all', '--no-page']: CalledProcessError(255, ['systemctl', 'list-units', '-all', '--no-page'])" },
    ]);
  });

  it('a failed attempt with a fallback is silent; the fallback\'s output is the entry', async () => {
    const o = await collect([
      ...facts,
      rec('B ps#0 - - cmd/ps_ef'), Buffer.from('ps: unknown option -- e\n'), rec('E 1 1'),
      rec('B ps#1 - - cmd/ps_ef'), Buffer.from('  PID USER COMMAND\n    1 root init\n'), rec('E 0 0'),
      Z,
    ]);
    assert.deepEqual(o.collected.warnings, []);
    assert.equal(o.entry('cmd/ps_ef')?.data.toString(), '  PID USER COMMAND\n    1 root init\n');
  });

  it('every attempt failing gives one 1004 warning (for the last) and no entry', async () => {
    const o = await collect([...facts, rec('B ps#0 - - cmd/ps_ef'), rec('E 1 1'), rec('B ps#1 - - cmd/ps_ef'), rec('E 2 0'), Z]);
    assert.equal(o.entry('cmd/ps_ef'), undefined);
    assert.deepEqual(o.collected.warnings.map((w) => w.id), [1004]);
    assert.match(o.collected.warnings[0].message, /CalledProcessError\(2, /);
  });

  it('okExit: systemd-detect-virt printing none and exiting 1 is an entry, no warning', async () => {
    const o = await collect([...facts, rec('B detect-virt#0 - - cmd/systemd-detect-virt'), Buffer.from('none\n'), rec('E 1 0'), Z]);
    assert.equal(o.entry('cmd/systemd-detect-virt')?.data.toString(), 'none\n');
    assert.deepEqual(o.collected.warnings, []);
  });

  it('okExit does not extend to other codes', async () => {
    const o = await collect([...facts, rec('B detect-virt#0 - - cmd/systemd-detect-virt'), Buffer.from('x'), rec('E 2 0'), Z]);
    assert.equal(o.entry('cmd/systemd-detect-virt'), undefined);
    assert.deepEqual(o.collected.warnings.map((w) => w.id), [1004]);
  });

  it('a quiet probe (who, last) fails without a warning', async () => {
    const o = await collect([
      ...facts,
      rec('B who#0 - - cmd/who'), rec('E 1 0'),
      rec('B last#0 - - cmd/last'), rec('E 1 1'), rec('B last#1 - - cmd/last'), rec('E 1 0'),
      Z,
    ]);
    assert.deepEqual(o.collected.warnings, []);
    assert.deepEqual(o.names, []);
  });

  it('a file whose read failed (E non-zero) leaves no entry; the target\'s own W records pass through in order', async () => {
    const o = await collect([
      ...facts,
      rec("W 1001 add_file cannot read '/etc/oratab': file does not exist"),
      rec('B cpuinfo 1700000000 - proc/cpuinfo'), Buffer.from('partial'), rec('E 1'),
      rec("W 1003 cannot read /proc/cpuinfo: OSError(5, 'Input/output error')"),
      Z,
    ]);
    assert.equal(o.entry('proc/cpuinfo'), undefined);
    assert.deepEqual(o.collected.warnings, [
      { id: 1001, message: "add_file cannot read '/etc/oratab': file does not exist" },
      { id: 1003, message: "cannot read /proc/cpuinfo: OSError(5, 'Input/output error')" },
    ]);
  });

  it('an empty successful command is an empty entry', async () => {
    const o = await collect([...facts, rec('B who#0 - - cmd/who'), rec('E 0 0'), Z]);
    assert.deepEqual(o.entry('cmd/who')?.data, Buffer.alloc(0));
  });
});

describe('Collector: what the target may not do', () => {
  it('a begin record for an unknown probe is a FrameError', async () => {
    await assert.rejects(collect([...facts, rec('B evil - - etc/shadow'), Buffer.from('x'), rec('E 0'), Z]), FrameError);
  });

  it('an end without a begin, a begin inside a begin, and Z inside an entry are FrameErrors', async () => {
    await assert.rejects(collect([...facts, rec('E 0'), Z]), FrameError);
    await assert.rejects(collect([...facts, rec('B cpuinfo - - proc/cpuinfo'), rec('B meminfo - - proc/meminfo'), rec('E 0'), Z]), FrameError);
    await assert.rejects(collect([...facts, rec('B cpuinfo - - proc/cpuinfo'), Buffer.from('x'), Z]), FrameError);
  });

  it('a stream that stops before Z is a FrameError at end()', async () => {
    await assert.rejects(collect([...facts, rec('B cpuinfo - - proc/cpuinfo'), Buffer.from('x'), rec('E 0')]), FrameError);
  });

  it('a second entry under the same name is dropped with a warning; the first stays', async () => {
    const o = await collect([
      ...facts,
      rec('B cpuinfo - - proc/cpuinfo'), Buffer.from('first'), rec('E 0'),
      rec('B cpuinfo - - proc/cpuinfo'), Buffer.from('second'), rec('E 0'),
      Z,
    ]);
    assert.equal(o.entry('proc/cpuinfo')?.data.toString(), 'first');
    assert.deepEqual(o.names, ['proc/cpuinfo']);
    assert.equal(o.collected.warnings.length, 1);
    assert.equal(o.collected.warnings[0].id, 9001);
    assert.match(o.collected.warnings[0].message, /proc\/cpuinfo/);
  });

  it('a failed first copy does not block a later good one under the same name', async () => {
    const o = await collect([...facts, rec('B cpuinfo - - proc/cpuinfo'), rec('E 1'), rec('B cpuinfo - - proc/cpuinfo'), Buffer.from('ok'), rec('E 0'), Z]);
    assert.equal(o.entry('proc/cpuinfo')?.data.toString(), 'ok');
    assert.deepEqual(o.collected.warnings, []);
  });

  it('a glob name ../../etc/passwd stays one segment under its folder', async () => {
    const o = await collect([...facts, rec('B release - - release/../../etc/passwd'), Buffer.from('root:x:0:0\n'), rec('E 0'), Z]);
    assert.deepEqual(o.names, ['release/..%2F..%2Fetc%2Fpasswd']);
    assert.equal(o.entry('release/..%2F..%2Fetc%2Fpasswd')?.data.toString(), 'root:x:0:0\n');
  });

  it('a name outside the probe\'s folder or not its own is dropped with a 9001 warning, its body discarded', async () => {
    const o = await collect([
      ...facts,
      rec('B release - - ../../etc/passwd'), Buffer.from('root:x:0:0\n'), rec('E 0'),
      rec('B cpuinfo - - octoscan.xml'), Buffer.from('<forged/>'), rec('E 0'),
      rec('B java-static - - java/static/opt_0/version'), Buffer.from('x'), rec('E 0'),
      rec('B meminfo - - proc/meminfo'), Buffer.from('MemTotal: 1 kB\n'), rec('E 0'),
      Z,
    ]);
    assert.deepEqual(o.names, ['proc/meminfo']);
    assert.deepEqual(o.collected.warnings.map((w) => w.id), [9001, 9001, 9001]);
    for (const w of o.collected.warnings) assert.match(w.message, /^Exception: /);
  });
});

describe('Collector: zip entry form', () => {
  it('hyperv entries are stored uncompressed with the source mode; text entries deflated 0644', async () => {
    const pool = Buffer.from(Array.from({ length: 2048 }, (_, i) => (i * 7) & 0xff));
    const o = await collect([
      ...facts,
      rec('B hyperv 1700000000 0600 hyperv/.kvp_pool_0'), pool, rec('E 0'),
      rec('B hyperv 1700000000 - hyperv/.kvp_pool_1'), Buffer.from([0, 0, 0]), rec('E 0'),
      rec('B cpuinfo 1700000000 0600 proc/cpuinfo'), Buffer.from('processor : 0\n'.repeat(50)), rec('E 0'),
      rec('B dpkg#0 - - dpkg/installed.txt'), Buffer.from('bash\t5.2\tamd64\tGNU shell\n'), rec('E 0 0'),
      Z,
    ]);
    const kvp0 = o.entry('hyperv/.kvp_pool_0')!;
    assert.equal(kvp0.method, 0);
    assert.equal(kvp0.mode, 0o600);
    assert.deepEqual(kvp0.data, pool);
    const kvp1 = o.entry('hyperv/.kvp_pool_1')!;
    assert.equal(kvp1.method, 0);
    assert.equal(kvp1.mode, 0o644, 'source mode unknown: 0644');
    // a mode on a text probe is ignored: deflated 0644
    for (const name of ['proc/cpuinfo', 'dpkg/installed.txt']) {
      assert.equal(o.entry(name)!.method, 8, name);
      assert.equal(o.entry(name)!.mode, 0o644, name);
    }
    assert.equal(o.entry('proc/cpuinfo')!.data.toString(), 'processor : 0\n'.repeat(50));
    // collection order
    assert.deepEqual(o.names, ['hyperv/.kvp_pool_0', 'hyperv/.kvp_pool_1', 'proc/cpuinfo', 'dpkg/installed.txt']);
  });

  // Wall clocks below were worked out with Python's datetime.fromtimestamp(ts, tz), then
  // rounded down to the zip's 2-second resolution.
  const dateCases: { tz: string; fileMtime: string; collected: string }[] = [
    { tz: '+0130', fileMtime: '2025-05-09 16:20:00', collected: '2026-11-25 03:06:20' },
    { tz: '-0800', fileMtime: '2025-05-09 06:50:00', collected: '2026-11-24 17:36:20' },
  ];
  for (const c of dateCases) {
    it(`entry times are the target's local time (tz ${c.tz}): the file's mtime, else when it was collected`, async () => {
      // Our clock is far from the target's: the target's epoch decides.
      const o = await collect(
        [
          rec('I os Linux'), rec('I epoch 1795570581'), rec(`I tz ${c.tz}`),
          rec('B release 1746802200 - release/os-release'), Buffer.from('ID=debian\n'), rec('E 0'),
          rec('B ip-addr#0 - - cmd/ip_addr'), Buffer.from('1: lo\n'), rec('E 0 0'),
          Z,
        ],
        { now: () => 1_000_000_000_000 },
      );
      assert.equal(o.entry('release/os-release')!.wallClock, c.fileMtime);
      assert.equal(o.entry('cmd/ip_addr')!.wallClock, c.collected);
    });
  }

  it('each generated entry carries the time it was collected, not the scan start', async () => {
    let clock = 1_000_000_000_000;
    const p = await collect(
      [
        rec('I os Linux'), rec('I epoch 1000000000'), rec('I tz +0000'),
        rec('B ip-addr#0 - - cmd/ip_addr'), Buffer.from('a'), rec('E 0 0'),
        rec('B ip-route#0 - - cmd/ip_route'), Buffer.from('b'), rec('E 0 0'),
        Z,
      ],
      { now: () => (clock += 60_000) },
    );
    const a = p.entry('cmd/ip_addr')!.date.getTime();
    const b = p.entry('cmd/ip_route')!.date.getTime();
    assert.ok(b > a, `${p.entry('cmd/ip_addr')!.wallClock} then ${p.entry('cmd/ip_route')!.wallClock}`);
  });
});

describe('Collector: large entries spill to disk', () => {
  it('a > 512 KiB entry spills to a temp file in the output folder, which is gone afterwards', async () => {
    const big = Buffer.alloc(700 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31 + (i >> 10)) & 0xff;
    let sawSpill = false;
    const o = await collect([...facts, rec('B dpkg#0 - - dpkg/installed.txt'), big, rec('E 0 0'), Z], {
      chunk: 64 * 1024,
      onChunk: async (dir) => {
        const names = await readdir(dir);
        if (names.some((n) => n.endsWith('.spill'))) sawSpill = true;
      },
    });
    assert.ok(sawSpill, 'no spill file seen while the entry was open');
    assert.deepEqual(o.entry('dpkg/installed.txt')!.data, big);
    // give the read stream's close handler a moment, then nothing but the archive remains
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(await readdir(o.dir), [`${o.uuid}.scal`]);
  });

  it('a spilled entry of a failed command is discarded with its spill file', async () => {
    const big = Buffer.alloc(600 * 1024, 0x41);
    const o = await collect([...facts, rec('B dpkg#0 - - dpkg/installed.txt'), big, rec('E 2 0'), Z], { chunk: 100 * 1024 });
    assert.equal(o.entry('dpkg/installed.txt'), undefined);
    assert.deepEqual(o.collected.warnings.map((w) => w.id), [1004]);
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(await readdir(o.dir), [`${o.uuid}.scal`]);
  });

  it('dispose() after an abandoned stream removes a half-written spill file', async () => {
    const dir = await mkdtemp(join(root, 'out-'));
    const uuid = randomUUID();
    const writer = await ArchiveWriter.create(dir, uuid);
    const spill = join(dir, tempName(uuid, 'spill', 1));
    const collector = new Collector({ token: TOKEN, probes: PROBES, writer, spillPath: () => spill });
    await collector.consume(Readable.from([Buffer.concat([...facts, rec('B dpkg#0 - - dpkg/installed.txt'), Buffer.alloc(600 * 1024, 0x42)])])).catch(() => {});
    await collector.dispose();
    await writer.abort();
    assert.equal(existsSync(spill), false);
    assert.deepEqual(await readdir(dir), []);
  });
});

describe('Collector: facts and noise', () => {
  it('I records become facts; S records skips; noise is counted', async () => {
    const o = await collect([
      Buffer.from('Last login: yesterday\n'),
      rec('I os Linux'), rec('I uname-r 6.1.0-18-amd64'), rec('I libc glibc 2.36'),
      Buffer.from('stray'),
      rec('S scsi absent'), rec('S udevadm-dmi not-found:udevadm'),
      Z,
      Buffer.from('logout\n'),
    ]);
    assert.equal(o.collected.facts['uname-r'], '6.1.0-18-amd64');
    assert.equal(o.collected.facts['libc'], 'glibc 2.36');
    assert.deepEqual(o.collected.skips, [{ probe: 'scsi', reason: 'absent' }, { probe: 'udevadm-dmi', reason: 'not-found:udevadm' }]);
    assert.deepEqual(o.collected.noise, { preamble: 'Last login: yesterday\n'.length, stray: 5, trailing: 7 });
    assert.equal(o.collected.finished, true);
  });
});

describe('Collector: JVM environments (--java-environ)', () => {
  const environ = (pid: number, body: Buffer): Buffer[] => [rec(`B java-dynamic - - java/dynamic/${pid}/environ`), body, rec('E 0')];
  const secretEnv = Buffer.from('JAVA_HOME=/opt/jdk\0DB_PASSWORD=hunter2\0URL=https://u:pw-9@h/\0', 'latin1');
  // Over the spill threshold (512 KiB): the entry reaches the writer as a stream.
  const big = Buffer.concat([Buffer.from(`FILLER=${'x'.repeat(600 * 1024)}\0`, 'latin1'), secretEnv]);

  for (const chunk of [undefined, 5]) {
    it(`redacted by default, spilled or not, before anything is written (chunk ${chunk ?? 'whole'})`, async () => {
      const o = await collect([...facts, ...environ(7, secretEnv), ...environ(8, big), Z], { chunk: chunk === undefined ? undefined : 64 * 1024 });
      for (const pid of [7, 8]) {
        const data = o.entry(`java/dynamic/${pid}/environ`)!.data;
        assert.ok(!data.includes('hunter2') && !data.includes('pw-9'), `pid ${pid}: no secret`);
        assert.ok(data.includes('JAVA_HOME=/opt/jdk\0'), `pid ${pid}: JAVA_HOME kept`);
        assert.ok(data.includes(`DB_PASSWORD=${REDACTED_VALUE}\0`));
      }
      assert.equal(o.entry('java/dynamic/8/environ')!.data.length, big.length - 'hunter2'.length - 'https://u:pw-9@h/'.length + 2 * REDACTED_VALUE.length);
      assert.deepEqual(await readdir(o.dir).then((f) => f.filter((n) => n.includes('spill'))), [], 'no spill file left');
    });
  }

  it('full keeps the environment as read; none leaves the entry out', async () => {
    const full = await collect([...facts, ...environ(7, secretEnv), Z], { javaEnviron: 'full' });
    assert.deepEqual(full.entry('java/dynamic/7/environ')!.data, secretEnv);
    const none = await collect([...facts, ...environ(7, secretEnv), Z], { javaEnviron: 'none' });
    assert.ok(!none.names.some((n) => n.includes('environ')), none.names.join(' '));
  });
});
