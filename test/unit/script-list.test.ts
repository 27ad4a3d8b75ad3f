// `octoscan-remote script`: the printed script is exactly what a scan sends;
// the --list table comes from the probe definitions; the README's entry tables
// are that table (UPDATE_README=1 rewrites them); and the programs the list
// names are the only ones the script can start, proven by reading the script.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { darwinProbes, linuxProbes } from '../../targets/index.js';
import { PRELUDE_PROGRAMS, WRITING_PROGRAMS, externalPrograms, probeRows } from '../../src/probe/catalogue.js';
import { buildScript, prelude, preludeDarwin, scriptSha256 } from '../../src/probe/script.js';
import { PLACEHOLDER_TOKEN, listText, scriptText } from '../../src/cli/script-command.js';
import { readmeEntryTable, README_MARKERS } from '../../src/probe/readme-table.js';

const root = join(import.meta.dirname, '..', '..');
const cli = join(root, 'bin', 'octoscan-remote.js');
const run = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', join(root, 'test', 'helpers', 'run-cli.ts'), ...args], { encoding: 'utf8', cwd: root });

// ---------------------------------------------------------------------------
// A small reader of POSIX sh, enough for our own scripts: the words in command
// position of every simple command.

const KEYWORDS = new Set(['if', 'then', 'else', 'elif', 'fi', 'case', 'esac', 'for', 'while', 'until', 'do', 'done', 'in', '!', '{', '}']);
const BUILTINS = new Set([
  'printf', 'echo', 'read', 'test', '[', 'kill', 'wait', 'command', 'return', 'exit', 'shift', 'set', 'export', 'break', 'continue', 'true', 'false', ':', 'umask', 'trap', 'cd', 'local',
  // exec with redirections only (exec 8>&1): no program is started.
  'exec',
  // Runs its argument as code: allowed only because every eval in the script is
  // checked below to do nothing but assign variables.
  'eval',
]);

/**
 * Simplifies the script to its command structure: comments, single-quoted
 * strings (data), arithmetic, ${...} expansions and redirections go; double-
 * quoted words stay when they are one word ("$_jj" can be a command), else
 * become "".
 */
function code(script: string): string {
  let c = script
    .split('\n')
    .map((l) => (/^\s*#/.test(l) ? '' : l.replace(/(^|\s)#\s.*$/, '')))
    .join('\n')
    .replace(/'[^']*'/g, "''")
    .replace(/"\$\(/g, '$(')
    .replace(/\)"/g, ')')
    .replace(/\$\(\([^()]*\)\)/g, '0');
  for (let i = 0; i < 4; i++) c = c.replace(/\$\{[^{}]*\}/g, 'X');
  return c
    .replace(/"(?:[^"\\]|\\.)*"/g, (q) => (/\s/.test(q) ? '""' : q))
    .replace(/\d*(>>|[<>])&?\s*[^\s;|&()]*/g, ' ')
    .replace(/\bcase\s+\S+\s+in\b/g, ';; ');
}

/** The first word of each simple command, and the command a `_run`/`env` wrapper runs. */
function commandWords(src: string): string[] {
  let c = code(src);
  // case patterns: "pat)" at a line start or after ";;"
  for (let i = 0; i < 3; i++) c = c.replace(/(^|;;|\bin\s)(\s*)(?:"[^"]*"|[^\s();|"]+)(?:\s*\|\s*(?:"[^"]*"|[^\s();|"]+))*\)/gm, '$1$2 ');
  // function definitions
  c = c.replace(/\b([A-Za-z_][A-Za-z0-9_]*)\(\)/g, ' ');
  const words: string[] = [];
  for (const segment of c.split(/\$\(|`|&&|\|\||;;|[;|&(){}\n]/)) {
    const w = segment.trim().match(/"(?:[^"\\]|\\.)*"\S*|\S+/g) ?? [];
    let i = 0;
    const next = (): string | undefined => {
      while (i < w.length && (/^[A-Za-z_][A-Za-z0-9_]*=/.test(w[i]) || KEYWORDS.has(w[i]))) i++;
      return w[i++];
    };
    let cmd = next();
    if (w[0] === 'for') continue; // for NAME in WORDS: no command
    while (cmd !== undefined) {
      // what cannot be a program (operands of [ ], pieces of messages) is not one
      if (!/^([A-Za-z0-9_./+][A-Za-z0-9_./+-]*|"\$[^"\s]*")$/.test(cmd)) break;
      if (cmd === "''" || cmd === '""') break;
      words.push(cmd);
      if (cmd === '_run') {
        i++; // the deadline
        cmd = w[i++];
        continue;
      }
      if (cmd === 'env') {
        while (i < w.length && /^-|=/.test(w[i])) i++;
        cmd = w[i++];
        continue;
      }
      break;
    }
  }
  return words;
}

function definedFunctions(src: string): Set<string> {
  return new Set([...src.matchAll(/\b([A-Za-z_][A-Za-z0-9_]*)\(\)/g)].map((m) => m[1]));
}

/** What a word that is a variable runs; every one must be known. */
const DYNAMIC: Record<string, string> = {
  '"$@"': "the argv given to _run (or fed input by _crun): a probe's command (its programs are in the list)",
  '"$_capb"': 'head (or _cap, a function, where head has no -c)',
  '"$_jj"': '<java>',
  '"$_jvj"': '<java>',
  '"$3"': '<java> (macOS Java record)',
  '"$1"': '<java> (_java_exec: the real path _java_who decided on)',
  '"$_nb"': '<rpm on PATH>',
  '"$_mvd/Contents/MacOS/VBoxManage"': '<VBoxManage>',
};

describe('octoscan-remote script', () => {
  it('prints exactly the script a scan sends, the token a placeholder', () => {
    const token = '@@OCTO:0123456789abcdef0123456789abcdef@@';
    const sent = buildScript({ linux: linuxProbes, darwin: darwinProbes }, { token, javaDirs: ['/srv/java'] });
    assert.equal(scriptText({ javaDir: ['/srv/java'] }), sent.split(token).join(PLACEHOLDER_TOKEN));
    const r = run(['script', '--java-dir', '/srv/java']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, sent.split(token).join(PLACEHOLDER_TOKEN));
    assert.match(r.stderr, /execs `\/bin\/sh -s`/);
    const s = run(['script', '--sudo']);
    assert.match(s.stderr, /sudo -n \/bin\/sh -s/);
    assert.match(s.stderr, /sudo -S -p octoscan-sudo-<random>: \/bin\/sh -s/);
    assert.match(s.stderr, /exec `\/bin\/sh -s` with the script, as an unprivileged scan/);
    // What a sudo scan sends: the marker line, then the very same script.
    assert.equal(s.stdout, `printf '%s\\n' octoscan-root-000000000000000000000000\n${scriptText({ javaDir: [] })}`);
    assert.equal(run(['script', '--os', 'solaris']).status, 1);
    assert.equal(run(['script', 'extra']).status, 1);
  });

  it('--sha256: the sha256 of the script exactly as printed for these options (scan.json and the report carry it)', () => {
    const printed = run(['script', '--java-dir', '/srv/java']);
    const h = run(['script', '--sha256', '--java-dir', '/srv/java']);
    assert.equal(h.status, 0, h.stderr);
    assert.equal(h.stdout, `${createHash('sha256').update(printed.stdout).digest('hex')}\n`);
    assert.equal(h.stdout.trim(), scriptSha256({ linux: linuxProbes, darwin: darwinProbes }, ['/srv/java']));
    assert.notEqual(run(['script', '--sha256']).stdout, h.stdout, 'the Java folders shape the script, so the hash');
    assert.equal(run(['script', '--sha256', '--sudo', '--java-dir', '/srv/java']).stdout, h.stdout, 'the marker line of --sudo is not part of the script');
  });

  it('--list: one row per probe, from the definitions, with deadline, cap and root', () => {
    const text = listText({ sudo: false, javaDir: [], list: true });
    for (const p of [...linuxProbes, ...darwinProbes]) assert.match(text, new RegExp(`^(linux|macos) +${p.id} `, 'm'), p.id);
    assert.match(text, /^linux +dmi +sys\/class\/dmi\/id\/<name> +- +64 KiB +product_uuid, product_serial, board_serial, chassis_serial +reads \/sys\/class\/dmi\/id\/\* \(by the shell's read, no process\)$/m);
    assert.match(text, /^linux +cpuinfo +proc\/cpuinfo +60 s +16 MiB +- +reads \/proc\/cpuinfo$/m);
    assert.match(text, /^linux +dpkg +dpkg\/installed\.txt +600 s +64 MiB +- +dpkg-query -W -f '\$\{Package\}\\t/m);
    assert.match(text, /^macos +mac-system-profiler +system_profiler\.xml +480 s +256 MiB /m);
    const mac = listText({ os: 'macos', sudo: true, javaDir: [], list: true });
    assert.doesNotMatch(mac, /^linux /m);
    assert.match(mac, /sudo -n \/bin\/sh -s/);
    // Discovered binaries are shown as what they are, with the rule they run under.
    assert.match(text, /^Discovered programs \(<java>: .*trusted = .*never as root/m);
    assert.match(text, /^linux +java-static .*\(trusted: as the scan; untrusted: in a root scan as its owner, never as root; else not run\)/m);
    assert.match(text, /^setpriv +linux +prelude, java-default, java-home, java-static, java-dynamic$/m);
    const r = run(['script', '--list', '--os', 'linux']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, listText({ os: 'linux', sudo: false, javaDir: [], list: true }));
  });

  it('the README entry tables are the generated ones (UPDATE_README=1 rewrites them)', () => {
    const readmePath = join(root, 'README.md');
    let readme = readFileSync(readmePath, 'utf8');
    for (const os of ['linux', 'macos'] as const) {
      const [start, end] = README_MARKERS[os];
      const a = readme.indexOf(start);
      const b = readme.indexOf(end);
      assert.ok(a >= 0 && b > a, `README lacks ${start} ... ${end}`);
      const want = `${start}\n${readmeEntryTable(os)}\n${end}`;
      const have = readme.slice(a, b + end.length);
      if (process.env.UPDATE_README === '1') readme = readme.slice(0, a) + want + readme.slice(b + end.length);
      else assert.equal(have, want, `README ${os} entry table is out of date: UPDATE_README=1 node --import tsx --test test/unit/script-list.test.ts`);
    }
    if (process.env.UPDATE_README === '1') writeFileSync(readmePath, readme);
  });

  it('the script reader finds commands where sh would run them', () => {
    const words = commandWords(`# tee in a comment\na=1 foo -x | bar 2>&1; x=$(baz -q "$y")\nif [ "$(qux)" = a ]; then _run 60 env -i "$_jj" -version; fi\ncase $1 in pat) zap ;; esac\nprintf '%s' 'rm -rf /' >&3\n`);
    assert.deepEqual(words.filter((w) => !KEYWORDS.has(w)), ['foo', 'bar', 'baz', 'qux', '_run', 'env', '"$_jj"', 'zap', 'printf']);
  });

  it('the listed programs are the only ones the script can start, and none of them writes', () => {
    const script = buildScript({ linux: linuxProbes, darwin: darwinProbes }, { token: PLACEHOLDER_TOKEN, javaDirs: ['/srv/java'] });
    // The preludes' functions and _main, the one the generated script wraps its probes in.
    const functions = definedFunctions(prelude() + preludeDarwin() + '\n_main() {');
    const words = new Set(commandWords(script));
    // believe the reader only if it sees what is obviously there
    for (const w of ['uname', 'head', 'find', 'sort', 'env', '"$_jj"', '_cmd', '_glob', '/usr/bin/dscl', 'renice', 'sleep']) assert.ok(words.has(w), `the reader missed ${w}: ${[...words].join(' ')}`);
    const declared = new Set(PRELUDE_PROGRAMS.map((p) => p.program));
    const seen = new Set<string>();
    const unknown: string[] = [];
    for (const w of words) {
      if (KEYWORDS.has(w) || BUILTINS.has(w) || functions.has(w)) continue;
      if (w in DYNAMIC) {
        const prog = /^<[^>]*>/.exec(DYNAMIC[w]);
        if (prog) seen.add(prog[0]);
        continue;
      }
      if (declared.has(w)) seen.add(w);
      else unknown.push(w);
    }
    assert.deepEqual(unknown, [], `the script starts programs the list does not name: ${unknown.join(', ')}`);
    // eval may only assign: `name=$var` pairs, names and values built from constants and variables.
    const evals = [...script.matchAll(/^[ \t]*eval\b(.*)$/gm)].map((m) => m[1].trim());
    assert.ok(evals.length > 0, 'the reader sees the Java cache evals');
    for (const e of evals) {
      assert.match(e, /^"(?:_[a-z]+(?:_\$_[a-z]+)?=\\\$[A-Za-z0-9_$]+ ?)+"$/, `an eval that does more than assign: ${e}`);
    }
    assert.deepEqual([...declared].filter((p) => !seen.has(p)), [], 'the list names programs the preludes never start');
    // The probes' own programs: every _cmd/_cmdx call starts the probe's argv[0], and nothing else.
    const rows = probeRows({ linux: linuxProbes, darwin: darwinProbes });
    const listed = new Set(externalPrograms(rows).map((p) => p.program));
    let calls = 0;
    // a call's words: bare words or single-quoted strings (which may hold newlines, e.g. scutil's input)
    const call = /(?:^|\n)[ \t]*(_cmdx?) ([a-z0-9-]+#\d+(?:[ \t]+(?:'(?:[^']|'\\'')*'|[^\s'|]+))*)/g;
    for (const m of script.matchAll(call)) {
      calls++;
      const args = [...m[2].matchAll(/'((?:[^']|'\\'')*)'|(\S+)/g)].map((x) => (x[1] !== undefined ? x[1].replace(/'\\''/g, "'") : x[2]));
      // _cmd PROBE ENTRY OKEXITS MORE ARGV; _cmdx PROBE ENTRY OKEXITS MORE SECONDS FLAGS INPUT ARGV
      const argv = args.slice(m[1] === '_cmd' ? 4 : 7);
      assert.ok(listed.has(argv[0]), `${m[0]} starts ${argv[0]}, which the list does not name`);
      if (argv[0] === 'nice') assert.ok(listed.has(argv[3]), `${m[0]}: nice starts ${argv[3]}`);
    }
    assert.ok(calls >= 20, `found only ${calls} command calls`);
    for (const p of listed) assert.ok(!WRITING_PROGRAMS.includes(p.replace(/^.*\//, '')), `${p} writes`);
  });

  it('a subcommand only as the first argument: a host named script is given as user@script or after an option', () => {
    for (const args of [['-o', '/nonexistent-octoscan', 'script'], ['scan@script', '-o', '/nonexistent-octoscan'], ['-o', '/nonexistent-octoscan', 'inspect']]) {
      const r = run(args);
      assert.equal(r.status, 1, args.join(' '));
      assert.match(r.stderr, /--out \/nonexistent-octoscan: the folder does not exist/, `${args.join(' ')}: taken as a scan`);
    }
  });

  it('--help of the scan shows one default for --user and names the subcommands', () => {
    const r = spawnSync(process.execPath, [cli, '--help'], { encoding: 'utf8' });
    if (r.error || /Cannot find module/.test(r.stderr)) return; // dist not built; the tsx run below covers it
    const line = r.stdout.split('\n').find((l) => l.includes('--user'))!;
    assert.equal((line.match(/default:/g) ?? []).length, 1, line);
    assert.match(r.stdout, /script \[--list\]/);
  });
});
