// Issue 22: ssh_config files written by other people (parser fixtures,
// dotfiles; each one's source and licence in the corpus's SOURCES.md), read by
// `octoscan-remote plan --json` and by OpenSSH's own `ssh -G`, for every Host
// and Match host pattern and a few names around them. Both must refuse the
// same files, and where both read one, agree on every compared value.
//
// Safety: ssh -G runs `Match exec` commands, so files with one never reach
// it (listed as excluded); every ssh -G runs in a new network namespace
// (unshare -n), so CanonicalizeHostname lookups fail at once instead of
// leaving the machine; ProxyCommand is never run by -G. HOME is a fresh folder
// per file, so root's own ~/.ssh stays out of it.
//
// The corpus lives beside the repository (../shared/ssh-config-corpus, or
// OCTOSCAN_SSH_CONFIG_CORPUS): it is other people's text, not ours to commit.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { hostname as localHostname, tmpdir, userInfo } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { after, describe, test } from 'node:test';

import { runPlanCommand } from '../../src/cli/plan-command.js';
import { forgetParsedConfigs } from '../../src/hosts/ssh-config.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const CORPUS = resolve(process.env.OCTOSCAN_SSH_CONFIG_CORPUS ?? join(ROOT, '..', 'shared', 'ssh-config-corpus'));

const missing = spawnSync('ssh', ['-V']).error
  ? 'the OpenSSH client (ssh) is not installed'
  : spawnSync('unshare', ['-n', 'true']).status !== 0
    ? 'unshare -n does not work here (needed to keep ssh -G off the network)'
    : !existsSync(CORPUS)
      ? `no corpus at ${CORPUS} (set OCTOSCAN_SSH_CONFIG_CORPUS)`
      : undefined;
if (missing) console.error(`\n*** SKIPPING the ssh_config corpus comparison: ${missing} ***\n`);

const me = userInfo();
const tmp = mkdtempSync(join(tmpdir(), 'octoscan-corpus-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function corpusFiles(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((n) => {
      const p = join(dir, n);
      if (statSync(p).isDirectory()) return corpusFiles(p);
      return n.endsWith('.md') ? [] : [p];
    });
}

/** Every Host pattern and Match host/originalhost pattern, and names around them that both programs accept as a host. */
function namesFor(text: string): string[] {
  const patterns: string[] = [];
  for (const raw of text.split('\n')) {
    const words = raw.trim().split(/[\s=]+/);
    const k = words[0]?.toLowerCase();
    if (k === 'host') patterns.push(...words.slice(1).filter((w) => !w.startsWith('#')));
    if (k === 'match') {
      words.forEach((w, i) => {
        if (/^!?(host|originalhost)$/i.test(w) && words[i + 1]) patterns.push(...words[i + 1].replace(/"/g, '').split(','));
      });
    }
  }
  const names = new Set<string>(['unlisted-host', 'localhost']);
  for (const p of patterns) {
    const q = p.replace(/^!/, '').replace(/"/g, '');
    for (const n of [q.replace(/\*/g, 'x').replace(/\?/g, 'a'), q.replace(/\*/g, '').replace(/\?/g, 'b'), `${q.replace(/[*?]/g, 'z')}.example.org`, `pre-${q.replace(/[*?]/g, '')}`]) {
      if (/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(n) && !n.endsWith('.')) names.add(n);
    }
  }
  return [...names].slice(0, 24);
}

/** ssh -G's lines as keyword -> values (repeated keywords collect). */
function sshG(file: string, name: string, home: string): Map<string, string[]> | undefined {
  const r = spawnSync('unshare', ['-n', 'ssh', '-G', '-F', file, name], { encoding: 'utf8', env: { PATH: process.env.PATH, HOME: home }, cwd: home, stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
  if (r.status !== 0) return undefined;
  const m = new Map<string, string[]>();
  for (const line of r.stdout.split('\n')) {
    const i = line.indexOf(' ');
    if (i < 0) continue;
    const k = line.slice(0, i);
    m.set(k, [...(m.get(k) ?? []), line.slice(i + 1)]);
  }
  return m;
}

/**
 * `plan --json -F file NAME...` as the CLI runs it (main() hands `plan` to
 * runPlanCommand), in this process: a thousand node start-ups would take
 * minutes. HOME is the case's; standard output is collected, standard error dropped.
 */
async function runPlan(args: string[], home: string): Promise<{ status: number; stdout: string }> {
  const saved = { home: process.env.HOME, out: process.stdout.write, err: process.stderr.write };
  let stdout = '';
  process.env.HOME = home;
  process.stdout.write = ((chunk: string | Uint8Array) => ((stdout += String(chunk)), true)) as typeof process.stdout.write;
  process.stderr.write = (() => true) as typeof process.stderr.write;
  try {
    forgetParsedConfigs();
    return { status: await runPlanCommand(args), stdout };
  } finally {
    process.env.HOME = saved.home;
    process.stdout.write = saved.out;
    process.stderr.write = saved.err;
  }
}

/** The file, one plan run for every name; per name again when the whole run is refused (an error may be per host). */
async function plan(file: string, names: string[], home: string): Promise<Map<string, Record<string, unknown> | undefined>> {
  const run = (ns: string[]) => runPlan(['--json', '-F', file, ...ns], home);
  const out = new Map<string, Record<string, unknown> | undefined>();
  const r = await run(names);
  if (r.status === 0 || r.status === 2) {
    for (const line of r.stdout.trim().split('\n').filter(Boolean)) {
      const p = JSON.parse(line) as Record<string, unknown>;
      out.set(p.name as string, p);
    }
    return out;
  }
  for (const n of names) {
    const one = await run([n]);
    out.set(n, one.status === 0 || one.status === 2 ? (JSON.parse(one.stdout) as Record<string, unknown>) : undefined);
  }
  return out;
}

const SSH_DEFAULT_IDENTITIES = ['id_rsa', 'id_ecdsa', 'id_ecdsa_sk', 'id_ed25519', 'id_ed25519_sk', 'id_xmss', 'id_dsa'].map((n) => `~/.ssh/${n}`);

/** ssh's expansion of an IdentityFile as written, with ~ and %d as this HOME (ours: $HOME; ssh's: the passwd entry). */
function expandIdentity(v: string, g: Map<string, string[]>, name: string, home: string): string {
  const h = g.get('hostname')![0];
  const p = g.get('port')![0];
  const r = g.get('user')![0];
  const table: Record<string, string> = {
    '%': '%', d: home, u: me.username, i: String(me.uid), h, p, r, n: name, l: localHostname(), L: localHostname().split('.')[0],
    C: createHash('sha1').update(`${localHostname()}${h}${p}${r}`).digest('hex'), k: g.get('hostkeyalias')?.[0] ?? name,
  };
  const t = v.startsWith('~/') ? home + v.slice(1) : v;
  return t.replace(/%(.)/g, (_m, k: string) => table[k] ?? `%${k}`);
}

interface Tally {
  files: number;
  excluded: string[];
  bothRefused: number;
  dnsDependent: number;
  hosts: number;
  values: number;
  unsupported: Map<string, number>;
  differences: string[];
}
const tally: Tally = { files: 0, excluded: [], bothRefused: 0, dnsDependent: 0, hosts: 0, values: 0, unsupported: new Map(), differences: [] };

describe('ssh_config corpus: plan --json against ssh -G', { skip: missing }, () => {
  const files = missing ? [] : corpusFiles(CORPUS);
  after(() => {
    const unsupported = [...tally.unsupported].map(([k, n]) => `${k} ${n}`).join(', ') || 'none';
    console.log(
      `corpus: ${tally.files} files compared (${tally.excluded.length} excluded for Match exec: ${tally.excluded.join(', ') || 'none'}), ` +
        `${tally.hosts} hosts, ${tally.values} values compared, ${tally.bothRefused} host(s) refused by both, ${tally.dnsDependent} refused by ssh for want of DNS (CanonicalizeHostname, refused by plan too), hosts unsupported by keyword: ${unsupported}`,
    );
  });
  test('the corpus holds at least 50 files, each listed in SOURCES.md', () => {
    assert.ok(files.length >= 50, `${files.length} files in ${CORPUS}`);
    const sources = readFileSync(join(CORPUS, 'SOURCES.md'), 'utf8');
    for (const f of files) assert.ok(sources.includes(relative(CORPUS, f).split('/')[0]), `${relative(CORPUS, f)} is not in SOURCES.md`);
  });

  for (const file of files) {
    const label = relative(CORPUS, file);
    test(label, async () => {
      const text = readFileSync(file, 'utf8');
      if (text.split('\n').some((l) => /^\s*match\b/i.test(l) && /\bexec\b/i.test(l))) {
        tally.excluded.push(label);
        return;
      }
      tally.files++;
      const home = mkdtempSync(join(tmp, 'home-'));
      const names = namesFor(text);
      const ours = await plan(file, names, home);
      const diffs: string[] = [];
      const same = (name: string, what: string, a: unknown, b: unknown): void => {
        tally.values++;
        if (JSON.stringify(a) !== JSON.stringify(b)) diffs.push(`${label} ${name} ${what}: plan ${JSON.stringify(a)}, ssh -G ${JSON.stringify(b)}`);
      };
      for (const name of names) {
        const g = sshG(file, name, home);
        const p = ours.get(name);
        if (!g || !p) {
          if (!g && !p) tally.bothRefused++;
          // CanonicalizeHostname: ssh's answer depends on DNS (here: none, so FallbackLocal no fails); plan refuses the host by name.
          else if (!g && p && (p.unsupported as { keyword?: string } | null)?.keyword === 'CanonicalizeHostname') tally.dnsDependent++;
          else diffs.push(`${label} ${name}: ${g ? 'plan refused the file, ssh -G read it' : 'ssh -G refused the file, plan read it'}`);
          continue;
        }
        tally.hosts++;
        const cfg = p.sshconfig as Record<string, string | string[]>;
        const u = p.unsupported as { keyword: string } | null;
        if (u) tally.unsupported.set(u.keyword, (tally.unsupported.get(u.keyword) ?? 0) + 1);
        same(name, 'hostname', p.hostname, g.get('hostname')![0]);
        same(name, 'port', String(p.port), g.get('port')![0]);
        same(name, 'user', p.user, g.get('user')![0]);
        const gJump = g.get('proxyjump')?.[0] ?? null;
        same(name, 'proxyjump', p.proxyjump === null ? null : (cfg.proxyjump as string | undefined) ?? p.proxyjump, gJump);
        same(name, 'proxycommand', cfg.proxycommand && cfg.proxycommand !== 'none' && !gJump ? cfg.proxycommand : null, g.get('proxycommand')?.[0] ?? null);
        const gIds = g.get('identityfile') ?? [];
        const defaults = JSON.stringify(gIds) === JSON.stringify(SSH_DEFAULT_IDENTITIES);
        // A fresh HOME holds no key: with no IdentityFile, neither program has one to try.
        same(name, 'identityfile', p.identityfile, defaults ? [] : gIds.map((v) => expandIdentity(v, g, name, home)));
        if (cfg.userknownhostsfile !== undefined) {
          same(name, 'userknownhostsfile', p.userknownhostsfile, g.get('userknownhostsfile')![0].split(' ').map((f) => f.split(me.homedir).join(home)));
        }
        for (const k of ['stricthostkeychecking', 'connecttimeout', 'serveraliveinterval', 'serveralivecountmax', 'identitiesonly', 'passwordauthentication', 'kbdinteractiveauthentication', 'addressfamily', 'hashknownhosts', 'pubkeyauthentication', 'hostkeyalias']) {
          if (cfg[k] !== undefined) same(name, k, cfg[k], g.get(k)?.[0]);
        }
        for (const k of ['hostkeyalgorithms', 'kexalgorithms', 'ciphers', 'macs', 'pubkeyacceptedalgorithms']) {
          // Plain lists: ssh prints what it was given, less names it does not know; +, - and ^ lists change its own defaults.
          const v = cfg[k] as string | undefined;
          if (v !== undefined && !/^[+\-^]/.test(v)) same(name, k, v.split(',').filter((a) => g.get(k)![0].split(',').includes(a)).join(','), g.get(k)![0]);
        }
      }
      tally.differences.push(...diffs);
      assert.deepEqual(diffs, [], `differences from ssh -G:\n${diffs.join('\n')}`);
    });
  }
});
