// readHostList: the one function that turns host-selecting options into the
// HostSpec list. Hosts files, arguments, saved inventory JSON (no Ansible
// needed) and --limit over them; the retry file of inventory hosts read back.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HostListError, readHostList, type HostListOptions } from '../../src/cli/host-list.js';
import { hostName } from '../../src/hosts/host-name.js';
import { formatRetryFile, HostsError, readHostsFile } from '../../src/hosts/index.js';

describe('readHostList', () => {
  let dir: string;
  let hosts: string;
  let saved: string;
  const base = (o: Partial<HostListOptions>): HostListOptions => ({ local: false, targets: [], inventory: [], user: 'me', port: 22, ...o });
  const none = new Set<string>();
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'octoscan-host-list-'));
    hosts = join(dir, 'hosts.csv');
    writeFileSync(hosts, 'host,name,owner\n10.0.0.1,web-a,ops\n10.0.0.2,web-b,ops\ndb01.example.com,,dba\n');
    saved = join(dir, 'inventory.json');
    // ansible-inventory --list output, as saved (a bastion and sudo for db, a local host).
    writeFileSync(
      saved,
      JSON.stringify({
        _meta: {
          hostvars: {
            app1: { ansible_host: '10.1.0.1', ansible_port: 2222, ansible_user: 'scan' },
            app2: { ansible_host: '10.1.0.2' },
            db9: { ansible_host: '10.1.0.9', ansible_become: true, ansible_ssh_common_args: '-J jump@10.1.0.100', ansible_ssh_private_key_file: '/keys/db' },
            ctl: { ansible_connection: 'local' },
          },
        },
        all: { children: ['ungrouped', 'app', 'db'] },
        app: { hosts: ['app1', 'app2'] },
        db: { hosts: ['db9'] },
        ungrouped: { hosts: ['ctl'] },
      }),
    );
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('joins the hosts file, the inventory and the arguments; -l and -p are defaults only when typed', async () => {
    const r = await readHostList(base({ hosts, inventory: [saved], targets: ['scan@10.9.9.9:2200'] }), none);
    assert.deepEqual(r.hosts.map(hostName), ['web-a', 'web-b', 'db01.example.com', 'app1', 'app2', 'db9', '10.9.9.9']);
    assert.deepEqual(r.hosts.map((h) => [h.host, h.port, h.user]).slice(3), [['10.1.0.1', 2222, 'scan'], ['10.1.0.2', 0, ''], ['10.1.0.9', 0, ''], ['10.9.9.9', 2200, 'scan']]);
    assert.deepEqual(r.hosts[0].labels, { owner: 'ops' });
    assert.match(r.notes.join('\n'), /skipped, ansible_connection local .*: ctl/);
    const typed = await readHostList(base({ inventory: [saved], user: 'ops', port: 2022 }), new Set(['user', 'port']));
    assert.deepEqual([typed.hosts[0].port, typed.hosts[0].user, typed.hosts[1].port, typed.hosts[1].user], [2222, 'scan', 2022, 'ops'], 'inventory variables beat -l/-p, as hosts-file columns do');
  });

  it('--limit selects by name across the hosts file and the inventory, and by inventory group', async () => {
    const pick = async (limit: string): Promise<string[]> => (await readHostList(base({ hosts, inventory: [saved], limit }), none)).hosts.map(hostName);
    assert.deepEqual(await pick('web-*'), ['web-a', 'web-b']);
    assert.deepEqual(await pick('app,!app2,db01*'), ['db01.example.com', 'app1']);
    assert.deepEqual(await pick('app:!app2'), ['app1']);
    assert.deepEqual(await pick('all:!app:!web-a'), ['web-b', 'db01.example.com', 'db9']);
    assert.deepEqual(await pick('~web-[ab]:&~.*b$'), ['web-b']);
    const file = join(dir, 'retry.limit');
    writeFileSync(file, 'db9\nweb-a\n\n');
    assert.deepEqual(await pick(`@${file}`), ['web-a', 'db9'], '@FILE: one pattern a line');
    const r = await readHostList(base({ hosts, limit: 'web-a:nosuch' }), none);
    assert.deepEqual(r.notes, ['--limit: "nosuch" matches no host or group']);
    await assert.rejects(readHostList(base({ hosts, limit: 'nosuch' }), none), (e: Error) => e instanceof HostListError && e.message === '--limit "nosuch" selects none of the 3 host(s) listed');
    await assert.rejects(readHostList(base({ hosts, limit: '~(' }), none), /--limit "~\(": invalid regular expression/);
    await assert.rejects(readHostList(base({ local: true, limit: 'x' }), none), /--limit selects from --hosts or --inventory/);
  });

  it('a glob as an argument is an error pointing to --limit', async () => {
    await assert.rejects(readHostList(base({ hosts, targets: ['web-*'] }), none), (e: Error) => e instanceof HostsError && /not a pattern; .*--limit PATTERN/.test(e.message));
  });

  it('the same address, port and user under two names is scanned once, with a note', async () => {
    const r = await readHostList(base({ hosts, targets: ['10.0.0.1'] }), none);
    assert.equal(r.hosts.length, 3);
    assert.deepEqual(r.notes, ['10.0.0.1: the same address, port and user as web-a; scanned once, as web-a']);
  });

  it('the retry file of inventory hosts reads back as a hosts file with the same names and settings', async () => {
    const r = await readHostList(base({ inventory: [saved] }), none);
    const text = formatRetryFile(r.columns, r.hosts);
    assert.equal(text.split('\n')[0], 'host,port,user,name,identity,jump,sudo');
    const retry = join(dir, 'retry.csv');
    writeFileSync(retry, text);
    const back = await readHostsFile(retry, { port: 0, user: '', identities: [] });
    assert.deepEqual(
      back.hosts.map((h) => [hostName(h), h.host, h.port, h.user, h.identities, h.jump, h.sudo]),
      r.hosts.map((h) => [hostName(h), h.host, h.port, h.user, h.identities, h.jump, h.sudo]),
    );
  });
});
