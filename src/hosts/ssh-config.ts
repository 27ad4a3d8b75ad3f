// OpenSSH client configuration: which values ssh_config gives one host, with
// OpenSSH's rules (readconf.c): Host and Match blocks, Include (conditional
// when inside a block), the first value wins, IdentityFile accumulates, a
// second pass when a block asks for `Match final`/`canonical`. The syntax is
// read by the maintained `ssh-config` parser; only the evaluation is ours,
// because the package's compute() knows neither Match nor Include.
// What the values mean for a scan is decided in ssh-config-apply.ts.
import { accessSync, constants, readdirSync, statSync } from 'node:fs';
import { hostname as localHostname } from 'node:os';
import { isAbsolute, join } from 'node:path';
import SSHConfig, { type Line } from 'ssh-config';
import { readConfigFileText, UntrustedConfigError } from './config-file-trust.js';

/** The keywords whose every value counts (OpenSSH adds them up); the rest: the first value wins. */
const ACCUMULATE = new Set(['identityfile', 'certificatefile', 'localforward', 'remoteforward', 'dynamicforward', 'sendenv']);

const MAX_INCLUDE_DEPTH = 16; // as OpenSSH's READCONF_MAX_DEPTH

export interface ConfigFile {
  path: string;
  /** /etc/ssh/ssh_config: relative Include paths are below /etc/ssh, not ~/.ssh. */
  system: boolean;
}

export interface ConfigContext {
  /** In order: the user's file, then the system's (or only the -F file). */
  files: ConfigFile[];
  home: string;
  localUser: string;
  uid: number;
}

/** Where a value was set, so an error can name the file and line. */
export interface ConfigValue {
  args: string[];
  file: string;
  line: number;
  system: boolean;
}

/** A `Match` criterion the ssh2 transport cannot evaluate (exec, localnetwork...). */
export interface ConfigProblem {
  keyword: string;
  file: string;
  line: number;
}

export interface EffectiveConfig {
  /** Lower-case keyword -> its values (one for first-wins keywords, all for IdentityFile...). */
  values: Map<string, ConfigValue[]>;
  /** HostName with %h expanded, else the name asked for. */
  hostname: string;
  problems: ConfigProblem[];
}

export class SshConfigError extends Error {}

/** The first value of a keyword, its arguments joined by one space. */
export function first(c: EffectiveConfig, keyword: string): string | undefined {
  return c.values.get(keyword)?.[0]?.args.join(' ');
}

const parsed = new Map<string, ReturnType<typeof SSHConfig.parse> | null>();

/**
 * A config file, parsed once per run; null when it does not exist (as ssh: no
 * file, no settings). `checked`: refused unless ssh would trust it (config-file-trust.ts).
 */
function parseFile(path: string, checked: boolean): ReturnType<typeof SSHConfig.parse> | null {
  const key = `${checked ? 'checked' : 'system'}\0${path}`;
  if (parsed.has(key)) return parsed.get(key)!;
  let text: string | undefined;
  try {
    text = readConfigFileText(path, checked);
  } catch (err) {
    if (err instanceof UntrustedConfigError) throw new SshConfigError(err.message);
    // As ssh (readconf.c): a file it cannot open is no settings, not an error. A
    // run as another user whose HOME is root's cannot even look into /root.
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'EACCES' && code !== 'ENOTDIR') throw new SshConfigError(`ssh_config ${path}: ${(err as Error).message}`);
  }
  let result: ReturnType<typeof SSHConfig.parse> | null = null;
  if (text !== undefined) {
    try {
      result = SSHConfig.parse(text);
    } catch (err) {
      throw new SshConfigError(`ssh_config ${path}: ${(err as Error).message}`);
    }
    numberLines(result, text);
  }
  parsed.set(key, result);
  return result;
}

/**
 * The parser keeps no line numbers. Its directives, walked depth first, are the
 * file's non-blank, non-comment lines in order, so they are numbered from those.
 */
function numberLines(lines: Line[], text: string): void {
  const numbers: number[] = [];
  text.split('\n').forEach((l, i) => {
    const t = l.trim();
    if (t !== '' && !t.startsWith('#')) numbers.push(i + 1);
  });
  let next = 0;
  const walk = (ls: Line[]): void => {
    for (const l of ls) {
      if (l.type !== SSHConfig.DIRECTIVE) continue;
      (l as Line & { lineNo?: number }).lineNo = numbers[next++];
      const children = (l as { config?: Line[] }).config;
      if (Array.isArray(children)) walk(children);
    }
  };
  walk(lines);
}

function argsOf(line: Line): string[] {
  const v = (line as { value: unknown }).value;
  if (Array.isArray(v)) return v.map((x: { val: string }) => x.val);
  const s = String(v ?? '');
  // `UserKnownHostsFile a b` arrives as one unquoted string.
  if ((line as { quoted?: boolean }).quoted) return [s];
  return s.split(/[ \t]+/).filter((a) => a !== '');
}

/** OpenSSH's match_pattern: `*` and `?`, anchored. */
export function matchPattern(s: string, pattern: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 's');
  return re.test(s);
}

/**
 * OpenSSH's match_pattern_list: true when a positive pattern matches and no
 * negated one does; any negated match makes the whole list false.
 */
export function matchPatternList(s: string, patterns: string[], lower: boolean): boolean {
  const subject = lower ? s.toLowerCase() : s;
  let got = false;
  for (const raw of patterns.flatMap((p) => p.split(','))) {
    if (raw === '') continue;
    const negated = raw.startsWith('!');
    const p = lower ? (negated ? raw.slice(1) : raw).toLowerCase() : negated ? raw.slice(1) : raw;
    if (matchPattern(subject, p)) {
      if (negated) return false;
      got = true;
    }
  }
  return got;
}

export interface TokenValues {
  h?: string; // remote host name (after HostName)
  n?: string; // the name as given
  p?: number;
  r?: string; // remote user
  d: string; // local home
  u: string; // local user
  i: number; // local uid
}

/** `%x` tokens and a leading `~`, as ssh expands IdentityFile, UserKnownHostsFile, IdentityAgent. */
export function expandTokens(value: string, t: TokenValues, allowed = 'hnprdui'): string {
  let v = value;
  if (v === '~' || v.startsWith('~/')) v = t.d + v.slice(1);
  const table: Record<string, string | undefined> = {
    '%': '%', h: t.h, n: t.n, p: t.p === undefined ? undefined : String(t.p), r: t.r, d: t.d, u: t.u, i: String(t.i),
    l: localHostname(), L: localHostname().split('.')[0],
  };
  return v.replace(/%(.)?/g, (_m, k: string | undefined) => {
    if (k === undefined) throw new SshConfigError(`"${value}": a "%" at the end`);
    const known = k === '%' || ((allowed + 'lL').includes(k) && table[k] !== undefined);
    if (!known) throw new SshConfigError(`"${value}": unknown token %${k}`);
    return table[k]!;
  });
}

interface PassState {
  originalHost: string;
  localUser: string;
  ctx: ConfigContext;
  values: Map<string, ConfigValue[]>;
  problems: ConfigProblem[];
  finalPass: boolean;
  wantFinal: boolean;
  /** -l / --user / the user column: `Match user` sees them before the config's own User. */
  user?: string;
}

function currentHost(s: PassState): string {
  const hn = s.values.get('hostname')?.[0]?.args[0];
  if (!hn) return s.originalHost;
  return hn.replace(/%(.)/g, (m, k: string) => (k === 'h' ? s.originalHost : k === '%' ? '%' : m));
}

function set(s: PassState, keyword: string, v: ConfigValue): void {
  const have = s.values.get(keyword);
  if (!have) s.values.set(keyword, [v]);
  // A repeated file counts once (readconf.c add_identity_file), e.g. on the second pass.
  else if (ACCUMULATE.has(keyword) && !have.some((h) => h.args.join(' ') === v.args.join(' '))) have.push(v);
}

function matchLine(s: PassState, args: string[], file: string, line: number): boolean {
  let result = true;
  for (let i = 0; i < args.length; i++) {
    const raw = args[i];
    const negate = raw.startsWith('!');
    const attr = (negate ? raw.slice(1) : raw).toLowerCase();
    if (attr === 'all') {
      if (negate) result = false;
      continue;
    }
    if (attr === 'canonical' || attr === 'final') {
      // Without CanonicalizeHostname, ssh reads the files a second time and these match then.
      s.wantFinal = true;
      if ((s.finalPass ? 1 : 0) === (negate ? 1 : 0)) result = false;
      continue;
    }
    const arg = args[++i];
    if (arg === undefined) throw new SshConfigError(`${file}:${line}: Match ${attr} needs an argument`);
    let ok: boolean;
    switch (attr) {
      case 'host':
        ok = matchPatternList(currentHost(s), [arg], true);
        break;
      case 'originalhost':
        ok = matchPatternList(s.originalHost, [arg], true);
        break;
      case 'user':
        ok = matchPatternList(s.user ?? first({ values: s.values } as EffectiveConfig, 'user') ?? s.localUser, [arg], false);
        break;
      case 'localuser':
        ok = matchPatternList(s.localUser, [arg], false);
        break;
      default:
        // exec, localnetwork, tagged, ...: ssh would decide here; we cannot, so the host fails
        // (naming the criterion) unless the criteria before it already ruled the block out.
        if (result) s.problems.push({ keyword: `Match ${attr}`, file, line });
        result = false;
        continue;
    }
    if (ok === negate) result = false;
  }
  return result;
}

function includePaths(pattern: string, from: ConfigFile, ctx: ConfigContext): string[] {
  let p = pattern;
  if (p === '~' || p.startsWith('~/')) p = ctx.home + p.slice(1);
  if (!isAbsolute(p)) p = join(from.system ? '/etc/ssh' : join(ctx.home, '.ssh'), p);
  return glob(p);
}

const globbed = new Map<string, string[]>();

/** glob(3) for `*`, `?` in any path component, sorted as glob sorts; no match is no file. Once per run. */
function glob(path: string): string[] {
  let found = globbed.get(path);
  if (!found) globbed.set(path, (found = globNow(path)));
  return found;
}

function globNow(path: string): string[] {
  const parts = path.split('/').filter((x, i) => x !== '' || i === 0);
  let found = ['/'];
  for (const part of parts.slice(1)) {
    const next: string[] = [];
    for (const dir of found) {
      if (!/[*?]/.test(part)) {
        next.push(join(dir, part));
        continue;
      }
      let names: string[] = [];
      try {
        names = readdirSync(dir);
      } catch {
        continue;
      }
      for (const n of names.sort()) if (!n.startsWith('.') && matchPattern(n, part)) next.push(join(dir, n));
    }
    found = next;
  }
  return found.filter((f) => {
    try {
      return statSync(f).isFile();
    } catch {
      return false;
    }
  });
}

function evaluate(s: PassState, lines: Line[], from: ConfigFile, active: boolean, depth: number): void {
  for (const l of lines) {
    if (l.type !== SSHConfig.DIRECTIVE) continue;
    const keyword = (l as { param: string }).param.toLowerCase();
    const line = (l as Line & { lineNo?: number }).lineNo ?? 0;
    const args = argsOf(l);
    const children = (l as { config?: Line[] }).config;
    if (keyword === 'host') {
      // Host lines compare case-sensitively (readconf.c match_pattern); Match host/originalhost do not.
      evaluate(s, children ?? [], from, matchPatternList(s.originalHost, args, false), depth);
    } else if (keyword === 'match') {
      evaluate(s, children ?? [], from, matchLine(s, args, from.path, line), depth);
    } else if (!active) {
      continue;
    } else if (keyword === 'include') {
      if (depth >= MAX_INCLUDE_DEPTH) throw new SshConfigError(`${from.path}:${line}: Include nested more than ${MAX_INCLUDE_DEPTH} deep`);
      for (const pattern of args) {
        for (const path of includePaths(pattern, from, s.ctx)) {
          const inc = parseFile(path, true); // ssh checks every Included file, the system file's too
          if (inc) evaluate(s, inc, { path, system: from.system }, true, depth + 1);
        }
      }
    } else {
      set(s, keyword, { args, file: from.path, line, system: from.system });
    }
  }
}

/** What the configuration files give `host` (the name as typed), as `ssh -G host` would show it. */
export function resolveSshConfig(host: string, ctx: ConfigContext, given: { user?: string } = {}): EffectiveConfig {
  const s: PassState = { originalHost: host, localUser: ctx.localUser, ctx, values: new Map(), problems: [], finalPass: false, wantFinal: false, user: given.user };
  const pass = (): void => {
    for (const f of s.ctx.files) {
      const lines = parseFile(f.path, !f.system);
      if (lines) evaluate(s, lines, f, true, 0);
    }
  };
  pass();
  if (s.wantFinal) {
    s.finalPass = true;
    // Problems are collected again: the second pass sees the same lines.
    s.problems = [];
    pass();
  }
  // ssh connects to (and looks up known_hosts for) the lower-cased name.
  return { values: s.values, hostname: currentHost(s).toLowerCase(), problems: s.problems };
}

/** The files ssh reads: -F FILE only that, -F none nothing, else ~/.ssh/config then /etc/ssh/ssh_config. */
export function configFiles(option: string | undefined, home: string, systemFile = '/etc/ssh/ssh_config'): ConfigFile[] {
  if (option === 'none') return [];
  if (option !== undefined) {
    try {
      if (!statSync(option).isFile()) throw new SshConfigError(`-F ${option}: not a file`);
      // Named on purpose: ssh refuses one it cannot open, so do we.
      accessSync(option, constants.R_OK);
    } catch (err) {
      if (err instanceof SshConfigError) throw err;
      throw new SshConfigError(`-F ${option}: ${(err as Error).message}`);
    }
    return [{ path: option, system: false }];
  }
  return [
    { path: join(home, '.ssh', 'config'), system: false },
    { path: systemFile, system: true },
  ];
}

/** For tests: forget parsed files (they are cached for the run). */
export function forgetParsedConfigs(): void {
  parsed.clear();
  globbed.clear();
}

