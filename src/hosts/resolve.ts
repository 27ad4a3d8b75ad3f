// A HostSpec as read (arguments, hosts file) made complete: ssh_config's
// values filled in where nothing was typed, with OpenSSH's precedence (the
// command line, then the hosts-file columns, then the first value the config
// gives, then the defaults), the ProxyJump chain resolved hop by hop, and a
// keyword the ssh2 transport cannot honour recorded so that the host fails
// naming it. After this, no transport needs to read any configuration.
import { isIP } from 'node:net';
import type { Algorithms, HostKeyPolicy, HostSpec } from '../types.js';
import { applyAlgorithmList, defaultAlgorithms } from '../transport/algorithms.js';
import { parseJumpChain } from './jump-spec.js';
import { expandTokens, first, resolveSshConfig, SshConfigError, type ConfigContext, type ConfigValue, type EffectiveConfig, type TokenValues } from './ssh-config.js';

/** What the command line fixed (undefined: not typed) and the defaults behind everything. */
export interface ResolveContext {
  config: ConfigContext;
  /** -l, -p, -J, --known-hosts, --host-key-policy, --connect-timeout, --keepalive when typed. */
  given: {
    user?: string;
    port?: number;
    jump?: string;
    knownHosts?: string;
    hostKeyPolicy?: HostKeyPolicy;
    connectTimeoutMs?: number;
    keepaliveIntervalMs?: number;
  };
  /** --legacy-algorithms: the old algorithms for every host. */
  legacy: boolean;
  /** The key files ssh tries when no -i, column or IdentityFile names one. */
  defaultIdentities: string[];
  /** -i files (the hosts-file identity column replaces them for its row). */
  identities: string[];
}

const ALGORITHM_KEYWORDS: Record<string, keyof Algorithms> = {
  hostkeyalgorithms: 'serverHostKey',
  kexalgorithms: 'kex',
  ciphers: 'cipher',
  macs: 'hmac',
  pubkeyacceptedalgorithms: 'pubkey',
};

/**
 * Keywords that change how ssh connects and that the ssh2 transport cannot do,
 * with the values that are harmless (the keyword's "off").
 */
const UNSUPPORTED: Record<string, { keyword: string; harmless: string[] }> = {
  proxycommand: { keyword: 'ProxyCommand', harmless: ['none'] },
  gssapiauthentication: { keyword: 'GSSAPIAuthentication', harmless: ['no'] },
  pkcs11provider: { keyword: 'PKCS11Provider', harmless: ['none'] },
  certificatefile: { keyword: 'CertificateFile', harmless: ['none'] },
  securitykeyprovider: { keyword: 'SecurityKeyProvider', harmless: ['internal'] },
  hostbasedauthentication: { keyword: 'HostbasedAuthentication', harmless: ['no'] },
  knownhostscommand: { keyword: 'KnownHostsCommand', harmless: ['none'] },
  hostkeyalias: { keyword: 'HostKeyAlias', harmless: [] },
  canonicalizehostname: { keyword: 'CanonicalizeHostname', harmless: ['no'] },
  bindaddress: { keyword: 'BindAddress', harmless: [] },
  bindinterface: { keyword: 'BindInterface', harmless: [] },
  proxyusefdpass: { keyword: 'ProxyUseFdpass', harmless: ['no'] },
  verifyhostkeydns: { keyword: 'VerifyHostKeyDNS', harmless: ['no'] },
};

const MAX_JUMP_DEPTH = 8;

/** Where a value came from, for messages. */
const at = (v: ConfigValue): string => `${v.file}:${v.line}`;

function yesNo(c: EffectiveConfig, keyword: string): boolean | undefined {
  const v = first(c, keyword)?.toLowerCase();
  if (v === undefined) return undefined;
  return v === 'yes' || v === 'true';
}

function seconds(c: EffectiveConfig, keyword: string): number | undefined {
  const v = c.values.get(keyword)?.[0];
  if (!v) return undefined;
  const text = v.args[0];
  if (text === 'none') return undefined;
  if (!/^\d+$/.test(text)) throw new SshConfigError(`${at(v)}: ${keyword} must be a number of seconds, got ${JSON.stringify(text)}`);
  return Number(text);
}

export function policyOf(value: string, where: string): HostKeyPolicy {
  switch (value.toLowerCase()) {
    case 'yes':
    case 'true':
    case 'ask': // nobody can answer a question in a sweep: ask is strict, as with BatchMode
      return 'strict';
    case 'accept-new':
      return 'accept-new';
    case 'no':
    case 'off':
    case 'false':
      return 'off';
    default:
      throw new SshConfigError(`${where}: StrictHostKeyChecking must be yes, accept-new, no, off or ask, got ${JSON.stringify(value)}`);
  }
}

/** Why the ssh2 transport would refuse a host: the keyword (or Match criterion) and where it was set. */
export interface Refusal {
  keyword: string;
  file: string;
  line: number;
  message: string;
}

/** Why the ssh2 transport must refuse this configuration, or undefined. */
function unsupportedReason(c: EffectiveConfig): Refusal | undefined {
  const advice = 'the ssh2 transport cannot do this; scan this host with --transport openssh';
  const problem = c.problems[0];
  if (problem) return { ...problem, message: `ssh_config ${problem.file}:${problem.line}: ${problem.keyword} ${advice}` };
  for (const [key, u] of Object.entries(UNSUPPORTED)) {
    const v = c.values.get(key)?.[0];
    if (!v) continue;
    const value = v.args.join(' ');
    const lower = value.toLowerCase();
    // `false` is ssh's other word for `no` in every yes/no keyword.
    if (u.harmless.includes(lower) || (lower === 'false' && u.harmless.includes('no'))) continue;
    // Debian's /etc/ssh/ssh_config turns GSSAPI on for every host; ssh then tries it
    // first and goes on to the next method, so only a user's own setting is a choice.
    if (key === 'gssapiauthentication' && v.system) continue;
    return { keyword: u.keyword, file: v.file, line: v.line, message: `ssh_config ${at(v)}: ${u.keyword} ${value}: ${advice}` };
  }
  return undefined;
}

function algorithmsFor(c: EffectiveConfig, legacy: boolean): { algorithms: Algorithms; problem?: Refusal } {
  const algorithms = defaultAlgorithms(legacy);
  for (const [keyword, kind] of Object.entries(ALGORITHM_KEYWORDS)) {
    const v = c.values.get(keyword)?.[0];
    if (!v) continue;
    const { list } = applyAlgorithmList(kind, algorithms[kind], v.args.join(''));
    if (list.length === 0) {
      const message = `ssh_config ${at(v)}: ${v.args.join('')}: none of these ${keyword} is supported by the ssh2 transport; scan this host with --transport openssh`;
      return { algorithms, problem: { keyword: v.keyword, file: v.file, line: v.line, message } };
    }
    algorithms[kind] = list;
  }
  return { algorithms };
}

/** The host as the transports need it. Throws SshConfigError for a configuration ssh would refuse too. */
export function resolveHost(spec: HostSpec, ctx: ResolveContext, hop = false, depth = 0): HostSpec {
  return resolveExplained(spec, ctx, hop, depth).spec;
}

/** What resolveHost gives, with the configuration it read and why the ssh2 transport would refuse the host (for `plan`). */
export interface ResolvedHost {
  spec: HostSpec;
  config: EffectiveConfig;
  refusal?: Refusal;
  /** UserKnownHostsFile as ssh_config gives it, expanded ([] for none); undefined when unset. */
  userKnownHosts?: string[];
}

export function resolveExplained(spec: HostSpec, ctx: ResolveContext, hop = false, depth = 0): ResolvedHost {
  const typed = spec.host;
  // Per host first (user@host, the user/port columns), then -l / -p; the config comes after both.
  const user = spec.user || (hop ? undefined : ctx.given.user);
  const c = resolveSshConfig(typed, ctx.config, { user });
  const out: HostSpec = { ...spec };
  out.host = c.hostname.startsWith('[') && c.hostname.endsWith(']') ? c.hostname.slice(1, -1) : c.hostname;
  if (out.host !== typed) out.alias = typed;
  out.user = user || first(c, 'user') || ctx.config.localUser;
  const portText = first(c, 'port');
  const configPort = portText !== undefined ? Number(portText) : undefined;
  if (portText !== undefined && !(Number.isInteger(configPort) && configPort! >= 1 && configPort! <= 65535)) {
    throw new SshConfigError(`${at(c.values.get('port')![0])}: Port must be an integer from 1 to 65535, got ${JSON.stringify(portText)}`);
  }
  out.port = spec.port || (hop ? undefined : ctx.given.port) || configPort || 22;

  const alias = first(c, 'hostkeyalias');
  const tokens: TokenValues = { h: c.hostname, n: typed, p: out.port, r: out.user, d: ctx.config.home, u: ctx.config.localUser, i: ctx.config.uid, hostKeyAlias: alias?.toLowerCase() };
  const expand = (v: ConfigValue, value: string): string => {
    try {
      return expandTokens(value, tokens, { dollar: true });
    } catch (err) {
      throw new SshConfigError(`${at(v)}: ${(err as Error).message}`);
    }
  };
  const fromConfig = (c.values.get('identityfile') ?? []).flatMap((v) => v.args.map((a) => expand(v, a)));
  const typedIdentities = spec.identities.length ? spec.identities : ctx.identities;
  if (!hop) {
    const g = ctx.given;
    out.typed = {
      user: user || undefined, port: spec.port || g.port || undefined, identities: [...typedIdentities], jump: g.jump ?? spec.jump,
      hostKeyPolicy: g.hostKeyPolicy, knownHosts: g.knownHosts, connectTimeoutMs: g.connectTimeoutMs, keepaliveIntervalMs: g.keepaliveIntervalMs,
    };
  }
  out.identities = [...typedIdentities, ...fromConfig.filter((f) => !typedIdentities.includes(f))];
  // As ssh: the default key files when nothing names one (IdentitiesOnly or not).
  if (out.identities.length === 0) out.identities = [...ctx.defaultIdentities];

  const agent = c.values.get('identityagent')?.[0];
  if (agent) {
    const a = agent.args[0];
    // SSH_AUTH_SOCK (the literal word) means the environment's socket: the default.
    if (a !== 'SSH_AUTH_SOCK') out.identityAgent = a === 'none' ? 'none' : expand(agent, a.startsWith('$') ? process.env[a.slice(1)] ?? '' : a);
  }
  const only = yesNo(c, 'identitiesonly');
  if (only !== undefined) out.identitiesOnly = only;
  const pw = yesNo(c, 'passwordauthentication');
  if (pw !== undefined) out.passwordAuthentication = pw;
  // ChallengeResponseAuthentication is an alias of it (ssh-config-keywords.ts).
  const kbd = yesNo(c, 'kbdinteractiveauthentication');
  if (kbd !== undefined) out.kbdInteractiveAuthentication = kbd;

  const strict = c.values.get('stricthostkeychecking')?.[0];
  if (ctx.given.hostKeyPolicy) out.hostKeyPolicy = ctx.given.hostKeyPolicy;
  else if (strict) out.hostKeyPolicy = policyOf(strict.args[0], at(strict));
  const userFiles = c.values.get('userknownhostsfile')?.[0];
  const userKnownHosts = userFiles?.args.filter((f) => f.toLowerCase() !== 'none').map((f) => expand(userFiles, f));
  if (ctx.given.knownHosts === undefined) {
    const globalFiles = c.values.get('globalknownhostsfile')?.[0];
    if (userFiles || globalFiles) {
      const u = userKnownHosts ?? [`${ctx.config.home}/.ssh/known_hosts`];
      const g = globalFiles ? globalFiles.args.filter((f) => f.toLowerCase() !== 'none').map((f) => expand(globalFiles, f)) : [];
      out.knownHostsFiles = [...u, ...g];
      if (u[0]) out.knownHostsWriteFile = u[0];
    }
  }
  const hash = yesNo(c, 'hashknownhosts');
  if (hash) out.hashKnownHosts = true;
  else delete out.hashKnownHosts;
  const connect = seconds(c, 'connecttimeout');
  out.connectTimeoutMs = ctx.given.connectTimeoutMs ?? (connect ? connect * 1000 : undefined);
  if (out.connectTimeoutMs === undefined) delete out.connectTimeoutMs;
  const alive = seconds(c, 'serveraliveinterval');
  const aliveMax = seconds(c, 'serveralivecountmax');
  if (ctx.given.keepaliveIntervalMs === undefined && alive !== undefined) out.keepaliveIntervalMs = alive * 1000; // 0: off, as in ssh
  if (aliveMax !== undefined) out.keepaliveCountMax = aliveMax;
  const family = first(c, 'addressfamily')?.toLowerCase();
  if (family === 'inet') out.addressFamily = 4;
  else if (family === 'inet6') out.addressFamily = 6;

  const { algorithms, problem } = algorithmsFor(c, ctx.legacy);
  out.algorithms = algorithms;
  let refusal = problem ?? unsupportedReason(c);
  if (out.addressFamily && isIP(out.host) && isIP(out.host) !== out.addressFamily) {
    const v = c.values.get('addressfamily')![0];
    refusal = { keyword: 'AddressFamily', file: v.file, line: v.line, message: `AddressFamily inet${out.addressFamily === 6 ? '6' : ''} excludes the address ${out.host}` };
  }
  if (refusal) out.unsupported = refusal.message;
  else delete out.unsupported;

  // -J, then the jump column, then ProxyJump. A bastion has only its own ProxyJump, and only
  // the first one's counts: ssh reaches the later ones through the hop before (-W).
  let hopRefusal: Refusal | undefined;
  const proxyJump = c.values.get('proxyjump')?.[0];
  const chain = hop ? proxyJump?.args.join(',') : ctx.given.jump ?? spec.jump ?? proxyJump?.args.join(',');
  if (chain !== undefined) {
    const where = hop || (ctx.given.jump === undefined && spec.jump === undefined) ? `${at(proxyJump!)}: ProxyJump` : ctx.given.jump !== undefined ? '-J' : `${spec.origin.file}:${spec.origin.line}: column "jump"`;
    let hops;
    try {
      hops = parseJumpChain(chain);
    } catch (err) {
      throw new SshConfigError(`${where}: ${(err as Error).message}`);
    }
    if (depth >= MAX_JUMP_DEPTH) throw new SshConfigError(`${where}: bastions reached through more than ${MAX_JUMP_DEPTH} levels of ProxyJump (a loop?)`);
    if (hops.length) {
      const resolved = hops.map((h, i) => {
        const explained = resolveExplained({ host: h.host, port: h.port, user: h.user, identities: [], tag: '', origin: spec.origin }, ctx, true, depth + 1);
        // A bastion the ssh2 transport refuses fails the hosts behind it (plan says so for them).
        hopRefusal ??= explained.refusal;
        const r = explained.spec;
        const before = i === 0 ? r.jumpHosts ?? [] : [];
        delete r.jumpHosts;
        delete r.jump;
        return [...before, r];
      });
      out.jump = chain;
      out.jumpHosts = resolved.flat();
    } else {
      delete out.jump;
      delete out.jumpHosts;
    }
  }
  return { spec: out, config: c, refusal: refusal ?? hopRefusal, userKnownHosts };
}
