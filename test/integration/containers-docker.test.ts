// Issue 23, containers on a real Docker daemon: Debian's dockerd (docker.io
// 20.10) started by this test with its own folders and socket (no bridge, no
// iptables, containers with --network none), images imported from the
// recorded fixture profiles (Alpine, Debian with a JVM) plus one without
// /bin/sh, one whose shell stalls, a hostile one and a paused one: the same
// cases as the Podman tests (containers.test.ts). Each test host is a user of
// its own on 127.0.0.1 whose `docker` is a shim that points one of the two
// real clients (Debian's 20.10 and the 28 in /usr/local/bin, when present)
// at this daemon's socket and shows that host its own containers: through
// sudo's secure_path, or for the docker-group account without sudo through
// sshd's SetEnv PATH. Runs: ssh2 with --sudo, --transport openssh, --local as
// root, the docker-group account without --sudo, and the bounds.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { XMLParser } from 'fast-xml-parser';
import { cliBuilt, runCli, type CliRun } from '../helpers/cli-sweep.js';
import { readArchive, type Archive } from '../helpers/fake-ssh-server.js';
import { FIXTURES_DIR, type EmulatedTarget } from '../helpers/emulated-targets.js';
import { installSudoRules, type SudoRules } from '../helpers/sudoers.js';
import { createTestUser, sshdAvailable, startSshd, type Sshd, type TestUser } from '../helpers/sshd.js';
import { buildContainerRoots, CONTAINER_ROOTS, writeShim } from '../helpers/containers.js';
import { DOCKER_CLIENT_DEBIAN, DOCKER_CLIENT_LOCAL, dockerdUnavailable, dockerShim, importImage, runContainer, startDockerd, type Dockerd } from '../helpers/dockerd.js';

const PROFILES = ['alpine-3.18', 'debian-10'];
const missingFixtures = PROFILES.find((p) => !existsSync(join(FIXTURES_DIR, p)));
const skip =
  sshdAvailable() ??
  (cliBuilt ? undefined : 'the CLI is not built (npm run build)') ??
  (existsSync('/usr/bin/sudo') ? undefined : '/usr/bin/sudo missing (apt-get install sudo)') ??
  (missingFixtures ? `fixture profile ${missingFixtures} not found in ${FIXTURES_DIR} (set OCTOSCAN_FIXTURES_DIR)` : undefined) ??
  dockerdUnavailable();
if (skip) console.error(`\n*** SKIPPING Docker container tests: ${skip} ***\n`);

const LABEL = 'octoscan-test-23';
const CONTAINER_TIMEOUT_S = 20;
/** The newer client where the machine has one (it is first on PATH here); else Debian's for both hosts. */
const CLIENT_NEW = existsSync(DOCKER_CLIENT_LOCAL) ? DOCKER_CLIENT_LOCAL : DOCKER_CLIENT_DEBIAN;
const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (name) => name === 'info' || name === 'warning' });
const IDLE = ['/bin/busybox', 'sleep', '100000'];

type Row = Record<string, string | number>;

function xmlOf(a: Archive): { fqdn: string; configuration: [string, string, string][] } {
  const doc = parser.parse(a.get('octoscan.xml')!.toString('utf8')).octoscan;
  return { fqdn: doc.fqdn, configuration: doc.configuration.info.map((i: { name: string; type: string; value: string }) => [i.name, i.type, i.value]) };
}

function clientVersion(client: string): string {
  return spawnSync(client, ['version', '--format', '{{.Client.Version}}'], { encoding: 'utf8' }).stdout.trim();
}

describe('--containers against a real Docker daemon', { skip, timeout: 900_000 }, () => {
  let work: string;
  let dockerd: Dockerd;
  let sshd: Sshd;
  let knownHosts: string;
  let alpine: EmulatedTarget;
  let debian: EmulatedTarget;
  let sudoRules: SudoRules | undefined;
  const users: Record<'a' | 'b' | 'g' | 'cut', TestUser> = {} as never;
  const ids: Record<string, string> = {};
  // Container names as docker has them: exact, used for configuration/machine.
  const names = {
    alpine: 'oct23-alpine', noshellA: 'oct23-distroless-a', paused: 'oct23-paused', stall: 'oct23-stall',
    debian: 'oct23-debian', hostile: 'oct23-hostile', noshellB: 'oct23-distroless-b', cut1: 'oct23-cut-1', cut2: 'oct23-cut-2', cut3: 'oct23-cut-3',
  };
  const archives = new Map<string, Archive>();

  /** One run of the CLI: its rows (from --json) with their archives read back. */
  async function sweep(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ run: CliRun; rows: Row[] }> {
    const out = mkdtempSync(join(work, 'out-'));
    const run = await runCli(['--out', out, '--known-hosts', knownHosts, '--json', ...args], { env: { ...process.env, SSH_AUTH_SOCK: '', ...env }, killAfterMs: 400_000 });
    const rows = run.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Row);
    for (const r of rows) if (r.archive) archives.set(String(r.archive), await readArchive(String(r.archive)));
    console.error(`[${args.filter((a) => a.startsWith('--')).join(' ')}] exit ${run.code} in ${(run.wallMs / 1000).toFixed(1)} s: ` +
      rows.map((r) => `${r.container_name || r.engine || r.user}=${r.class}`).join(', '));
    return { run, rows };
  }
  const target = (u: TestUser): string => `${u.name}@127.0.0.1:${sshd.port}`;
  const byName = (rows: Row[], name: keyof typeof names): Row => {
    const r = rows.find((x) => x.container_id === ids[name]);
    assert.ok(r, `a row for ${names[name]}: ${JSON.stringify(rows.map((x) => [x.container_name, x.class]))}`);
    return r;
  };
  const hostRow = (rows: Row[]): Row => rows.find((x) => !x.engine && !x.container_id)!;
  const summaryOf = (run: CliRun): string => /^(?:\S+Z )?(\d+ hosts?: .*)$/m.exec(run.stderr)?.[1] ?? '';

  before(async () => {
    work = mkdtempSync('/tmp/oct23-');
    execFileSync('chmod', ['755', work]);
    dockerd = await startDockerd(mkdtempSync('/tmp/oct23d-'));
    execFileSync('chmod', ['755', join(dockerd.socket, '..')]);
    ({ alpine, debian } = buildContainerRoots(work));
    const img: Record<string, string> = {};
    for (const n of CONTAINER_ROOTS) img[n] = importImage(dockerd, join(work, `root-${n}`), `oct23-${n}`, LABEL);
    const run = (key: keyof typeof names, image: string, labels: string[], command: string[]): void => {
      ids[key] = runContainer(dockerd, image, { name: names[key], labels: [`${LABEL}=1`, ...labels.map((l) => `${l}=1`)], command });
    };
    // Host A (the newer client): Alpine with a label value that tries to forge the pod name, no shell, paused, stalling.
    ids.alpine = runContainer(dockerd, img.alpine, {
      name: names.alpine, labels: [`${LABEL}=1`, 'oct23-a=1', 'oct23-local=1', 'oct23-group=1', 'note=hello,io.kubernetes.pod.name=spoofed'],
      command: ['/bin/sh', '-c', 'while :; do sleep 3600; done'],
    });
    run('noshellA', img.noshell, ['oct23-a', 'oct23-group'], ['/sleep', '100000']);
    run('paused', img.stall, ['oct23-a', 'oct23-local', 'oct23-group'], IDLE);
    dockerd.docker(['pause', names.paused]);
    run('stall', img.stall, ['oct23-a'], IDLE);
    // Host B (Debian's 20.10 client): Debian with a JVM, hostile, no shell.
    run('debian', img.debian, ['oct23-b'], ['/bin/sh', '-c', 'while :; do sleep 3600; done']);
    run('hostile', img.hostile, ['oct23-b'], IDLE);
    run('noshellB', img.noshell, ['oct23-b'], ['/sleep', '100000']);
    // The bounds: three stalling containers.
    for (const k of ['cut1', 'cut2', 'cut3'] as const) run(k, img.stall, ['oct23-cut'], IDLE);

    const shims = { a: join(work, 'shims-a'), b: join(work, 'shims-b'), g: join(work, 'shims-g'), cut: join(work, 'shims-cut'), local: join(work, 'shims-local') };
    writeShim(shims.a, 'docker', dockerShim(dockerd, CLIENT_NEW, 'oct23-a'));
    writeShim(shims.b, 'docker', dockerShim(dockerd, DOCKER_CLIENT_DEBIAN, 'oct23-b'));
    writeShim(shims.g, 'docker', dockerShim(dockerd, CLIENT_NEW, 'oct23-group'));
    writeShim(shims.cut, 'docker', dockerShim(dockerd, DOCKER_CLIENT_DEBIAN, 'oct23-cut'));
    writeShim(shims.local, 'docker', dockerShim(dockerd, CLIENT_NEW, 'oct23-local'));
    // Root's podman would list other tests' containers: under sudo each host's podman lists none.
    const emptyPodman = `#!/bin/sh\nif [ "$1" = ps ]; then echo '[]'; exit 0; fi\nexit 64\n`;
    for (const d of [shims.a, shims.b, shims.cut, shims.local]) writeShim(d, 'podman', emptyPodman);
    users.a = await createTestUser('oct23-docker-a');
    users.b = await createTestUser('oct23-docker-b');
    users.g = await createTestUser('oct23-docker-grp');
    users.cut = await createTestUser('oct23-docker-cut');
    // The docker-group account: the socket is root:docker 0660, as dockerd makes it.
    execFileSync('gpasswd', ['-a', users.g.name, 'docker'], { stdio: 'ignore' });
    const rules = (['a', 'b', 'cut'] as const).flatMap((k) => [
      `Defaults:${users[k].name} secure_path="${shims[k]}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"`,
      `${users[k].name} ALL=(root) NOPASSWD: ALL`,
    ]);
    sudoRules = installSudoRules('23-docker', [users.a.name, users.b.name, users.cut.name, users.g.name], rules);
    sshd = await startSshd({
      users: Object.values(users),
      // The docker-group account runs no sudo: its own PATH puts its shim first (the real podman stays on PATH).
      extraConfig: `Match User ${users.g.name}\n  SetEnv PATH=${shims.g}:/usr/local/bin:/usr/bin:/bin\n`,
    });
    knownHosts = join(work, 'known_hosts');
    await sshd.writeKnownHosts(knownHosts);
    console.error(`dockerd ${dockerd.version}; clients ${clientVersion(CLIENT_NEW)} (${CLIENT_NEW}) and ${clientVersion(DOCKER_CLIENT_DEBIAN)} (${DOCKER_CLIENT_DEBIAN})`);
  });

  after(async () => {
    sudoRules?.remove();
    await sshd?.stop();
    if (users.g) spawnSync('gpasswd', ['-d', users.g.name, 'docker'], { stdio: 'ignore' });
    await dockerd?.stop();
    if (work && !process.env.OCTOSCAN_KEEP) execFileSync('rm', ['-rf', work]);
  });

  let first: { run: CliRun; rows: Row[] };

  test('over SSH with --sudo --containers, both clients: each container with a shell gets its archive; no-shell, paused and stalled ones get their rows', async () => {
    const hosts = join(work, 'hosts.csv');
    writeFileSync(hosts, `host,port,user,identity,tag\n127.0.0.1,${sshd.port},${users.a.name},${users.a.keyPath},docker-new\n127.0.0.1,${sshd.port},${users.b.name},${users.b.keyPath},docker-old\n`);
    const report = join(work, 'report.csv');
    const retry = join(work, 'retry.csv');
    const page = join(work, 'summary.html');
    first = await sweep(['--hosts', hosts, '--sudo', '--containers', '-j', '2', '--container-timeout', String(CONTAINER_TIMEOUT_S), '--report', report, '--retry-file', retry, '--summary', page]);
    const { run, rows } = first;
    for (const u of [users.a, users.b]) assert.equal(rows.find((r) => r.user === u.name && !r.engine)?.class, 'ok', run.stderr);
    assert.deepEqual(rows.filter((r) => r.engine && !r.container_id), [], `no engine rows: ${run.stderr}`);
    const mine = ['alpine', 'noshellA', 'paused', 'stall', 'debian', 'hostile', 'noshellB'] as const;
    assert.deepEqual(rows.filter((r) => r.container_id).map((r) => r.container_id).sort(), mine.map((k) => ids[k]).sort(), 'each container once, by its full 64-hex id');
    for (const k of mine) {
      const r = byName(rows, k);
      assert.match(String(r.container_id), /^[0-9a-f]{64}$/);
      assert.equal(r.engine, 'docker');
      assert.equal(r.container_name, names[k], 'the exact docker name');
      assert.match(String(r.image), /^oct23-/);
    }
    // One count everywhere: the stalled container fails its host (exit code, retry file, summary line, page).
    assert.equal(byName(rows, 'stall').class, 'timeout');
    assert.equal(run.code, 2, run.stderr);
    assert.match(summaryOf(run), /^2 hosts: 1 ok, 1 failed \(containers 1\) in /, run.stderr);
    const retryRows = readFileSync(retry, 'utf8').trim().split('\n').slice(1);
    assert.deepEqual(retryRows.map((l) => l.split(',')[2]), [users.a.name], 'the retry file names the host whose container failed');
    assert.match(readFileSync(page, 'utf8'), /<h1>octoscan-remote: 2 hosts, 1 ok, 1 failed<\/h1>/, 'the page counts it too');
    // The progress lines name each container's state as the rows do; an incomplete archive is flagged as a host's is.
    assert.match(run.stderr, new RegExp(`container ok docker ${ids.alpine.slice(0, 12)} ${names.alpine} \\(oct23-alpine\\) .* INCOMPLETE \\(no release file\\)`));
    assert.match(run.stderr, new RegExp(`container NOT-RUNNING docker ${ids.paused.slice(0, 12)} ${names.paused} `));
    // Alpine (no release file in its profile) and the hostile busybox (a release file, no package list; when it ends ok).
    assert.match(run.stderr, /\n\S+ 7 container rows: .*; 1 failed, [12] incomplete\n/);
  });

  test('Alpine and Debian: their own release files, package lists and JVM record byte for byte; container=True, exact name; the forged pod label does not reach configuration/host', () => {
    const { rows } = first;
    const fqdnOf = (u: TestUser): string => xmlOf(archives.get(String(rows.find((r) => r.user === u.name && !r.engine && !r.container_id)!.archive))!).fqdn;
    for (const [key, t, owner, tag] of [['alpine', alpine, users.a, 'docker-new'], ['debian', debian, users.b, 'docker-old']] as const) {
      const r = byName(rows, key);
      assert.equal(r.class, 'ok', `${names[key]}: ${r.message}`);
      const a = archives.get(String(r.archive))!;
      for (const [entry, want] of t.expect.contents) {
        if (/^(proc|sys)\//.test(entry)) continue; // the kernel's, mounted by the engine
        assert.ok(a.get(entry)?.equals(want.data), `${names[key]}: ${entry} byte for byte (${want.source})`);
      }
      const statics = a.entries.filter((e) => /^java\/static\/opt_\d+\/version$/.test(e.name)).map((e) => e.data);
      for (const j of t.expect.javaStatic) assert.ok(statics.some((d) => d.equals(j.record)), `${names[key]}: JVM record for ${j.path}`);
      if (t.expect.javaDefault) assert.ok(a.get('java/static/default_java/version')?.equals(t.expect.javaDefault), `${names[key]}: default java`);
      assert.deepEqual(xmlOf(a).configuration, [['tag', 'S', tag], ['machine', 'S', names[key]], ['host', 'S', fqdnOf(owner)], ['container', 'B', 'True']]);
      const scan = JSON.parse(a.get('octoscan-remote/scan.json')!.toString('utf8'));
      assert.equal(scan.container.id, r.container_id);
      assert.equal(scan.container.pod, undefined, 'no pod: the label value "hello,io.kubernetes.pod.name=spoofed" is one label');
      assert.match(scan.command, new RegExp(`^sudo -n /\\S+/docker exec -i ${r.container_id} /bin/sh -s$`));
      // The row has what a host's row has.
      assert.equal(r.entries, a.entries.length, `${names[key]}: entries`);
      const what = `${names[key]}: ${JSON.stringify({ release: r.release, package_list: r.package_list, completeness: r.completeness, skipped: r.skipped })}; entries ${a.entries.map((e) => e.name).filter((n) => /release|installed/.test(n)).join(' ')}`;
      // By the hosts' rules: the Alpine profile was recorded without a release file, so its container is flagged.
      const hasRelease = a.entries.some((e) => /^release(-usrlib)?\//.test(e.name));
      assert.equal(hasRelease, key === 'debian', what);
      assert.equal(r.release, hasRelease ? 'yes' : 'no', what);
      assert.equal(r.package_list, 'yes', what);
      assert.equal(r.completeness, hasRelease ? 'complete' : 'incomplete: no release file', what);
      assert.equal(typeof r.warning_ids, 'string');
    }
    assert.ok(archives.get(String(byName(rows, 'alpine').archive))!.get('apk/installed.txt'));
    assert.ok(archives.get(String(byName(rows, 'debian').archive))!.get('dpkg/installed.txt'));
  });

  test('no /bin/sh is no-shell with both clients (docker says so on standard output, exit 126), not a failure', () => {
    for (const k of ['noshellA', 'noshellB'] as const) {
      const r = byName(first.rows, k);
      assert.equal(r.class, 'no-shell', `${names[k]}: ${r.message}`);
      assert.equal(r.archive, '');
      assert.match(String(r.message), /no \/bin\/sh in the container .*\(engine: OCI runtime exec failed: .*stat \/bin\/sh: no such file or directory/);
    }
  });

  test('the paused container gets a not-running row and is never exec\'d; the listing asks dockerd for no sizes', () => {
    const r = byName(first.rows, 'paused');
    assert.equal(r.class, 'not-running', String(r.message));
    assert.match(String(r.message), /: paused: not entered/);
    assert.equal(dockerd.docker(['inspect', '--format', '{{.State.Status}}', names.paused]), 'paused');
    const log = dockerd.log();
    const calls = log.split('\n').filter((l) => /Calling [A-Z]+ /.test(l));
    const lists = calls.filter((l) => /\/containers\/json/.test(l));
    assert.ok(lists.length >= 2, `dockerd logged the listings of both clients: ${lists.length}`);
    assert.deepEqual(lists.filter((l) => /size=(1|true)/.test(l)), [], 'no listing asked for sizes');
    // The control: the log does carry the query, and {{json .}} (the old listing) does ask for sizes.
    dockerd.docker(['ps', '--no-trunc', '--format', '{{json .}}']);
    assert.ok(dockerd.log().split('\n').some((l) => /Calling GET \S*\/containers\/json\?\S*size=(1|true)/.test(l)), 'with {{json .}} the client asks for sizes');
    assert.deepEqual(calls.filter((l) => l.includes(`/containers/${ids.paused}/exec`) || l.includes(`/containers/${names.paused}/exec`)), [], 'no exec into the paused container');
    assert.ok(calls.some((l) => l.includes(`/containers/${ids.alpine}/exec`)), 'the exec calls are in the log (so their absence means something)');
  });

  test('the stalled container times out at its own deadline; the hostile one cannot escape the archive folder or forge its configuration', () => {
    const stall = byName(first.rows, 'stall');
    assert.match(String(stall.message), new RegExp(`per-container deadline of ${CONTAINER_TIMEOUT_S} s passed`));
    assert.ok(Number(stall.duration_ms) >= CONTAINER_TIMEOUT_S * 1000 - 500 && Number(stall.duration_ms) < CONTAINER_TIMEOUT_S * 1000 + 30_000, String(stall.duration_ms));
    const h = byName(first.rows, 'hostile');
    assert.ok(['ok', 'protocol'].includes(String(h.class)), `${h.class}: ${h.message}`);
    assert.ok(!existsSync('/tmp/octoscan-escaped'));
    if (h.archive) {
      const a = archives.get(String(h.archive))!;
      const entryNames = a.entries.map((e) => e.name);
      assert.equal(entryNames.filter((n) => n === 'octoscan.xml').length, 1);
      assert.ok(!entryNames.some((n) => n.split('/').some((seg) => seg === '..' || seg === '.' || seg === '')), entryNames.join(' '));
      assert.deepEqual(xmlOf(a).configuration.slice(1, 2), [['machine', 'S', names.hostile]]);
      assert.ok(!a.get('octoscan.xml')!.toString('utf8').includes('forged="yes"'));
    }
  });

  test('--transport openssh: the same rows through ssh', async () => {
    const { run, rows } = await sweep([target(users.b), '-i', users.b.keyPath, '--transport', 'openssh', '--sudo', '--containers', '--container-timeout', String(CONTAINER_TIMEOUT_S)]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(hostRow(rows).class, 'ok');
    assert.deepEqual(rows.filter((r) => r.container_id).map((r) => [r.container_name, r.class]).sort(), [[names.debian, 'ok'], [names.hostile, byName(rows, 'hostile').class], [names.noshellB, 'no-shell']].sort());
    assert.equal(byName(rows, 'debian').completeness, 'complete');
    assert.match(summaryOf(run), /^1 host: 1 ok, 0 failed in /);
  });

  test('--local --containers as root: the daemon reached through the shim first on PATH', async () => {
    const { run, rows } = await sweep(['--local', '--containers', '--container-timeout', String(CONTAINER_TIMEOUT_S)], { PATH: `${join(work, 'shims-local')}:${process.env.PATH}` });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(hostRow(rows).class, 'ok', String(hostRow(rows).message));
    assert.deepEqual(rows.filter((r) => r.container_id).map((r) => [r.container_name, r.class]).sort(), [[names.alpine, 'ok'], [names.paused, 'not-running']]);
    const a = archives.get(String(byName(rows, 'alpine').archive))!;
    assert.match(JSON.parse(a.get('octoscan-remote/scan.json')!.toString('utf8')).command, new RegExp(`^/\\S+/docker exec -i ${ids.alpine} /bin/sh -s$`));
  });

  test('a docker-group account without --sudo: its containers scanned; podman (root only) is a needs-root note naming --sudo, not a failure', async () => {
    const retry = join(work, 'retry-group.csv');
    const { run, rows } = await sweep([target(users.g), '-i', users.g.keyPath, '--containers', '--container-timeout', String(CONTAINER_TIMEOUT_S), '--retry-file', retry]);
    assert.equal(hostRow(rows).class, 'ok', String(hostRow(rows).message));
    assert.deepEqual(rows.filter((r) => r.container_id).map((r) => [r.container_name, r.class]).sort(), [[names.alpine, 'ok'], [names.noshellA, 'no-shell'], [names.paused, 'not-running']].sort());
    const a = archives.get(String(byName(rows, 'alpine').archive))!;
    assert.match(JSON.parse(a.get('octoscan-remote/scan.json')!.toString('utf8')).command, new RegExp(`^/\\S+/docker exec -i ${ids.alpine} /bin/sh -s$`), 'no sudo');
    const podman = rows.filter((r) => r.engine === 'podman' && !r.container_id);
    assert.deepEqual(podman.map((r) => r.class), ['needs-root'], run.stderr);
    assert.match(String(podman[0].message), /podman was not run: .*--sudo/);
    // One count: exit code, summary line and retry file agree that nothing failed.
    assert.equal(run.code, 0, run.stderr);
    assert.match(summaryOf(run), /^1 host: 1 ok, 0 failed in /);
    assert.equal(readFileSync(retry, 'utf8').trim().split('\n').length, 1, 'the retry file holds only its header');
  });

  test('--max-containers and --containers-timeout cut, and say so', async () => {
    const { run, rows } = await sweep([target(users.cut), '-i', users.cut.keyPath, '--sudo', '--containers', '--max-containers', '2', '--containers-timeout', '4', '--container-timeout', '60']);
    const ctr = rows.filter((r) => r.container_id);
    assert.equal(ctr.length, 3);
    // docker ps lists the newest first: cut3, cut2, cut1.
    assert.deepEqual(ctr.map((r) => [r.container_name, r.class]), [[names.cut3, 'timeout'], [names.cut2, 'skipped'], [names.cut1, 'skipped']]);
    assert.match(String(ctr[0].message), /the host's containers \(--containers-timeout\) deadline of 4 s passed/);
    assert.match(String(ctr[1].message), /not scanned: the host's --containers-timeout of 4 s passed before its turn/);
    assert.match(String(ctr[2].message), /not scanned: --max-containers 2 reached \(3 running on this host\)/);
    assert.match(run.stderr, /--max-containers 2: 1 of 3 running containers not scanned/);
    assert.match(run.stderr, /--containers-timeout 4 s passed: 1 container\(s\) not scanned/);
    assert.ok(Number(ctr[0].duration_ms) < 15_000, `the deadline for all of them, not the 60 s of one: ${ctr[0].duration_ms} ms`);
    assert.equal(run.code, 2, 'the container cut in flight is a timeout, a failure');
  });
});
