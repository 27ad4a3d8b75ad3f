// Entry names (src/archive/entry-name.ts): the only part a target supplies is
// one file name, which must become one safe, reversible path segment.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EntryNameError, entryPathFor, safeSegment } from '../../src/archive/entry-name.js';
import type { Probe } from '../../src/probe/probe.js';
import { linuxProbes } from '../../targets/index.js';

const probe = (id: string): Probe => {
  const p = linuxProbes.find((q) => q.id === id);
  assert.ok(p, `no probe ${id}`);
  return p;
};
const b = (s: string | number[]): Buffer => (typeof s === 'string' ? Buffer.from(s, 'utf8') : Buffer.from(s));

/** Independent decoder: %XX back to the byte. */
function decode(seg: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < seg.length; i++) {
    if (seg[i] === '%') {
      out.push(parseInt(seg.slice(i + 1, i + 3), 16));
      i += 2;
    } else out.push(seg.charCodeAt(i));
  }
  return Buffer.from(out);
}

const SEGMENT = /^[A-Za-z0-9._+,=@~%-]+$/;

describe('safeSegment', () => {
  const cases: [string, Buffer, string][] = [
    ['../x', b('../x'), '..%2Fx'],
    ['..', b('..'), '%2E%2E'],
    ['.', b('.'), '%2E'],
    ['...', b('...'), '...'],
    ['a/b', b('a/b'), 'a%2Fb'],
    ['a\\b', b('a\\b'), 'a%5Cb'],
    ['NUL', b([0]), '%00'],
    ['newline', b('a\nb'), 'a%0Ab'],
    ['space and percent', b('a b%'), 'a%20b%25'],
    ['invalid UTF-8', b([0xff, 0xc3, 0x28, 0x80]), '%FF%C3%28%80'],
    ['valid UTF-8', b('é'), '%C3%A9'],
    ['kept punctuation', b('os-release_1.2+x,y=z@w~v'), 'os-release_1.2+x,y=z@w~v'],
    ['dmi name', b('product_serial'), 'product_serial'],
    ['hyperv pool', b('.kvp_pool_0'), '.kvp_pool_0'],
    ['colon and star', b('a:b*c?'), 'a%3Ab%2Ac%3F'],
  ];
  for (const [what, raw, want] of cases) {
    it(`${what} -> ${want}`, () => {
      const got = safeSegment(raw);
      assert.equal(got, want);
      assert.match(got, SEGMENT);
      assert.notEqual(got, '.');
      assert.notEqual(got, '..');
      assert.deepEqual(decode(got), raw);
    });
  }

  it('empty input gives a non-empty segment', () => {
    const got = safeSegment(Buffer.alloc(0));
    assert.ok(got.length > 0);
    assert.match(got, SEGMENT);
  });

  it('300 bytes give one segment, each byte kept or escaped, reversible', () => {
    const raw = Buffer.alloc(300, 0x61);
    assert.equal(safeSegment(raw), 'a'.repeat(300));
    const mixed = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 37) % 256));
    const seg = safeSegment(mixed);
    assert.match(seg, SEGMENT);
    assert.doesNotMatch(seg, /\//);
    assert.deepEqual(decode(seg), mixed);
  });

  it('is injective and reversible over random byte strings (property)', () => {
    let seed = 2024;
    const rnd = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    // bytes that matter often: . / % \ NUL, high bytes, and the hex digits of escapes
    const hot = [0x2e, 0x2f, 0x25, 0x5c, 0x00, 0x0a, 0x20, 0x32, 0x45, 0x46, 0x80, 0xff, 0x61];
    const seen = new Map<string, string>();
    for (let n = 0; n < 20000; n++) {
      const len = 1 + Math.floor(rnd() * 8);
      const raw = Buffer.from(Array.from({ length: len }, () => (rnd() < 0.7 ? hot[Math.floor(rnd() * hot.length)] : Math.floor(rnd() * 256))));
      const seg = safeSegment(raw);
      assert.match(seg, SEGMENT);
      assert.ok(seg !== '.' && seg !== '..');
      assert.deepEqual(decode(seg), raw, `not reversible: ${raw.toString('hex')} -> ${seg}`);
      const key = raw.toString('hex');
      const other = seen.get(seg);
      assert.ok(other === undefined || other === key, `collision: ${other} and ${key} -> ${seg}`);
      seen.set(seg, key);
    }
  });

  it(
    'empty and a single NUL byte stay distinct',
    () => {
      assert.notEqual(safeSegment(Buffer.alloc(0)), safeSegment(Buffer.from([0])));
    },
  );
});

describe('entryPathFor', () => {
  it('file and command probes: only their own fixed name', () => {
    assert.equal(entryPathFor(probe('cpuinfo'), b('proc/cpuinfo')), 'proc/cpuinfo');
    assert.equal(entryPathFor(probe('dpkg'), b('dpkg/installed.txt')), 'dpkg/installed.txt');
    assert.equal(entryPathFor(probe('oratab'), b('oracle/oratab')), 'oracle/oratab');
    for (const [id, bad] of [
      ['cpuinfo', 'proc/meminfo'],
      ['cpuinfo', 'proc/cpuinfo/'],
      ['cpuinfo', 'proc/cpuinfo\0'],
      ['cpuinfo', '/proc/cpuinfo'],
      ['cpuinfo', ''],
      ['dpkg', 'rpm/installed.txt'],
      ['dpkg', '../dpkg/installed.txt'],
      ['ps', 'cmd/ps_ef '],
      ['ps', 'CMD/ps_ef'],
    ] as const) {
      assert.throws(() => entryPathFor(probe(id), b(bad)), EntryNameError, `${id} ${JSON.stringify(bad)}`);
    }
  });

  it('glob probes: <entryDir>/<one safe segment>, never outside', () => {
    assert.equal(entryPathFor(probe('release'), b('release/os-release')), 'release/os-release');
    assert.equal(entryPathFor(probe('release'), b('release/../../etc/passwd')), 'release/..%2F..%2Fetc%2Fpasswd');
    assert.equal(entryPathFor(probe('release'), b('release/..')), 'release/%2E%2E');
    assert.equal(entryPathFor(probe('release'), b('release/.')), 'release/%2E');
    assert.equal(entryPathFor(probe('release'), b('release/a/b')), 'release/a%2Fb');
    assert.equal(entryPathFor(probe('dmi'), b('sys/class/dmi/id/product_serial')), 'sys/class/dmi/id/product_serial');
    assert.equal(entryPathFor(probe('hyperv'), b([...b('hyperv/'), 0xff, 0x2f])), 'hyperv/%FF%2F');
    // a name holding a newline arrives as <dir>//<name with %25, %0A> and is stored %0A-escaped
    assert.equal(entryPathFor(probe('release'), b('release//a%0Ab')), 'release/a%0Ab');
    assert.equal(entryPathFor(probe('release'), b('release//50%25%0A')), 'release/50%25%0A');
    assert.equal(entryPathFor(probe('release'), b('release//a%0Ab')), entryPathFor(probe('release'), b('release/a\nb')));
    // what the script never sends stays escaped whole
    assert.equal(entryPathFor(probe('release'), b('release//x')), 'release/%2Fx');
    assert.equal(entryPathFor(probe('release'), b('release//%41%0A')), 'release/%2F%2541%250A');
    for (const [id, bad] of [
      ['release', 'etc/passwd'],
      ['release', 'releasex/a'],
      ['release', 'release'],
      ['release', 'release/'],
      ['release', '../release/x'],
      ['release', '/release/x'],
      ['release', 'release-usrlib/os-release'],
      ['release-usrlib', 'release/os-release'],
      ['dmi', 'sys/class/dmi/product_uuid'],
      ['hyperv', 'hyperv'],
    ] as const) {
      assert.throws(() => entryPathFor(probe(id), b(bad)), EntryNameError, `${id} ${JSON.stringify(bad)}`);
    }
  });

  it('every glob result stays directly under its entryDir (property)', () => {
    let seed = 77;
    const rnd = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    const globs = linuxProbes.filter((p) => p.kind === 'glob') as Extract<Probe, { kind: 'glob' }>[];
    for (let n = 0; n < 3000; n++) {
      const p = globs[n % globs.length];
      const tail = Buffer.from(Array.from({ length: 1 + Math.floor(rnd() * 10) }, () => (rnd() < 0.5 ? [0x2e, 0x2f, 0x00][Math.floor(rnd() * 3)] : Math.floor(rnd() * 256))));
      const name = entryPathFor(p, Buffer.concat([b(`${p.entryDir}/`), tail]));
      assert.ok(name.startsWith(`${p.entryDir}/`));
      const seg = name.slice(p.entryDir.length + 1);
      assert.match(seg, SEGMENT);
      assert.ok(seg !== '.' && seg !== '..');
      // normalising the path cannot move it anywhere else
      const parts = name.split('/');
      assert.ok(!parts.includes('..') && !parts.includes('.') && !parts.includes(''));
    }
  });

  it('java-static: opt_<n> with n from 1, no leading zero', () => {
    const p = probe('java-static');
    for (const ok of ['java/static/opt_1/version', 'java/static/opt_9/version', 'java/static/opt_10/version', 'java/static/opt_123456/version']) {
      assert.equal(entryPathFor(p, b(ok)), ok);
    }
    for (const bad of [
      'java/static/opt_0/version',
      'java/static/opt_01/version',
      'java/static/opt_/version',
      'java/static/opt_1234567/version',
      'java/static/opt_1/version/../x',
      'java/static/opt_1/cmdline',
      'java/static/default_java/version',
      'java/static/opt_1/version\n',
      'java/dynamic/1/version',
    ]) {
      assert.throws(() => entryPathFor(p, b(bad)), EntryNameError, JSON.stringify(bad));
    }
  });

  it('java-dynamic: java/dynamic/<pid>/{version,cmdline,environ}', () => {
    const p = probe('java-dynamic');
    for (const ok of ['java/dynamic/1/version', 'java/dynamic/4242/cmdline', 'java/dynamic/4194304/environ']) assert.equal(entryPathFor(p, b(ok)), ok);
    for (const bad of [
      'java/dynamic/abc/version',
      'java/dynamic/0/version',
      'java/dynamic/01/version',
      'java/dynamic/12/maps',
      'java/dynamic/12/environ/x',
      'java/dynamic//version',
      'java/dynamic/12/../../../etc/passwd',
      'java/static/opt_1/version',
    ]) {
      assert.throws(() => entryPathFor(p, b(bad)), EntryNameError, JSON.stringify(bad));
    }
  });

  it('java-default, java-home, total-memory: exactly their names', () => {
    assert.equal(entryPathFor(probe('java-default'), b('java/static/default_java/version')), 'java/static/default_java/version');
    assert.equal(entryPathFor(probe('java-home'), b('java/static/java_home/version')), 'java/static/java_home/version');
    assert.equal(entryPathFor(probe('total-memory'), b('sys/devices/system/memory/octoscan_total_memory')), 'sys/devices/system/memory/octoscan_total_memory');
    assert.throws(() => entryPathFor(probe('java-default'), b('java/static/java_home/version')), EntryNameError);
    assert.throws(() => entryPathFor(probe('java-home'), b('java/static/opt_1/version')), EntryNameError);
    assert.throws(() => entryPathFor(probe('total-memory'), b('sys/devices/system/memory/x')), EntryNameError);
  });

  it('no probe can announce the controller\'s own entries', () => {
    for (const p of linuxProbes) {
      for (const name of ['octoscan.xml', 'octoscan-remote/scan.json', '../octoscan.xml']) {
        assert.throws(() => entryPathFor(p, b(name)), EntryNameError, `${p.id} ${name}`);
      }
    }
  });
});
