// Issue 11, privilege: the sudo gate against a scripted target (the in-process
// ssh2 server), for what a real sudo does not do on demand: a sudo that never
// answers, floods its standard error, or prints something else than the
// marker. Each time the host falls back to the plain shell and ends as class
// sudo with an archive; and a target that runs the marker gets the script.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { scanHost } from '../../src/scan/scan-host.js';
import { closeAllFakeSsh, healthy, hostSpec, readArchive, scanSettings, startFakeSsh, type ExecHandler } from '../helpers/fake-ssh-server.js';
import { writeFileSync } from 'node:fs';

const work = mkdtempSync('/tmp/octoscan-sudo-gate-');
after(async () => {
  await closeAllFakeSsh();
  rmSync(work, { recursive: true, force: true });
});

/** Runs `sudo` as the handler says, and the plain shell as a healthy target. */
function target(sudo: ExecHandler): ExecHandler {
  return (x) => (x.command.startsWith('sudo ') ? sudo(x) : healthy(x));
}

async function scan(sudo: ExecHandler, authTimeoutMs = 3000) {
  const server = await startFakeSsh({ exec: target(sudo) });
  const kh = join(work, `kh-${server.port}`);
  writeFileSync(kh, `${server.knownHostsLine}\n`);
  const out = mkdtempSync(join(work, 'out-'));
  const o = await scanHost(hostSpec(server), { ...scanSettings(out, { knownHosts: kh, authTimeoutMs }), sudo: true });
  return { o, server, archives: readdirSync(out).filter((f) => f.endsWith('.scal')).map((f) => join(out, f)) };
}

describe('the sudo gate against scripted targets', () => {
  test('a target that runs the marker line gets the script, as root would', async () => {
    const { o, server, archives } = await scan(async (x) => {
      // Echo the marker the way the root shell would, then behave as a healthy scan.
      const first = await new Promise<string>((resolve) => x.channel.once('data', (c: Buffer) => resolve(c.toString())));
      const marker = /octoscan-root-[0-9a-f]{24}/.exec(first)![0];
      await x.write(`${marker}\n`);
      await healthy(x);
    });
    assert.equal(o.class, 'ok', o.message);
    assert.equal(archives.length, 1);
    const scanJson = JSON.parse((await readArchive(archives[0])).get('octoscan-remote/scan.json')!.toString('utf8'));
    assert.equal(scanJson.command, 'sudo -n /bin/sh -s');
    assert.deepEqual(server.errors, []);
  });

  const refusals: [string, ExecHandler, RegExp][] = [
    ['sudo never answers', () => new Promise(() => {}), /sudo did not answer within 2 s/],
    ['sudo floods standard error', async (x) => {
      x.stderr(Buffer.alloc(256 * 1024, 'y'));
    }, /more than 65536 bytes on standard error before the root shell started/],
    ['something else than the marker', async (x) => {
      await x.write('Last login: yesterday\n');
    }, /unexpected output before the root shell started: Last login: yesterday/],
    ['sudo refuses, in its words with an escape', async (x) => {
      x.stderr('sudo: \x1b[31ma password is required\n');
      await x.finish(1);
    }, /sudo: \\x1b\[31ma password is required/],
  ];
  for (const [what, handler, message] of refusals) {
    test(`${what}: the plain shell follows, class sudo, an archive`, async () => {
      const { o, archives } = await scan(handler, 2000);
      assert.equal(o.class, 'sudo', `${what}: ${o.message}`);
      assert.equal(o.phase, 'exec');
      assert.match(o.message, message);
      assert.ok(!/\x1b/.test(o.message), 'no raw escape reaches the report');
      assert.equal(archives.length, 1, 'the unprivileged archive is kept');
      const a = await readArchive(archives[0]);
      assert.match(a.get('octoscan.xml')!.toString('utf8'), /<warning id="1004" message="add_command_output exception \['sudo', '-n', '\/bin\/sh', '-s'\]: /);
      assert.equal(JSON.parse(a.get('octoscan-remote/scan.json')!.toString('utf8')).command, '/bin/sh -s');
    });
  }
});
