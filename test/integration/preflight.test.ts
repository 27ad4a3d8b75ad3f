// Run-wide mistakes are caught at start-up (issue 12): one message, exit 1,
// and not one connection. The CLI runs as a subprocess; the "target" is a
// plain TCP listener that counts connections, so "nothing was scanned" is
// measured, not assumed. Checks that depend on file permissions run the CLI as
// the unprivileged user nobody, where root would read and write anything.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { refusedPort } from '../helpers/farm.js';
import { workspace } from '../helpers/workspace.js';

const RUN_CLI = fileURLToPath(new URL('../helpers/run-cli.ts', import.meta.url));
const dir = workspace('preflight');
const NOBODY = 65534;
const asRoot = process.getuid?.() === 0;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], o: { uid?: number; env?: NodeJS.ProcessEnv } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const env = { ...process.env, ...o.env };
    delete env.SSH_AUTH_SOCK;
    const child = spawn(process.execPath, ['--import', 'tsx', RUN_CLI, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env,
      cwd: path.dirname(RUN_CLI),
      ...(o.uid !== undefined ? { uid: o.uid, gid: o.uid } : {}),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

let server: Server;
let port = 0;
let connections = 0;

before(async () => {
  server = createServer((s) => {
    connections++;
    s.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
});
after(() => server.close());

function key(name: string, o: { passphrase?: string; mode?: number } = {}): string {
  const d = dir(`keys-${name}`);
  const file = path.join(d, 'id_ed25519');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', o.passphrase ?? '', '-f', file]);
  chmodSync(file, o.mode ?? 0o600);
  return file;
}

function knownHosts(): string {
  const file = path.join(dir('kh'), 'known_hosts');
  writeFileSync(file, '');
  return file;
}

/** A run that must stop before connecting: exit 1, one message, no connection, nothing written. */
async function refused(args: string[], expect: RegExp, o: { uid?: number; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  const out = dir('out');
  if (o.uid !== undefined) {
    chownSync(out, o.uid, o.uid);
    chmodSync(path.dirname(out), 0o711); // the workspace itself is 0700
  }
  const before = connections;
  const r = await cli(['--out', out, '--no-progress', '--retries', '0', ...args, `127.0.0.1:${port}`], o);
  assert.equal(r.code, 1, `exit 1 expected:\n${r.stderr}`);
  assert.match(r.stderr, expect);
  assert.equal(r.stderr.trim().split('\n').length, 1, `one message, not one per host:\n${r.stderr}`);
  assert.equal(connections, before, 'no connection was made');
  assert.deepEqual(readdirSync(out), [], 'nothing written');
  return r.stderr;
}

describe('start-up checks: run-wide mistakes end the run before the first connection', () => {
  test('--report in a folder that does not exist', async () => {
    const missing = path.join(dir('r'), 'no-such-folder', 'run.csv');
    await refused(['--known-hosts', knownHosts(), '--report', missing], /^octoscan-remote: --report .*no-such-folder\/run\.csv: the folder .*no-such-folder does not exist$/m);
  });

  test('--retry-file in a folder that does not exist', async () => {
    const missing = path.join(dir('r'), 'gone', 'retry.csv');
    await refused(['--known-hosts', knownHosts(), '--retry-file', missing], /--retry-file .*gone\/retry\.csv: the folder .*gone does not exist/);
  });

  test('--summary in a folder that does not exist', async () => {
    await refused(['--known-hosts', knownHosts(), '--summary', path.join(dir('r'), 'x', 'n.html')], /--summary .*x\/n\.html: .*does not exist/);
  });

  test('--report named .json is refused: its content is JSON lines', async () => {
    await refused(['--known-hosts', knownHosts(), '--report', path.join(dir('r'), 'run.json')], /--report .*run\.json: .*name it \.jsonl or \.ndjson/);
  });

  test('a missing --out folder says it does not exist', async () => {
    const r = await cli(['--out', path.join(dir('o'), 'nope'), `127.0.0.1:${port}`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--out .*nope: the folder does not exist/);
  });

  test('-i pointing at a missing file', async () => {
    await refused(['--known-hosts', knownHosts(), '-i', path.join(dir('k'), 'missing_key')], /^octoscan-remote: -i .*missing_key: does not exist$/m);
  });

  test('an encrypted -i key without a passphrase names --passphrase-file and OCTOSCAN_SSH_PASSPHRASE', async () => {
    const env = { OCTOSCAN_SSH_PASSPHRASE: '' };
    const msg = await refused(['--known-hosts', knownHosts(), '-i', key('enc', { passphrase: 'sesame-123' })], /-i .*id_ed25519: is encrypted/, { env });
    assert.match(msg, /--passphrase-file/);
    assert.match(msg, /OCTOSCAN_SSH_PASSPHRASE/);
  });

  test('an encrypted -i key with the wrong passphrase file', async () => {
    const pf = path.join(dir('p'), 'pass');
    writeFileSync(pf, 'wrong\n', { mode: 0o600 });
    const msg = await refused(['--known-hosts', knownHosts(), '-i', key('enc2', { passphrase: 'right-one' }), '--passphrase-file', pf], /-i .*: cannot be decrypted with the passphrase given/);
    assert.doesNotMatch(msg, /wrong|right-one/, 'no secret in the message');
  });

  test('a private key readable by group or others is refused, naming chmod 600', async () => {
    await refused(['--known-hosts', knownHosts(), '-i', key('open', { mode: 0o644 })], /-i .*id_ed25519: readable by group or others \(mode 644\).*chmod 600/);
  });

  test('a --known-hosts file that does not exist (strict) does not suggest accept-new', async () => {
    const msg = await refused(['-i', key('ok1'), '--known-hosts', path.join(dir('kh2'), 'none')], /--known-hosts .*none: does not exist, so every host would fail as hostkey-unknown/);
    assert.doesNotMatch(msg, /accept-new/);
  });

  test('a --known-hosts that is a folder', async () => {
    await refused(['-i', key('ok2'), '--known-hosts', dir('khdir')], /--known-hosts .*: not a file/);
  });

  test('an unreadable known_hosts is a start-up error, not class internal', { skip: !asRoot && 'needs root to run the CLI as nobody' }, async () => {
    const kh = knownHosts();
    chmodSync(kh, 0o000);
    const k = key('nobody1');
    chownSync(k, NOBODY, NOBODY);
    chownSync(path.dirname(k), NOBODY, NOBODY);
    const msg = await refused(['-i', k, '--known-hosts', kh], /--known-hosts .*known_hosts: cannot be read: EACCES/, { uid: NOBODY });
    assert.doesNotMatch(msg, /internal/);
  });

  test('accept-new with a known_hosts file that cannot be written', { skip: !asRoot && 'needs root to run the CLI as nobody' }, async () => {
    const kh = knownHosts();
    chmodSync(kh, 0o644);
    const k = key('nobody2');
    chownSync(k, NOBODY, NOBODY);
    chownSync(path.dirname(k), NOBODY, NOBODY);
    await refused(['-i', k, '--known-hosts', kh, '--host-key-policy', 'accept-new'], /--known-hosts .*: not writable by this user, and --host-key-policy accept-new must record new keys in it/, { uid: NOBODY });
  });

  test('an identity column naming a missing file fails that host only, before connecting', async () => {
    const out = dir('out');
    const hosts = path.join(dir('h'), 'hosts.csv');
    const missing = path.join(dir('k'), 'not_there');
    writeFileSync(hosts, `host,port,identity\n127.0.0.1,${port},${missing}\n`);
    const report = path.join(dir('r'), 'run.jsonl');
    const before = connections;
    const r = await cli(['--out', out, '--no-progress', '--retries', '0', '--known-hosts', knownHosts(), '--hosts', hosts, '--report', report]);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(connections, before, 'not connected');
    assert.match(r.stderr, new RegExp(`FAILED auth .*identity ${missing} \\(.*hosts\\.csv:2\\): does not exist; not connected`));
  });
});

describe('default keys, as ssh treats them', () => {
  test('a ~/.ssh key readable by others is not used, and the run says so (chmod 600)', async () => {
    const home = dir('home');
    mkdirSync(path.join(home, '.ssh'));
    const k = key('default', { mode: 0o644 });
    writeFileSync(path.join(home, '.ssh', 'id_ed25519'), readFileSync(k), { mode: 0o644 });
    chmodSync(path.join(home, '.ssh', 'id_ed25519'), 0o644);
    // A refused port: this test is about the note, not the connection.
    const r = await cli(['--out', dir('out'), '--no-progress', '--retries', '0', '--connect-timeout', '2', '--known-hosts', knownHosts(), `127.0.0.1:${await refusedPort('127.0.0.1')}`], { env: { HOME: home } });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /\.ssh\/id_ed25519: readable by group or others \(mode 644\).*chmod 600 .*; not used/);
  });
});

describe('-o is the output folder, once', () => {
  test('-o StrictHostKeyChecking=no says it is an ssh option and where host keys are set', async () => {
    const r = await cli(['-o', 'StrictHostKeyChecking=no', `127.0.0.1:${port}`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /"StrictHostKeyChecking=no" is an ssh_config option, but -o is the output folder here.*--host-key-policy.*~\/\.ssh\/config/);
  });

  test('-oBatchMode=yes before --out DIR is not silently replaced', async () => {
    const r = await cli(['-oBatchMode=yes', `127.0.0.1:${port}`, '--out', dir('o2')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /"BatchMode=yes" is an ssh_config option/);
  });

  test('two output folders are an error', async () => {
    const r = await cli(['-o', dir('a'), '--out', dir('b'), `127.0.0.1:${port}`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /two output folders/);
  });

  test('a folder name with = that is no ssh keyword is still a folder', async () => {
    const weird = path.join(dir('w'), 'night=1');
    mkdirSync(weird);
    const r = await cli(['-o', weird, '--known-hosts', path.join(dir('x'), 'none'), `127.0.0.1:${port}`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--known-hosts/, 'got past -o to the next check');
  });
});
