// The whole generated script on the shells it must run on: dash, busybox ash
// and bash, each with the script on standard input as an ssh exec sees it.
//
// Where we are root and unshare(1) works, each run gets a private mount
// namespace whose /tmp is a bind mount of a fresh folder of ours, and HOME,
// the working folder and TMPDIR live inside it: so "the script writes
// nothing" is checked on a /tmp nobody else touches, while the rest of the
// machine keeps running its own tests in the real /tmp.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { lstat, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { newToken, splitStderr } from '../../src/probe/frames.js';
import { runSteered, type Folded, type SteeredOptions } from '../helpers/steered-shell.js';
import { buildScript } from '../../src/probe/script.js';
import type { Probe } from '../../src/probe/probe.js';
import { linuxProbes } from '../../targets/index.js';

const DEADLINE_MS = 60_000;
/** The reader and the backstop get SIGTERM just before the end record; they may take a moment to go. */
const ORPHAN_GRACE_MS = 5_000;

interface Shell {
  name: string;
  argv: string[];
}
const SHELLS: Shell[] = [
  { name: 'dash', argv: ['dash'] },
  { name: 'busybox', argv: ['busybox', 'sh'] },
  { name: 'bash', argv: ['bash'] },
];

interface EntrySeen {
  probe: string;
  attempt: number;
  name: string;
  rc: number;
  more: boolean;
  bytes: number;
}

interface Run {
  shell: Shell;
  missing?: string;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  ms: number;
  timedOut: boolean;
  frames: number;
  done: boolean;
  parseError?: string;
  endError?: string;
  preamble: number;
  trailing: number;
  stderr: string;
  entries: EntrySeen[];
  infos: Map<string, string>;
  warnings: { id: number; message: string }[];
  skips: { probe: string; reason: string }[];
  /** Processes of the run's process group right after it exited, and after the grace period. */
  leftAtExit: string[];
  leftAfterGrace: string[];
  isolatedTmp: boolean;
  /** Listings (path -> "size mtime") of the watched folders before and after. */
  before: Map<string, string>;
  after: Map<string, string>;
  home: string;
  cwd: string;
  tmp: string;
  tmpOfScript: string;
}

const work: string[] = [];
const runs = new Map<string, Run>();
const token = newToken();
const script = buildScript({ linux: linuxProbes }, { token });
const byId = new Map(linuxProbes.map((p) => [p.id, p]));

function available(argv: string[]): string | undefined {
  const r = spawnSync(argv[0], [...argv.slice(1), '-c', 'exit 0'], { stdio: 'ignore' });
  if (r.error) return `${argv[0]} is not installed (${r.error.message})`;
  if (r.status !== 0) return `${argv.join(' ')} -c 'exit 0' exited ${r.status}`;
  return undefined;
}

const canIsolate = ((): boolean => {
  if (process.getuid?.() !== 0) return false;
  const r = spawnSync('unshare', ['--mount', '--propagation', 'private', '--', 'sh', '-c', 'd=$(mktemp -d) && mount --bind "$d" /tmp && umount /tmp && rmdir "$d"'], { stdio: 'ignore' });
  return r.status === 0;
})();

async function listing(root: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (dir: string): Promise<void> => {
    const st = await lstat(dir);
    out.set(dir.slice(root.length) || '/', `dir ${st.mtimeMs}`);
    for (const name of await readdir(dir)) {
      const p = join(dir, name);
      const s = await lstat(p);
      if (s.isDirectory()) await walk(p);
      else out.set(p.slice(root.length), `${s.size} ${s.mtimeMs}`);
    }
  };
  await walk(root);
  return out;
}

function processGroup(pgid: number): string[] {
  const r = spawnSync('ps', ['-eo', 'pid=,ppid=,pgid=,stat=,comm='], { encoding: 'utf8' });
  return r.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    // Zombies run nothing: reaping orphans is init's job (and this machine's init is lazy about it).
    .filter((f) => f.length >= 5 && Number(f[2]) === pgid && !f[3].startsWith('Z'))
    .map((f) => `${f[0]} ${f[1]} ${f[3]} ${f.slice(4).join(' ')}`);
}

async function runShell(shell: Shell): Promise<Run> {
  const root = await mkdtemp(join(tmpdir(), `octoscan-shells-${shell.name}-`));
  work.push(root);
  // Watched: <root>/tmp is the script's /tmp (isolated) and holds HOME, cwd and TMPDIR.
  const fakeTmp = join(root, 'tmp');
  for (const d of ['home', 'cwd', 'tmpdir']) await mkdir(join(fakeTmp, d), { recursive: true });
  const inside = (d: string): string => (canIsolate ? `/tmp/${d}` : join(fakeTmp, d));
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: inside('home'), TMPDIR: inside('tmpdir'), PWD: inside('cwd') };
  delete env.JAVA_HOME;
  const argv = canIsolate
    ? ['unshare', '--mount', '--propagation', 'private', '--', '/bin/sh', '-c', 'mount --bind "$1" /tmp && cd /tmp/cwd && shift && exec "$@"', 'wrap', fakeTmp, ...shell.argv]
    : shell.argv;
  const before = await listing(fakeTmp);
  const run: Run = {
    shell, exitCode: null, signal: null, ms: 0, timedOut: false, frames: 0, done: false, preamble: 0, trailing: 0, stderr: '',
    entries: [], infos: new Map(), warnings: [], skips: [], leftAtExit: [], leftAfterGrace: [], isolatedTmp: canIsolate,
    before, after: new Map(), home: inside('home'), cwd: inside('cwd'), tmp: fakeTmp, tmpOfScript: canIsolate ? '/tmp' : fakeTmp,
  };
  // The controller's side, as a scan has it: "H" after R, deadlines, end of input after Z.
  const r = await runSteered(argv, script, token, { env, cwd: join(fakeTmp, 'cwd'), timeoutMs: DEADLINE_MS });
  const pgid = r.pid;
  Object.assign(run, {
    exitCode: r.code, signal: r.signal, ms: r.ms, timedOut: r.timedOut, frames: r.frames, done: r.done, parseError: r.parseError,
    endError: r.endError, preamble: r.preamble, trailing: r.trailing, stderr: r.stderrRaw,
  });
  let open: EntrySeen | undefined;
  for (const f of r.records) {
    if (f.type === 'begin') open = { probe: f.probe!, attempt: f.attempt!, name: f.name!, rc: -1, more: false, bytes: f.body!.length };
    else if (f.type === 'end' && open) {
      run.entries.push({ ...open, rc: f.rc!, more: f.more! });
      open = undefined;
    } else if (f.type === 'info') run.infos.set(f.key!, f.value!);
    else if (f.type === 'warning') run.warnings.push({ id: f.id!, message: f.message! });
    else if (f.type === 'skip') run.skips.push({ probe: f.probe!, reason: f.reason! });
  }
  run.leftAtExit = processGroup(pgid);
  const graceEnd = Date.now() + ORPHAN_GRACE_MS;
  run.leftAfterGrace = run.leftAtExit;
  while (run.leftAfterGrace.length > 0 && Date.now() < graceEnd) {
    await new Promise((r) => setTimeout(r, 100));
    run.leftAfterGrace = processGroup(pgid);
  }
  if (run.leftAfterGrace.length) {
    try {
      process.kill(-pgid, 'SIGKILL'); // our own group only
    } catch {
      /* gone */
    }
  }
  run.after = await listing(fakeTmp);
  return run;
}

/** The entries that survive: the collector keeps a command's output on an accepted exit, a file's on 0. */
function finalEntries(run: Run): Map<string, EntrySeen> {
  const out = new Map<string, EntrySeen>();
  for (const e of run.entries) {
    const p = byId.get(e.probe);
    assert.ok(p, `${run.shell.name}: entry of unknown probe ${e.probe}`);
    const ok = p.kind === 'command' ? [0, ...(p.okExit ?? [])].includes(e.rc) : e.rc === 0;
    if (ok) {
      assert.ok(!out.has(e.name), `${run.shell.name}: ${e.name} written twice`);
      out.set(e.name, e);
    }
  }
  return out;
}

function diffListing(before: Map<string, string>, after: Map<string, string>, under: (p: string) => boolean): string[] {
  const out: string[] = [];
  for (const [p, v] of after) {
    if (!under(p)) continue;
    if (!before.has(p)) out.push(`created ${p}`);
    else if (before.get(p) !== v) out.push(`changed ${p} (${before.get(p)} -> ${v})`);
  }
  for (const p of before.keys()) if (under(p) && !after.has(p)) out.push(`removed ${p}`);
  return out;
}

// Each shell has its own 60 s deadline; the suite allows for all three on a loaded machine.
describe('the generated script on dash, busybox sh and bash', { timeout: 3 * DEADLINE_MS + 60_000 }, () => {
  before(async () => {
    // One after the other: concurrent runs would see each other's `java -version` in java-dynamic and ps.
    for (const shell of SHELLS) {
      const missing = available(shell.argv);
      runs.set(shell.name, missing ? ({ shell, missing } as Run) : await runShell(shell));
    }
  });

  after(async () => {
    for (const d of work) await rm(d, { recursive: true, force: true });
  });

  /** The run of a shell, or a loud skip when the shell is not installed. */
  const get = (t: { skip: (m: string) => void; diagnostic: (m: string) => void }, name: string): Run | undefined => {
    const r = runs.get(name);
    if (!r || r.missing) {
      const why = `SKIPPED: ${name} not available: ${r?.missing ?? 'no run'}`;
      t.diagnostic(why);
      console.error(`script-shells: ${why}`);
      t.skip(why);
      return undefined;
    }
    return r;
  };

  for (const { name } of SHELLS) {
    it(`${name}: finishes with Z within ${DEADLINE_MS / 1000} s, exit 0, clean stream`, (t) => {
      const r = get(t, name);
      if (!r) return;
      t.diagnostic(`${name}: ${Math.round(r.ms)} ms, ${r.frames} frames, ${r.entries.length} bodies, isolated /tmp: ${r.isolatedTmp}`);
      assert.equal(r.timedOut, false, `${name} did not finish within ${DEADLINE_MS} ms`);
      assert.equal(r.parseError, undefined);
      assert.equal(r.done, true, 'no Z record');
      assert.equal(r.endError, undefined);
      assert.equal(r.exitCode, 0);
      assert.equal(r.preamble, 0, 'output before the first record');
      assert.equal(r.trailing, 0, 'output after Z');
      assert.equal(r.infos.get('os'), 'Linux');
    });

    it(`${name}: standard error holds only the commands' own, each between its P and p records`, (t) => {
      const r = get(t, name);
      if (!r) return;
      // Every command's stderr is framed for scan.json; nothing of the shell's own is expected.
      const { own, probes } = splitStderr(r.stderr, token);
      const EXPECTED: RegExp[] = [];
      const unexpected = own.split('\n').filter((l) => l.length > 0 && !EXPECTED.some((re) => re.test(l)));
      assert.deepEqual(unexpected, []);
      for (const [probe, head] of probes) assert.ok(Buffer.byteLength(head) <= 4096, `${probe}: head capped on the target`);
      const opened = r.stderr.split(`\n${token} P `).length - 1;
      const closed = r.stderr.split(`\n${token} p\n`).length - 1;
      assert.ok(opened >= 5, `P records: ${opened}`);
      assert.equal(closed, opened, 'every P record is closed');
    });

    it(`${name}: leaves no process behind (the reader and the backstop go with the end record)`, (t) => {
      const r = get(t, name);
      if (!r) return;
      if (r.leftAtExit.length) t.diagnostic(`${name}: at exit still running: ${r.leftAtExit.join('; ')}`);
      // The reader and the backstop (subshells of the shell itself) and the backstop's
      // sleep get SIGTERM just before Z and may still be going; no probe command may.
      const shellComm = r.shell.argv[0];
      assert.deepEqual(r.leftAtExit.filter((p) => !p.endsWith(' sleep') && !p.endsWith(` ${shellComm}`)), []);
      assert.deepEqual(r.leftAfterGrace, [], `still running ${ORPHAN_GRACE_MS} ms after exit`);
    });

    it(`${name}: writes nothing to HOME, the working folder or TMPDIR`, (t) => {
      const r = get(t, name);
      if (!r) return;
      const watched = (p: string): boolean => /^\/(home|cwd|tmpdir)(\/|$)/.test(p);
      assert.deepEqual(diffListing(r.before, r.after, watched), []);
    });

    it(`${name}: writes nothing to /tmp but java's hsperfdata folder`, (t) => {
      const r = get(t, name);
      if (!r) return;
      if (!r.isolatedTmp) {
        const why = 'SKIPPED: no private /tmp (needs root and unshare --mount); the shared /tmp changes under other tests';
        t.diagnostic(why);
        console.error(`script-shells: ${name}: ${why}`);
        t.skip(why);
        return;
      }
      const outside = (p: string): boolean => !/^\/(home|cwd|tmpdir)(\/|$)/.test(p) && !/^\/hsperfdata_[^/]+(\/|$)/.test(p) && p !== '/';
      assert.deepEqual(diffListing(r.before, r.after, outside), []);
    });

    it(
      `${name}: writes nothing to /tmp at all`,
      (t) => {
        const r = get(t, name);
        if (!r) return;
        if (!r.isolatedTmp) {
          t.skip('SKIPPED: no private /tmp');
          return;
        }
        assert.deepEqual(diffListing(r.before, r.after, (p) => !/^\/(home|cwd|tmpdir)\//.test(p)), []);
      },
    );
  }

  it('dash, busybox sh and bash give the same final entry set (differences computed and explained)', async (t) => {
    const present = SHELLS.map((s) => runs.get(s.name)).filter((r): r is Run => !!r && !r.missing);
    if (present.length < 2) {
      const why = `SKIPPED: fewer than two shells available (${present.map((r) => r.shell.name).join(', ')})`;
      console.error(`script-shells: ${why}`);
      t.skip(why);
      return;
    }
    // Probes whose command could resolve to something else under busybox: when busybox is
    // built to prefer its applets, `ps`, `ip`, `last`... are busybox's own there. Computed here
    // by asking each shell what it would run, under the script's own PATH.
    const commands = [...new Set(linuxProbes.flatMap((p: Probe) => (p.kind === 'command' ? [p.argv[0]] : [])))];
    const resolve = (argv: string[]): string[] => {
      const r = spawnSync(argv[0], [...argv.slice(1), '-c', `PATH="/usr/sbin:/usr/bin:/sbin:/bin:/usr/local/sbin:/usr/local/bin:$PATH"; for c in ${commands.join(' ')}; do printf '%s=%s\\n' "$c" "$(command -v "$c")"; done`], { encoding: 'utf8' });
      return r.stdout.trim().split('\n');
    };
    const reference = resolve(present[0].shell.argv);
    const mayDiffer = new Set<string>();
    for (const r of present.slice(1)) {
      const res = resolve(r.shell.argv);
      res.forEach((line, i) => {
        if (line !== reference[i]) {
          const cmd = line.split('=')[0];
          t.diagnostic(`${r.shell.name} resolves ${line} where ${present[0].shell.name} has ${reference[i]}: its probes may differ`);
          for (const p of linuxProbes) if (p.kind === 'command' && p.argv[0] === cmd) mayDiffer.add(p.entry);
        }
      });
    }
    t.diagnostic(`entries allowed to differ: ${[...mayDiffer].join(', ') || 'none (every shell runs the same programs)'}`);
    // java/dynamic/<pid> follows whatever JVMs happen to run on this machine at that moment
    // (other test suites start some), like ps output: not comparable between runs.
    const comparable = (n: string): boolean => !n.startsWith('java/dynamic/');
    const finals = present.map((r) => ({ name: r.shell.name, names: [...finalEntries(r).keys()].filter(comparable) }));
    const reference0 = new Set(finals[0].names);
    for (const f of finals.slice(1)) {
      const mine = new Set(f.names);
      const onlyRef = finals[0].names.filter((n) => !mine.has(n));
      const onlyMine = f.names.filter((n) => !reference0.has(n));
      for (const n of [...onlyRef, ...onlyMine]) {
        t.diagnostic(`${n}: only on ${onlyRef.includes(n) ? finals[0].name : f.name} (its command is a different program there)`);
        assert.ok(mayDiffer.has(n), `${n} is written by ${onlyRef.includes(n) ? finals[0].name : f.name} only, and its command is the same program on both`);
      }
      // the entries both have come in the same order
      assert.deepEqual(f.names.filter((n) => reference0.has(n)), finals[0].names.filter((n) => mine.has(n)), `order ${f.name} vs ${finals[0].name}`);
    }
    // Attempts may differ (cmd/last: `last -w -n 200` may fail and fall back to `last`); report them.
    for (const r of present) {
      const fallbacks = r.entries.filter((e) => e.attempt > 0).map((e) => `${e.probe}#${e.attempt}`);
      if (fallbacks.length) t.diagnostic(`${r.shell.name} used fallbacks: ${fallbacks.join(', ')}`);
    }
  });

  it('the three shells report the same facts and the same skips', async (t) => {
    const present = SHELLS.map((s) => runs.get(s.name)).filter((r): r is Run => !!r && !r.missing);
    if (present.length < 2) {
      t.skip('SKIPPED: fewer than two shells available');
      return;
    }
    const timeBound = new Set(['epoch', 'utc', 'local']);
    const facts = (r: Run): [string, string][] => [...r.infos].filter(([k]) => !timeBound.has(k));
    for (const r of present.slice(1)) {
      assert.deepEqual(facts(r), facts(present[0]), r.shell.name);
      assert.deepEqual(r.skips, present[0].skips, r.shell.name);
      // warnings about a JVM process (java-dynamic) depend on what runs at that moment
      const stable = (w: Run['warnings']): Run['warnings'] => w.filter((x) => !/\/proc\/\d+\//.test(x.message));
      assert.deepEqual(stable(r.warnings), stable(present[0].warnings), r.shell.name);
    }
    // facts are well-formed on every shell
    for (const r of present) {
      assert.match(r.infos.get('epoch') ?? '', /^\d{9,11}$/);
      assert.match(r.infos.get('utc') ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
      assert.match(r.infos.get('tz') ?? '', /^[+-]\d{4}$/);
      assert.equal(r.infos.get('uid'), String(process.getuid?.()));
    }
  });

  it('file entries carry the file content byte for byte (dash)', async (t) => {
    const r = get(t, 'dash');
    if (!r) return;
    const version = r.entries.find((e) => e.name === 'proc/version');
    if (!version) {
      t.skip('no /proc/version here');
      return;
    }
    const { readFile } = await import('node:fs/promises');
    assert.equal(version.bytes, (await readFile('/proc/version')).length);
  });
});

// ---------------------------------------------------------------------------
// Prelude functions one by one, on real files in a temporary folder, on every
// shell. Only the folder differs from a real target; the functions are the
// ones the script ships.

/**
 * Runs `body` after the real prelude on `shell`, the way the generated script
 * runs its probes (inside _main, after _start), with the controller's side of
 * the protocol (test/helpers/steered-shell.ts); returns the records, bodies
 * folded into begins.
 */
async function runPrelude(
  shell: Shell,
  body: string,
  opts: { timeoutMs?: number; capOf?: (entry: string) => number | undefined; unsteered?: boolean; deadline?: number; onRecord?: SteeredOptions['onRecord'] } = {},
): Promise<{ records: Folded[]; stderr: string; ms: number; killed: import('../../src/scan/steering.js').Killed[]; code: number | null; pid: number }> {
  const t = newToken();
  const script = `_T='${t}' _H=${opts.deadline ?? 120}\n${preludeText}\n_main() {\n${body}\n}\n_start; _main; _end; exit 0\n`;
  const r = await runSteered(shell.argv, script, t, { timeoutMs: opts.timeoutMs ?? 60_000, capOf: opts.capOf, unsteered: opts.unsteered, onRecord: opts.onRecord });
  assert.equal(r.parseError, undefined);
  const records = r.records.filter((x) => x.type !== 'info');
  return { records, stderr: r.stderrRaw, ms: r.ms, killed: r.killed, code: r.code, pid: r.pid };
}

const preludeText = (await import('../../src/probe/script.js')).prelude();

/**
 * A folder the prelude trusts a java in (issue 20): it and every folder above
 * it owned by root or by us and writable by no one else. Not /tmp (anyone may
 * write there): below /var/lib as root, else below our home.
 */
function trustedParent(): string {
  return process.getuid?.() === 0 ? '/var/lib' : homedir();
}

describe('prelude functions on real files', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(trustedParent(), '.octoscan-prelude-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  for (const shell of SHELLS) {
    describe(shell.name, () => {
      const skipIfMissing = (t: { skip: (m: string) => void }): boolean => {
        const missing = available(shell.argv);
        if (missing) {
          console.error(`script-shells: SKIPPED ${shell.name}: ${missing}`);
          t.skip(missing);
        }
        return !!missing;
      };

      it('_file copies byte for byte (cat, or the shell\'s read for small kernel text); folders and missing files are warnings', async (t) => {
        if (skipIfMissing(t)) return;
        const { writeFile: wf, mkdir: md } = await import('node:fs/promises');
        const d = join(dir, `file-${shell.name}`);
        await md(d);
        const content = Buffer.from(Array.from({ length: 100 }, (_, i) => (i * 13) & 0xff));
        await wf(join(d, 'f'), content);
        await wf(join(d, 'crlf'), 'a\r\nb\r\n\0c');
        await wf(join(d, 'text'), ' lead\\n %s\ttab\n\nlast line without newline');
        await wf(join(d, 'text-nl'), 'one\n');
        await wf(join(d, 'empty'), '');
        const { records } = await runPrelude(
          shell,
          [
            `_mtimes '${d}/f' '${d}/crlf'`,
            `_file p e/f '${d}/f' 0 0`,
            `_file p e/crlf '${d}/crlf' 0 1`,
            `_file p e/dir '${d}' 0 0`,
            `_file p e/none '${d}/none' 0 0`,
            `_file p e/text '${d}/text' 0 t`,
            `_file p e/text-nl '${d}/text-nl' 0 t`,
            `_file p e/empty '${d}/empty' 0 t`,
          ].join('\n'),
        );
        assert.deepEqual(records[0].body, content);
        assert.equal(records[0].name, 'e/f');
        assert.ok(Math.abs(records[0].mtime! - Date.now() / 1000) < 120, `mtime ${records[0].mtime}`);
        assert.equal(records[0].mode, undefined, 'no mode for a text file');
        assert.deepEqual(records[1], { type: 'end', rc: 0, more: false });
        assert.deepEqual(records[2].body, Buffer.from('a\r\nb\r\n\0c'));
        assert.equal(records[2].mode, 0o644, 'binary: the source mode');
        assert.deepEqual(records.slice(4, 6), [
          { type: 'warning', id: 1002, message: `cannot read ${d}: IsADirectoryError(21, 'Is a directory')` },
          { type: 'warning', id: 1001, message: `add_file cannot read '${d}/none': file does not exist` },
        ]);
        // The shell's read: every byte but NUL, the last line as it ends; the time from date -r (not in the one stat).
        assert.equal(records[6].body!.toString(), ' lead\\n %s\ttab\n\nlast line without newline');
        assert.ok(Math.abs(records[6].mtime! - Date.now() / 1000) < 120, `mtime ${records[6].mtime}`);
        assert.equal(records[8].body!.toString(), 'one\n');
        assert.equal(records[10].body!.toString(), '');
        assert.deepEqual(records.at(-1), { type: 'done' });
      });

      it('an endless file or command is stopped by the controller at its cap: the target keeps no head', async (t) => {
        if (skipIfMissing(t)) return;
        const cap = 64 * 1024;
        const { records, ms, killed } = await runPrelude(shell, [`_file p e/zero /dev/zero 0 0`, `_cmd b#0 e/b '0' 0 yes`, `_r W 1 still-here`].join('\n'), {
          capOf: () => cap,
        });
        assert.ok(ms < 45_000, `took ${ms} ms`);
        const zero = records[0];
        assert.equal(zero.name, 'e/zero');
        assert.ok(zero.body!.length > cap, 'the file ran past its cap');
        // What crosses after the cap is bounded by the pipe and the time a line takes to arrive.
        assert.ok(zero.body!.length < cap + 64 * 1024 * 1024, `${zero.body!.length} bytes`);
        assert.equal(records[1].rc, 137, 'cat killed');
        assert.deepEqual(records[2], { type: 'warning', id: 1003, message: "cannot read /dev/zero: OSError(5, 'Input/output error')" });
        assert.equal(records[3].name, 'e/b');
        assert.equal(records[4].rc, 137, 'yes killed');
        assert.deepEqual(records[5], { type: 'warning', id: 1, message: 'still-here' });
        assert.deepEqual(killed.map((k) => [k.why, k.entry]), [['cap', 'e/zero'], ['cap', 'e/b']]);
      });

      it('_glob: odd names arrive as they are, folders are passed over, a name holding a newline is kept %0A-escaped with a warning', async (t) => {
        if (skipIfMissing(t)) return;
        const { writeFile: wf, mkdir: md, chmod } = await import('node:fs/promises');
        const d = join(dir, `glob-${shell.name}`);
        await md(join(d, 'sub'), { recursive: true });
        const names = ['a b', '-rf', "it's", '$(id)', '*', 'é'];
        for (const n of names) await wf(join(d, n), `<${n}>`);
        await wf(join(d, 'x\ny'), 'nl');
        await wf(join(d, '%\n\n'), 'pct');
        await chmod(join(d, 'a b'), 0o600);
        const { records } = await runPrelude(shell, `_glob p out '' 1 '${d}/'*`);
        const all = records.filter((r) => r.type === 'begin');
        // names holding a newline are announced as out//<name with %25 and %0A>, body intact
        const escaped = all.filter((r) => r.name!.startsWith('out//'));
        assert.deepEqual(escaped.map((r) => [r.name, r.body!.toString()]).sort(), [['out//%25%0A%0A', 'pct'], ['out//x%0Ay', 'nl']]);
        const begins = all.filter((r) => !r.name!.startsWith('out//'));
        const sorted = [...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
        assert.deepEqual(new Set(begins.map((r) => r.name)), new Set(sorted.map((n) => `out/${n}`)));
        for (const r of begins) assert.equal(r.body!.toString(), `<${r.name!.slice(4)}>`);
        assert.equal(begins.find((r) => r.name === 'out/a b')!.mode, 0o600);
        const warnings = records.filter((r) => r.type === 'warning');
        assert.deepEqual(warnings, [
          { type: 'warning', id: 1003, message: `file name ${d}/%25%0A%0A holds a newline: stored as out/%25%0A%0A` },
          { type: 'warning', id: 1003, message: `file name ${d}/x%0Ay holds a newline: stored as out/x%0Ay` },
        ]);
      });

      it(
        'the hyperv glob finds the KVP pools (.kvp_pool_0 ... .kvp_pool_4 are dot files)',
        async (t) => {
          if (skipIfMissing(t)) return;
          const { writeFile: wf, mkdir: md } = await import('node:fs/promises');
          const d = join(dir, `hyperv-${shell.name}`);
          await md(d);
          for (let i = 0; i < 5; i++) await wf(join(d, `.kvp_pool_${i}`), Buffer.from([i, 0, 0, 0]));
          const hyperv = byId.get('hyperv')!;
          const { probeShell } = await import('../../src/probe/script.js');
          const shellText = probeShell(hyperv).split("'/var/lib/hyperv/").join(`'${d}/`);
          assert.notEqual(shellText, probeShell(hyperv), 'the probe no longer reads /var/lib/hyperv: update this test');
          const { records } = await runPrelude(shell, shellText);
          assert.deepEqual(records.filter((r) => r.type === 'begin').map((r) => r.name), [0, 1, 2, 3, 4].map((i) => `hyperv/.kvp_pool_${i}`));
        },
      );

      it('_cmd: the exit status, the output, stderr in its P section; a command reading stdin gets /dev/null, not the script or the controller\'s lines', async (t) => {
        if (skipIfMissing(t)) return;
        const { records, stderr } = await runPrelude(
          shell,
          [
            `_cmd a#0 e/a '0' 0 sh -c 'printf "hi\\n"; printf err >&2; exit 3'`,
            `_cmd c#0 e/c '0' 1 cat`,
            `_r W 1 still-here`,
          ].join('\n'),
        );
        assert.equal(records[0].body!.toString(), 'hi\n');
        assert.deepEqual(records[1], { type: 'end', rc: 3, more: false });
        assert.deepEqual(records[2].body, Buffer.alloc(0), 'cat got /dev/null');
        assert.deepEqual(records[3], { type: 'end', rc: 0, more: true });
        assert.deepEqual(records[4], { type: 'warning', id: 1, message: 'still-here' });
        assert.equal(splitStderr(stderr, stderr.match(/@@OCTO:[0-9a-f]{32}@@/)![0]).probes.get('a#0'), 'err');
      });

      it('_run: the controller kills a command at its deadline (K line on standard input)', async (t) => {
        if (skipIfMissing(t)) return;
        const { records, ms, killed } = await runPrelude(shell, `_run 1 sleep 30; _r W 1 "rc=$?"`);
        assert.ok(ms < 25_000, `took ${ms} ms: sleep 30 was not killed at its 1 s deadline`);
        assert.deepEqual(records[0], { type: 'warning', id: 1, message: 'rc=137' });
        assert.deepEqual(killed.map((k) => [k.why, k.seconds]), [['deadline', 1]]);
      });

      it('the controller gone (end of input after H): the running command and the shell end at once', async (t) => {
        if (skipIfMissing(t)) return;
        const { records, ms, code } = await runPrelude(shell, `_r W 1 before; _run 600 sleep 300; _r W 1 after`, {
          onRecord: (r, stdin) => {
            // The first record after H: the controller goes away while sleep runs.
            if (r.type === 'warning' && r.message === 'before') setTimeout(() => stdin.end(), 300);
          },
        });
        assert.ok(ms < 20_000, `took ${ms} ms`);
        assert.deepEqual(records.filter((r) => r.type === 'warning').map((r) => r.message), ['before'], 'nothing ran after the controller left');
        assert.equal(records.some((r) => r.type === 'done'), false);
        assert.notEqual(code, 0);
      });

      it('a script run by hand (no controller: end of input, no H) runs to its end, unsteered', async (t) => {
        if (skipIfMissing(t)) return;
        const { records } = await runPrelude(shell, `_run 600 sleep 1; _r W 1 "rc=$?"`, { unsteered: true });
        assert.deepEqual(records, [{ type: 'warning', id: 1, message: 'rc=0' }, { type: 'done' }]);
      });

      it('the backstop: with the controller silent, the scan ends after its deadline', async (t) => {
        if (skipIfMissing(t)) return;
        const { records, ms } = await runPrelude(shell, `_r W 1 before; sleep 300; _r W 1 after`, { deadline: 2, unsteered: true });
        assert.ok(ms < 20_000, `took ${ms} ms: the backstop did not end it`);
        assert.deepEqual(records.filter((r) => r.type === 'warning').map((r) => r.message), ['before']);
      });

      it('_java_static prunes only the system folders a search folder contains', async (t) => {
        if (skipIfMissing(t)) return;
        // A function named find is found before PATH: it shows the argv the real one would get.
        const argv = async (roots: string): Promise<string[]> => (await runPrelude(shell, `exec 5>&2; find() { printf '%s\\n' "$@" >&5; }; _java_static js 100000 ${roots}`)).stderr.trim().split('\n');
        assert.deepEqual(await argv("'/opt' '/usr/lib'"), ['/opt', '/usr/lib', '-name', 'java', '(', '-type', 'f', '-o', '-type', 'l', ')', '-print']);
        assert.deepEqual(await argv("'/opt' '/'"), ['/opt', '/', '(', '-path', '/dev', '-o', '-path', '/proc', '-o', '-path', '/run', '-o', '-path', '/sys', '-o', '-path', '/etc', ')', '-prune', '-o', '-name', 'java', '(', '-type', 'f', '-o', '-type', 'l', ')', '-print']);
        assert.deepEqual(await argv("'/etc/' '/srv'"), ['/etc/', '/srv', '(', '-path', '/etc', ')', '-prune', '-o', '-name', 'java', '(', '-type', 'f', '-o', '-type', 'l', ')', '-print']);
        assert.deepEqual(await argv("'/pr' '/sys/x'"), ['/pr', '/sys/x', '-name', 'java', '(', '-type', 'f', '-o', '-type', 'l', ')', '-print']);
      });

      it('java -version runs once per binary, however many paths reach it; each record keeps its own path', async (t) => {
        if (skipIfMissing(t)) return;
        const { writeFile: wf, mkdir: md, chmod, symlink, readFile: rf } = await import('node:fs/promises');
        const j = join(dir, `java-once-${shell.name}`);
        const count = join(j, 'runs');
        await md(join(j, 'a', 'bin'), { recursive: true });
        await md(join(j, 'b', 'bin'), { recursive: true });
        await wf(join(j, 'a', 'bin', 'java'), `#!/bin/sh\necho run >> '${count}'\nprintf 'openjdk version "21"\\n' >&2\n`);
        await chmod(join(j, 'a', 'bin', 'java'), 0o755);
        await symlink(join(j, 'a', 'bin', 'java'), join(j, 'b', 'bin', 'java'));
        const { records } = await runPrelude(shell, `_java_static js 100000 '${j}'; _java_record jd java/static/default_java/version '${j}/b/bin/java' 100000`);
        const begins = records.filter((r) => r.type === 'begin');
        assert.deepEqual(begins.map((r) => r.body!.toString()), [
          `Path:${j}/a/bin/java\nVariant:JRE\n\nopenjdk version "21"\n`,
          `Path:${j}/b/bin/java\nVariant:JRE\n\nopenjdk version "21"\n`,
          `Path:${j}/b/bin/java\nVariant:JRE\n\nopenjdk version "21"\n`,
        ]);
        assert.equal((await rf(count, 'utf8')).split('\n').filter(Boolean).length, 1, 'one java -version for three records of one binary');
      });

      it('a java in a folder others may write (/tmp) is not run: NOT RUN record, warning 2003', async (t) => {
        if (skipIfMissing(t)) return;
        const { writeFile: wf, mkdir: md, chmod, mkdtemp: mt, rm: rmr, access } = await import('node:fs/promises');
        const j = await mt(join(tmpdir(), `octoscan-untrusted-${shell.name}-`));
        try {
          const ran = join(j, 'ran');
          await md(join(j, 'jdk', 'bin'), { recursive: true });
          await wf(join(j, 'jdk', 'bin', 'java'), `#!/bin/sh\necho run >> '${ran}'\n`);
          await chmod(join(j, 'jdk', 'bin', 'java'), 0o755);
          await wf(join(j, 'jdk', 'release'), 'JAVA_VERSION="17.0.9"\nIMPLEMENTOR="Eclipse Adoptium"\nOS_NAME="Linux"\n');
          const { records } = await runPrelude(shell, `_java_static js 100000 '${j}'`);
          const body = records.find((r) => r.type === 'begin')!.body!.toString();
          const why = process.getuid?.() === 0 ? 'its owner uid 0 is root: it would run as root' : `this scan runs as uid ${process.getuid?.()}: only root can run it as its owner`;
          assert.equal(
            body,
            `Path:${j}/jdk/bin/java\nVariant:JRE\n\nNOT RUN: java -version not run for '${j}/jdk/bin/java': not trusted (${tmpdir()}: group gid 0 may write, anyone may write) and ${why}\nJAVA_VERSION="17.0.9"\nIMPLEMENTOR="Eclipse Adoptium"\n`,
          );
          assert.deepEqual(records.filter((r) => r.type === 'warning').map((r) => r.id), [2003]);
          await assert.rejects(access(ran), 'nothing ran');
        } finally {
          await rmr(j, { recursive: true, force: true });
        }
      });

      it('_is_probe_jvm: exactly `<java> -XX:-UsePerfData -version` is a scanner, anything else an application', async (t) => {
        if (skipIfMissing(t)) return;
        const { writeFile: wf, mkdir: md } = await import('node:fs/promises');
        const cases: [string, boolean][] = [
          ['/usr/bin/java\0-XX:-UsePerfData\0-version\0', true],
          ['java\0-XX:-UsePerfData\0-version\0', true],
          ['/usr/bin/java\0-jar\0app.jar\0', false],
          ['/usr/bin/java\0-Xmx1g\0-XX:-UsePerfData\0-version\0', false],
          ['/usr/bin/java\0-XX:-UsePerfData\0-version\0extra\0', false],
          ['/usr/bin/java\0-version\0', false],
        ];
        const lines: string[] = [];
        for (let i = 0; i < cases.length; i++) {
          const d = join(dir, `probe-jvm-${shell.name}-${i}`);
          await md(d, { recursive: true });
          await wf(join(d, 'cmdline'), Buffer.from(cases[i][0].replace(/\\0/g, '\0'), 'latin1'));
          lines.push(`if _is_probe_jvm '${d}'; then _r W 1 yes; else _r W 1 no; fi`);
        }
        const { records } = await runPrelude(shell, lines.join('\n'));
        assert.deepEqual(records.filter((r) => r.type === 'warning').map((r) => r.message), cases.map(([, probe]) => (probe ? 'yes' : 'no')));
      });

      it('_java_static: sorted, de-duplicated, numbered only when written; the spec record', async (t) => {
        if (skipIfMissing(t)) return;
        const { writeFile: wf, mkdir: md, chmod, symlink } = await import('node:fs/promises');
        const j = join(dir, `java-${shell.name}`);
        const fake = (out: string, rc: number): string => `#!/bin/sh\nprintf '${out}' >&2\nprintf 'stdout is not kept'\nexit ${rc}\n`;
        for (const [sub, rc] of [['b', 0], ['a', 0], ['c', 2]] as const) {
          await md(join(j, sub, 'bin'), { recursive: true });
          await wf(join(j, sub, 'bin', 'java'), fake(`openjdk version "${sub}"\\n`, rc));
          await chmod(join(j, sub, 'bin', 'java'), 0o755);
        }
        await wf(join(j, 'b', 'bin', 'javac'), '#!/bin/sh\n');
        await chmod(join(j, 'b', 'bin', 'javac'), 0o755);
        await md(join(j, 'b', 'lib', 'management'), { recursive: true });
        await wf(join(j, 'b', 'lib', 'management', 'usagetracker.properties'), '');
        await md(join(j, 'd', 'bin'), { recursive: true });
        await wf(join(j, 'd', 'bin', 'java'), fake('x', 0)); // not executable: skipped, takes no number
        await md(join(j, 'e', 'java'), { recursive: true }); // a folder named java: skipped
        await md(join(j, 'f', 'bin'), { recursive: true });
        await symlink(join(j, 'a', 'bin', 'java'), join(j, 'f', 'bin', 'java')); // a link: kept, by its own path
        const { records } = await runPrelude(shell, `_java_static js 100000 '${j}' '${j}/a'`);
        const begins = records.filter((r) => r.type === 'begin');
        assert.deepEqual(begins.map((r) => r.name), ['java/static/opt_1/version', 'java/static/opt_2/version', 'java/static/opt_3/version', 'java/static/opt_4/version']);
        assert.deepEqual(begins.map((r) => r.body!.toString().split('\n')[0]), [`Path:${j}/a/bin/java`, `Path:${j}/b/bin/java`, `Path:${j}/c/bin/java`, `Path:${j}/f/bin/java`]);
        assert.equal(begins[0].body!.toString(), `Path:${j}/a/bin/java\nVariant:JRE\n\nopenjdk version "a"\n`);
        assert.equal(begins[1].body!.toString(), `Path:${j}/b/bin/java\nVariant:JDK\nFeatures:JavaUsageTrackerHome\n\nopenjdk version "b"\n`);
        assert.equal(begins[2].body!.toString(), `Path:${j}/c/bin/java\nVariant:JRE\n\nFAILED: java -version failed for '${j}/c/bin/java', exit code: 2\nopenjdk version "c"\n`);
        // each record its own features (spec section 8): a's record after b's has none
        assert.equal(begins[3].body!.toString(), `Path:${j}/f/bin/java\nVariant:JRE\n\nopenjdk version "a"\n`);
        assert.deepEqual(records.filter((r) => r.type === 'warning'), [{ type: 'warning', id: 2002, message: `java -version failed for '${j}/c/bin/java', exit code: 2` }]);
      });
    });
  }
});
