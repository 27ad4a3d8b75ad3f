// The hosts a run is about, from the options that select them: --local, the
// --hosts file, --inventory sources, host arguments, then --limit. The one
// place that turns options into the HostSpec list and the ssh_config context,
// so a scan and `plan` see the same list from the same options.
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PatternError, selectByPattern, type PatternIndex } from '../hosts/ansible-pattern.js';
import { FILE_REASON, HostsFileError, hostKey, parseHostArg, readHostsFile } from '../hosts/index.js';
import { hostName } from '../hosts/host-name.js';
import { InventoryError, readInventories } from '../hosts/inventory.js';
import type { ResolveContext } from '../hosts/resolve.js';
import { configFiles } from '../hosts/ssh-config.js';
import type { HostSpec } from '../types.js';
import { localAccount } from './local-account.js';
import type { CliOptions } from './options.js';

export interface HostListOptions {
  local: boolean;
  targets: string[];
  hosts?: string;
  inventory: string[];
  limit?: string;
  /** -l: the local user name by default (used for --local). */
  user: string;
  port: number;
}

export interface HostList {
  hosts: HostSpec[];
  /** The columns for the retry file: the hosts file's header, with what inventory hosts need. */
  columns: string[];
  /** Things to say at the start. */
  notes: string[];
}

/** A selection that cannot be made (no hosts, a bad --limit): exit 1 with this message. */
export class HostListError extends Error {}

/** A mistake in the options (exit 1 before anything connects). */
export class UsageError extends Error {}

/** The options typed on the command line (not defaults): they beat ssh_config, defaults do not. */
export function typedOptions(cmd: Command): Set<string> {
  const names = ['user', 'port', 'knownHosts', 'hostKeyPolicy', 'connectTimeout', 'keepalive'];
  return new Set(names.filter((n) => cmd.getOptionValueSource(n) === 'cli'));
}

/**
 * The host list. `typed` names the options typed on the command line: -l and
 * -p are defaults for the hosts only then (else ssh_config decides).
 * `reserved` are the report's columns, which a hosts-file label may not be named.
 */
export async function readHostList(opts: HostListOptions, typed: ReadonlySet<string>, reserved: readonly string[] = []): Promise<HostList> {
  const notes: string[] = [];
  if (opts.local) {
    if (opts.targets.length || opts.hosts || opts.inventory.length) throw new HostListError('--local scans this machine; it takes no hosts');
    if (opts.limit !== undefined) throw new HostListError('--limit selects from --hosts or --inventory; --local scans this machine only');
    return { hosts: [{ host: 'localhost', port: 0, user: opts.user, identities: [], tag: '', origin: { file: '<local>', line: 0 } }], columns: ['host', 'port', 'user'], notes };
  }
  // Port 0 and user '' stand for "not given": ssh_config may still set them (resolve.ts).
  const defaults = { port: typed.has('port') ? opts.port : 0, user: typed.has('user') ? opts.user : '', identities: [], reserved };
  let hosts: HostSpec[] = [];
  let columns: string[] = ['host', 'port', 'user'];
  let emptyFile = false;
  if (opts.hosts) {
    try {
      const r = await readHostsFile(opts.hosts, defaults);
      hosts = r.hosts;
      columns = r.columns;
    } catch (e) {
      // A retry file after a clean night has a header and no rows: nothing to do is a success.
      if (!(e instanceof HostsFileError && e.total === 1 && e.errors[0]?.reason === FILE_REASON.headerOnly)) throw e;
      emptyFile = true;
      notes.push(`--hosts ${opts.hosts}: a header row and no host rows: nothing to scan`);
    }
  }
  const index: { hosts: string[]; groups: Map<string, string[]> } = { hosts: [], groups: new Map() };
  if (opts.inventory.length) {
    const inv = await readInventories(opts.inventory, defaults);
    for (const h of inv.hosts) hosts.push(h);
    for (const n of inv.notes) notes.push(n);
    for (const c of inv.columns) if (!columns.includes(c)) columns.push(c);
    for (const n of inv.names) index.hosts.push(n);
    index.groups = inv.groups;
  }
  for (const t of opts.targets) hosts.push(parseHostArg(t, defaults));
  if (hosts.length === 0 && !emptyFile) throw new HostListError('no hosts: give [user@]host[:port] arguments, --hosts FILE, --inventory INVENTORY, or --local');
  // The same host (address, port, user) from two places is scanned once, under its first name.
  const seen = new Map<string, HostSpec>();
  hosts = hosts.filter((h) => {
    const k = hostKey(h);
    const first = seen.get(k);
    if (!first) {
      seen.set(k, h);
      return true;
    }
    if (hostName(first) !== hostName(h)) notes.push(`${hostName(h)}: the same address, port and user as ${hostName(first)}; scanned once, as ${hostName(first)}`);
    return false;
  });
  if (opts.limit !== undefined && hosts.length) hosts = await limitHosts(hosts, opts.limit, index, notes);
  return { hosts, columns, notes };
}

/** --limit PATTERN (or @FILE of patterns, one a line, as Ansible's retry files): the hosts whose names it selects, in list order. */
async function limitHosts(hosts: HostSpec[], limit: string, inventory: PatternIndex & { hosts: string[] }, notes: string[]): Promise<HostSpec[]> {
  let pattern = limit;
  if (limit.startsWith('@')) {
    const file = limit.slice(1);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      throw new HostListError(`--limit ${limit}: cannot read ${file}: ${(e as Error).message}`);
    }
    pattern = text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean).join(',');
  }
  // Inventory names (skipped hosts too, so that excluding one is no "no match"), then the others' names.
  const names = [...inventory.hosts];
  const known = new Set(names);
  for (const h of hosts) {
    const n = hostName(h);
    if (!known.has(n)) (known.add(n), names.push(n));
  }
  let picked;
  try {
    picked = selectByPattern(pattern, { hosts: names, groups: inventory.groups });
  } catch (e) {
    if (e instanceof PatternError) throw new HostListError(`--limit ${JSON.stringify(limit)}: ${e.message}`);
    throw e;
  }
  for (const u of picked.unmatched) notes.push(`--limit: ${JSON.stringify(u)} matches no host or group`);
  const chosen = new Set(picked.hosts);
  const out = hosts.filter((h) => chosen.has(hostName(h)));
  if (out.length === 0) throw new HostListError(`--limit ${JSON.stringify(limit)} selects none of the ${hosts.length} host(s) listed`);
  return out;
}

/** How ssh_config is read for this run, with what the command line fixed. */
export function resolveContextOf(opts: CliOptions, typed: ReadonlySet<string>, defaultIdentities: string[]): ResolveContext {
  const me = localAccount();
  return {
    config: { files: configFiles(opts.config, me.home), home: me.home, localUser: me.name, uid: me.uid },
    given: {
      user: typed.has('user') ? opts.user : undefined,
      port: typed.has('port') ? opts.port : undefined,
      jump: opts.jump,
      knownHosts: typed.has('knownHosts') ? opts.knownHosts : undefined,
      hostKeyPolicy: typed.has('hostKeyPolicy') ? opts.hostKeyPolicy : undefined,
      connectTimeoutMs: typed.has('connectTimeout') ? opts.connectTimeout * 1000 : undefined,
      keepaliveIntervalMs: typed.has('keepalive') ? opts.keepalive * 1000 : undefined,
    },
    legacy: opts.legacyAlgorithms,
    defaultIdentities,
    identities: opts.identity,
  };
}

/** The key files ssh tries when nothing names one, those that exist. */
export function defaultIdentities(home: string = localAccount().home): string[] {
  return ['id_ed25519', 'id_ecdsa', 'id_rsa'].map((n) => join(home, '.ssh', n)).filter((p) => existsSync(p));
}

export { InventoryError };
