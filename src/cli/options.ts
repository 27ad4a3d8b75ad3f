// Command-line options: parsed by commander, checked here before anything
// connects, turned into plain settings. Every error names the option and what
// was expected, and ends the run with exit code 1.
import { Command, InvalidArgumentError, Option } from 'commander';
import { join } from 'node:path';
import { parseJumpChain } from '../hosts/jump-spec.js';
import { checkUser } from '../hosts/validate.js';
import type { HostKeyPolicy } from '../types.js';
import { version } from '../version.js';
import { addUploadOptions, type UploadCliOptions } from '../upload/upload-options.js';
import { SUBCOMMAND_HELP } from './subcommands.js';
import { localAccount } from './local-account.js';
import { JAVA_ENVIRON_MODES, type JavaEnvironMode } from '../scan/java-environ.js';

export interface CliOptions extends UploadCliOptions {
  targets: string[];
  hosts?: string;
  inventory: string[];
  limit?: string;
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
  reportDir?: string;
  reportFormat: 'csv' | 'jsonl';
  retryFile?: string;
  resume?: string;
  json: boolean;
  progress?: boolean;
  shard?: string;
  javaDir: string[];
  javaEnviron: JavaEnvironMode;
  jump?: string;
  jumpChannels: number;
  config?: string;
  legacyAlgorithms: boolean;
  maxHostBytes: number;
  keepalive: number;
  passphraseFile?: string;
  passwordFile?: string;
  askPass: boolean;
  sudo: boolean;
  sudoPasswordFile?: string;
  askSudoPass: boolean;
  transport: 'ssh2' | 'openssh';
  summary?: string;
  compare?: string;
  upload?: string;
  failedExit: number;
  containers: boolean;
  containerParallel: number;
  containerTimeout: number;
  maxContainers: number;
  containersTimeout: number;
  tag?: string;
  machine?: string;
  configHost?: string;
  cluster?: string;
  virt?: string;
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
const failedExit = (v: string): number => {
  // 1 means "could not start", 3 "archives waiting": neither may stand for failed hosts.
  if (v.trim() === '0' || v.trim() === '2') return Number(v);
  throw new InvalidArgumentError(`--failed-exit must be 0 or 2, got ${JSON.stringify(v)}`);
};
const reportFormat = (v: string): string => {
  if (v === 'csv' || v === 'jsonl') return v;
  throw new InvalidArgumentError(`--report-format must be csv or jsonl, got ${JSON.stringify(v)}`);
};
const collect = (v: string, prev: string[]): string[] => [...prev, v];
const jumpChain = (v: string): string => {
  try {
    parseJumpChain(v);
  } catch (err) {
    throw new InvalidArgumentError(`--jump must be [user@]host[:port][,...] or none: ${(err as Error).message}`);
  }
  return v;
};
const loginName = (v: string): string => {
  // The same rule as a user column or user@host: it may reach ssh's shell lines.
  const bad = checkUser(v);
  if (bad) throw new InvalidArgumentError(`--user ${JSON.stringify(v)}: ${bad}`);
  return v;
};
const configValue = (name: string) => (v: string): string => {
  // Tab is the only control character a hosts-file tag may hold; the same here.
  if (/[\u0000-\u0008\u000a-\u001f\u007f]/.test(v)) throw new InvalidArgumentError(`${name} must not contain control characters other than tab, got ${JSON.stringify(v)}`);
  return v;
};
const javaDirs = (v: string, prev: string[]): string[] => {
  const dirs = v.split(':').filter((d) => d !== '');
  for (const d of dirs) if (!d.startsWith('/')) throw new InvalidArgumentError(`Java search folder must be an absolute path on the target, got ${JSON.stringify(d)}`);
  return [...prev, ...dirs];
};

const onePattern = (v: string, prev: string | undefined): string => {
  if (prev !== undefined) throw new InvalidArgumentError(`give one --limit; join patterns in it: ${JSON.stringify(`${prev}:${v}`)}`);
  if (v.trim() === '') throw new InvalidArgumentError('--limit needs a pattern, e.g. web or \'web:!web03\'');
  return v;
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

export function buildCommand(): Command {
  const me = localAccount();
  const cmd = new Command('octoscan-remote')
    .description('Agentless OctoSAM Inventory scanner: scans Linux and macOS hosts over SSH into <uuid>.scal / <uuid>.scam archives.')
    .argument('[targets...]', 'hosts to scan: [user@]host[:port], IPv6 as [addr]:port')
    .requiredOption('-o, --out <dir>', 'output folder (the OctoSAM import folder); archives appear there complete or not at all', outFolder)
    .option('--hosts <file>', 'CSV hosts file with a header row (host,port,user,identity,jump,tag,...; other columns are labels); "-" reads standard input')
    .option('--inventory <path>', 'Ansible inventory (INI, YAML, folder, plugin config: read by ansible-inventory --list), or a JSON file holding that command\'s output; repeatable', collect, [])
    .option('--limit <pattern>', 'scan only the hosts this Ansible host pattern selects from the list (names, globs, groups, a:b, a:!b, a:&b, ~regex; @FILE reads patterns from a file)', onePattern)
    .option('-p, --port <port>', 'default SSH port', integer('--port', 1, 65535), 22)
    .addOption(new Option('-l, --user <name>', 'default login name').argParser(loginName).default(me.name, 'the local user name'))
    .option('-i, --identity <file>', 'private key file; repeatable; tried after the SSH agent ($SSH_AUTH_SOCK)', collect, [])
    .option('--passphrase-file <file>', 'file holding the passphrase of encrypted -i keys (mode 0600 or stricter; or set OCTOSCAN_SSH_PASSPHRASE)')
    .option('--password-file <file>', 'file holding the login password (mode 0600 or stricter; or set OCTOSCAN_SSH_PASSWORD); tried after keys, by keyboard-interactive and password')
    .option('--ask-pass', 'ask for the login password once on the terminal (no echo)', false)
    .option('--sudo', 'run the probe script as root through sudo -n /bin/sh -s (a hosts-file column sudo=yes/no overrides it per host)', false)
    .option('--sudo-password-file <file>', 'with sudo: file holding the sudo password (mode 0600 or stricter; or set OCTOSCAN_SUDO_PASSWORD), used when sudo asks for one')
    .option('--ask-sudo-pass', 'with sudo: ask for the sudo password once on the terminal (no echo)', false)
    .addOption(
      new Option('--transport <name>', 'ssh2: the built-in SSH client; openssh: the system ssh client (Kerberos, smartcards, certificates, ProxyCommand, the whole ssh_config; no password authentication)')
        .choices(['ssh2', 'openssh'])
        .default('ssh2'),
    )
    .option('--known-hosts <file>', 'known_hosts file', join(me.home, '.ssh', 'known_hosts'))
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
    .option('--report-dir <dir>', 'write the report as DIR/<start, ISO basic>[.shard-I-of-N].csv (or .jsonl): one report per run, kept; --compare previous reads the newest earlier one')
    .option('--report-format <csv|jsonl>', 'with --report-dir: CSV or JSON lines', reportFormat, 'csv')
    .option('--retry-file <file>', 'write the failed hosts in the hosts file format, for --hosts')
    .option('--resume <report>', 'skip hosts that this earlier report lists as ok; their rows are carried into --report (it may be the same file)')
    .option('--resume-max-age <hours>', 'with --resume: rescan ok hosts scanned longer ago than this', hours)
    .option('--summary <file.html>', 'after the run, write a self-contained HTML summary page (classes, OS, failures, slowest hosts, costly warnings)')
    .option('--compare <report>', 'with --summary: compare with an earlier report (new failures, recovered, added, gone); "previous": the newest earlier report in --report-dir; a file that does not exist yet (a first night) is a note, not an error')
    .option('--json', 'standard output: one JSON object per host instead of archive paths', false)
    .option('--no-progress', 'no progress bar even on a terminal')
    .option('-q, --quiet', 'standard error: only failures, warnings and the summary line', false)
    .option('-v, --verbose', 'standard error: each host\'s phases, negotiated algorithms and the authentication methods tried', false)
    .option('--shard <I/N>', 'scan only the I-th of N parts of the host list (I from 0), e.g. $JOB_COMPLETION_INDEX/8')
    .option('-J, --jump <[user@]host[:port],...>', 'ProxyJump chain of bastions, as ssh -J; "none" ignores ssh_config ProxyJump and the jump column', jumpChain)
    .option('--jump-channels <n>', 'channels opened at once through one bastion (one SSH connection per bastion serves every host behind it)', integer('--jump-channels', 1, 1024), 32)
    .option('-F, --config <file>', 'ssh_config file to read instead of ~/.ssh/config and /etc/ssh/ssh_config; "none" reads none')
    .option('--legacy-algorithms', 'also offer ssh-rsa (SHA-1) host keys, SHA-1 key exchange and CBC ciphers, for old servers', false)
    .option('--java-dir <dir>', 'extra folder on the target searched for Java; repeatable or colon-separated', javaDirs, [])
    .addOption(
      new Option('--java-environ <mode>', 'running JVMs\' environments (java/dynamic/<pid>/environ): redacted = every variable, secret values replaced (README "What a root scan does and cannot do"); full = as the on-host scanner; none = left out')
        .choices([...JAVA_ENVIRON_MODES])
        .default('redacted'),
    )
    .option('--containers', 'after each host, scan each of its running containers (docker, podman, crictl) through the same connection: one archive per container (hosts-file column containers=yes/no overrides it)', false)
    .option('--container-parallel <n>', 'containers scanned at once on one host', integer('--container-parallel', 1, 64), 1)
    .option('--container-timeout <seconds>', 'deadline for one container, from exec to archive', seconds('--container-timeout'), 600)
    .option('--max-containers <n>', 'containers entered per host at most; the others get a row of class skipped', integer('--max-containers', 1, 1_000_000), 200)
    .option('--containers-timeout <seconds>', 'one deadline for all of a host\'s containers together (listing included), besides each container\'s own', seconds('--containers-timeout'), 1800)
    .option('--tag <text>', 'octoscan.xml configuration/tag for hosts without a tag column value (the on-host scanner\'s -t)', configValue('--tag'))
    .option('--machine <name>', 'octoscan.xml configuration/machine (hosts-file column machine overrides it)', configValue('--machine'))
    .option('--config-host <name>', 'octoscan.xml configuration/host: the host this machine runs on (hosts-file column config_host overrides it)', configValue('--config-host'))
    .option('--cluster <name>', 'octoscan.xml configuration/cluster, also written into the host\'s container archives (hosts-file column cluster overrides it)', configValue('--cluster'))
    .option('--virt <kind>', 'octoscan.xml configuration/virt, for hosts without systemd-detect-virt (hosts-file column virt overrides it)', configValue('--virt'))
    .option('--max-host-bytes <bytes>', 'cap on the output kept per host (at least 1048576)', integer('--max-host-bytes', 1 << 20, 2 ** 40), 512 * 1024 * 1024)
    .option('--failed-exit <code>', 'exit code when the run finished but some hosts failed (0 for schedulers that count any other code as a failed job; the report keeps the truth)', failedExit, 2)
    .option('--upload <url>', 'send each archive to octo-collect at URL (as curl -F upload=@FILE URL); it stays in --out until accepted, and earlier runs\' leftovers go first');
  return addUploadOptions(cmd)
    .version(version(), '-V, --version')
    .showHelpAfterError('(run octoscan-remote --help for all options)')
    .addHelpText(
      'after',
      `
Exit codes: 0 every host ok; 2 some hosts failed, sudo refused counts (--failed-exit);
3 archives still waiting for the collector (--upload); 4 the controller could not keep
what it scanned (--out, report, retry file or summary full or failing; wins over 2 and 3);
1 could not start (arguments, hosts file, output folder, report folder, keys, known_hosts,
upload settings); 130 interrupted.
Environment: SSH_AUTH_SOCK (agent), OCTOSCAN_SSH_PASSPHRASE (passphrase for -i keys),
OCTOSCAN_SSH_PASSWORD (login password), OCTOSCAN_SUDO_PASSWORD (sudo password),
OCTOSCAN_UPLOAD_AUTH (user:password for --upload), HTTPS_PROXY/HTTP_PROXY/NO_PROXY.
${SUBCOMMAND_HELP}`,
    );
}

export function readOptions(cmd: Command): CliOptions {
  const o = cmd.opts();
  return { ...(o as Omit<CliOptions, 'targets'>), targets: cmd.args } as CliOptions;
}
