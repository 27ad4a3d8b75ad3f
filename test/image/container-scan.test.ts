// Issue 26: the container image, run with the README's own `docker run` lines
// (only the uid, the folders and the collector URL put in) against a real sshd
// on loopback: as a uid the image does not know, with a key file and with an
// ssh_config (-F) plus an agent socket; and as the image's uid 10001 with a
// 0440 key readable through its group, the Kubernetes way, through the system
// ssh, uploading. Run by .ci/image-check after it built the image on its own
// daemon (DOCKER_HOST); not part of `npm test`. Without docker it fails.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createTestUser, startSshd, type Sshd, type TestUser } from '../helpers/sshd.js';
import { workspace } from '../helpers/workspace.js';
import { readZip } from '../helpers/zip.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const IMAGE = 'octoscan-remote';
/** A uid the image's passwd does not have (it knows root, node 1000 and scan 10001). */
const UID = 4242;

/** The README's `docker run` lines (the Deployment section's shell blocks). */
function readmeDockerRuns(): string[] {
  const text = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = text.slice(text.indexOf('\n## Deployment'), text.indexOf('\n## Development'));
  return section.split('\n').filter((l) => l.startsWith('docker run '));
}

function readmeLine(what: string, has: (l: string) => boolean): string {
  const lines = readmeDockerRuns().filter(has);
  assert.equal(lines.length, 1, `one README docker run line ${what}; found ${JSON.stringify(lines)}`);
  return lines[0];
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A README line through bash, as a user would paste it. */
function shell(line: string, env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-c', line], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

async function checkArchive(file: string, login: string): Promise<void> {
  const name = file.split('/').at(-1)!;
  assert.match(name, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.scal$/);
  const uuid = name.slice(0, 36);
  const zip = await readZip(file);
  const names = [...zip.keys()];
  assert.equal(names.at(-1), `${uuid}/octoscan.xml`, 'octoscan.xml is the last entry');
  assert.match(zip.get(`${uuid}/octoscan.xml`)!.data.toString(), new RegExp(`<octoscan uuid="${uuid}"`));
  assert.ok(zip.get(`${uuid}/release/os-release`)!.data.length > 0, 'os-release read on the target');
  const scan = JSON.parse(zip.get(`${uuid}/octoscan-remote/scan.json`)!.data.toString());
  assert.equal(scan.target.user, login);
}

describe('the image, run the README way against a real sshd', () => {
  const fresh = workspace('octoscan-image-');
  let user: TestUser;
  let sshd: Sshd;

  before(async () => {
    const docker = spawnSync('docker', ['image', 'inspect', IMAGE], { encoding: 'utf8' });
    assert.equal(docker.status, 0, `docker and the image ${IMAGE} are needed (DOCKER_HOST=${process.env.DOCKER_HOST}): ${docker.error?.message ?? docker.stderr}`);
    user = await createTestUser();
    sshd = await startSshd({ users: [user] });
    chmodSync(join(fresh('x'), '..'), 0o755); // the container's uids reach their folders below it
  });
  after(async () => {
    await sshd?.stop();
  });

  /** The uid's own home with .ssh (key, known_hosts) and an import folder, as `$HOME` and /srv/import of the README. */
  async function home(uid: number): Promise<{ home: string; ssh: string; imports: string }> {
    const h = fresh('home');
    const ssh = join(h, '.ssh');
    const imports = join(h, 'import');
    mkdirSync(ssh, { mode: 0o700 });
    mkdirSync(imports);
    copyFileSync(user.keyPath, join(ssh, 'id_ed25519'));
    await sshd.writeKnownHosts(join(ssh, 'known_hosts'), ['127.0.0.1']);
    for (const p of [h, ssh, imports, join(ssh, 'id_ed25519'), join(ssh, 'known_hosts')]) chownSync(p, uid, uid);
    chmodSync(join(ssh, 'id_ed25519'), 0o600);
    return { home: h, ssh, imports };
  }

  const asUid = (line: string, uid: number): string => line.replaceAll('"$(id -u):$(id -g)"', `${uid}:${uid}`);

  test(`the image has no passwd entry for uid ${UID}, and ssh for its own user`, () => {
    const r = spawnSync('docker', ['run', '--rm', '--user', `${UID}:${UID}`, '--entrypoint', 'getent', IMAGE, 'passwd', String(UID)], { encoding: 'utf8' });
    assert.equal(r.status, 2, `getent passwd ${UID} in the image: ${r.stdout}${r.stderr}`);
    const ssh = spawnSync('docker', ['run', '--rm', '--entrypoint', 'ssh', IMAGE, '-V'], { encoding: 'utf8' });
    assert.equal(ssh.status, 0, ssh.stderr);
    assert.match(ssh.stderr, /^OpenSSH_/m);
  });

  test(`as uid ${UID} (no passwd entry) with a key file: the README line writes one archive`, async () => {
    const line = readmeLine('with a key file as yourself', (l) => l.includes('--user "$(id -u):$(id -g)"') && l.includes('-i /ssh/id_ed25519'));
    const h = await home(UID);
    writeFileSync(join(h.imports, 'hosts.csv'), `host,port,user\n127.0.0.1,${sshd.port},${user.name}\n`);
    const r = await shell(asUid(line, UID).replaceAll('/srv/import', h.imports), { HOME: h.home });
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /internal error|ERR_SYSTEM_ERROR/);
    const archives = readdirSync(h.imports).filter((f) => f.endsWith('.scal'));
    assert.equal(archives.length, 1, readdirSync(h.imports).join(', '));
    // Standard output names it by its path in the container.
    assert.equal(r.stdout.trim(), `/import/${archives[0]}`);
    assert.equal(statSync(join(h.imports, archives[0])).uid, UID, 'written as the uid the container ran as');
    await checkArchive(join(h.imports, archives[0]), user.name);
  });

  test(`as uid ${UID} with an ssh_config (-F) and an agent socket: the host alias and the agent's key work`, async (t) => {
    const line = readmeLine('with -F and the agent', (l) => l.includes('SSH_AUTH_SOCK') && l.includes('-F /ssh/config'));
    const h = await home(UID);
    // The config alone knows where "lab-db" is and who logs in; the key is only in the agent.
    writeFileSync(join(h.ssh, 'config'), `Host lab-db\n  HostName 127.0.0.1\n  Port ${sshd.port}\n  User ${user.name}\n`);
    writeFileSync(join(h.imports, 'hosts.csv'), 'host\nlab-db\n');
    const agentDir = fresh('agent');
    chownSync(agentDir, UID, UID);
    const sock = join(agentDir, 'agent.sock');
    // ssh-agent accepts only its own uid: it runs as the container's.
    const agent: ChildProcess = spawn('setpriv', ['--reuid', String(UID), '--regid', String(UID), '--clear-groups', 'ssh-agent', '-D', '-a', sock], { stdio: 'ignore' });
    t.after(() => agent.kill());
    for (let i = 0; i < 50 && !readdirSync(agentDir).length; i++) await new Promise((r) => setTimeout(r, 100));
    const add = spawnSync('setpriv', ['--reuid', String(UID), '--regid', String(UID), '--clear-groups', 'ssh-add', join(h.ssh, 'id_ed25519')], { env: { ...process.env, SSH_AUTH_SOCK: sock }, encoding: 'utf8' });
    assert.equal(add.status, 0, add.stderr);
    const r = await shell(asUid(line, UID).replaceAll('/srv/import', h.imports), { HOME: h.home, SSH_AUTH_SOCK: sock });
    assert.equal(r.code, 0, r.stderr);
    // Port and User came from the config (the hosts file names only the alias), and the
    // log line shows the alias people use (issue 22); HostName took it to the loopback sshd.
    assert.match(r.stderr, new RegExp(` ok ${user.name}@lab-db:${sshd.port} `));
    const archives = readdirSync(h.imports).filter((f) => f.endsWith('.scal'));
    assert.equal(archives.length, 1);
    await checkArchive(join(h.imports, archives[0]), user.name);
  });

  test('as uid 10001 with a root-owned 0440 key readable through --group-add 10001, ssh in the image, uploading', async (t) => {
    const line = readmeLine('the Kubernetes way', (l) => l.includes('--group-add 10001'));
    const keys = fresh('keys');
    chmodSync(keys, 0o755);
    copyFileSync(user.keyPath, join(keys, 'id_ed25519'));
    chownSync(join(keys, 'id_ed25519'), 0, 10001);
    chmodSync(join(keys, 'id_ed25519'), 0o440);
    await sshd.writeKnownHosts(join(keys, 'known_hosts'), ['127.0.0.1']);
    writeFileSync(join(keys, 'hosts.csv'), `host,port,user\n127.0.0.1,${sshd.port},${user.name}\n`);
    // The collector: the compose demo's stand-in, on loopback.
    const collected = fresh('collected');
    const port = await freePort();
    const collector = spawn(process.execPath, [join(ROOT, 'docker/octo-collect-standin.mjs')], { env: { ...process.env, PORT: String(port), COLLECT_DIR: collected }, stdio: ['ignore', 'pipe', 'inherit'] });
    t.after(() => collector.kill());
    await new Promise<void>((r) => collector.stdout!.once('data', () => r()));
    const r = await shell(line.replaceAll('/srv/octoscan', keys).replaceAll('http://collector:8080', `http://127.0.0.1:${port}`), {});
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, / ok /);
    const archives = readdirSync(collected);
    assert.equal(archives.length, 1, archives.join(', '));
    await checkArchive(join(collected, archives[0]), user.name);
    const scan = JSON.parse((await readZip(join(collected, archives[0]))).get(`${archives[0].slice(0, 36)}/octoscan-remote/scan.json`)!.data.toString());
    assert.equal(scan.transport.transport, 'openssh', 'scanned through the image\'s ssh');
  });
});
