// Warning 1004 words a failed command with Python's repr() of its argv, as the
// on-host scanner does; compared here with the real python3.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { commandFailedMessage, pyList, pyStr } from '../../src/scan/python-repr.js';
import { linuxProbes } from '../../targets/index.js';

/** The real interpreter behind python3 (a pyenv shim costs half a second per start). */
const PYTHON = ((): string | undefined => {
  const r = spawnSync('python3', ['-c', 'import sys, platform; print(sys.executable)'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
})();
const havePython = PYTHON !== undefined;

/** Runs `body` in python3 with `data` (JSON) as `data`, one JSON value printed per line. */
function python(body: string, data: unknown): unknown[] {
  const code = `import sys, json, subprocess\ndata = json.loads(sys.stdin.read())\n${body}`;
  const r = spawnSync(PYTHON!, ['-c', code], { input: JSON.stringify(data), encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim().split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l));
}

const ASCII_CASES = [
  '', 'a', 'hostnamectl', "it's", '"', `'"`, `a'b"c`, "''", '""', '\\', '\\\\', "\\'", '\\"', 'C:\\x',
  '\t', '\n', '\r', '\r\n', '\t\n\r', '\0', '\x00\x01\x07\x08\x0b\x0c\x0e\x1b\x1f', '\x7f', ' ', ' lead', 'trail ',
  '${Package}\\t${Version}\\n', '%{name}\\t%{version}\\n', '--no-page', '-all', '$(id)', '`id`', '\x1b[31mred\x1b[0m',
];
const PRINTABLE_NON_ASCII = ['é', 'Jürgen', '日本語', '😀', 'Ω', '\u00a1', '\u{10000}', 'ÿ'];
// Python's repr escapes what str.isprintable() rejects: C1 controls, NBSP, format
// characters, line/paragraph separators, private use, unassigned, lone surrogates.
const NON_PRINTABLE_NON_ASCII = ['\x80', '\x9f', '\xa0', '\xad', '\u200b', '\u2028', '\ufeff', '\ue000', '\ud800', '\uffff', '\u0378'];

function randomAscii(n: number, seed: number): string[] {
  let s = seed >>> 0;
  const rnd = (): number => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    let str = '';
    const len = Math.floor(rnd() * 10);
    // quotes and backslashes often, any ASCII otherwise
    for (let j = 0; j < len; j++) str += rnd() < 0.4 ? `'"\\`[Math.floor(rnd() * 3)] : String.fromCharCode(Math.floor(rnd() * 128));
    out.push(str);
  }
  return out;
}

describe('pyStr / pyList against real python3 repr()', () => {
  const check = (t: { skip: (m: string) => void }, values: string[]): void => {
    if (!havePython) {
      console.error('python-repr.test: SKIPPED: python3 not installed');
      t.skip('python3 not installed');
      return;
    }
    const py = python('for s in data: print(json.dumps(repr(s)))', values) as string[];
    assert.equal(py.length, values.length);
    values.forEach((v, i) => assert.equal(pyStr(v), py[i], `repr(${JSON.stringify(v)})`));
  };

  it('ASCII: quotes, backslashes, tabs, newlines, control characters', (t) => check(t, ASCII_CASES));
  it('every single ASCII character', (t) => check(t, Array.from({ length: 128 }, (_, i) => String.fromCharCode(i))));
  it('random ASCII strings rich in quotes and backslashes (property)', (t) => check(t, randomAscii(500, 99)));
  it('printable non-ASCII stays as it is', (t) => check(t, PRINTABLE_NON_ASCII));

  it(
    'non-printable non-ASCII is escaped as Python does',
    (t) => check(t, NON_PRINTABLE_NON_ASCII),
  );

  it('pyList is repr() of a list', (t) => {
    if (!havePython) {
      t.skip('python3 not installed');
      return;
    }
    const lists = [[], ['a'], ['hostnamectl', 'status'], ["it's", 'a"b', '\\', '\t'], ASCII_CASES];
    const py = python('for l in data: print(json.dumps(repr(l)))', lists) as string[];
    lists.forEach((l, i) => assert.equal(pyList(l), py[i]));
  });
});

describe('commandFailedMessage (warning 1004)', () => {
  it('the spec example, exactly', () => {
    assert.equal(
      commandFailedMessage(['hostnamectl', 'status'], 1),
      "add_command_output exception ['hostnamectl', 'status']: CalledProcessError(1, ['hostnamectl', 'status'])",
    );
    assert.equal(
      commandFailedMessage(['systemctl', 'list-units', '-all', '--no-page'], 1),
      "add_command_output exception ['systemctl', 'list-units', '-all', '--no-page']: CalledProcessError(1, ['systemctl', 'list-units', '-all', '--no-page'])",
    );
  });

  it('matches Python wording with repr(CalledProcessError) for every Linux command probe', (t) => {
    if (!havePython) {
      t.skip('python3 not installed');
      return;
    }
    const cases = linuxProbes.flatMap((p) => (p.kind === 'command' ? [p.argv, ...(p.fallbackArgv ?? [])] : [])).map((argv, i) => ({ argv, rc: [1, 2, 127, 255][i % 4] }));
    const py = python(
      'for c in data: print(json.dumps("add_command_output exception " + repr(c["argv"]) + ": " + repr(subprocess.CalledProcessError(c["rc"], c["argv"]))))',
      cases,
    ) as string[];
    cases.forEach((c, i) => assert.equal(commandFailedMessage(c.argv, c.rc), py[i]));
  });
});
