// The I records of the target turned into octoscan.xml values (src/scan/facts.ts),
// checked against the spec's examples and against Python's own platform code.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  integerFact,
  localTimestamp,
  platformJoin,
  pythonPlatform,
  pythonVersion,
  tzOffsetSeconds,
  utcTimestamp,
  type Facts,
} from '../../src/scan/facts.js';

/** The real interpreter behind python3 (a pyenv shim costs half a second per start). */
const PYTHON = ((): string | undefined => {
  const r = spawnSync('python3', ['-c', 'import sys, platform; print(sys.executable)'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
})();
const havePython = PYTHON !== undefined;
const sh = (cmd: string): string => spawnSync('sh', ['-c', cmd], { encoding: 'utf8' }).stdout.replace(/\n$/, '');

const linux = (over: Facts = {}): Facts => ({ os: 'Linux', 'uname-r': '6.1.0-18-amd64', 'uname-m': 'x86_64', 'uname-p': 'unknown', libc: 'glibc 2.36', ...over });

describe('pythonPlatform (spec section 2)', () => {
  it('glibc: the spec example', () => {
    assert.equal(pythonPlatform(linux()), 'Linux-6.1.0-18-amd64-x86_64-with-glibc2.36');
  });

  it('the spec\'s recorded example host', () => {
    assert.equal(pythonPlatform(linux({ 'uname-r': '6.18.44-fc-v782', libc: 'glibc 2.36' })), 'Linux-6.18.44-fc-v782-x86_64-with-glibc2.36');
  });

  it('musl (no getconf GNU_LIBC_VERSION) ends in -with', () => {
    const p = pythonPlatform(linux({ 'uname-r': '6.6.8-0-lts', libc: '' }));
    assert.equal(p, 'Linux-6.6.8-0-lts-x86_64-with');
    const q = pythonPlatform({ os: 'Linux', 'uname-r': '5.15.0', 'uname-m': 'aarch64' });
    assert.equal(q, 'Linux-5.15.0-aarch64-with');
  });

  it('uname -p "unknown" is dropped; a processor equal to the machine is dropped; another is kept', () => {
    assert.equal(pythonPlatform(linux({ 'uname-p': 'unknown' })), 'Linux-6.1.0-18-amd64-x86_64-with-glibc2.36');
    assert.equal(pythonPlatform(linux({ 'uname-p': 'x86_64' })), 'Linux-6.1.0-18-amd64-x86_64-with-glibc2.36');
    assert.equal(pythonPlatform(linux({ 'uname-p': 'athlon' })), 'Linux-6.1.0-18-amd64-x86_64-athlon-with-glibc2.36');
    assert.equal(pythonPlatform(linux({ 'uname-p': '' })), 'Linux-6.1.0-18-amd64-x86_64-with-glibc2.36');
  });

  it('/ \\ : ; " ( ) become -, spaces become _, -- folds', () => {
    assert.equal(pythonPlatform(linux({ 'uname-r': '5.4 (custom/build) "x";y:z\\w' })), 'Linux-5.4_-custom-build-_-x-y-z-w-x86_64-with-glibc2.36');
    assert.equal(platformJoin(['a/b', 'c\\d', 'e:f', 'g;h', 'i"j', 'k(l)m', 'n o']), 'a-b-c-d-e-f-g-h-i-j-k-l-m-n_o');
    assert.equal(platformJoin(['a', '', 'b', 'unknown', 'c', '']), 'a-b-c');
    assert.equal(platformJoin(['x', '(', ')']), 'x');
  });

  /** Random part lists; `blankParts` says whether a part may be non-empty but all spaces. */
  const randomCases = (blankParts: boolean): string[][] => {
    let seed = 4242;
    const rnd = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    const alphabet = ['a', 'b', '1', '.', '-', '_', ' ', '/', '\\', ':', ';', '"', '(', ')', 'unknown', 'x86_64', 'with'];
    const cases: string[][] = [];
    while (cases.length < 400) {
      const n = 1 + Math.floor(rnd() * 6);
      const parts: string[] = [];
      for (let j = 0; j < n; j++) {
        let s = '';
        const len = Math.floor(rnd() * 5);
        for (let k = 0; k < len; k++) s += alphabet[Math.floor(rnd() * alphabet.length)];
        parts.push(s);
      }
      parts.push('with'); // as pythonPlatform always does: never an all-empty list
      const hasBlank = parts.some((x) => x.length > 0 && x.trim() === '');
      if (hasBlank === blankParts) cases.push(parts);
    }
    return cases;
  };
  const pythonJoin = (cases: string[][]): string[] => {
    const r = spawnSync(PYTHON!, ['-c', 'import sys, json, platform\nfor c in json.load(sys.stdin): print(json.dumps(platform._platform(*c)))'], {
      input: JSON.stringify(cases),
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.trim().split('\n').map((l) => JSON.parse(l) as string);
  };

  it('platformJoin agrees with Python\'s platform._platform (property)', (t) => {
    if (!havePython) {
      console.error('facts.test: SKIPPED python comparison: python3 not installed');
      t.skip('python3 not installed');
      return;
    }
    const cases = randomCases(false);
    const py = pythonJoin(cases);
    cases.forEach((c, i) => assert.equal(platformJoin(c), py[i], JSON.stringify(c)));
  });

  it(
    'platformJoin agrees with Python for parts that are all spaces',
    (t) => {
      if (!havePython) {
        t.skip('python3 not installed');
        return;
      }
      assert.equal(platformJoin([' ', 'with']), pythonJoin([[' ', 'with']])[0]);
      const cases = randomCases(true);
      const py = pythonJoin(cases);
      cases.forEach((c, i) => assert.equal(platformJoin(c), py[i], JSON.stringify(c)));
    },
  );

  it('equals python3 platform.platform() on this machine, from the same facts the script sends', (t) => {
    if (!havePython || sh('uname -s') !== 'Linux') {
      t.skip('needs python3 on Linux');
      return;
    }
    const facts: Facts = {
      os: sh('uname -s'),
      'uname-r': sh('uname -r'),
      'uname-m': sh('uname -m'),
      'uname-p': sh('uname -p 2>/dev/null'),
      libc: sh('getconf GNU_LIBC_VERSION 2>/dev/null'),
    };
    const py = spawnSync(PYTHON!, ['-c', 'import platform; print(platform.platform())'], { encoding: 'utf8' }).stdout.trim();
    assert.equal(pythonPlatform(facts), py, JSON.stringify(facts));
  });
});

describe('pythonVersion', () => {
  const cases: [string | undefined, string][] = [
    ['Python 3.11.2', '3.11.2'],
    ['Python 3.12.0rc1', '3.12.0rc1'],
    ['  Python 3.9.18  ', '3.9.18'],
    ['Python  3.6.8', '3.6.8'],
    ['', 'none'],
    [undefined, 'none'],
    ['sh: python3: not found', 'none'],
    ['Python', 'none'],
  ];
  for (const [raw, want] of cases) it(`${JSON.stringify(raw)} -> ${want}`, () => assert.equal(pythonVersion(raw === undefined ? {} : { python: raw }), want));

  it('agrees with this machine\'s python3 -V', (t) => {
    if (!havePython) {
      t.skip('python3 not installed');
      return;
    }
    const v = spawnSync(PYTHON!, ['-V'], { encoding: 'utf8' });
    const py = spawnSync(PYTHON!, ['-c', 'import platform; print(platform.python_version())'], { encoding: 'utf8' }).stdout.trim();
    assert.equal(pythonVersion({ python: `${v.stdout}${v.stderr}`.trim() }), py);
  });
});

describe('tzOffsetSeconds', () => {
  const cases: [string | undefined, number][] = [
    ['+0000', 0],
    ['+0100', 3600],
    ['+0130', 5400],
    ['-0800', -28800],
    ['+0545', 20700],
    ['-0330', -12600],
    ['+1400', 50400],
    [' +0200\n', 7200],
    ['', 0],
    [undefined, 0],
    ['UTC', 0],
    ['+01:00', 0],
    ['+100', 0],
    ['0100', 0],
  ];
  // + 0 folds -0 ("-0000") into 0
  for (const [raw, want] of cases) it(`${JSON.stringify(raw)} -> ${want}`, () => assert.equal(tzOffsetSeconds(raw) + 0, want));

  it('agrees with date +%z for a few zones on this machine', () => {
    for (const tz of ['UTC', 'Asia/Kolkata', 'America/St_Johns', 'Pacific/Chatham', 'Europe/Berlin']) {
      const z = spawnSync('date', ['+%z'], { env: { ...process.env, TZ: tz }, encoding: 'utf8' }).stdout.trim();
      const m = /^([+-])(\d\d)(\d\d)$/.exec(z);
      if (!m) continue; // zone data missing: date prints +0000 or similar
      const want = (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 3600 + Number(m[3]) * 60);
      assert.equal(tzOffsetSeconds(z), want, `${tz} ${z}`);
    }
  });
});

describe('utcTimestamp / localTimestamp / integerFact', () => {
  const fallback = new Date(Date.UTC(2026, 10, 24, 19, 45, 45, 678));

  it('a well-formed value passes unchanged (trimmed)', () => {
    assert.equal(utcTimestamp({ utc: '2026-11-24T19:45:45' }, fallback), '2026-11-24T19:45:45');
    assert.equal(utcTimestamp({ utc: ' 2001-02-03T04:05:06\n' }, fallback), '2001-02-03T04:05:06');
    assert.equal(localTimestamp({ local: '2026-11-24T20:45:45' }, fallback), '2026-11-24T20:45:45');
  });

  for (const bad of ['', '2026-11-24T19:45:45Z', '2026-11-24 19:45:45', '2026-11-24T19:45:45.123', '2026-11-24T19:45', 'Tue Nov 24 2026', '2026-11-24T19:45:45"/><x', '2026-11-24T19:45:45\n2026-11-24T19:45:46']) {
    it(`falls back for ${JSON.stringify(bad)}`, () => {
      assert.equal(utcTimestamp({ utc: bad }, fallback), '2026-11-24T19:45:45');
      assert.equal(localTimestamp({ local: bad }, fallback), '2026-11-24T19:45:45');
    });
  }

  it('falls back when missing; the fallback is UTC, without fraction or zone letter', () => {
    assert.equal(utcTimestamp({}, fallback), '2026-11-24T19:45:45');
    assert.match(utcTimestamp({}, new Date()), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
  });

  it('integerFact keeps decimal integers only', () => {
    assert.equal(integerFact({ uid: '1001' }, 'uid'), '1001');
    assert.equal(integerFact({ uid: ' 0 ' }, 'uid'), '0');
    assert.equal(integerFact({ uid: '-1' }, 'uid'), '');
    assert.equal(integerFact({ uid: '10a' }, 'uid'), '');
    assert.equal(integerFact({ uid: '12345678901' }, 'uid'), '');
    assert.equal(integerFact({}, 'uid'), '');
  });
});
