// Issue 17, containers: a loopback sweep of a few hosts with --containers
// against a real OpenSSH sshd, real sudo and a real engine (podman with runc).
// Images are imported from the recorded fixture profiles (Alpine, Debian with
// a JVM), plus one without /bin/sh, one whose shell stalls, and a hostile one
// that forges frames with the real token. Each test host is a user of its own
// on 127.0.0.1 whose sudo secure_path puts a shim folder first: host A sees
// podman (only its own containers), host B a docker and host C a crictl that
// answer `ps` in the real tools' documented formats and hand `exec -i` to
// podman. The real docker client on this machine (no daemon) is found too,
// and must be taken as "not running", not as a failure.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { XMLParser } from 'fast-xml-parser';
import { cliBuilt, runCli, type CliRun } from '../helpers/cli-sweep.js';
import { PLACEHOLDER_TOKEN } from '../../src/cli/script-command.js';
import { DOCKER_TEMPLATE, listingScript } from '../../src/containers/engines.js';
import { readArchive, type Archive } from '../helpers/fake-ssh-server.js';
import { FIXTURES_DIR, type EmulatedTarget } from '../helpers/emulated-targets.js';
import { installSudoRules, type SudoRules } from '../helpers/sudoers.js';
import { createTestUser, sshdAvailable, startSshd, type Sshd, type TestUser } from '../helpers/sshd.js';
import {
  buildContainerRoots, CONTAINER_ROOTS, crictlShim, dockerShim, importImage, podmanShim, podmanUnavailable, removeContainers,
  removeImages, removeStaleTestObjects, runContainer, runId, TEST_LABEL, writeShim,
} from '../helpers/containers.js';

const PROFILES = ['alpine-3.18', 'debian-10'];
const missingFixtures = PROFILES.find((p) => !existsSync(join(FIXTURES_DIR, p)));
const skip =
  sshdAvailable() ??
  (cliBuilt ? undefined : 'the CLI is not built (npm run build)') ??
  (existsSync('/usr/bin/sudo') ? undefined : '/usr/bin/sudo missing (apt-get install sudo)') ??
  (existsSync('/usr/bin/python3') ? undefined : 'python3 missing (the docker and crictl shims)') ??
  (missingFixtures ? `fixture profile ${missingFixtures} not found in ${FIXTURES_DIR} (set OCTOSCAN_FIXTURES_DIR)` : undefined) ??
  podmanUnavailable();
if (skip) console.error(`\n*** SKIPPING container tests: ${skip} ***\n`);

const CONTAINER_TIMEOUT_S = 40;
const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (name) => name === 'info' || name === 'warning' });

interface Row {
  host: string;
  user: string;
  class: string;
  phase: string;
  message: string;
  archive: string;
  duration_ms: number;
  engine: string;
  container_id: string;
  container_name: string;
  image: string;
}

function xmlOf(a: Archive): { fqdn: string; configuration: [string, string, string][] } {
  const doc = parser.parse(a.get('octoscan.xml')!.toString('utf8')).octoscan;
  return { fqdn: doc.fqdn, configuration: doc.configuration.info.map((i: { name: string; type: string; value: string }) => [i.name, i.type, i.value]) };
}

describe('--containers: hosts and their containers over one connection', { skip, timeout: 600_000 }, () => {
  const id = runId();
  const names = { alpine: `alp-${id}`, noshell: `distroless-${id}`, stall: `stall-${id}`, debian: `deb-${id}`, hostile: `hostile-${id}`, cri: `cri-${id}` };
  const images: string[] = [];
  let work: string;
  let sshd: Sshd;
  let knownHosts: string;
  let alpine: EmulatedTarget;
  let debian: EmulatedTarget;
  const ids: Record<string, string> = {};
  const users: Record<'a' | 'b' | 'c', TestUser> = {} as never;
  let sudoRules: SudoRules | undefined;
  let run: CliRun;
  let rows: Row[];
  const archives = new Map<string, Archive>();

  before(async () => {
    work = mkdtempSync('/tmp/octoscan-containers-');
    execFileSync('chmod', ['755', work]);
    removeStaleTestObjects();
    ({ alpine, debian } = buildContainerRoots(work));
    for (const n of CONTAINER_ROOTS) images.push(importImage(join(work, `root-${n}`), `octoscan-test-17-${n}-${id}`));
    const [imgAlpine, imgDebian, imgNoShell, imgStall, imgHostile] = images;
    const host = (h: string): Record<string, string> => ({ [`${TEST_LABEL}-host`]: `${h}-${id}` });
    ids.alpine = runContainer(imgAlpine, { name: names.alpine, labels: host('a') });
    ids.noshell = runContainer(imgNoShell, { name: names.noshell, labels: host('a'), command: ['/sleep', '100000'] });
    ids.stall = runContainer(imgStall, { name: names.stall, labels: host('a'), command: ['/bin/busybox', 'sleep', '100000'] });
    ids.debian = runContainer(imgDebian, { name: names.debian, labels: host('b') });
    ids.hostile = runContainer(imgHostile, { name: names.hostile, labels: host('b'), command: ['/bin/busybox', 'sleep', '100000'] });
    ids.cri = runContainer(imgAlpine, {
      name: names.cri,
      labels: { ...host('c'), 'io.kubernetes.pod.name': 'web-7d4b9c-x2x9q', 'io.kubernetes.pod.namespace': 'shop', 'io.kubernetes.container.name': 'app' },
    });

    // One shim folder per test host, first on root's PATH through that user's secure_path.
    const nobody = `label=${TEST_LABEL}-host=nobody`;
    const shims = { a: join(work, 'shims-a'), b: join(work, 'shims-b'), c: join(work, 'shims-c') };
    writeShim(shims.a, 'podman', podmanShim(`${TEST_LABEL}-host=a-${id}`));
    writeShim(shims.b, 'podman', podmanShim(nobody.slice(6)));
    writeShim(shims.b, 'docker', dockerShim(`${TEST_LABEL}-host=b-${id}`));
    writeShim(shims.c, 'podman', podmanShim(nobody.slice(6)));
    writeShim(shims.c, 'crictl', crictlShim(`${TEST_LABEL}-host=c-${id}`));
    users.a = await createTestUser('oct17-podman');
    users.b = await createTestUser('oct17-docker');
    users.c = await createTestUser('oct17-crictl');
    const rules = (['a', 'b', 'c'] as const).flatMap((k) => [
      `Defaults:${users[k].name} secure_path="${shims[k]}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"`,
      `${users[k].name} ALL=(root) NOPASSWD: ALL`,
    ]);
    sudoRules = installSudoRules('17-containers', Object.values(users).map((u) => u.name), rules);
    sshd = await startSshd({ users: Object.values(users), addresses: ['127.0.0.1', '127.0.0.2'] });
    knownHosts = join(work, 'known_hosts');
    await sshd.writeKnownHosts(knownHosts);

    // Host D: no containers, but its own configuration values from the hosts file.
    const hosts = join(work, 'hosts.csv');
    const line = (addr: string, u: TestUser, rest: string): string => `${addr},${sshd.port},${u.name},${u.keyPath},${rest}`;
    writeFileSync(hosts, [
      'host,port,user,identity,containers,cluster,machine,config_host,virt,tag',
      line('127.0.0.1', users.a, 'yes,prod-eu,,,,podman-host'),
      line('127.0.0.1', users.b, 'yes,,,,,docker-host'),
      line('127.0.0.1', users.c, 'yes,k8s-1,,,,crictl-host'),
      line('127.0.0.2', users.a, 'no,dc1,vm-42,hv01.example.com,kvm,plain-host'),
    ].join('\n') + '\n');
    const out = mkdtempSync(join(work, 'out-'));
    const report = join(work, 'report.csv');
    const retry = join(work, 'retry.csv');
    run = await runCli(
      ['--hosts', hosts, '--out', out, '--known-hosts', knownHosts, '--report', report, '--retry-file', retry, '--json', '--sudo', '-j', '4',
        '--container-timeout', String(CONTAINER_TIMEOUT_S)],
      { env: { ...process.env, SSH_AUTH_SOCK: '' }, killAfterMs: 400_000 },
    );
    rows = run.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Row);
    for (const r of rows) if (r.archive) archives.set(r.archive, await readArchive(r.archive));
    const c = rows.filter((r) => r.container_id);
    console.error(`containers: ${c.length} rows, ${c.filter((r) => r.class === 'ok').length} scanned; wall ${(run.wallMs / 1000).toFixed(1)} s; ` +
      c.map((r) => `${r.container_name}=${r.class} ${(r.duration_ms / 1000).toFixed(1)} s`).join(', '));
    writeFileSync(join(work, 'stderr.txt'), run.stderr);
  });

  after(async () => {
    sudoRules?.remove();
    await sshd?.stop();
    removeContainers(Object.values(names));
    removeImages(images);
    if (work && !process.env.OCTOSCAN_KEEP) rmSync(work, { recursive: true, force: true });
  });

  const rowOf = (name: string): Row => {
    const key = Object.entries(names).find(([, n]) => n === name)?.[0];
    const r = rows.find((x) => x.container_id && x.container_id === ids[key ?? '']);
    assert.ok(r, `a report row for container ${name}; rows: ${JSON.stringify(rows.map((x) => [x.user, x.container_name, x.class]))}\n${run.stderr}`);
    return r;
  };
  const hostRow = (u: TestUser, addr = '127.0.0.1'): Row => rows.find((x) => x.user === u.name && x.host === addr && !x.container_id && !x.engine)!;

  test('every host ok, one row per container, the exit code and the retry file name the host whose container failed', () => {
    assert.equal(run.code, 2, `the stalled container is a failure: ${run.stderr}`);
    for (const [u, addr] of [[users.a, '127.0.0.1'], [users.b, '127.0.0.1'], [users.c, '127.0.0.1'], [users.a, '127.0.0.2']] as const) {
      const r = hostRow(u, addr);
      assert.equal(r?.class, 'ok', `${u.name}@${addr}: ${r?.message}`);
    }
    assert.equal(rows.filter((r) => r.engine && !r.container_id).length, 0, `no engine failures (the daemon-less docker client is "not running"): ${run.stderr}`);
    assert.deepEqual(rows.filter((r) => r.container_id).map((r) => r.container_id).sort(), Object.values(ids).sort(), 'each container once');
    assert.deepEqual(rows.filter((r) => r.container_id && r.engine !== 'crictl').map((r) => r.container_name).sort(), Object.values(names).filter((n) => n !== names.cri).sort());
    for (const [k, n] of Object.entries(names)) assert.equal(rowOf(n).container_id, ids[k], `${n}: the full id`);
    assert.equal(rowOf(names.alpine).engine, 'podman');
    assert.equal(rowOf(names.debian).engine, 'docker');
    assert.equal(rowOf(names.cri).engine, 'crictl');
    assert.equal(rowOf(names.cri).container_name, 'app', 'crictl: the container name from its metadata');
    assert.match(rowOf(names.alpine).image, /^localhost\/octoscan-test-17-alpine-/);
    // The CSV report holds the same rows, the container columns last.
    const csv = readFileSync(join(work, 'report.csv'), 'utf8').split('\n');
    assert.match(csv[0], /,carried_over,engine,container_id,container_name,image,upload,address,script_sha256,os_family,os_name,os_version,java$/);
    assert.equal(csv.filter(Boolean).length, rows.length + 1);
    const retry = readFileSync(join(work, 'retry.csv'), 'utf8').trim().split('\n');
    assert.equal(retry[0], 'host,port,user,identity,containers,cluster,machine,config_host,virt,tag');
    const failedHosts = new Set(rows.filter((r) => r.class !== 'ok' && r.class !== 'no-shell').map((r) => r.user));
    assert.ok(failedHosts.has(users.a.name));
    assert.equal(retry.length - 1, failedHosts.size, `one retry row per host with a failure: ${retry.join(' | ')}`);
    assert.ok(retry.some((l) => l.includes(users.a.name) && l.startsWith('127.0.0.1,')));
  });

  test('the Alpine and Debian containers: their own release files, package lists and JVM records, container configuration', () => {
    const hostFqdn = (u: TestUser): string => xmlOf(archives.get(hostRow(u).archive)!).fqdn;
    for (const [name, t, owner, cluster] of [[names.alpine, alpine, users.a, 'prod-eu'], [names.debian, debian, users.b, undefined]] as const) {
      const r = rowOf(name);
      assert.equal(r.class, 'ok', `${name}: ${r.message}`);
      assert.match(r.archive, /\/[0-9a-f-]{36}\.scal$/);
      const a = archives.get(r.archive)!;
      for (const [entry, want] of t.expect.contents) {
        // The engine mounts the kernel's /proc and /sys over the image's: those come from the host's kernel.
        if (/^(proc|sys)\//.test(entry)) continue;
        assert.ok(a.get(entry), `${name}: ${entry} (${want.source})`);
        assert.ok(a.get(entry)!.equals(want.data), `${name}: ${entry} byte for byte (${want.source})`);
      }
      assert.ok(t.expect.javaStatic.length > 0, `${name}: a JVM placed`);
      const statics = a.entries.filter((e) => /^java\/static\/opt_\d+\/version$/.test(e.name)).map((e) => e.data);
      for (const j of t.expect.javaStatic) assert.ok(statics.some((d) => d.equals(j.record)), `${name}: JVM record for ${j.path}`);
      if (t.expect.javaDefault) assert.ok(a.get('java/static/default_java/version')?.equals(t.expect.javaDefault), `${name}: default java`);
      const x = xmlOf(a);
      const want: [string, string, string][] = [['tag', 'S', owner === users.a ? 'podman-host' : 'docker-host'], ['machine', 'S', name], ['host', 'S', hostFqdn(owner)]];
      if (cluster) want.push(['cluster', 'S', cluster]);
      want.push(['container', 'B', 'True']);
      assert.deepEqual(x.configuration, want, `${name}: configuration in the spec's order`);
      const scan = JSON.parse(a.get('octoscan-remote/scan.json')!.toString('utf8'));
      assert.equal(scan.container.id, r.container_id);
      assert.match(scan.command, new RegExp(`^sudo -n /\\S+/(podman|docker) exec -i ${r.container_id} /bin/sh -s$`));
      const osRelease = join(FIXTURES_DIR, t.name, 'etc/os-release');
      if (existsSync(osRelease)) assert.equal(a.get('release/os-release')?.toString('utf8'), readFileSync(osRelease, 'utf8'), `${name}: the container's own os-release, not the host's`);
      else assert.equal(a.get('release/os-release'), undefined, `${name}: the profile has no os-release, and the host's does not leak in`);
    }
    assert.ok(archives.get(rowOf(names.alpine).archive)!.get('apk/installed.txt'), 'Alpine: apk list');
    assert.ok(archives.get(rowOf(names.debian).archive)!.get('dpkg/installed.txt'), 'Debian: dpkg list');
  });

  test('crictl: the pod name from the CRI labels is configuration/host', () => {
    const r = rowOf(names.cri);
    assert.equal(r.class, 'ok', r.message);
    const a = archives.get(r.archive)!;
    assert.deepEqual(xmlOf(a).configuration, [['tag', 'S', 'crictl-host'], ['machine', 'S', 'app'], ['host', 'S', 'web-7d4b9c-x2x9q'], ['cluster', 'S', 'k8s-1'], ['container', 'B', 'True']]);
    assert.ok(a.get('apk/installed.txt'));
  });

  test('a container without /bin/sh is classified no-shell, with no archive', () => {
    const r = rowOf(names.noshell);
    assert.equal(r.class, 'no-shell', r.message);
    assert.equal(r.archive, '');
    assert.match(r.message, /no \/bin\/sh in the container/);
  });

  test('the stalled container is timeout, at its own deadline, and the others on its host finished', () => {
    const r = rowOf(names.stall);
    assert.equal(r.class, 'timeout', r.message);
    assert.match(r.message, new RegExp(`per-container deadline of ${CONTAINER_TIMEOUT_S} s passed|did not start within`));
    assert.ok(r.duration_ms >= CONTAINER_TIMEOUT_S * 1000 - 500 && r.duration_ms < CONTAINER_TIMEOUT_S * 1000 + 30_000, `${r.duration_ms} ms`);
    assert.equal(rowOf(names.alpine).class, 'ok');
  });

  test('the hostile container cannot escape the archive folder, overwrite octoscan.xml or forge its configuration', () => {
    const r = rowOf(names.hostile);
    assert.ok(['ok', 'protocol'].includes(r.class), `${r.class}: ${r.message}`);
    assert.ok(!existsSync('/tmp/octoscan-escaped'), 'nothing written on the controller outside the output folder');
    if (r.archive) {
      const a = archives.get(r.archive)!; // readArchive checked every entry stays below <uuid>/
      const entryNames = a.entries.map((e) => e.name);
      assert.equal(new Set(entryNames).size, entryNames.length, 'no entry twice');
      assert.equal(entryNames.filter((n) => n === 'octoscan.xml').length, 1);
      assert.ok(!entryNames.some((n) => n.split('/').some((seg) => seg === '..' || seg === '.' || seg === '')), entryNames.join(' '));
      const x = xmlOf(a);
      assert.deepEqual(x.configuration.slice(1), [['machine', 'S', names.hostile], ['host', 'S', xmlOf(archives.get(hostRow(users.b).archive)!).fqdn], ['container', 'B', 'True']]);
      assert.ok(!a.get('octoscan.xml')!.toString('utf8').includes('forged="yes"'));
      // Each forged name is refused by name, as a warning in the archive, and the rest of the scan is kept.
      const warnings = (parser.parse(a.get('octoscan.xml')!.toString('utf8')).octoscan.warning ?? []).map((w: { id: string; message: string }) => `${w.id} ${w.message}`);
      for (const n of ['../../../../tmp/octoscan-escaped', '/etc/passwd', 'octoscan.xml', '..']) {
        assert.ok(warnings.includes(`9001 Exception: probe release announced entry "${n}" outside release/`), `${n}: ${warnings.join(' | ')}`);
      }
      assert.ok(a.get('release/os-release')?.toString('utf8').includes('busybox test image'), 'the real script ran after the forgeries');
    }
  });

  test('a plain host scan writes its configuration values from the hosts file, in the spec order', () => {
    const r = hostRow(users.a, '127.0.0.2');
    const a = archives.get(r.archive)!;
    assert.deepEqual(xmlOf(a).configuration, [['tag', 'S', 'plain-host'], ['machine', 'S', 'vm-42'], ['host', 'S', 'hv01.example.com'], ['cluster', 'S', 'dc1'], ['virt', 'S', 'kvm']]);
    assert.equal(rows.filter((x) => x.host === '127.0.0.2').length, 1, 'containers=no: no container rows');
    // The hosts with containers keep a plain configuration of their own (no values given).
    assert.deepEqual(xmlOf(archives.get(hostRow(users.b).archive)!).configuration, [['tag', 'S', 'docker-host']]);
    assert.deepEqual(xmlOf(archives.get(hostRow(users.a).archive)!).configuration, [['tag', 'S', 'podman-host'], ['cluster', 'S', 'prod-eu']]);
  });
});

describe('script --containers: what a container scan runs, for the people who approve it', { skip: cliBuilt ? undefined : 'the CLI is not built' }, () => {
  test('standard output is the listing script as sent (placeholder token); --list names each engine command', async () => {
    const r = await runCli(['script', '--containers', '--sudo']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, listingScript(PLACEHOLDER_TOKEN));
    assert.match(r.stderr, /exec `sudo -n <engine path> exec -i <id> \/bin\/sh -s`/);
    const l = await runCli(['script', '--list', '--containers']);
    for (const c of [`docker ps --no-trunc --format '${DOCKER_TEMPLATE}'`, 'podman ps --no-trunc --format json', 'crictl ps -o json']) assert.ok(l.stdout.includes(c), c);
  });
});

describe('ad-hoc configuration values (no hosts file)', { skip: cliBuilt ? undefined : 'the CLI is not built' }, () => {
  test('--tag, --machine, --config-host, --cluster, --virt go into octoscan.xml in the spec order; a control character is refused', async () => {
    const out = mkdtempSync('/tmp/octoscan-adhoc-');
    try {
      const r = await runCli(['--local', '--out', out, '--tag', 'adhoc run', '--virt', 'kvm', '--cluster', 'c1', '--machine', 'erp-7', '--config-host', 'esx04']);
      assert.equal(r.code, 0, r.stderr);
      const a = await readArchive(r.stdout.trim());
      assert.deepEqual(xmlOf(a).configuration, [['tag', 'S', 'adhoc run'], ['machine', 'S', 'erp-7'], ['host', 'S', 'esx04'], ['cluster', 'S', 'c1'], ['virt', 'S', 'kvm']]);
      const bad = await runCli(['--local', '--out', out, '--cluster', 'a\nb']);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /--cluster must not contain control characters other than tab, got "a\\nb"/);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
