// --inventory and --limit against the real Ansible: ansible-inventory reads
// the INI and YAML files, `ansible --list-hosts` is the truth for patterns.
// No connection is made here (test/integration/inventory.test.ts sweeps).
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { selectByPattern, splitPattern } from '../../src/hosts/ansible-pattern.js';
import { HostsFileError } from '../../src/hosts/index.js';
import { shellWords, sshArgsJump } from '../../src/hosts/ansible-ssh-args.js';
import { InventoryError, readInventories } from '../../src/hosts/inventory.js';

const run = promisify(execFile);
const ansible = (() => {
  try {
    execFileSync('ansible', ['--version'], { stdio: 'ignore' });
    return undefined;
  } catch {
    return 'ansible is not installed (Debian: ansible-core; .ci/run installs it)';
  }
})();
if (ansible) console.error(`\n*** SKIPPING the Ansible comparisons: ${ansible} ***\n`);

const defaults = { port: 0, user: '' };

describe('ansible_ssh_common_args / _extra_args', () => {
  it('splits words as Python shlex does', () => {
    assert.deepEqual(shellWords(`-o ProxyJump=bastion -o 'ProxyCommand=ssh -W %h:%p jump' -C "-o" "a\\"b" c\\ d`), ['-o', 'ProxyJump=bastion', '-o', 'ProxyCommand=ssh -W %h:%p jump', '-C', '-o', 'a"b', 'c d']);
    assert.throws(() => shellWords(`-o 'ProxyJump=x`), /no closing quotation/);
  });
  it('finds ProxyJump in every form ssh takes, the first one winning, and names the rest', () => {
    assert.equal(sshArgsJump(['-o', 'ProxyJump=scan@b1:2222']).jump, 'scan@b1:2222');
    assert.equal(sshArgsJump(['-oProxyJump=b1']).jump, 'b1');
    assert.equal(sshArgsJump(['-o', 'proxyjump b1,b2']).jump, 'b1,b2');
    assert.equal(sshArgsJump(['-J', 'b1']).jump, 'b1');
    assert.equal(sshArgsJump(['-Jb1', '-o', 'ProxyJump=b2']).jump, 'b1');
    const r = sshArgsJump(['-o', 'StrictHostKeyChecking=no', '-C', '-o', 'ProxyCommand=ssh -W %h:%p b']);
    assert.equal(r.jump, undefined);
    assert.equal(r.proxyCommand, 'ssh -W %h:%p b');
    assert.deepEqual(r.unused, ['-o StrictHostKeyChecking=no', '-C']);
  });
});

describe('Ansible host patterns without Ansible', () => {
  const index = {
    hosts: ['a1', 'a2', 'b1', 'c1'],
    groups: new Map([
      ['a', ['a1', 'a2']],
      ['b', ['b1', 'a2']],
    ]),
  };
  it('splits on commas, else on colons (an IPv6 address or name:port stays whole)', () => {
    assert.deepEqual(splitPattern('a:!b:&c'), ['a', '!b', '&c']);
    assert.deepEqual(splitPattern('a, !b'), ['a', '!b']);
    assert.deepEqual(splitPattern('web[0:2]:db'), ['web[0:2]', 'db']);
    assert.deepEqual(splitPattern('fe80::1'), ['fe80::1']);
    assert.deepEqual(splitPattern('web01:22'), ['web01:22']);
  });
  it('unions, intersects and excludes whatever the order written', () => {
    assert.deepEqual(selectByPattern('!a:b', index).hosts, ['b1']);
    assert.deepEqual(selectByPattern('a:&b', index).hosts, ['a2']);
    assert.deepEqual(selectByPattern('!c1', index).hosts, ['a1', 'a2', 'b1']);
    assert.deepEqual(selectByPattern('zzz:a1', index), { hosts: ['a1'], unmatched: ['zzz'] });
    assert.throws(() => selectByPattern('~(', index), /invalid regular expression/);
    assert.throws(() => selectByPattern('a[5]', index), /no host at index 5 of "a" \(2 hosts\)/);
  });
});

describe('--inventory and --limit against Ansible', { skip: ansible }, () => {
  let dir: string;
  let ini: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'octoscan-inventory-'));
    ini = join(dir, 'hosts.ini');
    writeFileSync(
      ini,
      `localhost ansible_connection=local
lonely ansible_host=127.0.0.9
win1 ansible_connection=winrm

[web]
web01 ansible_host=127.0.0.2 owner=alice
web02 ansible_host=127.0.0.3 ansible_port=2222
web03 ansible_host=127.0.0.4 ansible_become=yes

[db]
db01 ansible_host=127.0.0.5 ansible_user=dba ansible_ssh_private_key_file=~/keys/db
db02 ansible_host=127.0.0.6 ansible_ssh_extra_args='-J scan@127.0.0.20:2200'

[eu:children]
web
db

[eu:vars]
ansible_ssh_common_args='-o ProxyJump=bastion -o StrictHostKeyChecking=no'
ansible_become_password=hunter2
ansible_python_interpreter=/usr/bin/python3

[us]
us-web01 ansible_host=127.0.0.7
db02

[staging]
web03
us-web01

[staging:vars]
ansible_become=false
`,
    );
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('maps the connection variables; group vars apply as Ansible merges them; notes name what is not used', async () => {
    const inv = await readInventories([ini], defaults);
    const by = new Map(inv.hosts.map((h) => [h.name, h]));
    assert.deepEqual([...by.keys()].sort(), ['db01', 'db02', 'lonely', 'us-web01', 'web01', 'web02', 'web03']);
    assert.deepEqual(inv.names.slice().sort(), ['db01', 'db02', 'localhost', 'lonely', 'us-web01', 'web01', 'web02', 'web03', 'win1']);
    const web02 = by.get('web02')!;
    assert.equal(web02.host, '127.0.0.3');
    assert.equal(web02.port, 2222);
    assert.equal(web02.user, '', 'no ansible_user: ssh_config or -l decides');
    assert.equal(web02.jump, 'bastion', 'the group var ansible_ssh_common_args');
    assert.equal(by.get('db01')!.user, 'dba');
    assert.match(by.get('db01')!.identities[0], /^\/.*\/keys\/db$/);
    assert.equal(by.get('db02')!.jump, 'bastion', 'common args come first on ssh\'s line: their ProxyJump wins over -J in extra args');
    assert.equal(by.get('lonely')!.jump, undefined);
    // staging:vars says false, and staging is no child of eu: Ansible's merge decides (host var yes wins).
    assert.equal(by.get('web03')!.sudo, true);
    assert.equal(by.get('us-web01')!.sudo, false);
    const notes = inv.notes.join('\n');
    assert.match(notes, /skipped, ansible_connection local \(this machine: scan it with --local\): localhost/);
    assert.match(notes, /skipped, ansible_connection winrm \(not SSH\): win1/);
    assert.match(notes, /never read: ansible_become_password;/);
    assert.doesNotMatch(notes, /hunter2/);
    assert.match(notes, /variables a scan does not use: ansible_python_interpreter, owner/);
    assert.match(notes, /ssh arguments a scan does not use: ansible_ssh_common_args: -o StrictHostKeyChecking=no/);
  });

  it('reads a YAML inventory with children, group vars and a bastion the same way', async () => {
    const yml = join(dir, 'hosts.yml');
    writeFileSync(
      yml,
      `all:
  children:
    prod:
      children:
        web:
          hosts:
            web01: { ansible_host: 127.0.0.2 }
            web02: { ansible_host: 127.0.0.3, ansible_port: 2222 }
      vars:
        ansible_user: scan
        ansible_ssh_common_args: -J scan@127.0.0.20:2200
        ansible_become: true
`,
    );
    const inv = await readInventories([yml], defaults);
    assert.deepEqual(
      inv.hosts.map((h) => [h.name, h.host, h.port, h.user, h.jump, h.sudo]),
      [
        ['web01', '127.0.0.2', 0, 'scan', 'scan@127.0.0.20:2200', true],
        ['web02', '127.0.0.3', 2222, 'scan', 'scan@127.0.0.20:2200', true],
      ],
    );
    assert.deepEqual(inv.groups.get('prod'), ['web01', 'web02']);
  });

  it('reads saved ansible-inventory --list output without Ansible; --export output is refused', async () => {
    const { stdout } = await run('ansible-inventory', ['-i', ini, '--list']);
    const saved = join(dir, 'saved.json');
    writeFileSync(saved, stdout);
    const fromAnsible = await readInventories([ini], defaults);
    const fromFile = await readInventories([saved], defaults, { program: join(dir, 'no-such-ansible-inventory') });
    assert.deepEqual(fromFile.hosts.map((h) => [h.name, h.host, h.port, h.user, h.jump, h.sudo]), fromAnsible.hosts.map((h) => [h.name, h.host, h.port, h.user, h.jump, h.sudo]));
    await assert.rejects(readInventories([ini], defaults, { program: join(dir, 'no-such-ansible-inventory') }), (e: Error) => e instanceof InventoryError && /not found on PATH; install Ansible/.test(e.message));
    const exported = join(dir, 'exported.json');
    writeFileSync(exported, (await run('ansible-inventory', ['-i', ini, '--list', '--export'])).stdout);
    await assert.rejects(readInventories([exported], defaults), /--export" output, whose group variables are not applied/);
  });

  it('names source, host and variable for bad values; a source Ansible cannot parse is an error', async () => {
    const bad = join(dir, 'bad.ini');
    writeFileSync(bad, `h1 ansible_port=http\nh2 ansible_host="{{ inventory_hostname }}.example.com"\nh3 ansible_become=maybe\nh4 ansible_ssh_common_args='-o ProxyCommand="nc %h %p"'\nh5\n\n[g]\nh5\n\n[g:vars]\nansible_user="a b"\n`);
    await assert.rejects(readInventories([bad], defaults), (e: Error) => {
      assert.ok(e instanceof HostsFileError);
      const lines = e.message.split('\n');
      assert.equal(lines[0], `${bad}:1: host "h1": ansible_port "http": port must be an integer from 1 to 65535`);
      assert.equal(lines[4], `${bad}:11: host "h5": ansible_user "a b": user must not contain whitespace or control characters`, 'a group var: the line that sets it');
      assert.equal(lines.length, 5);
      assert.match(lines[1], /host "h2": ansible_host "\{\{ inventory_hostname \}\}\.example\.com": holds a Jinja template/);
      assert.match(lines[2], /host "h3": ansible_become "maybe": must be a boolean/);
      assert.match(lines[3], /host "h4": ansible_ssh_common_args .*ProxyCommand cannot be used from an inventory/);
      return true;
    });
    await assert.rejects(readInventories([join(dir, 'missing.ini')], defaults), /no hosts; ansible-inventory said: .*Unable to parse/);
  });

  // Each pattern through selectByPattern and through Ansible: the patterns all in one Python process that
  // runs what `ansible --limit P` runs (InventoryManager.subset, then get_hosts), and a few of them through
  // `ansible all --limit P --list-hosts` itself, to show the two agree. Compared as sets: Ansible's order
  // comes from Python sets and changes from run to run.
  const PATTERNS = [
    'all', '*', 'web', 'web:db', 'web,db', 'eu:!db', 'eu:&us', 'web:&staging', 'web0*', 'db0?', '~web0[12]', '~(us|db)',
    'eu:!~.*3$', 'web[0]', 'web[-1]', 'web[0:1]', 'web[1:]', 'web[1:0]', 'staging:web01', 'nosuch:web', 'lonely', '!web',
    'eu:!web:!db', 'localhost', '*web*', 'e?', '[wd]*', 'us , !db02', 'web01:22', 'ungrouped', '&web:db', 'nosuch',
  ];
  const VIA_CLI = ['eu:!db', 'web:&staging', '~(us|db)', 'web[1:]', 'nosuch:web', '!web', 'nosuch'];
  const LIMIT_PY = `import json, sys
from ansible.parsing.dataloader import DataLoader
from ansible.inventory.manager import InventoryManager
im = InventoryManager(loader=DataLoader(), sources=[sys.argv[1]])
out = {}
for p in json.loads(sys.argv[2]):
    im.subset(p)
    out[p] = [h.name for h in im.get_hosts('all')]
    im.subset(None)
print(json.dumps(out))
`;
  it(`selects what Ansible's --limit selects, for ${PATTERNS.length} patterns`, async () => {
    const inv = await readInventories([ini], defaults);
    const index = { hosts: inv.names, groups: inv.groups };
    // Ansible's own interpreter (its shebang): the module is installed for that one.
    const python = readFileSync(execFileSync('sh', ['-c', 'command -v ansible'], { encoding: 'utf8' }).trim(), 'utf8').split('\n')[0].replace(/^#!\s*/, '').split(' ')[0];
    const script = join(dir, 'limit.py');
    writeFileSync(script, LIMIT_PY);
    const api = JSON.parse((await run(python, [script, ini, JSON.stringify(PATTERNS)])).stdout) as Record<string, string[]>;
    const cli = async (p: string): Promise<string[]> => {
      try {
        const { stdout } = await run('ansible', ['all', '-i', ini, '--limit', p, '--list-hosts']);
        return stdout.split('\n').slice(1).map((l) => l.trim()).filter(Boolean);
      } catch (e) {
        if (/no hosts to target/.test(String((e as { stderr?: string }).stderr))) return [];
        throw e;
      }
    };
    const sorted = (xs: string[]): string => xs.slice().sort().join(' ');
    for (const p of VIA_CLI) assert.equal(sorted(await cli(p)), sorted(api[p]), `ansible --list-hosts and InventoryManager differ on ${p}`);
    const differ: string[] = [];
    for (const p of PATTERNS) {
      const ours = sorted(selectByPattern(p, index).hosts);
      if (ours !== sorted(api[p])) differ.push(`${p}: ours ${ours} | ansible ${sorted(api[p])}`);
    }
    assert.deepEqual(differ, []);
    assert.ok(PATTERNS.some((p) => api[p].length === 0) && PATTERNS.some((p) => api[p].length > 3), 'the cases include empty and large selections');
  });
});
