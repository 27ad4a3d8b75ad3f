// --inventory: hosts from Ansible inventories. Each source is read by
// `ansible-inventory --list` (so INI, YAML, folders with group_vars and
// dynamic inventory plugins mean what they mean to Ansible); a JSON file that
// already holds that command's output is read as it is, without Ansible.
// Then each host's connection variables become a HostSpec, as Ansible's ssh
// connection would use them: the inventory name is the host's name in the
// report, ansible_host the address connected to.
import { homedir } from 'node:os';
import { isIP } from 'node:net';
import type { HostSpec } from '../types.js';
import { shellWords, sshArgsJump } from './ansible-ssh-args.js';
import { groupHosts, InventoryError, inventoryOrder, loadInventories } from './ansible-source.js';
import { HostsError, HostsFileError, MAX_LISTED_ERRORS, quoteValue } from './errors.js';
import { lineOf } from './inventory-line.js';
import { parseJumpChain } from './jump-spec.js';
import { checkHost, checkUser, hasControl, parsePort, REASON } from './validate.js';

export { InventoryError };

export interface InventoryDefaults {
  /** 0: not given (ssh_config decides). */
  port: number;
  /** '': not given. */
  user: string;
}

export interface Inventory {
  /** The hosts in inventory order, each with `name` set to its inventory name. */
  hosts: HostSpec[];
  /** Group -> its hosts and its descendants' hosts (for --limit), the skipped hosts included. */
  groups: Map<string, string[]>;
  /** Every host name of the inventory, skipped ones included (for --limit). */
  names: string[];
  /** Things to say once at start: hosts skipped, variables not used, secrets not read. */
  notes: string[];
  /** The hosts-file columns the hosts' rows use (for the retry file). */
  columns: string[];
}
/** The variables that map onto a scan setting (the ssh connection plugin's names and aliases). */
const MAPPED = {
  host: ['ansible_host', 'ansible_ssh_host'],
  port: ['ansible_port', 'ansible_ssh_port'],
  user: ['ansible_user', 'ansible_ssh_user'],
  identity: ['ansible_ssh_private_key_file', 'ansible_private_key_file'],
  become: ['ansible_become'],
  args: ['ansible_ssh_common_args', 'ansible_ssh_extra_args'],
  connection: ['ansible_connection'],
} as const;
const MAPPED_NAMES: ReadonlySet<string> = new Set(Object.values(MAPPED).flat());

/** Passwords and passphrases: never used, and their values never looked at. */
const SECRETS: ReadonlySet<string> = new Set([
  'ansible_password', 'ansible_ssh_pass', 'ansible_ssh_password', 'ansible_become_password', 'ansible_become_pass',
  'ansible_sudo_pass', 'ansible_sudo_password', 'ansible_su_pass', 'ansible_su_password', 'ansible_private_key_passphrase',
  'ansible_ssh_private_key_passphrase', 'ansible_vault_password',
]);

/** ansible_connection values that are Ansible's OpenSSH or paramiko connection: SSH either way. */
const SSH_CONNECTIONS: ReadonlySet<string> = new Set(['ssh', 'smart', 'paramiko', 'paramiko_ssh', 'ansible.builtin.ssh', 'ansible.builtin.paramiko_ssh', 'ansible.legacy.ssh']);

/** Ansible's boolean(): the strings it takes for true and false. */
const TRUE = new Set(['y', 'yes', 'on', '1', 'true', 't']);
const FALSE = new Set(['n', 'no', 'off', '0', 'false', 'f']);

const text = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v));

/**
 * Read the inventories (ansible-inventory for each source, or its saved JSON
 * output) into HostSpecs. Problems with values are collected and thrown
 * together as a HostsFileError, each naming the source, host and variable.
 */
export async function readInventories(sources: string[], defaults: InventoryDefaults, opts: { program?: string } = {}): Promise<Inventory> {
  const { model, warnings } = await loadInventories(sources, opts.program);
  const file = sources.join(', ');
  if (model.hostvars.size === 0) throw new InventoryError(`--inventory ${file}: the inventory lists no hosts`);

  const errors: HostsError[] = [];
  let total = 0;
  const fail = (name: string, variable: string, value: string, reason: string): void => {
    total++;
    if (errors.length < MAX_LISTED_ERRORS) {
      // The file and line where the value is written, when it can be found in a source file.
      const at = lineOf(sources, name, variable, value);
      const where = at ? `${at.file}:${at.line}` : file;
      errors.push(new HostsError({ file: at?.file ?? file, line: at?.line ?? 0, column: variable, value, reason }, `${where}: host ${quoteValue(name)}: ${variable} ${quoteValue(value)}: ${reason}`));
    }
  };
  const skipped = new Map<string, string[]>(); // why -> host names
  const unusedVars = new Set<string>();
  const unusedArgs = new Set<string>();
  const secrets = new Set<string>();
  const columns = new Set(['name', 'host', 'port', 'user']);
  const hosts: HostSpec[] = [];
  const names = inventoryOrder(model);

  for (const name of names) {
    const vars = model.hostvars.get(name) ?? {};
    const get = (keys: readonly string[]): [string, string] | undefined => {
      for (const k of keys) if (vars[k] !== undefined && vars[k] !== null) return [k, text(vars[k])];
      return undefined;
    };
    for (const k of Object.keys(vars)) {
      if (SECRETS.has(k)) secrets.add(k);
      else if (!MAPPED_NAMES.has(k)) unusedVars.add(k);
    }
    const before = total;
    // A value Ansible would template when it connects cannot be used as it stands.
    const templated = (v: [string, string] | undefined): [string, string] | undefined => {
      if (v && /\{\{|\{%/.test(v[1])) {
        fail(name, v[0], v[1], 'holds a Jinja template, which Ansible evaluates when it connects and a scan cannot; give the value itself');
        return undefined;
      }
      return v;
    };

    const connection = templated(get(MAPPED.connection));
    if (connection && !SSH_CONNECTIONS.has(connection[1])) {
      const why = connection[1] === 'local' ? 'ansible_connection local (this machine: scan it with --local)' : `ansible_connection ${connection[1]} (not SSH)`;
      skipped.set(why, [...(skipped.get(why) ?? []), name]);
      continue;
    }

    let host = name;
    const address = templated(get(MAPPED.host));
    if (address) host = address[1];
    if (host.startsWith('[') && host.endsWith(']') && isIP(host.slice(1, -1)) === 6) host = host.slice(1, -1);
    const badHost = checkHost(host);
    if (badHost) fail(name, address?.[0] ?? 'inventory_hostname', host, address ? badHost : `${badHost} (set ansible_host to the address)`);

    let port = defaults.port;
    const portVar = templated(get(MAPPED.port));
    if (portVar) {
      const p = parsePort(portVar[1]);
      if (p === undefined) fail(name, portVar[0], portVar[1], REASON.port);
      else port = p;
    }

    let user = defaults.user;
    const userVar = templated(get(MAPPED.user));
    if (userVar) {
      const bad = checkUser(userVar[1]);
      if (bad) fail(name, userVar[0], userVar[1], bad);
      else user = userVar[1];
    }

    let identity: string | undefined;
    const key = templated(get(MAPPED.identity));
    if (key) {
      if (hasControl(key[1])) fail(name, key[0], key[1], REASON.identityChars);
      // As Ansible's ssh connection: ~ is the home folder.
      else identity = key[1].replace(/^~(?=\/|$)/, homedir());
    }

    let sudo: boolean | undefined;
    const become = templated(get(MAPPED.become));
    if (become) {
      const v = become[1].toLowerCase();
      if (TRUE.has(v)) sudo = true;
      else if (FALSE.has(v)) sudo = false;
      else fail(name, become[0], become[1], 'must be a boolean (yes/no, true/false, 1/0, on/off)');
    }

    let jump: string | undefined;
    for (const k of MAPPED.args) {
      const v = templated(get([k]));
      if (!v) continue;
      let words: string[];
      try {
        words = shellWords(v[1]);
      } catch (e) {
        fail(name, k, v[1], `cannot be split into words as Ansible does: ${(e as Error).message}`);
        continue;
      }
      const r = sshArgsJump(words);
      for (const u of r.unused) unusedArgs.add(`${k}: ${u}`);
      if (r.proxyCommand !== undefined && jump === undefined && r.jump === undefined) {
        fail(name, k, v[1], 'ProxyCommand cannot be used from an inventory; give the bastion as -o ProxyJump=[user@]host[:port] (or -J), or put the ProxyCommand in ssh_config and scan the host with transport openssh');
        continue;
      }
      if (r.jump !== undefined && jump === undefined) {
        try {
          parseJumpChain(r.jump);
          jump = r.jump;
        } catch (e) {
          fail(name, k, v[1], `ProxyJump must be [user@]host[:port][,...] or none: ${(e as Error).message}`);
        }
      }
    }
    if (total !== before) continue;

    const row: Record<string, string> = { name, host, port: port ? String(port) : '', user };
    const spec: HostSpec = { host, port, user, identities: [], tag: '', origin: { file, line: 0 }, name, row };
    if (identity !== undefined) {
      spec.identities = [identity];
      row.identity = identity;
      columns.add('identity');
    }
    if (jump !== undefined) {
      spec.jump = jump;
      row.jump = jump;
      columns.add('jump');
    }
    if (sudo !== undefined) {
      spec.sudo = sudo;
      row.sudo = sudo ? 'yes' : 'no';
      columns.add('sudo');
    }
    hosts.push(spec);
  }
  if (total) throw new HostsFileError(file, errors, total);

  const notes: string[] = [...warnings];
  for (const [why, list] of skipped) notes.push(`--inventory ${file}: skipped, ${why}: ${listed(list)}`);
  if (secrets.size) notes.push(`--inventory ${file}: never read: ${[...secrets].sort().join(', ')}; give passwords with --password-file, --sudo-password-file or the OCTOSCAN_* variables`);
  if (unusedVars.size) notes.push(`--inventory ${file}: variables a scan does not use: ${listed([...unusedVars].sort())}`);
  if (unusedArgs.size) notes.push(`--inventory ${file}: ssh arguments a scan does not use: ${listed([...unusedArgs].sort())}`);
  if (hosts.length === 0) throw new InventoryError(`--inventory ${file}: no host to scan over SSH (${notes.join('; ')})`);
  return { hosts, groups: groupHosts(model), names, notes, columns: [...columns] };
}

/** A list for a note: the first 30 items, then how many more. */
function listed(items: string[]): string {
  const max = 30;
  return items.length <= max ? items.join(', ') : `${items.slice(0, max).join(', ')} and ${items.length - max} more`;
}
