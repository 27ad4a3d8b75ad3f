// OpenSSH 9.2's client keyword table (readconf.c keywords[]), with its
// aliases mapped to the keyword they stand for, and the checks ssh makes on
// each value before it looks at whether the block applies: a value ssh
// refuses makes the file fail, whichever host is asked for.
import type { ConfigLine } from './ssh-config-lines.js';

/** How a keyword's arguments are read (readconf.c: the parse_* label it goes to). */
type Kind =
  | { t: 'string' } // one argument, first value wins
  | { t: 'flag' } // yes/no/true/false
  | { t: 'multi'; values: string[] }
  | { t: 'int' }
  | { t: 'time' } // convtime, or `none`
  | { t: 'port' }
  | { t: 'list' } // several arguments, `none` alone
  | { t: 'accumulate' } // IdentityFile, CertificateFile: every active line adds one
  | { t: 'env' } // SendEnv / SetEnv: several, checked
  | { t: 'command' } // ProxyCommand, LocalCommand...: the rest of the line as typed
  | { t: 'jump' }
  | { t: 'forward'; max: number }
  | { t: 'pair' } // one or two arguments (RekeyLimit, IPQoS, AddKeysToAgent)
  | { t: 'block' } // Host, Match
  | { t: 'include' }
  | { t: 'deprecated' } // read and forgotten
  | { t: 'unsupported' }; // ssh warns and goes on

const FLAG = { t: 'flag' } as const;
const STRING = { t: 'string' } as const;
const multi = (...values: string[]): Kind => ({ t: 'multi', values });

/** Canonical keyword -> kind. */
const KEYWORDS: Record<string, Kind> = {
  protocol: { t: 'deprecated' },
  cipher: { t: 'deprecated' },
  fallbacktorsh: { t: 'deprecated' },
  globalknownhostsfile2: { t: 'deprecated' },
  rhostsauthentication: { t: 'deprecated' },
  userknownhostsfile2: { t: 'deprecated' },
  useroaming: { t: 'deprecated' },
  usersh: { t: 'deprecated' },
  useprivilegedport: { t: 'deprecated' },
  afstokenpassing: { t: 'unsupported' },
  kerberosauthentication: { t: 'unsupported' },
  kerberostgtpassing: { t: 'unsupported' },
  rsaauthentication: { t: 'unsupported' },
  rhostsrsaauthentication: { t: 'unsupported' },
  compressionlevel: { t: 'unsupported' },
  gssapiauthentication: FLAG,
  gssapidelegatecredentials: FLAG,
  // The GSSAPI key exchange patch that Debian, Ubuntu, RHEL and Fedora build into their ssh.
  gssapikeyexchange: FLAG,
  gssapiclientidentity: STRING,
  gssapiserveridentity: STRING,
  gssapirenewalforcesrekey: FLAG,
  gssapitrustdns: FLAG,
  gssapikexalgorithms: STRING,
  pkcs11provider: STRING,
  forwardagent: STRING, // yes/no or an agent socket path
  forwardx11: FLAG,
  forwardx11trusted: FLAG,
  forwardx11timeout: { t: 'time' },
  exitonforwardfailure: FLAG,
  xauthlocation: STRING,
  gatewayports: FLAG,
  passwordauthentication: FLAG,
  kbdinteractiveauthentication: FLAG,
  kbdinteractivedevices: STRING,
  pubkeyauthentication: multi('true', 'false', 'yes', 'no', 'unbound', 'host-bound'),
  hostbasedauthentication: FLAG,
  identityfile: { t: 'accumulate' },
  identitiesonly: FLAG,
  certificatefile: { t: 'accumulate' },
  addkeystoagent: { t: 'pair' },
  identityagent: STRING,
  hostname: STRING,
  hostkeyalias: STRING,
  proxycommand: { t: 'command' },
  port: { t: 'port' },
  ciphers: STRING,
  macs: STRING,
  remoteforward: { t: 'forward', max: 2 },
  localforward: { t: 'forward', max: 2 },
  permitremoteopen: { t: 'list' },
  user: STRING,
  host: { t: 'block' },
  match: { t: 'block' },
  escapechar: STRING,
  globalknownhostsfile: { t: 'list' },
  userknownhostsfile: { t: 'list' },
  connectionattempts: { t: 'int' },
  batchmode: FLAG,
  checkhostip: FLAG,
  stricthostkeychecking: multi('true', 'false', 'yes', 'no', 'ask', 'off', 'accept-new'),
  compression: multi('yes', 'no'),
  tcpkeepalive: FLAG,
  numberofpasswordprompts: { t: 'int' },
  syslogfacility: STRING,
  loglevel: STRING,
  logverbose: { t: 'list' },
  dynamicforward: { t: 'forward', max: 1 },
  preferredauthentications: STRING,
  hostkeyalgorithms: STRING,
  casignaturealgorithms: STRING,
  bindaddress: STRING,
  bindinterface: STRING,
  clearallforwardings: FLAG,
  enablesshkeysign: FLAG,
  verifyhostkeydns: multi('true', 'false', 'yes', 'no', 'ask'),
  nohostauthenticationforlocalhost: FLAG,
  rekeylimit: { t: 'pair' },
  connecttimeout: { t: 'time' },
  addressfamily: multi('inet', 'inet6', 'any'),
  serveraliveinterval: { t: 'time' },
  serveralivecountmax: { t: 'int' },
  sendenv: { t: 'env' },
  setenv: { t: 'env' },
  controlpath: STRING,
  controlmaster: multi('true', 'yes', 'false', 'no', 'auto', 'ask', 'autoask'),
  controlpersist: STRING,
  hashknownhosts: FLAG,
  include: { t: 'include' },
  tunnel: multi('ethernet', 'point-to-point', 'true', 'yes', 'false', 'no'),
  tunneldevice: STRING,
  localcommand: { t: 'command' },
  permitlocalcommand: FLAG,
  remotecommand: { t: 'command' },
  visualhostkey: FLAG,
  kexalgorithms: STRING,
  ipqos: { t: 'pair' },
  requesttty: multi('true', 'yes', 'false', 'no', 'force', 'auto'),
  sessiontype: multi('none', 'subsystem', 'default'),
  stdinnull: FLAG,
  forkafterauthentication: FLAG,
  proxyusefdpass: FLAG,
  canonicaldomains: { t: 'list' },
  canonicalizefallbacklocal: FLAG,
  canonicalizehostname: multi('true', 'false', 'yes', 'no', 'always'),
  canonicalizemaxdots: { t: 'int' },
  canonicalizepermittedcnames: { t: 'list' },
  streamlocalbindmask: STRING,
  streamlocalbindunlink: FLAG,
  revokedhostkeys: STRING,
  fingerprinthash: multi('md5', 'sha1', 'sha256', 'sha384', 'sha512'),
  updatehostkeys: multi('true', 'false', 'yes', 'no', 'ask'),
  hostbasedacceptedalgorithms: STRING,
  pubkeyacceptedalgorithms: STRING,
  ignoreunknown: STRING,
  proxyjump: { t: 'jump' },
  securitykeyprovider: STRING,
  knownhostscommand: { t: 'command' },
  requiredrsasize: { t: 'int' },
  enableescapecommandline: FLAG,
};

/** Old names (readconf.c marks them alias or obsolete): they set the keyword they stand for. */
export const ALIASES: Record<string, string> = {
  challengeresponseauthentication: 'kbdinteractiveauthentication',
  skeyauthentication: 'kbdinteractiveauthentication',
  tisauthentication: 'kbdinteractiveauthentication',
  dsaauthentication: 'pubkeyauthentication',
  identityfile2: 'identityfile',
  keepalive: 'tcpkeepalive',
  hostbasedkeytypes: 'hostbasedacceptedalgorithms',
  pubkeyacceptedkeytypes: 'pubkeyacceptedalgorithms',
  smartcarddevice: 'pkcs11provider',
};

/** The keyword a typed one stands for, or undefined when ssh does not know it. */
export function canonicalKeyword(typed: string): string | undefined {
  if (Object.hasOwn(KEYWORDS, typed)) return typed;
  return ALIASES[typed];
}

export function kindOf(keyword: string): Kind['t'] {
  return KEYWORDS[keyword].t;
}

/** misc.c convtime: 90, 1h30m, 10s; -1 when it is not one. */
export function convtime(s: string): number {
  if (!/^(\d+[sSmMhHdDwW])*\d*$/.test(s) || s === '') return -1;
  let total = 0;
  for (const [, n, unit] of s.matchAll(/(\d+)([sSmMhHdDwW]?)/g)) {
    const mult = { '': 1, s: 1, m: 60, h: 3600, d: 86400, w: 604800 }[unit.toLowerCase() as 's'];
    total += Number(n) * mult;
  }
  return total > 2 ** 31 - 1 ? -1 : total;
}

/** misc.c a2port: a number 0..65535 (0 is refused by the caller), or a tcp service name. */
export function a2port(s: string): number {
  if (/^\d+$/.test(s)) return Number(s) <= 65535 ? Number(s) : -1;
  // getservbyname: the few names /etc/services gives that anyone writes in ssh_config.
  return ({ ssh: 22 } as Record<string, number>)[s] ?? -1;
}

/**
 * ssh's checks of one line's arguments, made whether or not its block applies
 * (readconf.c fails the file for these). Returns the problem, or undefined.
 * Host and Match are checked where they are evaluated.
 */
export function checkValue(keyword: string, l: ConfigLine): string | undefined {
  const kind = KEYWORDS[keyword];
  const a = l.args;
  const one = (): string | undefined => (a.length > 1 ? `keyword ${l.keyword} extra arguments at end of line` : undefined);
  const missing = a.length === 0 || a[0] === '';
  switch (kind.t) {
    case 'string':
    case 'accumulate':
      if (missing) return 'missing argument';
      if (keyword === 'identityagent' || keyword === 'forwardagent') {
        if (/^\$[^{]/.test(a[0]) && !/^\$[A-Za-z_][A-Za-z0-9_]*$/.test(a[0])) return `invalid environment name ${a[0]}`;
      }
      if (keyword === 'escapechar' && !(a[0] === 'none' || a[0].length === 1 || /^\^[@-\x7f]$/.test(a[0]))) return 'bad escape character';
      return one();
    case 'flag':
    case 'multi': {
      const values = kind.t === 'flag' ? ['yes', 'no', 'true', 'false'] : kind.values;
      if (missing) return 'missing argument';
      if (!values.includes(a[0].toLowerCase())) return `unsupported option "${a[0]}"`;
      return one();
    }
    case 'int':
      if (missing || !/^[+-]?\d+$/.test(a[0])) return `integer value ${missing ? 'missing' : 'invalid'}`;
      return one();
    case 'time':
      if (missing) return 'missing time value';
      if (a[0] !== 'none' && convtime(a[0]) < 0) return 'invalid time value';
      return one();
    case 'port':
      if (missing) return 'missing argument';
      if (a2port(a[0]) <= 0) return `bad port '${a[0]}'`;
      return one();
    case 'list':
      for (const [i, v] of a.entries()) {
        if (v === '') return `keyword ${l.keyword} empty argument`;
        if (v.toLowerCase() === 'none' && (i > 0 || a.length > 1) && keyword !== 'permitremoteopen') return `keyword ${l.keyword} "none" argument must appear alone`;
      }
      return undefined;
    case 'env':
      for (const v of a) {
        if (keyword === 'sendenv' && (v === '' || v.includes('='))) return 'invalid environment name';
        if (keyword === 'setenv' && !v.includes('=')) return 'invalid SetEnv';
      }
      return undefined;
    case 'forward':
      if (missing) return 'missing argument';
      if (a.length > kind.max) return `keyword ${l.keyword} extra arguments at end of line`;
      if (keyword === 'localforward' && a.length < 2) return 'missing target argument';
      return undefined;
    case 'pair':
      if (missing) return 'missing argument';
      return a.length > 2 ? `keyword ${l.keyword} extra arguments at end of line` : undefined;
    case 'include':
      return a.some((v) => v === '') ? `keyword ${l.keyword} empty argument` : undefined;
    default:
      return undefined;
  }
}
