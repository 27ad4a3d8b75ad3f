// Golden shell per probe (pyinfra style): the shell generated for every Linux
// probe is compared with test/golden/probes/<id>.sh, which was reviewed by eye
// for quoting. UPDATE_GOLDEN=1 rewrites the files from the current output
// (review the diff before committing).
//
// Besides the byte comparison, the properties that matter are checked on
// their own: the shell quoting is evaluated by a real shell with stub
// functions, so the argv the target runs is seen exactly.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildScript, prelude, probeShell, shGlob, shq } from '../../src/probe/script.js';
import { DEFAULT_ENTRY_CAP, type Probe } from '../../src/probe/probe.js';
import { linuxProbes } from '../../targets/index.js';

const goldenDir = join(fileURLToPath(new URL('.', import.meta.url)), '..', 'golden', 'probes');
const UPDATE = process.env.UPDATE_GOLDEN === '1';
const TOKEN = '@@OCTO:00112233445566778899aabbccddeeff@@';
const MiB = 1024 * 1024;

const haveDash = spawnSync('dash', ['-c', 'exit 0']).status === 0;

/** Runs `script` with `sh` (dash when present, else /bin/sh) and returns stdout. */
function sh(script: string): Buffer {
  return execFileSync(haveDash ? 'dash' : '/bin/sh', ['-c', script], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
}

/** NUL-separated argument lists, one per stub call: stub prints "<name>\0<arg>\0...\n". */
function stubCalls(probeSh: string, stubs: string[], extra = ''): string[][] {
  const defs = stubs.map((s) => `${s}() { printf '%s\\0' ${s} "$@"; printf '\\n'; }`).join('\n');
  const out = sh(`${defs}\n${extra}\n${probeSh}\n:\n`).toString('utf8');
  return out
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => l.split('\0').slice(0, -1));
}

const capPlusOne = (p: Probe): string => String((p.cap ?? 64 * MiB) + 1);

describe('golden shell for every Linux probe', () => {
  if (UPDATE) mkdirSync(goldenDir, { recursive: true });

  it('the default entry cap is 64 MiB', () => {
    assert.equal(DEFAULT_ENTRY_CAP, 64 * MiB);
  });

  it('probe ids are unique and safe for a frame header', () => {
    const ids = linuxProbes.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length);
    for (const id of ids) assert.match(id, /^[a-z0-9-]+$/);
  });

  for (const p of linuxProbes) {
    it(`${p.id}.sh`, () => {
      const path = join(goldenDir, `${p.id}.sh`);
      const actual = `${probeShell(p)}\n`;
      if (UPDATE) writeFileSync(path, actual);
      assert.ok(existsSync(path), `missing golden ${path}: run with UPDATE_GOLDEN=1 and review`);
      assert.equal(actual, readFileSync(path, 'utf8'));
    });
  }

  it('holds no golden file for a probe that does not exist', () => {
    const ids = new Set(linuxProbes.map((p) => `${p.id}.sh`));
    const stale = readdirSync(goldenDir).filter((f) => !ids.has(f));
    assert.deepEqual(stale, []);
  });
});

describe('package probes: the query formats byte for byte (spec section 4)', () => {
  const byId = new Map(linuxProbes.map((p) => [p.id, p]));

  it('dpkg-query -f is quoted with literal backslash-t and backslash-n', () => {
    const shell = probeShell(byId.get('dpkg')!);
    // The exact text of the spec, as a single-quoted shell word.
    assert.ok(shell.includes("'dpkg-query' '-W' '-f' '${Package}\\t${Version}\\t${Architecture}\\t${binary:Summary}\\n'"), shell);
    assert.ok(!shell.includes('\t'), 'a real TAB character leaked into the shell');
    const [call] = stubCalls(shell, ['_cmd'], '_have() { return 0; }');
    assert.deepEqual(call.slice(5), ['dpkg-query', '-W', '-f', '${Package}\\t${Version}\\t${Architecture}\\t${binary:Summary}\\n']);
  });

  it('rpm --queryformat is the spec text byte for byte', () => {
    const fmt = String.raw`%{name}\t%{version}\t%{release}\t%{arch}\t%{summary}\t%{installtime}\t%{vendor}\t%{packager}\n`;
    const spec = '/work/shared/spec/octoscan-archive.md';
    if (existsSync(spec)) {
      // cross-check the hand-copied literal against the spec file when it is there
      const m = /rpm -qa --queryformat '([^']+)'/.exec(readFileSync(spec, 'utf8'));
      assert.equal(m?.[1], fmt);
    }
    const shell = probeShell(byId.get('rpm')!);
    assert.ok(shell.includes(`'rpm' '-qa' '--queryformat' '${fmt}'`), shell);
    const calls = stubCalls(shell, ['_cmd'], '_have() { [ "$1" = rpm ]; }');
    assert.deepEqual(calls, [['_cmd', 'rpm#0', 'rpm/installed.txt', '0', '0', 'rpm', '-qa', '--queryformat', fmt]]);
  });

  it('precedence: dpkg, else apk, else rpm (guarded by what is installed)', () => {
    const pk = ['dpkg', 'apk', 'rpm'].map((id) => probeShell(byId.get(id)!)).join('\n');
    const run = (installed: string[]): string =>
      sh(`_have() { case " ${installed.join(' ')} " in *" $1 "*) return 0;; esac; return 1; }
_cmd() { printf 'run %s\\n' "$1"; }
_r() { printf '%s\\n' "$*"; }
${pk}`).toString();
    assert.equal(run(['dpkg-query', 'apk', 'rpm']), 'run dpkg#0\nS apk superseded\nS rpm superseded\n');
    assert.equal(run(['apk', 'rpm']), 'S dpkg not-found:dpkg-query\nrun apk#0\nS rpm superseded\n');
    assert.equal(run(['rpm']), 'S dpkg not-found:dpkg-query\nS apk not-found:apk\nrun rpm#0\n');
    assert.equal(run([]), 'S dpkg not-found:dpkg-query\nS apk not-found:apk\nS rpm not-found:rpm\n');
  });
});

// Commands, files and globs take no cap on the target: the controller holds
// each entry to its cap and ends the command that passes it (steering.ts).
// Only the builtins that keep java -version's output in the shell take one.
describe('every probe passes its argv exactly (and the Java builtins their cap + 1)', () => {
  const stubs = ['_cmd', '_file', '_glob', '_total_memory', '_java_default', '_java_home', '_java_static', '_java_dynamic', '_r'];
  // Every guard true, so each probe's first branch runs.
  const allThere = '_have() { return 0; }';

  for (const p of linuxProbes) {
    it(p.id, () => {
      const shell = probeShell(p);
      const guardsTrue = shell.replace(/\[ -[de] '[^']*' \]/g, 'true');
      const calls = stubCalls(guardsTrue, stubs, allThere).filter((c) => c[0] !== '_r' || !['superseded'].includes(c[3]));
      switch (p.kind) {
        case 'command': {
          const attempts = [p.argv, ...(p.fallbackArgv ?? [])];
          // With every guard true and unlessCommand present, a superseded probe prints S instead.
          if (p.unlessCommand?.length) {
            assert.deepEqual(calls, []);
            const real = stubCalls(shell, stubs, `_have() { [ "$1" = ${shq(p.argv[0])} ]; }`);
            assert.equal(real.length, 1);
            assert.deepEqual(real[0].slice(5), p.argv);
            return;
          }
          // Stubs return 0, so only the first attempt runs: the || chain stops there.
          assert.equal(calls.length, 1, JSON.stringify(calls));
          const [name, idAttempt, entry, ok, more, ...argv] = calls[0];
          assert.equal(name, '_cmd');
          assert.equal(idAttempt, `${p.id}#0`);
          assert.equal(entry, p.entry);
          assert.deepEqual(ok.split(' '), ['0', ...(p.okExit ?? []).map(String)]);
          assert.equal(more, attempts.length > 1 ? '1' : '0');
          assert.deepEqual(argv, p.argv);
          // Each fallback attempt: make every _cmd fail, so the whole chain runs.
          const chain = stubCalls(guardsTrue, [], `${allThere}\n_cmd() { printf '%s\\0' "$@"; printf '\\n'; return 1; }`);
          assert.equal(chain.length, attempts.length);
          chain.forEach((c, i) => {
            assert.equal(c[0], `${p.id}#${i}`);
            assert.equal(c[3], i < attempts.length - 1 ? '1' : '0');
            assert.deepEqual(c.slice(4), attempts[i]);
          });
          return;
        }
        case 'file': {
          assert.equal(calls.length, 1);
          // How: t = read by the shell (small kernel text), else cat.
          assert.deepEqual(calls[0], ['_file', p.id, p.entry, p.paths[0], p.needsRoot ? '1' : '0', p.text ? 't' : '0']);
          return;
        }
        case 'glob': {
          assert.equal(calls.length, 1);
          const [name, id, dir, rootOnly, how, ...files] = calls[0];
          assert.deepEqual([name, id, dir, rootOnly, how], ['_glob', p.id, p.entryDir, (p.rootOnly ?? []).join(' '), p.binary ? '1' : p.text ? 't' : '0']);
          // the pattern was expanded by the shell (or left as is when nothing matched)
          assert.ok(files.length >= 1);
          return;
        }
        case 'builtin': {
          assert.equal(calls.length, 1);
          const fn = `_${p.builtin.replace(/-/g, '_')}`;
          assert.equal(calls[0][0], fn);
          assert.equal(calls[0][1], p.id);
          if (p.builtin === 'total-memory') assert.deepEqual(calls[0].slice(2), [p.entry]);
          else if (p.builtin === 'java-default' || p.builtin === 'java-home') assert.deepEqual(calls[0].slice(2), [p.entry, capPlusOne(p)]);
          else if (p.builtin === 'java-static') assert.deepEqual(calls[0].slice(2), [capPlusOne(p), '/opt', '/usr/lib', '/usr/lib64', '/usr/java']);
          else if (p.builtin === 'java-dynamic') assert.deepEqual(calls[0].slice(2), [capPlusOne(p)]);
          else assert.fail(`unexpected builtin ${p.builtin}`);
          return;
        }
      }
    });
  }

  it('a missing command is skipped with an S record naming it, never a warning', () => {
    for (const p of linuxProbes.filter((q) => q.kind === 'command' && !q.unlessCommand)) {
      const calls = stubCalls(probeShell(p), ['_cmd', '_r'], '_have() { return 1; }');
      assert.deepEqual(calls, [['_r', 'S', p.id, `not-found:${(p as { argv: string[] }).argv[0]}`]], p.id);
    }
  });

  it('file probes try their paths in order and skip when none exists', () => {
    const oratab = linuxProbes.find((p) => p.id === 'oratab')!;
    const shell = probeShell(oratab);
    const calls = (existing: string[]): string[][] =>
      stubCalls(shell.replace(/\[ -e ('[^']*') \]/g, (_m, q) => `_exists ${q}`), ['_file', '_r'], `_exists() { case "$1" in ${existing.map(shq).join('|') || "''"}) return 0;; esac; return 1; }`);
    assert.deepEqual(calls(['/etc/oratab', '/var/opt/oracle/oratab']).map((c) => c[3]), ['/etc/oratab']);
    assert.deepEqual(calls(['/var/opt/oracle/oratab']).map((c) => c[3]), ['/var/opt/oracle/oratab']);
    assert.deepEqual(calls([]), [['_r', 'S', 'oratab', 'absent']]);
  });

  it('globs keep their literal parts quoted: only * and ? stay active', () => {
    assert.equal(shGlob('/etc/*-release'), `'/etc/'*'-release'`);
    assert.equal(shGlob("/a b/it's/*.x?"), `'/a b/it'\\''s/'*'.x'?`);
    assert.equal(shGlob('*'), '*');
    // evaluated: a pattern with a space and a quote matches nothing and comes back literally
    const out = sh(`set -- ${shGlob("/nonexistent dir/it's $(echo no)/*")}; printf '%s\\n' "$#" "$1"`).toString();
    assert.equal(out, "1\n/nonexistent dir/it's $(echo no)/*\n");
  });

  it('shq quotes anything but NUL so the shell gives it back unchanged', () => {
    const values = ["it's", "''", '$(id)', '`id`', '\\', 'a\nb', ' lead', '*', '"', '!', "\u00e9\u{1f600}", '-n', ''];
    const out = sh(`printf '%s\\0' ${values.map(shq).join(' ')}`).toString('utf8');
    assert.deepEqual(out.split('\0').slice(0, -1), values);
    assert.throws(() => shq('a\0b'));
  });

  it('extra Java folders (--java-dir) reach _java_static unchanged, however odd', () => {
    const p = linuxProbes.find((q) => q.id === 'java-static')!;
    const dirs = ["/opt/it's here", '/srv/$(touch pwned)', '/a;b', '/x y/*'];
    const calls = stubCalls(probeShell(p, { javaDirs: dirs }), ['_java_static']);
    assert.deepEqual(calls, [['_java_static', 'java-static', capPlusOne(p), '/opt', '/usr/lib', '/usr/lib64', '/usr/java', ...dirs]]);
  });
});

describe('buildScript', () => {
  it('refuses a malformed token and relative Java folders', () => {
    assert.throws(() => buildScript({ linux: linuxProbes }, { token: 'x' }));
    assert.throws(() => buildScript({ linux: linuxProbes }, { token: '@@OCTO:00112233445566778899AABBCCDDEEFF@@' }));
    assert.throws(() => buildScript({ linux: linuxProbes }, { token: TOKEN, javaDirs: ['opt/java'] }));
  });

  it('holds the token exactly once, in the _T assignment, and every probe in order', () => {
    const script = buildScript({ linux: linuxProbes }, { token: TOKEN });
    assert.equal(script.split(TOKEN).length - 1, 1);
    assert.ok(script.startsWith(`_T='${TOKEN}' _H=900\n`));
    assert.ok(buildScript({ linux: linuxProbes }, { token: TOKEN, deadlineSeconds: 45.5 }).startsWith(`_T='${TOKEN}' _H=46\n`));
    assert.throws(() => buildScript({ linux: linuxProbes }, { token: TOKEN, deadlineSeconds: 0 }));
    assert.ok(script.includes(prelude()));
    let at = script.indexOf('_facts_linux\n');
    assert.ok(at > 0);
    for (const p of linuxProbes) {
      const next = script.indexOf(probeShell(p), at);
      assert.ok(next > at, `probe ${p.id} missing or out of order`);
      at = next;
    }
    // One function run by the last line: the shell has read every byte before anything runs (_steer).
    assert.ok(script.endsWith('}\n_start; _main; _end; exit 0\n'));
  });

  it('is valid sh for dash, bash and busybox (sh -n)', (t) => {
    const script = buildScript({ linux: linuxProbes }, { token: TOKEN, javaDirs: ["/opt/it's"] });
    for (const [cmd, args] of [['dash', ['-n']], ['bash', ['--posix', '-n']], ['busybox', ['sh', '-n']]] as const) {
      const r = spawnSync(cmd, [...args], { input: script });
      if (r.error) {
        t.diagnostic(`SKIPPED ${cmd}: not installed (${r.error.message})`);
        continue;
      }
      assert.equal(r.status, 0, `${cmd}: ${r.stderr}`);
    }
  });
});
