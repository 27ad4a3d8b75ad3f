// --inventory: hosts from Ansible inventories. Each source is read by
// `ansible-inventory --list` (so INI, YAML, folders with group_vars and
// dynamic inventory plugins mean what they mean to Ansible); a JSON file that
// already holds that command's output is read as it is, without Ansible.
// Then each host's connection variables become a HostSpec, as Ansible's ssh
// connection would use them: the inventory name is the host's name in the
// report, ansible_host the address connected to.
import { execFile } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { isIP } from 'node:net';
import { peerText } from '../text/peer-text.js';
import type { HostSpec } from '../types.js';
import { HostsError, HostsFileError, MAX_LISTED_ERRORS, quoteValue } from './errors.js';
import { parseJumpChain } from './jump-spec.js';
import { checkHost, checkUser, hasControl, parsePort, REASON } from './validate.js';

export const ANSIBLE_INVENTORY = 'ansible-inventory';

/** Deadline for ansible-inventory (a dynamic inventory may ask a cloud API). */
const ANSIBLE_TIMEOUT_MS = 300_000;

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

/** ansible-inventory --list output: groups by name, and _meta.hostvars. */
interface InventoryJson {
  _meta?: { hostvars?: Record<string, Record<string, unknown>> };
  [group: string]: unknown;
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

export class InventoryError extends Error {}

/** Words as Python's shlex.split (POSIX mode) cuts them, as Ansible does with ansible_ssh_*_args. */
export function shellWords(text: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end === -1) throw new InventoryError('no closing quotation');
      word = (word ?? '') + text.slice(i + 1, end);
      i = end;
    } else if (c === '"') {
      let v = '';
      let j = i + 1;
      for (; j < text.length && text[j] !== '"'; j++) {
        if (text[j] === '\\' && j + 1 < text.length && '\\"$`\n'.includes(text[j + 1])) j++;
        v += text[j];
      }
      if (j >= text.length) throw new InventoryError('no closing quotation');
      word = (word ?? '') + v;
      i = j;
    } else if (c === '\\') {
      if (i + 1 >= text.length) throw new InventoryError('no escaped character');
      word = (word ?? '') + text[++i];
    } else if (/\s/.test(c)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else word = (word ?? '') + c;
  }
  if (word !== undefined) words.push(word);
  return words;
}

/** What ansible_ssh_common_args / _extra_args hold for a scan: the ProxyJump chain, a ProxyCommand, the rest. */
export function sshArgsJump(words: string[]): { jump?: string; proxyCommand?: string; unused: string[] } {
  let jump: string | undefined;
  let proxyCommand: string | undefined;
  const unused: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    let option: string | undefined;
    let jumpValue: string | undefined;
    if (w === '-o' && i + 1 < words.length) option = words[++i];
    else if (w.startsWith('-o') && w.length > 2) option = w.slice(2);
    else if (w === '-J' && i + 1 < words.length) jumpValue = words[++i];
    else if (w.startsWith('-J') && w.length > 2) jumpValue = w.slice(2);
    if (option !== undefined) {
      // ssh -o takes "Keyword=value" or "Keyword value".
      const m = /^\s*([A-Za-z]+)\s*(?:=\s*|\s+)(.*)$/s.exec(option);
      const key = m?.[1].toLowerCase();
      if (key === 'proxyjump') jumpValue = m![2].trim();
      else if (key === 'proxycommand') proxyCommand ??= m![2].trim();
      else unused.push(`-o ${option}`);
    } else if (jumpValue === undefined) unused.push(w);
    // As ssh: the first ProxyJump given wins.
    if (jumpValue !== undefined) jump ??= jumpValue;
  }
  return { jump, proxyCommand, unused };
}

/** Whether `path` is a file holding `ansible-inventory --list` output (JSON with _meta), and that output. */
async function savedOutput(path: string): Promise<InventoryJson | undefined> {
  let isFile = false;
  try {
    isFile = (await stat(path)).isFile();
  } catch {
    return undefined;
  }
  if (!isFile) return undefined;
  const text = await readFile(path, 'utf8');
  if (!/^\s*\{/.test(text)) return undefined;
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return undefined; // perhaps YAML in JSON's clothes: Ansible will say
  }
  if (typeof data !== 'object' || data === null || !('_meta' in data)) return undefined;
  return data as InventoryJson;
}

/** The environment for ansible-inventory: ours, without the secrets this program reads. */
function ansibleEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('OCTOSCAN_')) env[k] = v;
  return env;
}

/** Run ansible-inventory over the sources (one run: Ansible merges several -i into one inventory). */
function runAnsibleInventory(sources: string[], program: string): Promise<{ data: InventoryJson; warnings: string[] }> {
  // --inventory=PATH as one word: a path starting with '-' stays a path. No shell anywhere.
  const args = [...sources.map((s) => `--inventory=${s}`), '--list'];
  const shown = sources.join(', ');
  return new Promise((resolve, reject) => {
    execFile(program, args, { maxBuffer: 1 << 30, timeout: ANSIBLE_TIMEOUT_MS, env: ansibleEnv(), killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      const said = peerText(stderr.split('\n').map((l) => l.trim()).filter(Boolean).slice(-5).join('; '), 1000);
      if (err) {
        const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: unknown };
        if (e.code === 'ENOENT') {
          reject(new InventoryError(`--inventory ${shown}: ${program} not found on PATH; install Ansible (Debian: apt-get install ansible-core), or save "ansible-inventory -i INVENTORY --list > inventory.json" where Ansible is and give that file`));
        } else if (e.killed) {
          reject(new InventoryError(`--inventory ${shown}: ${program} did not finish within ${ANSIBLE_TIMEOUT_MS / 1000} s`));
        } else {
          reject(new InventoryError(`--inventory ${shown}: ${program} failed (exit ${String(e.code)})${said ? `: ${said}` : ''}`));
        }
        return;
      }
      let data: InventoryJson;
      try {
        data = JSON.parse(stdout) as InventoryJson;
      } catch (e2) {
        reject(new InventoryError(`--inventory ${shown}: ${program} printed no JSON: ${(e2 as Error).message}`));
        return;
      }
      // ansible-inventory only warns about a source it cannot parse, and lists nothing.
      if (Object.keys(data._meta?.hostvars ?? {}).length === 0 && said) {
        reject(new InventoryError(`--inventory ${shown}: no hosts; ${program} said: ${said}`));
        return;
      }
      // Its warnings (a source of several it could not parse, a deprecated setting) are passed on.
      const warnings = stderr.split('\n').map((l) => l.trim()).filter((l) => /^\[(WARNING|DEPRECATION WARNING)\]/.test(l)).map((l) => peerText(l, 500));
      resolve({ data, warnings });
    });
  });
}

interface Model {
  hostvars: Map<string, Record<string, unknown>>;
  /** Group -> own hosts and child groups, in the order listed. */
  groups: Map<string, { hosts: string[]; children: string[] }>;
}

function addToModel(model: Model, data: InventoryJson, source: string): void {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new InventoryError(`--inventory ${source}: not ansible-inventory --list output (not a JSON object)`);
  const hostvars = data._meta?.hostvars ?? {};
  for (const [name, vars] of Object.entries(hostvars)) {
    // A host in two sources: the later one's variables win, as when Ansible merges sources.
    model.hostvars.set(name, { ...model.hostvars.get(name), ...(vars && typeof vars === 'object' ? vars : {}) });
  }
  for (const [group, value] of Object.entries(data)) {
    if (group === '_meta' || typeof value !== 'object' || value === null) continue;
    const g = value as { hosts?: unknown; children?: unknown; vars?: unknown };
    if (g.vars !== undefined && Object.keys(g.vars as object).length) {
      throw new InventoryError(`--inventory ${source}: group ${quoteValue(group)} has "vars": this is "ansible-inventory --list --export" output, whose group variables are not applied to the hosts; save "ansible-inventory -i INVENTORY --list" without --export`);
    }
    const entry = model.groups.get(group) ?? { hosts: [], children: [] };
    for (const h of Array.isArray(g.hosts) ? g.hosts : []) if (!entry.hosts.includes(String(h))) entry.hosts.push(String(h));
    for (const c of Array.isArray(g.children) ? g.children : []) if (!entry.children.includes(String(c))) entry.children.push(String(c));
    model.groups.set(group, entry);
    for (const h of entry.hosts) if (!model.hostvars.has(h)) model.hostvars.set(h, {});
  }
}

/** Each group's hosts with its descendants' (self first, then children breadth first, as Ansible's get_hosts). */
function groupHosts(model: Model): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const name of model.groups.keys()) {
    const seenGroups = new Set([name]);
    const queue = [name];
    const hosts: string[] = [];
    const have = new Set<string>();
    while (queue.length) {
      const g = model.groups.get(queue.shift()!);
      if (!g) continue;
      for (const h of g.hosts) if (!have.has(h)) (have.add(h), hosts.push(h));
      for (const c of g.children) if (!seenGroups.has(c)) (seenGroups.add(c), queue.push(c));
    }
    out.set(name, hosts);
  }
  return out;
}

/** Every host in inventory order: from 'all' down, each group's own hosts then its children's. */
function inventoryOrder(model: Model): string[] {
  const order: string[] = [];
  const have = new Set<string>();
  const visited = new Set<string>();
  const walk = (group: string): void => {
    if (visited.has(group)) return;
    visited.add(group);
    const g = model.groups.get(group);
    if (!g) return;
    for (const h of g.hosts) if (!have.has(h)) (have.add(h), order.push(h));
    for (const c of g.children) walk(c);
  };
  walk('all');
  for (const g of model.groups.keys()) walk(g);
  for (const h of model.hostvars.keys()) if (!have.has(h)) (have.add(h), order.push(h));
  return order;
}

const text = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v));

/**
 * Read the inventories (ansible-inventory for each source, or its saved JSON
 * output) into HostSpecs. Problems with values are collected and thrown
 * together as a HostsFileError, each naming the source, host and variable.
 */
export async function readInventories(sources: string[], defaults: InventoryDefaults, opts: { program?: string } = {}): Promise<Inventory> {
  const model: Model = { hostvars: new Map(), groups: new Map() };
  const viaAnsible: string[] = [];
  const saved: [string, InventoryJson][] = [];
  for (const s of sources) {
    const data = await savedOutput(s).catch((e: Error) => {
      throw new InventoryError(`--inventory ${s}: cannot read: ${e.message}`);
    });
    if (data) saved.push([s, data]);
    else viaAnsible.push(s);
  }
  const warnings: string[] = [];
  if (viaAnsible.length) {
    const r = await runAnsibleInventory(viaAnsible, opts.program ?? ANSIBLE_INVENTORY);
    addToModel(model, r.data, viaAnsible.join(', '));
    for (const w of r.warnings) warnings.push(`--inventory ${viaAnsible.join(', ')}: ansible-inventory: ${w}`);
  }
  for (const [s, data] of saved) addToModel(model, data, s);
  const file = sources.join(', ');
  if (model.hostvars.size === 0) throw new InventoryError(`--inventory ${file}: the inventory lists no hosts`);

  const errors: HostsError[] = [];
  let total = 0;
  const fail = (name: string, variable: string, value: string, reason: string): void => {
    total++;
    if (errors.length < MAX_LISTED_ERRORS) {
      errors.push(new HostsError({ file, line: 0, column: variable, value, reason }, `${file}: host ${quoteValue(name)}: ${variable} ${quoteValue(value)}: ${reason}`));
    }
  };
  const skipped = new Map<string, string[]>(); // why -> host names
  const unusedVars = new Map<string, number>();
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
      else if (!MAPPED_NAMES.has(k)) unusedVars.set(k, (unusedVars.get(k) ?? 0) + 1);
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
  if (unusedVars.size) notes.push(`--inventory ${file}: variables a scan does not use: ${listed([...unusedVars.keys()].sort())}`);
  if (unusedArgs.size) notes.push(`--inventory ${file}: ssh arguments a scan does not use: ${listed([...unusedArgs].sort())}`);
  if (hosts.length === 0) throw new InventoryError(`--inventory ${file}: no host to scan over SSH (${notes.join('; ')})`);
  return { hosts, groups: groupHosts(model), names, notes, columns: [...columns] };
}

/** A list for a note: the first 30 items, then how many more. */
function listed(items: string[]): string {
  const max = 30;
  return items.length <= max ? items.join(', ') : `${items.slice(0, max).join(', ')} and ${items.length - max} more`;
}
