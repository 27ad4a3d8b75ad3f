// `octoscan-remote plan`: the hosts a scan with the same options would try and
// the settings each would get (address, port, user, bastions, keys,
// known_hosts, host-key policy, algorithms, sudo, containers, transport), as
// `ssh -G` prints them, or one JSON object per host. It connects to nothing
// and looks no name up: it is the scan's preparation (host-list.ts,
// resolve.ts) without the scan.
import { CommanderError, type Command } from 'commander';
import { HostsError, HostsFileError, parseShard, selectShard } from '../hosts/index.js';
import { resolveExplained, type ResolvedHost } from '../hosts/resolve.js';
import { SshConfigError, type EffectiveConfig } from '../hosts/ssh-config.js';
import { convtime, kindOf } from '../hosts/ssh-config-keywords.js';
import type { HostKeyPolicy, HostSpec } from '../types.js';
import { defaultIdentities, HostListError, InventoryError, readHostList, resolveContextOf, typedOptions, UsageError } from './host-list.js';
import { REPORT_COLUMNS } from '../sweep/report.js';
import { buildCommand, readOptions, type CliOptions } from './options.js';
import { err, out } from './stdio.js';

export const PLAN_EXIT = { ok: 0, usage: 1, refused: 2 } as const;

/** How ssh -G names a host-key policy. */
const POLICY_NAME: Record<HostKeyPolicy, string> = { strict: 'true', 'accept-new': 'accept-new', off: 'false' };

/** One host's plan, with the keys `ssh -G` uses (lower-case) where ssh has one. */
export interface HostPlan {
  name: string;
  hostname: string;
  port: number;
  user: string;
  proxyjump: string | null;
  /** The bastions, first hop first, as each is reached. */
  jumphosts: { name: string; hostname: string; port: number; user: string }[];
  identityfile: string[];
  userknownhostsfile: string[];
  stricthostkeychecking: string;
  connecttimeout: number;
  serveraliveinterval: number;
  serveralivecountmax: number;
  /** The lists offered (ssh2), or ssh_config's value as written (openssh: ssh applies it); null: ssh's own defaults. */
  hostkeyalgorithms: string | null;
  kexalgorithms: string | null;
  ciphers: string | null;
  macs: string | null;
  pubkeyacceptedalgorithms: string | null;
  sudo: boolean;
  containers: boolean;
  transport: string;
  /** Why the host would be refused without connecting: the keyword and where it was set. */
  unsupported: { keyword: string; at: string; message: string } | null;
  /** What ssh_config set for this host, keyword -> value as `ssh -G` prints it (times in seconds). */
  sshconfig: Record<string, string | string[]>;
  /** Where the host came from: hosts file and line, or <argument>. */
  origin: string;
}

/** ssh_config's values for the JSON `sshconfig` field, in ssh -G's forms. */
function configValues(c: EffectiveConfig): Record<string, string | string[]> {
  const o: Record<string, string | string[]> = {};
  for (const [k, vs] of c.values) {
    const kind = kindOf(k);
    if (kind === 'accumulate' || k === 'sendenv') o[k] = vs.flatMap((v) => v.args);
    else if (kind === 'time') o[k] = vs[0].args[0] === 'none' ? 'none' : String(convtime(vs[0].args[0]));
    else if (kind === 'flag' || k === 'compression') {
      // readconf.c fmt_intarg: a plain flag prints yes/no...
      o[k] = ['yes', 'true'].includes(vs[0].args[0].toLowerCase()) ? 'yes' : 'no';
    } else if (kind === 'multi') {
      // ...a multi-state keyword the first name of its value (yes is true, no and off are false).
      const v = vs[0].args[0].toLowerCase();
      o[k] = ({ yes: 'true', no: 'false', off: 'false' } as Record<string, string>)[v] ?? v;
    } else o[k] = vs[0].args.join(' ');
  }
  return o;
}

const ALGORITHMS = [
  ['hostkeyalgorithms', 'serverHostKey'],
  ['kexalgorithms', 'kex'],
  ['ciphers', 'cipher'],
  ['macs', 'hmac'],
  ['pubkeyacceptedalgorithms', 'pubkey'],
] as const;

export function planOf(given: HostSpec, r: ResolvedHost, opts: CliOptions): HostPlan {
  const h = r.spec;
  const transport = h.transport ?? (opts.local ? 'local' : opts.transport);
  const ssh2 = transport === 'ssh2';
  const algorithms = Object.fromEntries(
    ALGORITHMS.map(([k, kind]) => [k, ssh2 ? h.algorithms?.[kind].join(',') ?? null : r.config.values.get(k)?.[0]?.args[0] ?? null]),
  ) as Pick<HostPlan, (typeof ALGORITHMS)[number][0]>;
  const typedKnownHosts = opts.knownHosts;
  return {
    name: given.host,
    hostname: h.host,
    port: h.port,
    user: h.user,
    proxyjump: h.jump ?? null,
    jumphosts: (h.jumpHosts ?? []).map((j) => ({ name: j.alias ?? j.host, hostname: j.host, port: j.port, user: j.user })),
    identityfile: h.identities,
    userknownhostsfile: h.knownHostsFiles ? r.userKnownHosts ?? [typedKnownHosts] : [typedKnownHosts],
    stricthostkeychecking: POLICY_NAME[h.hostKeyPolicy ?? opts.hostKeyPolicy],
    connecttimeout: (h.connectTimeoutMs ?? opts.connectTimeout * 1000) / 1000,
    serveraliveinterval: (h.keepaliveIntervalMs ?? opts.keepalive * 1000) / 1000,
    serveralivecountmax: h.keepaliveCountMax ?? 3,
    ...algorithms,
    sudo: h.sudo ?? opts.sudo,
    containers: h.containers ?? opts.containers,
    transport,
    unsupported: ssh2 && r.refusal ? { keyword: r.refusal.keyword, at: `${r.refusal.file}:${r.refusal.line}`, message: r.refusal.message } : null,
    sshconfig: configValues(r.config),
    origin: `${given.origin.file}:${given.origin.line}`,
  };
}

/** The text form: `keyword value` lines, as ssh -G prints them; a blank line between hosts. */
export function planText(p: HostPlan): string {
  const lines: string[] = [`host ${p.name}`, `user ${p.user}`, `hostname ${p.hostname}`, `port ${p.port}`];
  if (p.proxyjump) lines.push(`proxyjump ${p.proxyjump}`);
  for (const j of p.jumphosts) lines.push(`# bastion ${j.name}: ${j.user}@${j.hostname.includes(':') ? `[${j.hostname}]` : j.hostname}:${j.port}`);
  for (const f of p.identityfile) lines.push(`identityfile ${f}`);
  lines.push(`userknownhostsfile ${p.userknownhostsfile.length ? p.userknownhostsfile.join(' ') : 'none'}`);
  lines.push(`stricthostkeychecking ${p.stricthostkeychecking}`);
  lines.push(`connecttimeout ${p.connecttimeout}`);
  lines.push(`serveraliveinterval ${p.serveraliveinterval}`);
  lines.push(`serveralivecountmax ${p.serveralivecountmax}`);
  for (const [k] of ALGORITHMS) if (p[k] !== null) lines.push(`${k} ${p[k]}`);
  lines.push(`sudo ${p.sudo ? 'yes' : 'no'}`, `containers ${p.containers ? 'yes' : 'no'}`, `transport ${p.transport}`);
  if (p.unsupported) lines.push(`unsupported ${p.unsupported.keyword} ${p.unsupported.at}`);
  return `${lines.join('\n')}\n`;
}

/** The scan's options, all of them (so a new host-selecting option reaches plan too); the output folder is not needed. */
export function planCommand(): Command {
  const cmd = buildCommand()
    .name('octoscan-remote plan')
    .description('What a scan with these options would do to each host, without connecting: ssh -G style lines, or --json');
  const outOption = cmd.options.find((o) => o.long === '--out');
  if (outOption) outOption.mandatory = false;
  return cmd;
}

export async function runPlanCommand(args: string[]): Promise<number> {
  const cmd = planCommand().exitOverride().configureOutput({ writeOut: out, writeErr: err });
  try {
    cmd.parse(['node', 'octoscan-remote', ...args]);
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? PLAN_EXIT.ok : PLAN_EXIT.usage;
    throw e;
  }
  const opts = readOptions(cmd);
  const typed = typedOptions(cmd);
  const plans: HostPlan[] = [];
  try {
    const { hosts, notes } = await readHostList(opts, typed, REPORT_COLUMNS);
    for (const n of notes) err(`octoscan-remote plan: ${n}\n`);
    const ctx = resolveContextOf(opts, typed, defaultIdentities());
    let resolved = hosts.map((h) => ({ given: h, r: opts.local ? undefined : resolveExplained(h, ctx) }));
    if (opts.shard) {
      const kept = new Set(selectShard(resolved.map((x) => x.r?.spec ?? x.given), parseShard(opts.shard)));
      resolved = resolved.filter((x) => kept.has(x.r?.spec ?? x.given));
    }
    for (const { given, r } of resolved) {
      const local: ResolvedHost = { spec: given, config: { values: new Map(), hostname: given.host, problems: [], finalPass: false } };
      plans.push(planOf(given, r ?? local, opts));
    }
  } catch (e) {
    if (e instanceof UsageError || e instanceof HostListError || e instanceof InventoryError || e instanceof HostsError || e instanceof HostsFileError || e instanceof SshConfigError) {
      err(`octoscan-remote plan: ${e.message}\n`);
      return PLAN_EXIT.usage;
    }
    throw e;
  }
  plans.forEach((p, i) => out(opts.json ? `${JSON.stringify(p)}\n` : `${i ? '\n' : ''}${planText(p)}`));
  const refused = plans.filter((p) => p.unsupported);
  if (refused.length) err(`octoscan-remote plan: ${refused.length} of ${plans.length} host(s) would be refused without connecting (see "unsupported")\n`);
  return refused.length ? PLAN_EXIT.refused : PLAN_EXIT.ok;
}
