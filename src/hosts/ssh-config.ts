// OpenSSH client configuration: which values ssh_config gives one host, read
// as OpenSSH 9.2 reads it (readconf.c, ssh.c): every line cut by ssh's own
// rules (ssh-config-lines.ts) and checked against its keyword table
// (ssh-config-keywords.ts: aliases, IgnoreUnknown, values ssh refuses), Host
// and Match blocks, Include (parse-only inside a block that does not apply),
// the first value wins (IdentityFile adds up; ProxyJump and ProxyCommand are
// one setting), and the second pass ssh makes when a block says `Match final`
// or CanonicalizeHostname is on, with Host lines then matched against the
// final host name. What the values mean for a scan is decided in resolve.ts.
//
// The `ssh-config` npm package read this before; it cannot express these rules
// (it split `Host a,b`, refused `Match !final`, ignored unknown keywords and
// kept no line numbers), so the reading is ours.
import { accessSync, constants, readdirSync, statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { readConfigFileText, UntrustedConfigError } from './config-file-trust.js';
import { parseJumpChain } from './jump-spec.js';
import { canonicalKeyword, checkValue, kindOf } from './ssh-config-keywords.js';
import { ConfigSyntaxError, cutFile, nonAscii, strdelim, type ConfigLine } from './ssh-config-lines.js';
import { expandTokens as expandTokensOf, looksLikeAddress, numericHost, TokenError, type TokenValues } from './ssh-config-tokens.js';

export type { TokenValues } from './ssh-config-tokens.js';

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
  /** The keyword as written (an alias such as PubkeyAcceptedKeyTypes stays visible). */
  keyword: string;
}

/** A `Match` criterion the ssh2 transport cannot evaluate (exec). */
export interface ConfigProblem {
  keyword: string;
  file: string;
  line: number;
}

export interface EffectiveConfig {
  /** Canonical lower-case keyword -> its values (one for first-wins keywords, all for IdentityFile...). */
  values: Map<string, ConfigValue[]>;
  /** The host name ssh connects to: HostName with %h expanded, lower-cased, numeric addresses written out. */
  hostname: string;
  problems: ConfigProblem[];
  /** ssh read the files a second time (Match final, CanonicalizeHostname). */
  finalPass: boolean;
}

export class SshConfigError extends Error {}

/** ssh's token expansion (ssh-config-tokens.ts); a bad token is an SshConfigError. */
export function expandTokens(value: string, t: TokenValues, opts: { dollar?: boolean; tilde?: boolean } = {}): string {
  try {
    return expandTokensOf(value, t, opts);
  } catch (err) {
    if (err instanceof TokenError) throw new SshConfigError(err.message);
    throw err;
  }
}

/** The first value of a keyword, its arguments joined by one space. */
export function first(c: Pick<EffectiveConfig, 'values'>, keyword: string): string | undefined {
  return c.values.get(keyword)?.[0]?.args.join(' ');
}

const parsed = new Map<string, ConfigLine[] | null>();

/**
 * A config file, cut once per run; null when it cannot be opened (as ssh: no
 * file, no settings). `checked`: refused unless ssh would trust it (config-file-trust.ts).
 */
function parseFile(path: string, checked: boolean): ConfigLine[] | null {
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
    if (code !== 'ENOENT' && code !== 'EACCES' && code !== 'ENOTDIR' && code !== 'EISDIR') throw new SshConfigError(`ssh_config ${path}: ${(err as Error).message}`);
  }
  let result: ConfigLine[] | null = null;
  if (text !== undefined) {
    try {
      result = cutFile(text, path);
    } catch (err) {
      if (err instanceof ConfigSyntaxError) throw new SshConfigError(`ssh_config ${err.message}`);
      throw err;
    }
  }
  parsed.set(key, result);
  return result;
}

const compiled = new Map<string, RegExp>();

/** OpenSSH's match_pattern: `*` and `?`, anchored. Each pattern is compiled once (every host meets every line). */
export function matchPattern(s: string, pattern: string): boolean {
  let re = compiled.get(pattern);
  if (!re) {
    re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 's');
    compiled.set(pattern, re);
  }
  return re.test(s);
}

/**
 * OpenSSH's match_pattern_list: a comma-separated list, true when a positive
 * pattern matches and no negated one does. With lower, the patterns are
 * lower-cased (the subject is the caller's business, as in match.c).
 */
export function matchPatternList(s: string, list: string, lower: boolean): boolean {
  let got = false;
  for (const raw of list.split(',')) {
    const negated = raw.startsWith('!');
    let p = negated ? raw.slice(1) : raw;
    if (lower) p = p.toLowerCase();
    if (matchPattern(s, p)) {
      if (negated) return false;
      got = true;
    }
  }
  return got;
}

/** match.c match_hostname: the host lower-cased against a lower-cased pattern list. */
const matchHostname = (host: string, list: string): boolean => matchPatternList(host.toLowerCase(), list, true);

interface PassState {
  /** The name as given (ssh's host_arg): Match originalhost, %n, and Host lines in the first pass. */
  originalHost: string;
  /** What Host lines match: the name as given, then (second pass) the final host name. */
  hostForHostLines: string;
  localUser: string;
  ctx: ConfigContext;
  values: Map<string, ConfigValue[]>;
  problems: ConfigProblem[];
  finalPass: boolean;
  wantFinal: boolean;
  /** -l / --user / the user column: `Match user` sees them before the config's own User. */
  user?: string;
  /** The second pass: the host name fixed after the first. */
  finalHost?: string;
}

function set(s: PassState, keyword: string, v: ConfigValue): void {
  // ProxyJump and ProxyCommand are one setting: whichever comes first (`none` included).
  if ((keyword === 'proxyjump' || keyword === 'proxycommand') && (s.values.has('proxyjump') || s.values.has('proxycommand'))) return;
  const have = s.values.get(keyword);
  const kind = kindOf(keyword);
  if (!have) s.values.set(keyword, [v]);
  // A repeated file counts once (readconf.c add_identity_file), e.g. on the second pass.
  else if (kind === 'accumulate' && !have.some((h) => h.args.join(' ') === v.args.join(' '))) have.push(v);
  else if (keyword === 'sendenv') have.push(v);
  // Every other keyword, lists included (UserKnownHostsFile a b): the first line wins whole.
}

/** %h and %% in HostName, the only tokens ssh allows there. */
function expandHostName(hostname: string, h: string, at: string): string {
  return hostname.replace(/%(.?)/g, (_m, k: string) => {
    if (k === 'h') return h;
    if (k === '%') return '%';
    throw new SshConfigError(`ssh_config ${at}: HostName ${hostname}: unknown token %${k} (HostName takes %h and %%)`);
  });
}

/** The host Match host sees (readconf.c match_cfg_line). */
function matchHost(s: PassState): string {
  if (s.finalPass) return s.finalHost!;
  const hn = s.values.get('hostname')?.[0];
  return hn ? expandHostName(hn.args[0], s.originalHost, `${hn.file}:${hn.line}`) : s.originalHost;
}

function configUser(s: PassState): string {
  return s.user || (s.values.get('user')?.[0]?.args[0] ?? s.localUser);
}

/** readconf.c match_cfg_line: true/false, or throws for a line ssh refuses. */
function matchLine(s: PassState, l: ConfigLine, file: string): boolean {
  const where = `ssh_config ${file} line ${l.line}`;
  let result = true;
  let attributes = 0;
  let at: number | undefined = 0;
  const next = (): string | undefined => {
    if (at === undefined) return undefined;
    const r = strdelim(l.rest, at);
    at = r.next;
    return r.token ?? undefined;
  };
  for (let attrib = next(); attrib !== undefined && attrib !== ''; attrib = next()) {
    if (attrib.startsWith('#')) break;
    const negate = attrib.startsWith('!');
    const name = (negate ? attrib.slice(1) : attrib).toLowerCase();
    if (name === 'all') {
      const after = next();
      if (attributes > 1 || (after !== undefined && after !== '' && !after.startsWith('#'))) {
        throw new SshConfigError(`${where}: '${attrib}' cannot be combined with other Match attributes`);
      }
      if (result) result = !negate;
      return result;
    }
    attributes++;
    if (name === 'canonical' || name === 'final') {
      // Only `final` asks for the second pass; `canonical` alone never matches without one.
      if (name === 'final') s.wantFinal = true;
      if (s.finalPass === negate) result = false;
      continue;
    }
    const arg = next();
    if (arg === undefined || arg === '' || arg.startsWith('#')) throw new SshConfigError(`${where}: Missing Match criteria for ${name}`);
    let ok: boolean;
    switch (name) {
      case 'host':
        ok = matchHostname(matchHost(s), arg);
        break;
      case 'originalhost':
        ok = matchHostname(s.originalHost, arg);
        break;
      case 'user':
        ok = matchPatternList(configUser(s), arg, false);
        break;
      case 'localuser':
        ok = matchPatternList(s.localUser, arg, false);
        break;
      case 'exec':
        // ssh runs the command here; we never do. Where the block could still apply, the
        // host is refused naming the line (ssh2 transport), and the block is taken as not matching.
        if (result) {
          s.problems.push({ keyword: 'Match exec', file, line: l.line });
          result = false;
        }
        continue;
      default:
        throw new SshConfigError(`${where}: Unsupported Match attribute ${name} (OpenSSH 9.2 knows all, canonical, final, exec, host, originalhost, user, localuser)`);
    }
    if (ok === negate) result = false;
  }
  if (attributes === 0) throw new SshConfigError(`${where}: One or more attributes required for Match`);
  return result;
}

/** readconf.c Host: each argument one pattern (no commas), case-sensitive; a negated match rules the line out. */
function hostLine(host: string, l: ConfigLine, file: string): boolean {
  let active = false;
  for (const raw of l.args) {
    if (raw === '') throw new SshConfigError(`ssh_config ${file} line ${l.line}: keyword ${l.keyword} empty argument`);
    const negated = raw.startsWith('!');
    if (matchPattern(host, negated ? raw.slice(1) : raw)) {
      if (negated) return false;
      active = true;
    }
  }
  return active;
}

function includePaths(pattern: string, from: ConfigFile, ctx: ConfigContext, where: string): string[] {
  if (pattern.startsWith('~') && from.system) throw new SshConfigError(`${where}: bad include path ${pattern} (a system file may not use ~)`);
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

/** The text of ProxyJump as parse_jump reads it: a comment and trailing blanks cut. */
function jumpText(rest: string): string {
  return rest.replace(/^[ \t\r\n=]+/, '').replace(/#.*$/, '').replace(/[ \t\r\n]+$/, '');
}

/** One file, line by line, as readconf.c read_config_file_depth: `active` is shared with the includer. */
function evaluate(s: PassState, lines: ConfigLine[], from: ConfigFile, state: { active: boolean }, neverMatch: boolean, depth: number): void {
  for (const l of lines) {
    const where = `ssh_config ${from.path} line ${l.line}`;
    const keyword = canonicalKeyword(l.keyword);
    if (keyword === undefined) {
      const ignored = s.values.get('ignoreunknown')?.[0]?.args[0];
      if (ignored !== undefined && matchPatternList(l.keyword, ignored, true)) continue;
      throw new SshConfigError(`${where}: Bad configuration option: ${l.keyword}${nonAscii(l.keyword)}`);
    }
    const problem = checkValue(keyword, l);
    if (problem) throw new SshConfigError(`${where}: ${problem}`);
    const kind = kindOf(keyword);
    if (keyword === 'host') {
      const r = hostLine(s.hostForHostLines, l, from.path);
      state.active = neverMatch ? false : r;
    } else if (keyword === 'match') {
      const r = matchLine(s, l, from.path);
      state.active = neverMatch ? false : r;
    } else if (kind === 'include') {
      if (depth >= MAX_INCLUDE_DEPTH) throw new SshConfigError(`${where}: Include nested more than ${MAX_INCLUDE_DEPTH} deep`);
      const outer = state.active;
      for (const pattern of l.args) {
        for (const path of includePaths(pattern, from, s.ctx, where)) {
          const inc = parseFile(path, true); // ssh checks every Included file, the system file's too
          if (inc) evaluate(s, inc, { path, system: from.system }, state, neverMatch || !outer, depth + 1);
          // Match in an included file does not change the including file's state.
          state.active = outer;
        }
      }
    } else if (kind === 'jump') {
      const text = jumpText(l.rest);
      if (text.toLowerCase() !== 'none') {
        try {
          parseJumpChain(text);
        } catch (err) {
          throw new SshConfigError(`${where}: Invalid ProxyJump "${text}": ${(err as Error).message}`);
        }
      }
      if (state.active) set(s, keyword, { args: [text], file: from.path, line: l.line, system: from.system, keyword: l.keyword });
    } else if (kind === 'command') {
      if (state.active) set(s, keyword, { args: [l.rest.replace(/^[ \t\r\n=]+/, '')], file: from.path, line: l.line, system: from.system, keyword: l.keyword });
    } else if (kind === 'deprecated' || kind === 'unsupported') {
      continue;
    } else if (state.active) {
      set(s, keyword, { args: l.args, file: from.path, line: l.line, system: from.system, keyword: l.keyword });
    }
  }
}

/** What the configuration files give `host` (the name as typed), as `ssh -G host` would show it. */
export function resolveSshConfig(host: string, ctx: ConfigContext, given: { user?: string } = {}): EffectiveConfig {
  const s: PassState = {
    originalHost: host, hostForHostLines: host, localUser: ctx.localUser, ctx, values: new Map(), problems: [], finalPass: false, wantFinal: false, user: given.user,
  };
  const pass = (): void => {
    for (const f of s.ctx.files) {
      const lines = parseFile(f.path, !f.system);
      if (lines) evaluate(s, lines, f, { active: true }, false, 0);
    }
  };
  pass();
  // ssh.c: HostName (with %h), lower-cased unless it is an address, which is written out numerically.
  const hn = s.values.get('hostname')?.[0];
  let name = hn ? expandHostName(hn.args[0], host, `${hn.file}:${hn.line}`) : host;
  const family = s.values.get('addressfamily')?.[0]?.args[0].toLowerCase();
  const numeric = numericHost(name, family === 'inet' ? 4 : family === 'inet6' ? 6 : undefined);
  if (numeric !== undefined) name = numeric;
  else if (!looksLikeAddress(name)) name = name.toLowerCase();
  const canonicalize = (s.values.get('canonicalizehostname')?.[0]?.args[0] ?? 'no').toLowerCase();
  // With CanonicalizeHostname on, ssh would look the name up in DNS first; we never do
  // (resolve.ts refuses such a host by name), so the second pass sees the name unchanged.
  if (s.wantFinal || !['no', 'false'].includes(canonicalize)) {
    s.finalPass = true;
    s.finalHost = name;
    s.hostForHostLines = name;
    // Problems are collected again: the second pass sees the same lines.
    s.problems = [];
    pass();
  }
  return { values: s.values, hostname: name, problems: s.problems, finalPass: s.finalPass };
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
