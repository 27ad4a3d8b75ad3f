// Reading Ansible inventory sources: `ansible-inventory --list` for INI, YAML,
// folders and plugins (never through a shell), or a JSON file that already
// holds that output. The result is the hosts' merged variables and the groups.
import { execFile } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { peerText } from '../text/peer-text.js';
import { quoteValue } from './errors.js';

export const ANSIBLE_INVENTORY = 'ansible-inventory';

/** Deadline for ansible-inventory (a dynamic inventory may ask a cloud API). */
const ANSIBLE_TIMEOUT_MS = 300_000;

export class InventoryError extends Error {}

/** ansible-inventory --list output: groups by name, and _meta.hostvars. */
interface InventoryJson {
  _meta?: { hostvars?: Record<string, Record<string, unknown>> };
  [group: string]: unknown;
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

export interface Model {
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
export function groupHosts(model: Model): Map<string, string[]> {
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
export function inventoryOrder(model: Model): string[] {
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

/**
 * The sources as one inventory: those that are not saved JSON go to one
 * ansible-inventory run (Ansible merges several -i), then the saved files are
 * added. `warnings` are ansible-inventory's, to be passed on.
 */
export async function loadInventories(sources: string[], program = ANSIBLE_INVENTORY): Promise<{ model: Model; warnings: string[] }> {
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
    const r = await runAnsibleInventory(viaAnsible, program);
    addToModel(model, r.data, viaAnsible.join(', '));
    for (const w of r.warnings) warnings.push(`--inventory ${viaAnsible.join(', ')}: ansible-inventory: ${w}`);
  }
  for (const [s, data] of saved) addToModel(model, data, s);
  return { model, warnings };
}
