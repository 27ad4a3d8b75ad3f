// Turns probe definitions (targets/) into one POSIX sh script. Every value from
// outside the program (extra Java folders given by the user) goes through shq().
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../paths.js';
import { DEFAULT_ENTRY_CAP, type Probe } from './probe.js';

/** Single-quote for POSIX sh: the only character needing care inside '' is ' itself. */
export function shq(s: string): string {
  if (s.includes('\0')) throw new Error('a shell argument cannot contain NUL');
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A glob with its literal parts quoted and only * ? left active, e.g. '/etc/'*'-release'. */
export function shGlob(pattern: string): string {
  return pattern
    .split(/([*?])/)
    .map((part) => (part === '*' || part === '?' ? part : part === '' ? '' : shq(part)))
    .join('');
}

export interface ScriptOptions {
  token: string;
  /** Extra folders searched for Java (-J), absolute paths. */
  javaDirs?: string[];
}

let preludeCache: string | undefined;
export function prelude(): string {
  preludeCache ??= readFileSync(join(packageRoot(), 'targets', 'prelude.sh'), 'utf8');
  return preludeCache;
}

const capArg = (p: Probe): string => String((p.cap ?? DEFAULT_ENTRY_CAP) + 1);

/** The shell for one probe: a guard, the call, and an S record when it is skipped. */
export function probeShell(p: Probe, opts: Pick<ScriptOptions, 'javaDirs'> = {}): string {
  const id = p.id;
  const guards: string[] = [];
  let body = '';
  let absent = 'absent';
  switch (p.kind) {
    case 'file': {
      const branches = p.paths.map((path, i) => `${i === 0 ? 'if' : 'elif'} [ -e ${shq(path)} ]; then _file ${id} ${shq(p.entry)} ${shq(path)} ${capArg(p)} ${p.needsRoot ? 1 : 0} 0`);
      return `${branches.join('\n')}\nelse _r S ${id} absent; fi`;
    }
    case 'glob':
      body = `_glob ${id} ${shq(p.entryDir)} ${capArg(p)} ${shq((p.rootOnly ?? []).join(' '))} ${p.binary ? 1 : 0} ${shGlob(p.pattern)}`;
      absent = 'absent';
      break;
    case 'command': {
      const attempts = [p.argv, ...(p.fallbackArgv ?? [])];
      const ok = shq(['0', ...(p.okExit ?? []).map(String)].join(' '));
      body = attempts
        .map((argv, i) => `_cmd ${id}#${i} ${shq(p.entry)} ${capArg(p)} ${ok} ${i < attempts.length - 1 ? 1 : 0} ${argv.map(shq).join(' ')}`)
        .join(' ||\n  ');
      guards.push(`_have ${shq(p.argv[0])}`);
      absent = `not-found:${p.argv[0]}`;
      break;
    }
    case 'builtin': {
      const entry = p.entry ? shq(p.entry) : '';
      switch (p.builtin) {
        case 'total-memory':
          body = `_total_memory ${id} ${entry}`;
          break;
        case 'java-default':
          body = `_java_default ${id} ${entry} ${capArg(p)}`;
          break;
        case 'java-home':
          body = `_java_home ${id} ${entry} ${capArg(p)}`;
          break;
        case 'java-static': {
          const dirs = ['/opt', '/usr/lib', '/usr/lib64', '/usr/java', ...(opts.javaDirs ?? [])];
          body = `_java_static ${id} ${capArg(p)} ${dirs.map(shq).join(' ')}`;
          break;
        }
        case 'java-dynamic':
          body = `_java_dynamic ${id} ${capArg(p)}`;
          break;
      }
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
  /** Absent until the macOS family exists; a Darwin host then reports unsupported. */
  darwin?: Probe[];
}

/** The whole script: token, prelude, facts, the right section for the detected OS, end record. */
export function buildScript(sections: ScriptSections, opts: ScriptOptions): string {
  if (!/^@@OCTO:[0-9a-f]{32}@@$/.test(opts.token)) throw new Error('bad frame token');
  for (const d of opts.javaDirs ?? []) {
    if (!d.startsWith('/')) throw new Error(`Java search folder must be an absolute path: ${JSON.stringify(d)}`);
  }
  const section = (probes: Probe[]) => probes.map((p) => probeShell(p, opts)).join('\n');
  return [
    `_T='${opts.token}'`,
    prelude(),
    '_facts_common',
    'case $(uname -s 2>/dev/null </dev/null) in',
    'Linux)',
    '_facts_linux',
    section(sections.linux),
    ';;',
    ...(sections.darwin ? ['Darwin)', '_facts_darwin', section(sections.darwin), ';;'] : []),
    '*) _r I unsupported "$(uname -s 2>/dev/null </dev/null)" ;;',
    'esac',
    '_r Z',
    'exit 0',
    '',
  ].join('\n');
}
