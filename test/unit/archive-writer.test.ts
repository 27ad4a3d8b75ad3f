// ArchiveWriter (src/archive/archive-writer.ts): the import folder must only
// ever hold complete archives under their final name.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ArchiveWriter, sweepStaleTemporaries, tempName, TEMP_PREFIX } from '../../src/archive/archive-writer.js';
import { entryNames, readZip } from '../helpers/zip.js';

/** The import's pattern (spec section 1): a UUID followed by ".sca" and one more character. */
const IMPORT_PATTERN = /[0-9a-f-]{36}\.sca./i;
const STRICT_IMPORT_PATTERN = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.sca./i;
const looksFinal = (name: string): boolean => IMPORT_PATTERN.test(name) || STRICT_IMPORT_PATTERN.test(name);

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'octoscan-writer-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});
const freshDir = (): Promise<string> => mkdtemp(join(root, 'out-'));
const date = new Date(Date.UTC(2026, 10, 24, 19, 45, 44));

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms (hang)`)), ms);
    }),
  ]);
}

describe('ArchiveWriter: commit', () => {
  it('writes under a temporary name, then renames to <uuid>.scal; no temporary remains', async () => {
    const dir = await freshDir();
    const uuid = randomUUID();
    const w = await ArchiveWriter.create(dir, uuid);
    const during = await readdir(dir);
    assert.equal(during.length, 1);
    assert.ok(during[0].startsWith(TEMP_PREFIX), during[0]);
    assert.equal(looksFinal(during[0]), false, `temporary ${during[0]} matches the import pattern`);
    await w.add('proc/cpuinfo', Buffer.from('processor : 0\n'), { date });
    await w.add('hyperv/.kvp_pool_0', Buffer.from([1, 2, 3]), { date, binaryMode: 0o600 });
    await w.add('dpkg/installed.txt', Readable.from([Buffer.from('a\t1\n'), Buffer.from('b\t2\n')]), { date });
    await w.add('octoscan.xml', Buffer.from('<?xml version="1.0" encoding="utf-8"?>\n<octoscan/>\n'), { date });
    assert.equal(w.entries, 4);
    assert.deepEqual(await readdir(dir), during, 'nothing under a final name before commit');
    const { path, bytes } = await w.commit('scal');
    assert.equal(path, join(dir, `${uuid}.scal`));
    assert.deepEqual(await readdir(dir), [`${uuid}.scal`]);
    assert.equal((await stat(path)).size, bytes);
    // a real zip, entries in order, all under <uuid>/, no directory entries
    assert.deepEqual(await entryNames(path), ['proc/cpuinfo', 'hyperv/.kvp_pool_0', 'dpkg/installed.txt', 'octoscan.xml'].map((n) => `${uuid}/${n}`));
    const zip = await readZip(path);
    assert.equal(zip.get(`${uuid}/dpkg/installed.txt`)!.data.toString(), 'a\t1\nb\t2\n');
    assert.equal(zip.get(`${uuid}/proc/cpuinfo`)!.method, 8);
    assert.equal(zip.get(`${uuid}/proc/cpuinfo`)!.mode, 0o644);
    assert.equal(zip.get(`${uuid}/hyperv/.kvp_pool_0`)!.method, 0);
    assert.equal(zip.get(`${uuid}/hyperv/.kvp_pool_0`)!.mode, 0o600);
    // the zip stores the given wall clock as is (UTC fields), 2 s resolution
    assert.equal(zip.get(`${uuid}/proc/cpuinfo`)!.wallClock, '2026-11-24 19:45:44');
  });

  it('commit(\'scam\') gives <uuid>.scam', async () => {
    const dir = await freshDir();
    const uuid = randomUUID();
    const w = await ArchiveWriter.create(dir, uuid);
    await w.add('sysctl.properties', Buffer.from('kern.ostype: Darwin\n'), { date });
    const { path } = await w.commit('scam');
    assert.deepEqual(await readdir(dir), [`${uuid}.scam`]);
    assert.equal(path, join(dir, `${uuid}.scam`));
  });

  it('an empty archive commits and reads back with no entries', async () => {
    const dir = await freshDir();
    const uuid = randomUUID();
    const w = await ArchiveWriter.create(dir, uuid);
    const { path } = await w.commit('scal');
    assert.deepEqual(await entryNames(path), []);
  });

  it('two writers in one folder do not meet', async () => {
    const dir = await freshDir();
    const [a, b] = [randomUUID(), randomUUID()];
    const [wa, wb] = await Promise.all([ArchiveWriter.create(dir, a), ArchiveWriter.create(dir, b)]);
    await Promise.all([wa.add('x', Buffer.from('A'), { date }), wb.add('x', Buffer.from('B'), { date })]);
    await wa.commit('scal');
    await wb.abort();
    assert.deepEqual(await readdir(dir), [`${a}.scal`]);
    assert.equal((await readZip(join(dir, `${a}.scal`))).get(`${a}/x`)!.data.toString(), 'A');
  });
});

describe('ArchiveWriter: abort', () => {
  it('right after create leaves nothing', async () => {
    const dir = await freshDir();
    const w = await ArchiveWriter.create(dir, randomUUID());
    await w.abort();
    assert.deepEqual(await readdir(dir), []);
  });

  it('after entries leaves nothing, and is safe twice', async () => {
    const dir = await freshDir();
    const w = await ArchiveWriter.create(dir, randomUUID());
    await w.add('a', randomBytes(200_000), { date });
    await w.add('b', Buffer.from('x'), { date, binaryMode: 0o640 });
    await w.abort();
    await w.abort();
    assert.deepEqual(await readdir(dir), []);
  });

  it('after commit keeps the committed archive', async () => {
    const dir = await freshDir();
    const uuid = randomUUID();
    const w = await ArchiveWriter.create(dir, uuid);
    await w.add('a', Buffer.from('x'), { date });
    await w.commit('scal');
    await w.abort();
    assert.deepEqual(await readdir(dir), [`${uuid}.scal`]);
  });

  it('create refuses a folder that does not exist', async () => {
    await assert.rejects(ArchiveWriter.create(join(root, 'missing', 'deeper'), randomUUID()));
  });
});

describe('temporary names', () => {
  it('never match the import pattern <uuid>.sca?', () => {
    for (let i = 0; i < 500; i++) {
      const uuid = randomUUID();
      for (const name of [tempName(uuid, 'partial'), tempName(uuid, 'spill', i), tempName(uuid, 'spill', 0)]) {
        assert.equal(looksFinal(name), false, name);
        assert.ok(name.startsWith(TEMP_PREFIX), name);
        assert.ok(!name.includes('/'), name);
      }
    }
  });

  it('are distinct per uuid and per spill number', () => {
    const uuid = randomUUID();
    const names = new Set([tempName(uuid, 'partial'), ...Array.from({ length: 50 }, (_, i) => tempName(uuid, 'spill', i))]);
    assert.equal(names.size, 51);
    assert.notEqual(tempName(uuid, 'partial'), tempName(randomUUID(), 'partial'));
  });
});

describe('ArchiveWriter: disk full (ENOSPC on a 64 KiB tmpfs)', () => {
  let mnt: string | undefined;
  let skipWhy: string | undefined;

  before(async () => {
    const dir = await mkdtemp(join(root, 'tmpfs-'));
    const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir], { encoding: 'utf8' });
    if (r.status !== 0) {
      skipWhy = `cannot mount a tmpfs (${(r.stderr || r.error?.message || `exit ${r.status}`).trim()}): needs root`;
      console.error(`archive-writer.test: SKIPPED ENOSPC tests: ${skipWhy}`);
      return;
    }
    mnt = dir;
  });

  after(() => {
    if (mnt) spawnSync('umount', [mnt]);
  });

  const cases: { what: string; size: number; count: number }[] = [
    { what: 'incompressible 8 KiB entries, stored', size: 8192, count: 40 },
    { what: 'one entry larger than the disk', size: 200_000, count: 1 },
    { what: 'many small deflated entries', size: 3000, count: 60 },
  ];
  for (const c of cases) {
    it(`${c.what}: add or commit rejects, nothing under a final name, abort leaves nothing`, async (t) => {
      if (!mnt) {
        t.skip(skipWhy ?? 'no tmpfs');
        return;
      }
      const uuid = randomUUID();
      const w = await ArchiveWriter.create(mnt, uuid);
      let failure: unknown;
      try {
        for (let i = 0; i < c.count; i++) {
          const opts = c.size === 3000 ? { date } : { date, binaryMode: 0o600 };
          await withTimeout(w.add(`e${i}`, randomBytes(c.size), opts), 10_000, `add #${i}`);
          for (const name of await readdir(mnt)) assert.equal(looksFinal(name), false, `${name} visible before commit`);
        }
        await withTimeout(w.commit('scal'), 10_000, 'commit');
      } catch (err) {
        failure = err;
      }
      assert.ok(failure, 'neither add nor commit failed on a full disk');
      assert.doesNotMatch(String(failure), /hang/, String(failure));
      assert.equal((failure as NodeJS.ErrnoException).code, 'ENOSPC', String(failure));
      assert.deepEqual((await readdir(mnt)).filter(looksFinal), [], 'an archive under its final name after a failure');
      // once failed, the writer refuses to go on
      await assert.rejects(w.commit('scal'));
      await w.abort();
      assert.deepEqual(await readdir(mnt), [], 'temporary left after abort');
    });
  }
});

describe('sweepStaleTemporaries', () => {
  /** A process id that is certainly not running: a child that has exited and been reaped. */
  async function deadPid(): Promise<number> {
    const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
    const pid = child.pid!;
    await new Promise((r) => child.on('exit', r));
    assert.throws(() => process.kill(pid, 0));
    return pid;
  }

  /** tempName() with another process id in place of ours. */
  const withPid = (name: string, pid: number): string => name.replace(`-${process.pid}-`, `-${pid}-`);

  it('removes our temporaries whose process is dead, keeps live ones and everything else', async () => {
    const dir = await freshDir();
    const dead = await deadPid();
    const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      const u = (): string => randomUUID();
      const deadPartial = withPid(tempName(u(), 'partial'), dead);
      const deadSpill = withPid(tempName(u(), 'spill', 3), dead);
      const livePartial = withPid(tempName(u(), 'partial'), sleeper.pid!);
      const ownPartial = tempName(u(), 'partial');
      const finalArchive = `${u()}.scal`;
      const foreignFresh = `${TEMP_PREFIX}some-other-host-${dead}-${u()}.partial`;
      const foreignOld = `${TEMP_PREFIX}some-other-host-${dead}-${u()}.partial`;
      const unrelated = 'notes.txt';
      for (const n of [deadPartial, deadSpill, livePartial, ownPartial, finalArchive, foreignFresh, foreignOld, unrelated]) await writeFile(join(dir, n), 'x');
      const twoDaysAgo = new Date(Date.now() - 2 * 24 * 3600 * 1000);
      await utimes(join(dir, foreignOld), twoDaysAgo, twoDaysAgo);
      const removed = await sweepStaleTemporaries(dir);
      assert.deepEqual(removed.sort(), [deadPartial, deadSpill, foreignOld].sort());
      assert.deepEqual((await readdir(dir)).sort(), [livePartial, ownPartial, finalArchive, foreignFresh, unrelated].sort());
    } finally {
      sleeper.kill();
    }
  });

  it('an old temporary of a live process of ours is removed too (older than a day)', async () => {
    const dir = await freshDir();
    const name = tempName(randomUUID(), 'partial');
    await writeFile(join(dir, name), 'x');
    const old = new Date(Date.now() - 25 * 3600 * 1000);
    await utimes(join(dir, name), old, old);
    assert.deepEqual(await sweepStaleTemporaries(dir), [name]);
  });

  it('a missing folder sweeps nothing', async () => {
    assert.deepEqual(await sweepStaleTemporaries(join(root, 'nope')), []);
  });

  it('does not remove the temporary of a writer in progress in this process', async () => {
    const dir = await freshDir();
    const uuid = randomUUID();
    const w = await ArchiveWriter.create(dir, uuid);
    await w.add('a', Buffer.from('x'), { date });
    assert.deepEqual(await sweepStaleTemporaries(dir), []);
    await w.commit('scal');
    assert.deepEqual(await readdir(dir), [`${uuid}.scal`]);
  });
});
