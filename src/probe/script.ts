// Turns probe definitions (targets/) into one POSIX sh script. Every value from
// outside the program (extra Java folders given by the user) goes through shq().
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../paths.js';
import { DEFAULT_ENTRY_CAP, type Probe } from './probe.js';

/** Single-quote for POSIX sh: the only character needing care inside '' is ' itself. */
export function shq(s: string): string {
  if (s.includes('\0')) throw new Error('a shell argument cannot contain NUL');
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * A glob with its literal parts quoted and only * ? and simple bracket
 * expressions ([!.], [0-9]) left active, e.g. '/etc/'*'-release'.
 */
export function shGlob(pattern: string): string {
  return pattern
    .split(/(\*|\?|\[!?[A-Za-z0-9._-]+\])/)
    .map((part, i) => (i % 2 === 1 ? part : part === '' ? '' : shq(part)))
    .join('');
}

/** The probe's pattern, plus the two that match dot files without matching . and .. */
function globsOf(p: Extract<Probe, { kind: 'glob' }>): string[] {
  if (!p.dotFiles) return [p.pattern];
  const dir = p.pattern.slice(0, p.pattern.lastIndexOf('/') + 1);
  return [p.pattern, `${dir}.[!.]*`, `${dir}..?*`];
}

/** The prelude function behind each builtin probe, and whether it takes a byte cap. */
const BUILTINS: Record<Extract<Probe, { kind: 'builtin' }>['builtin'], { fn: string; cap: boolean }> = {
  'total-memory': { fn: '_total_memory', cap: false },
  'java-default': { fn: '_java_default', cap: true },
  'java-home': { fn: '_java_home', cap: true },
  'java-static': { fn: '_java_static', cap: true },
  'java-dynamic': { fn: '_java_dynamic', cap: true },
  'mac-apps': { fn: '_mac_apps', cap: true },
  'mac-java-plists': { fn: '_mac_java_plists', cap: true },
  'mac-java-static': { fn: '_mac_java_static', cap: true },
  'mac-virtualbox': { fn: '_mac_virtualbox', cap: true },
};

/** Where the Linux Java search always looks (spec section 4); --java-dir adds more. */
export const JAVA_DIRS = ['/opt', '/usr/lib', '/usr/lib64', '/usr/java'];

export interface ScriptOptions {
  token: string;
  /**
   * The deadline of the whole run of the script, in seconds (the host's
   * --host-timeout, or a container's): the target's backstop ends the scan
   * after it even when the controller is gone without closing the connection.
   */
  deadlineSeconds?: number;
  /** Extra folders searched for Java (--java-dir), absolute paths. */
  javaDirs?: string[];
}

let preludeCache: string | undefined;
export function prelude(): string {
  preludeCache ??= readFileSync(join(packageRoot(), 'targets', 'prelude.sh'), 'utf8');
  return preludeCache;
}

let preludeDarwinCache: string | undefined;
/** The macOS-only functions, placed inside the Darwin branch so Linux hosts never parse them. */
export function preludeDarwin(): string {
  preludeDarwinCache ??= readFileSync(join(packageRoot(), 'targets', 'prelude-darwin.sh'), 'utf8');
  return preludeDarwinCache;
}

/** Builtins that exist only in one section's prelude. */
const DARWIN_BUILTINS = new Set(['mac-apps', 'mac-java-plists', 'mac-java-static', 'mac-virtualbox']);

/** The default deadline of a command, in seconds (_cmd in prelude.sh). */
export const DEFAULT_COMMAND_TIMEOUT = 600;
/** The deadline of one file copy (cat), in seconds (_file and _mac_copy in the preludes). */
export const FILE_READ_TIMEOUT = 60;

/** The program a command probe runs: argv[0], or for absolute probes the first absolute path (after e.g. `nice -n 20`). */
export function commandProgram(p: Extract<Probe, { kind: 'command' }>): string {
  if (!p.absolute) return p.argv[0];
  const prog = p.argv.find((a) => a.startsWith('/'));
  if (!prog) throw new Error(`probe ${p.id}: absolute is set but no argument is an absolute path`);
  return prog;
}

const capArg = (p: Probe): string => String((p.cap ?? DEFAULT_ENTRY_CAP) + 1);

/** How _file copies: 0 = cat, 1 = cat and the mode (binary entries), t = the shell's read builtin (small kernel text). */
function copyHow(p: Extract<Probe, { kind: 'file' | 'glob' }>): string {
  if (p.kind === 'glob' && p.binary) return '1';
  return p.text ? 't' : '0';
}

/** The shell for one probe: a guard, the call, and an S record when it is skipped. */
export function probeShell(p: Probe, opts: Pick<ScriptOptions, 'javaDirs'> = {}): string {
  const id = p.id;
  const guards: string[] = [];
  let body = '';
  let absent = 'absent';
  switch (p.kind) {
    case 'file': {
      const branches = p.paths.map((path, i) => `${i === 0 ? 'if' : 'elif'} [ -e ${shq(path)} ]; then _file ${id} ${shq(p.entry)} ${shq(path)} ${p.needsRoot ? 1 : 0} ${copyHow(p)}`);
      return `${branches.join('\n')}\nelse _r S ${id} absent; fi`;
    }
    case 'glob':
      body = `_glob ${id} ${shq(p.entryDir)} ${shq((p.rootOnly ?? []).join(' '))} ${copyHow(p)} ${globsOf(p).map(shGlob).join(' ')}`;
      absent = 'absent';
      break;
    case 'command': {
      const attempts = [p.argv, ...(p.fallbackArgv ?? [])];
      const ok = shq(['0', ...(p.okExit ?? []).map(String)].join(' '));
      // Probes using none of the extended fields keep the short _cmd form.
      const extended = p.input !== undefined || p.withStderr || p.always || p.absolute || p.timeout !== undefined;
      const timeout = p.timeout ?? DEFAULT_COMMAND_TIMEOUT;
      if (!Number.isInteger(timeout) || timeout < 1 || timeout > 86400) throw new Error(`probe ${id}: timeout must be whole seconds from 1 to 86400`);
      const flags = p.withStderr ? 'e' : '-';
      const call = (argv: string[], i: number): string => {
        const head = `${id}#${i} ${shq(p.entry)} ${ok} ${i < attempts.length - 1 ? 1 : 0}`;
        return extended
          ? `_cmdx ${head} ${timeout} ${flags} ${shq(p.input ?? '')} ${argv.map(shq).join(' ')}`
          : `_cmd ${head} ${argv.map(shq).join(' ')}`;
      };
      body = attempts.map(call).join(' ||\n  ');
      const prog = commandProgram(p);
      if (p.absolute) {
        if (p.argv[0] !== prog) guards.push(`_have ${shq(p.argv[0])}`);
        guards.push(`[ -x ${shq(prog)} ]`);
      } else {
        guards.push(`_have ${shq(prog)}`);
      }
      absent = `not-found:${prog}`;
      if (p.always) {
        // The reference writes these whatever happens: a missing program gives the
        // entry its shell's complaint (where standard error is kept) or nothing.
        const complaint = p.withStderr ? `printf '%s: No such file or directory\\n' ${shq(prog)}; ` : '';
        absent = `${absent}; _r B ${id} - - ${shq(p.entry)}; ${complaint}_r E 127`;
      }
      break;
    }
    case 'builtin': {
      // Every builtin is `<function> <probe> [<entry>] [<cap+1>] [<folders>...]`.
      const { fn, cap } = BUILTINS[p.builtin];
      const args = [fn, id];
      if (p.entry) args.push(shq(p.entry));
      if (cap) args.push(capArg(p));
      if (p.builtin === 'java-static') for (const d of [...JAVA_DIRS, ...(opts.javaDirs ?? [])]) args.push(shq(d));
      body = args.join(' ');
      absent = 'absent';
      break;
    }
  }
  if (p.whenDir) guards.unshift(`[ -d ${shq(p.whenDir)} ]`);
  const superseded = (p.unlessCommand ?? []).map((c) => `_have ${shq(c)}`);
  const lines: string[] = [];
  if (superseded.length) lines.push(`if ${superseded.join(' || ')}; then _r S ${id} superseded`);
  if (guards.length) {
    lines.push(`${superseded.length ? 'elif' : 'if'} ${guards.join(' && ')}; then\n  ${body}`, `else _r S ${id} ${absent}; fi`);
  } else if (superseded.length) {
    lines.push(`else\n  ${body}\nfi`);
  } else {
    lines.push(body);
  }
  return lines.join('\n');
}

export interface ScriptSections {
  linux: Probe[];
  /** The macOS probes; without them a Darwin host reports unsupported. */
  darwin?: Probe[];
}

/** Probe ids name probes in frame headers across both sections, so they must be unique; builtins must exist in their section. */
export function checkSections(sections: ScriptSections): void {
  const seen = new Set<string>();
  for (const [os, probes] of [['linux', sections.linux], ['darwin', sections.darwin ?? []]] as const) {
    for (const p of probes) {
      if (!/^[a-z0-9-]+$/.test(p.id)) throw new Error(`probe id ${JSON.stringify(p.id)} is not [a-z0-9-]+`);
      if (seen.has(p.id)) throw new Error(`probe id ${p.id} is used twice`);
      seen.add(p.id);
      if (p.kind === 'builtin' && DARWIN_BUILTINS.has(p.builtin) !== (os === 'darwin')) {
        throw new Error(`probe ${p.id}: builtin ${p.builtin} does not exist in the ${os} section`);
      }
    }
  }
}

/**
 * What `octoscan-remote script` shows instead of the token; a valid token
 * shape, so the script still parses the same. The script with it is what a
 * scan's evidence hashes (script_sha256).
 */
export const PLACEHOLDER_TOKEN = '@@OCTO:00000000000000000000000000000000@@';

/**
 * The script's last line. The shell runs it once it has read every byte before
 * it; from then on the scan's standard input carries the steering lines (see
 * _steer in targets/prelude.sh). Something that reads the script whole (a
 * test double, a replay) stops reading here: the input does not end there.
 */
export const SCRIPT_LAST_LINE = '_start; _main; _end; exit 0';

/** The deadline a printed (and hashed) script shows: --host-timeout's default. A scan puts its own. */
export const DEFAULT_SCRIPT_DEADLINE = 900;

/**
 * The sha256 (hex) of the script exactly as `octoscan-remote script` prints it
 * for these options: the token a placeholder, since a real one is random per
 * scan. scan.json and the report carry it; `script --sha256` prints it.
 */
export function scriptSha256(sections: ScriptSections, javaDirs: string[] = []): string {
  return createHash('sha256').update(buildScript(sections, { token: PLACEHOLDER_TOKEN, javaDirs })).digest('hex');
}

/** The whole script: token, prelude, facts, the right section for the detected OS, end record. */
export function buildScript(sections: ScriptSections, opts: ScriptOptions): string {
  if (!/^@@OCTO:[0-9a-f]{32}@@$/.test(opts.token)) throw new Error('bad frame token');
  const deadline = Math.ceil(opts.deadlineSeconds ?? DEFAULT_SCRIPT_DEADLINE);
  if (!Number.isSafeInteger(deadline) || deadline < 1) throw new Error(`bad script deadline: ${opts.deadlineSeconds}`);
  return `_T='${opts.token}' _H=${deadline}\n${scriptBody(sections, opts.javaDirs ?? [])}`;
}

// Everything after the token line is the same for every host of a run: built
// once per (probe sections, Java folders), not once per host.
const bodies = new WeakMap<ScriptSections, Map<string, string>>();

function scriptBody(sections: ScriptSections, javaDirs: string[]): string {
  const key = javaDirs.join('\0');
  let byDirs = bodies.get(sections);
  const cached = byDirs?.get(key);
  if (cached !== undefined) return cached;
  checkSections(sections);
  for (const d of javaDirs) {
    if (!d.startsWith('/')) throw new Error(`Java search folder must be an absolute path: ${JSON.stringify(d)}`);
  }
  const section = (probes: Probe[]) => probes.map((p) => probeShell(p, { javaDirs })).join('\n');
  const times = mtimesCall(sections.linux);
  // One function, called on the last line: the shell has read all of it
  // before anything runs, so standard input is free for _steer from then on.
  const body = [
    prelude(),
    '_main() {',
    '_facts_common',
    'case $_uns in',
    'Linux)',
    '_facts_linux',
    ...(times ? [times] : []),
    section(sections.linux),
    ';;',
    ...(sections.darwin ? ['Darwin)', preludeDarwin(), '_facts_darwin', section(sections.darwin), ';;'] : []),
    '*) _r I unsupported "$_uns" ;;',
    'esac',
    '}',
    SCRIPT_LAST_LINE,
    '',
  ].join('\n');
  if (!byDirs) bodies.set(sections, (byDirs = new Map()));
  byDirs.set(key, body);
  return body;
}

/**
 * One stat for the times (and modes) of every file the Linux section may copy
 * (_mtimes in prelude.sh): the fixed paths and the globs, expanded by the shell.
 */
function mtimesCall(probes: Probe[]): string | undefined {
  const args: string[] = [];
  for (const p of probes) {
    if (p.kind === 'file') for (const path of p.paths) args.push(shq(path));
    else if (p.kind === 'glob') for (const g of globsOf(p)) args.push(shGlob(g));
  }
  return args.length ? `_mtimes ${args.join(' ')}` : undefined;
}
