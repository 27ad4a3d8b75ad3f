// Command-line options: parsed by commander, checked here before anything
// connects, turned into plain settings. Every error names the option and what
// was expected, and ends the run with exit code 1.
import { Command, InvalidArgumentError, Option } from 'commander';
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import type { HostKeyPolicy } from '../types.js';
import { version } from '../version.js';
import { SUBCOMMAND_HELP } from './subcommands.js';

export interface CliOptions {
  targets: string[];
  hosts?: string;
  port: number;
  user: string;
  identity: string[];
  knownHosts: string;
  hostKeyPolicy: HostKeyPolicy;
  out: string;
  local: boolean;
  connectTimeout: number;
  authTimeout: number;
  hostTimeout: number;
  parallel?: number;
  retries: number;
  report?: string;
  retryFile?: string;
  resume?: string;
  json: boolean;
  progress?: boolean;
  shard?: string;
  javaDir: string[];
  maxHostBytes: number;
  keepalive: number;
  passphraseFile?: string;
  summary?: string;
  compare?: string;
  quiet: boolean;
  verbose: boolean;
  resumeMaxAge?: number;
}

const seconds = (name: string) => (v: string): number => {
  const n = Number(v);
  if (!/^\d+(\.\d+)?$/.test(v.trim()) || !(n > 0) || n > 86400) throw new InvalidArgumentError(`${name} must be a number of seconds from 0.1 to 86400, got ${JSON.stringify(v)}`);
  return n;
};
const integer = (name: string, min: number, max: number) => (v: string): number => {
  if (!/^\d+$/.test(v.trim()) || Number(v) < min || Number(v) > max) throw new InvalidArgumentError(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
  return Number(v);
};
const collect = (v: string, prev: string[]): string[] => [...prev, v];
const javaDirs = (v: string, prev: string[]): string[] => {
  const dirs = v.split(':').filter((d) => d !== '');
  for (const d of dirs) if (!d.startsWith('/')) throw new InvalidArgumentError(`Java search folder must be an absolute path on the target, got ${JSON.stringify(d)}`);
  return [...prev, ...dirs];
};

const hours = (v: string): number => {
  const n = Number(v);
  if (!/^\d+(\.\d+)?$/.test(v.trim()) || !(n > 0)) throw new InvalidArgumentError(`--resume-max-age must be a number of hours greater than 0, got ${JSON.stringify(v)}`);
  return n;
};

// ssh users type `-o Keyword=value`; here -o is the output folder, as in the
// on-host scanner. These are the ssh_config keywords people most often pass.
const SSH_CONFIG_KEYWORDS = new Set(
  [
    'AddKeysToAgent', 'AddressFamily', 'BatchMode', 'BindAddress', 'CanonicalizeHostname', 'CertificateFile', 'CheckHostIP', 'Ciphers',
    'ClearAllForwardings', 'Compression', 'ConnectionAttempts', 'ConnectTimeout', 'ControlMaster', 'ControlPath', 'ControlPersist',
    'ForwardAgent', 'GlobalKnownHostsFile', 'GSSAPIAuthentication', 'HashKnownHosts', 'HostKeyAlgorithms', 'HostKeyAlias', 'HostName',
    'HostbasedAuthentication', 'IdentitiesOnly', 'IdentityAgent', 'IdentityFile', 'KbdInteractiveAuthentication', 'KexAlgorithms',
    'LogLevel', 'MACs', 'NumberOfPasswordPrompts', 'PasswordAuthentication', 'Port', 'PreferredAuthentications', 'ProxyCommand',
    'ProxyJump', 'PubkeyAcceptedAlgorithms', 'PubkeyAcceptedKeyTypes', 'PubkeyAuthentication', 'RequestTTY', 'ServerAliveCountMax',
    'ServerAliveInterval', 'StrictHostKeyChecking', 'TCPKeepAlive', 'UpdateHostKeys', 'User', 'UserKnownHostsFile', 'VerifyHostKeyDNS',
  ].map((k) => k.toLowerCase()),
);

/** What `-o Keyword=value` would have meant to ssh, and where it goes here. */
const SSH_OPTION_HINTS: Record<string, string> = {
  stricthostkeychecking: 'host keys are --host-key-policy strict|accept-new|off here',
  userknownhostsfile: 'the known_hosts file is --known-hosts FILE here',
  identityfile: 'a key is -i FILE here',
  port: 'the port is -p PORT here',
  user: 'the login name is -l NAME here',
  connecttimeout: 'that is --connect-timeout S here',
  serveraliveinterval: 'that is --keepalive S here',
  batchmode: 'the scan never prompts, so it needs no BatchMode',
};

const outFolder = (v: string, prev: string | undefined): string => {
  const m = /^([A-Za-z]+)=/.exec(v);
  if (m && SSH_CONFIG_KEYWORDS.has(m[1].toLowerCase())) {
    const hint = SSH_OPTION_HINTS[m[1].toLowerCase()];
    throw new InvalidArgumentError(
      `${JSON.stringify(v)} is an ssh_config option, but -o is the output folder here (as in the on-host scanner); ` +
        `${hint ? `${hint}; ` : ''}ssh options go in the ssh_config file (~/.ssh/config)`,
    );
  }
  if (prev !== undefined && prev !== v) throw new InvalidArgumentError(`two output folders, ${JSON.stringify(prev)} and ${JSON.stringify(v)}; give one -o/--out`);
  return v;
};

function defaultUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? 'root';
  }
}

export function buildCommand(): Command {
  return new Command('octoscan-remote')
    .description('Agentless OctoSAM Inventory scanner: scans Linux and macOS hosts over SSH into <uuid>.scal / <uuid>.scam archives.')
    .argument('[targets...]', 'hosts to scan: [user@]host[:port], IPv6 as [addr]:port')
    .requiredOption('-o, --out <dir>', 'output folder (the OctoSAM import folder); archives appear there complete or not at all', outFolder)
    .option('--hosts <file>', 'CSV hosts file with a header row (host,port,user,identity,jump,tag); "-" reads standard input')
    .option('-p, --port <port>', 'default SSH port', integer('--port', 1, 65535), 22)
    .addOption(new Option('-l, --user <name>', 'default login name').default(defaultUser(), 'the local user name'))
    .option('-i, --identity <file>', 'private key file; repeatable; tried after the SSH agent ($SSH_AUTH_SOCK)', collect, [])
    .option('--passphrase-file <file>', 'file holding the passphrase of encrypted -i keys (mode 0600 or stricter; or set OCTOSCAN_SSH_PASSPHRASE)')
    .option('--known-hosts <file>', 'known_hosts file', join(homedir(), '.ssh', 'known_hosts'))
    .addOption(
      new Option('--host-key-policy <policy>', 'strict: an unknown or changed key fails the host; accept-new: an unknown key is recorded, a changed one fails; off: no verification, a warning per host (a @revoked key is still refused)')
        .choices(['strict', 'accept-new', 'off'])
        .default('strict'),
    )
    .option('--local', 'scan this machine through the local /bin/sh instead of SSH', false)
    .option('--connect-timeout <seconds>', 'one deadline for name lookup, TCP connect and SSH key exchange together', seconds('--connect-timeout'), 15)
    .option('--auth-timeout <seconds>', 'deadline for authentication', seconds('--auth-timeout'), 30)
    .option('--host-timeout <seconds>', 'deadline for a whole host, connection to archive', seconds('--host-timeout'), 900)
    .option('--keepalive <seconds>', 'SSH keepalive interval; 3 unanswered keepalives end the host', seconds('--keepalive'), 15)
    .option('-j, --parallel <n>', 'hosts scanned at once (default: automatic, from hosts, open-file limit, memory and CPUs)', integer('--parallel', 1, 4096))
    .option('--retries <n>', 'retries for failures before authentication (refused, reset, connect timeout, DNS temporary failure)', integer('--retries', 0, 10), 2)
    .option('--report <file>', 'write one row per host: CSV, or JSON lines when the name ends in .jsonl or .ndjson')
    .option('--retry-file <file>', 'write the failed hosts in the hosts file format, for --hosts')
    .option('--resume <report>', 'skip hosts that this earlier report lists as ok; their rows are carried into --report (it may be the same file)')
    .option('--resume-max-age <hours>', 'with --resume: rescan ok hosts scanned longer ago than this', hours)
    .option('--summary <file.html>', 'after the run, write a self-contained HTML summary page (classes, OS, failures, slowest hosts, costly warnings)')
    .option('--compare <report>', 'with --summary: compare with an earlier report (new failures, recovered, added, gone)')
    .option('--json', 'standard output: one JSON object per host instead of archive paths', false)
    .option('--no-progress', 'no progress bar even on a terminal')
    .option('-q, --quiet', 'standard error: only failures, warnings and the summary line', false)
    .option('-v, --verbose', 'standard error: each host\'s phases, negotiated algorithms and the authentication methods tried', false)
    .option('--shard <I/N>', 'scan only the I-th of N parts of the host list (I from 0), e.g. $JOB_COMPLETION_INDEX/8')
    .option('-J, --java-dir <dir>', 'extra folder on the target searched for Java; repeatable or colon-separated', javaDirs, [])
    .option('--max-host-bytes <bytes>', 'cap on the output kept per host (at least 1048576)', integer('--max-host-bytes', 1 << 20, 2 ** 40), 512 * 1024 * 1024)
    .version(version(), '-V, --version')
    .showHelpAfterError('(run octoscan-remote --help for all options)')
    .addHelpText(
      'after',
      `
Exit codes: 0 every host ok; 2 some hosts failed; 1 could not start (arguments,
hosts file, output folder, report folder, keys, known_hosts); 130 interrupted.
Environment: SSH_AUTH_SOCK (agent), OCTOSCAN_SSH_PASSPHRASE (passphrase for -i keys).
${SUBCOMMAND_HELP}`,
    );
}

export function readOptions(cmd: Command): CliOptions {
  const o = cmd.opts();
  return { ...(o as Omit<CliOptions, 'targets'>), targets: cmd.args } as CliOptions;
}
