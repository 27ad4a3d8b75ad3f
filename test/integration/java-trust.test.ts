// Issue 20, target side: a root scan never hands root to anyone. Real sudo
// over the real sshd; a `java` compiled with gcc (test/helpers/fake-java.c)
// that prints the ids it ran under, owned by an unprivileged account, in a
// search folder and also running as a process, with secrets in its
// environment. The root-owned JDKs of this machine (/usr/lib/jvm) keep their
// normal records. Then the privilege drops that the scan does not pick on
// this machine (perl, busybox su), on real perl and real busybox, and the
// busybox path end to end in the emulated Alpine root.
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { XMLParser } from 'fast-xml-parser';
import { cliBuilt, readReport, runCli } from '../helpers/cli-sweep.js';
import { readArchive, type Archive } from '../helpers/fake-ssh-server.js';
import { buildProfileRoot, emulationUnavailable } from '../helpers/emulated-targets.js';
import { installSudoRules, type SudoRules } from '../helpers/sudoers.js';
import { createTestUser, sshdAvailable, startSshd, type Sshd, type TestUser } from '../helpers/sshd.js';
import { prelude, preludeDarwin, scriptSha256 } from '../../src/probe/script.js';
import { REDACTED_VALUE } from '../../src/scan/java-environ.js';

/** What _start does before the probes that these functions need (no steering: the script is still being read): fd 8 for the K records, who runs the scan. */
const PRELUDE_INIT = 'exec 8>&1; _who';
import { darwinProbes, linuxProbes } from '../../targets/index.js';

// fileURLToPath, not .pathname: a checkout path with a space would stay %20-encoded (issue 25).
const FAKE_JAVA_C = fileURLToPath(new URL('../helpers/fake-java.c', import.meta.url));
const haveGcc = spawnSync('gcc', ['--version']).status === 0;
const skip =
  (process.getuid?.() === 0 ? undefined : 'needs root (test users, sudoers, files owned by another account)') ??
  sshdAvailable() ??
  (existsSync('/usr/bin/sudo') ? undefined : '/usr/bin/sudo missing (apt-get install sudo)') ??
  (haveGcc ? undefined : 'gcc missing (apt-get install gcc)') ??
  (cliBuilt ? undefined : 'the CLI is not built');
if (skip) console.error(`\n*** SKIPPING java trust tests: ${skip} ***\n`);

const SECRETS = { DB_PASSWORD: 'pw-Secret-20a', API_TOKEN: 'tok-Secret-20b', DATABASE_URL: 'postgres://app:url-Secret-20c@db.example/x' };
const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (name) => name === 'info' || name === 'warning' });
const warningsOf = (a: Archive): { id: string; message: string }[] => parser.parse(a.get('octoscan.xml')!.toString('utf8')).octoscan.warning ?? [];

/** The Java records of an archive by their Path: line. */
function javaRecords(a: Archive): Map<string, { entry: string; text: string }> {
  const out = new Map<string, { entry: string; text: string }>();
  for (const e of a.entries) {
    if (!/^java\/(static|dynamic)\/[^/]+\/version$/.test(e.name)) continue;
    const text = e.data.toString('latin1');
    const path = /^Path:(.*)$/m.exec(text)?.[1] ?? '';
    out.set(`${e.name.startsWith('java/dynamic/') ? 'dynamic:' : ''}${path}`, { entry: e.name, text });
  }
  return out;
}
const ranAs = (text: string): string[] => [...text.matchAll(/^ran-as (.*)$/gm)].map((m) => m[1]);

describe('who runs a discovered java: real sudo, real sshd, a compiled java', { skip }, () => {
  let work: string;
  let base: string;
  let sshd: Sshd;
  let knownHosts: string;
  let scanner: TestUser;
  let owner: TestUser;
  let rules: SudoRules | undefined;
  let jvm: ChildProcess | undefined;
  let appJava: string;
  let rootJava: string;

  before(async () => {
    work = mkdtempSync('/tmp/octoscan-i20-');
    chmodSync(work, 0o755);
    execFileSync('gcc', ['-O', '-o', join(work, 'java'), FAKE_JAVA_C]);
    scanner = await createTestUser('oct20-scan');
    owner = await createTestUser('oct20-jowner');
    rules = installSudoRules('20-java', [scanner.name], [`${scanner.name} ALL=(root) NOPASSWD: /bin/sh -s`, `Defaults:${scanner.name} !requiretty`]);
    // Below /var/lib: root-owned folders all the way up, none writable by others (unlike /tmp).
    base = mkdtempSync('/var/lib/octoscan-i20-');
    chmodSync(base, 0o755);
    // The owner's application folder: its java, its release file.
    const app = join(base, 'app');
    mkdirSync(join(app, 'jdk', 'bin'), { recursive: true });
    appJava = join(app, 'jdk', 'bin', 'java');
    copyFileSync(join(work, 'java'), appJava);
    chmodSync(appJava, 0o755);
    writeFileSync(join(app, 'jdk', 'release'), 'IMPLEMENTOR="Test Owner"\nJAVA_RUNTIME_VERSION="0.0.1+1"\nJAVA_VERSION="0.0.1-fake"\n');
    // A root-owned java inside that folder: its owner is root, but the owner of the folder can replace it.
    mkdirSync(join(app, 'rootjdk', 'bin'), { recursive: true });
    rootJava = join(app, 'rootjdk', 'bin', 'java');
    copyFileSync(join(work, 'java'), rootJava);
    chmodSync(rootJava, 0o755);
    for (const p of [app, join(app, 'jdk'), join(app, 'jdk', 'bin'), appJava, join(app, 'jdk', 'release')]) chownSync(p, owner.uid, owner.gid);
    for (const p of [app, join(app, 'jdk'), join(app, 'jdk', 'bin')]) chmodSync(p, 0o755);
    // The same binary running as a JVM of the owner's, secrets in its environment.
    jvm = spawn('setpriv', [`--reuid=${owner.uid}`, `--regid=${owner.gid}`, '--clear-groups', '--', appJava, '-jar', 'app.jar'], {
      env: { JAVA_HOME: join(app, 'jdk'), PATH: '/usr/bin:/bin', ...SECRETS },
      stdio: 'ignore',
    });
    sshd = await startSshd({ users: [scanner] });
    knownHosts = join(work, 'known_hosts');
    await sshd.writeKnownHosts(knownHosts);
    // The process is up and named java before any scan looks for it.
    for (let i = 0; i < 50 && readFileSafe(`/proc/${jvm.pid}/comm`).trim() !== 'java'; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(readFileSafe(`/proc/${jvm.pid}/comm`).trim(), 'java');
  });
  after(async () => {
    jvm?.kill('SIGKILL');
    rules?.remove();
    await sshd?.stop();
    if (base) rmSync(base, { recursive: true, force: true });
    if (work) rmSync(work, { recursive: true, force: true });
  });

  async function scan(extra: string[]): Promise<{ archive: Archive; row: Record<string, unknown>; stderr: string }> {
    const tag = randomBytes(3).toString('hex');
    const hosts = join(work, `hosts-${tag}.csv`);
    writeFileSync(hosts, `host,port,user,identity\n127.0.0.1,${sshd.port},${scanner.name},${scanner.keyPath}\n`);
    const out = mkdtempSync(join(work, 'out-'));
    const report = join(work, `report-${tag}.csv`);
    const r = await runCli(['--hosts', hosts, '--out', out, '--known-hosts', knownHosts, '--report', report, '--java-dir', base, ...extra], {
      env: { ...process.env, SSH_AUTH_SOCK: '' },
    });
    const rows = readReport(report) as unknown as Record<string, unknown>[];
    assert.equal(rows.length, 1, r.stderr);
    assert.equal(rows[0].class, 'ok', `${String(rows[0].message)}\n${r.stderr}`);
    return { archive: await readArchive(String(rows[0].archive)), row: rows[0], stderr: r.stderr };
  }

  /** The root-owned JDKs of this machine: normal records, whoever scans. */
  function assertSystemJdks(recs: Map<string, { text: string }>): void {
    const system = [...recs].filter(([p]) => p.startsWith('/usr/lib/jvm/'));
    assert.ok(system.length > 0, `a root-owned JDK under /usr/lib/jvm is recorded: ${[...recs.keys()].join(', ')}`);
    for (const [p, r] of system) {
      assert.match(r.text, /^(openjdk|java) version "/m, `${p}: its own version banner`);
      assert.doesNotMatch(r.text, /NOT RUN|FAILED/, p);
    }
  }

  test('root scan: the account\'s java runs as that account, its JVM as its process, a root-owned file in its folder not at all', async () => {
    const { archive, row } = await scan(['--sudo']);
    const recs = javaRecords(archive);
    const ids = `uid=${owner.uid} euid=${owner.uid} suid=${owner.uid} gid=${owner.gid} egid=${owner.gid} sgid=${owner.gid} groups= env=0`;
    assert.deepEqual(ranAs(recs.get(appJava)!.text), [ids], 'the owner: uid, primary gid, no supplementary groups, empty environment');
    const dyn = recs.get(`dynamic:${appJava}`);
    assert.ok(dyn, `the running JVM is recorded: ${[...recs.keys()].join(', ')}`);
    assert.equal(dyn.entry, `java/dynamic/${jvm!.pid}/version`);
    assert.deepEqual(ranAs(dyn.text), [ids], 'the process\'s uid and gid');
    // Root-owned, but in a folder the account can change: never run as root.
    const rootRec = recs.get(rootJava)!.text;
    assert.match(rootRec, new RegExp(`^NOT RUN: java -version not run for '${rootJava}': not trusted \\(${base}/app: owner uid ${owner.uid}.*is root: it would run as root$`, 'm'));
    assert.deepEqual(ranAs(rootRec), []);
    // Nothing anywhere ran as any other uid than the owner's.
    for (const e of archive.entries) for (const line of ranAs(e.data.toString('latin1'))) assert.ok(line.startsWith(`uid=${owner.uid} euid=${owner.uid} `), `${e.name}: ${line}`);
    const w = warningsOf(archive).filter((x) => x.id === '2003');
    assert.ok(w.some((x) => x.message.startsWith(`java -version not run for '${rootJava}': not trusted (${base}/app: owner uid ${owner.uid}`)), JSON.stringify(w));
    assertSystemJdks(recs);
    // The environ: every variable, no secret.
    const env = archive.get(`java/dynamic/${jvm!.pid}/environ`)!.toString('latin1');
    for (const s of Object.values(SECRETS)) assert.ok(!env.includes(s), `the archive environ holds no ${s}`);
    for (const e of archive.entries) for (const s of Object.values(SECRETS)) assert.ok(!e.data.includes(s), `${e.name} holds no ${s}`);
    assert.ok(env.split('\0').includes(`JAVA_HOME=${base}/app/jdk`), env);
    for (const k of Object.keys(SECRETS)) assert.ok(env.split('\0').includes(`${k}=${REDACTED_VALUE}`), k);
    // Evidence: the hash of the script as `script --java-dir <base>` prints it, in scan.json and the report.
    const sj = JSON.parse(archive.get('octoscan-remote/scan.json')!.toString('utf8'));
    const sha = scriptSha256({ linux: linuxProbes, darwin: darwinProbes }, [base]);
    assert.equal(sj.script_sha256, sha);
    assert.deepEqual(sj.script_options, { java_dir: [base] });
    assert.equal(sj.java_environ, 'redacted');
    assert.equal(row.script_sha256, sha);
  });

  test('unprivileged scan: the account\'s java does not run; the record says why, the release file gives the version', async () => {
    const { archive } = await scan([]);
    const recs = javaRecords(archive);
    const rec = recs.get(appJava)!.text;
    assert.match(rec, new RegExp(`^NOT RUN: java -version not run for '${appJava}': not trusted \\(${appJava}: owner uid ${owner.uid};.* and this scan runs as uid ${scanner.uid}: only root can run it as its owner$`, 'm'));
    assert.match(rec, /^JAVA_VERSION="0\.0\.1-fake"$/m);
    assert.match(rec, /^IMPLEMENTOR="Test Owner"$/m);
    assert.doesNotMatch(rec, /JAVA_RUNTIME_VERSION/, 'only the two keys');
    for (const e of archive.entries) assert.deepEqual(ranAs(e.data.toString('latin1')), [], `${e.name}: nothing ran`);
    assert.ok(!recs.has(`dynamic:${appJava}`), 'another account\'s JVM is not seen without root');
    const w = warningsOf(archive).filter((x) => x.id === '2003');
    assert.ok(w.some((x) => x.message.startsWith(`java -version not run for '${appJava}': not trusted (${appJava}: owner uid ${owner.uid}`)), JSON.stringify(w));
    assertSystemJdks(recs);
  });

  test('--java-environ full keeps what the JVM had (so the redaction above is real); none leaves the entry out', async () => {
    const full = await scan(['--sudo', '--java-environ', 'full']);
    const env = full.archive.get(`java/dynamic/${jvm!.pid}/environ`)!.toString('latin1');
    for (const [k, v] of Object.entries(SECRETS)) assert.ok(env.split('\0').includes(`${k}=${v}`), k);
    const none = await scan(['--sudo', '--java-environ', 'none']);
    assert.equal(none.archive.get(`java/dynamic/${jvm!.pid}/environ`), undefined);
    assert.ok(none.archive.get(`java/dynamic/${jvm!.pid}/cmdline`), 'the rest of the JVM record stays');
    assert.equal(JSON.parse(none.archive.get('octoscan-remote/scan.json')!.toString('utf8')).java_environ, 'none');
  });

  test('the macOS record (bash, as /bin/sh on a Mac): an untrusted Java 9+ home runs as its owner through perl, as a Mac has no setpriv; a root-owned one in its folder not at all', () => {
    for (const home of [join(base, 'app', 'jdk'), join(base, 'app', 'rootjdk')]) {
      mkdirSync(join(home, 'lib'), { recursive: true });
      for (const f of ['modules', 'libjava.dylib']) writeFileSync(join(home, 'lib', f), '');
    }
    for (const p of [join(base, 'app', 'jdk', 'lib'), join(base, 'app', 'jdk', 'lib', 'modules'), join(base, 'app', 'jdk', 'lib', 'libjava.dylib')]) chownSync(p, owner.uid, owner.gid);
    const token = '@@OCTO:00000000000000000000000000000000@@';
    const script = `_T='${token}'\n${prelude()}\n${preludeDarwin()}\n${PRELUDE_INIT}\n_jdt=perl\n_mac_java_record j java/static/opt_1/version '${appJava}' 262145\n_mac_java_record j java/static/opt_2/version '${rootJava}' 262145\n`;
    const r = spawnSync('bash', ['--posix', '-s'], { input: script, encoding: 'latin1', env: { PATH: '/usr/bin:/bin', DB_PASSWORD: 'leak' } });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(ranAs(r.stdout), [`uid=${owner.uid} euid=${owner.uid} suid=${owner.uid} gid=${owner.gid} egid=${owner.gid} sgid=${owner.gid} groups=${owner.gid} env=0`], r.stdout);
    assert.match(r.stdout, new RegExp(`^Path:${rootJava}\nVariant:JRE\nFeatures:\nNOT RUN: java -version not run for '${rootJava}': not trusted \\(${base}/app: owner uid ${owner.uid}.*it would run as root\n\n\\S+ E 0\n\n\\S+ W 2003 java -version not run for '${rootJava}'`, 'm'));
  });

  // The drops this machine's scans do not pick (it has util-linux setpriv), run
  // by the real prelude on real perl and real busybox, as root.
  for (const [tool, shell] of [['perl', 'dash'], ['su', 'busybox']] as const) {
    test(`the ${tool} drop (as a root scan without setpriv would use it), on ${shell}`, () => {
      const token = '@@OCTO:00000000000000000000000000000000@@';
      const script = `_T='${token}'\n${prelude()}\n${PRELUDE_INIT}\n_jdt=${tool}\n_java_record p java/static/opt_1/version '${appJava}' 262145\n_java_record p java/static/opt_2/version '${rootJava}' 262145\n`;
      const args = shell === 'busybox' ? ['busybox', ['sh', '-s']] as const : ['dash', ['-s']] as const;
      const r = spawnSync(args[0], [...args[1]], { input: script, encoding: 'latin1', env: { PATH: '/usr/bin:/bin', DB_PASSWORD: 'leak' } });
      assert.equal(r.status, 0, r.stderr);
      const groups = tool === 'perl' ? `${owner.gid}` : spawnSync('id', ['-G', owner.name], { encoding: 'utf8' }).stdout.trim().split(' ').join(',');
      assert.deepEqual(ranAs(r.stdout), [`uid=${owner.uid} euid=${owner.uid} suid=${owner.uid} gid=${owner.gid} egid=${owner.gid} sgid=${owner.gid} groups=${groups} env=0`], r.stdout);
      assert.match(r.stdout, /is root: it would run as root/);
    });
  }
});

describe('the busybox drop end to end in the emulated Alpine root (busybox ash, busybox tools, no setpriv --reuid, no perl)', { skip: skip ?? emulationUnavailable() }, () => {
  test('root runs the script there: an account\'s java runs as that account through busybox su, a root-owned one in its folder not at all', () => {
    const work = mkdtempSync('/var/lib/octoscan-i20-alpine-');
    try {
      chmodSync(work, 0o755);
      const root = join(work, 'root');
      buildProfileRoot('alpine-3.18', root);
      appendFileSync(join(root, 'etc', 'passwd'), 'appown:x:4321:4321:app:/nonexistent:/sbin/nologin\n');
      appendFileSync(join(root, 'etc', 'group'), 'appown:x:4321:\nextra:x:4400:appown\n');
      // A java as Alpine's busybox tools would see one: a shell script printing its ids.
      // (su sets USER and HOME, the scan's shell had DB_PASSWORD: env -i must have cleared them.)
      const fake = '#!/bin/sh\necho "ran-as uid=$(id -u) gid=$(id -g) groups=$(id -G) db=${DB_PASSWORD:-unset} user=${USER:-unset} home=${HOME:-unset}" >&2\n';
      for (const [dir, uid] of [['opt/app/jdk/bin', 4321], ['opt/app/rootjdk/bin', 0]] as const) {
        mkdirSync(join(root, dir), { recursive: true });
        writeFileSync(join(root, dir, 'java'), fake, { mode: 0o755 });
        chownSync(join(root, dir, 'java'), uid, uid);
      }
      for (const d of ['opt/app', 'opt/app/jdk', 'opt/app/jdk/bin']) chownSync(join(root, d), 4321, 4321);
      const token = '@@OCTO:00000000000000000000000000000000@@';
      const script = `_T='${token}'\n${prelude()}\n${PRELUDE_INIT}\n_java_record p java/static/opt_1/version /opt/app/jdk/bin/java 262145\n_java_record p java/static/opt_2/version /opt/app/rootjdk/bin/java 262145\n_r I dropper "$_jdt"\n`;
      const r = spawnSync('/usr/sbin/chroot', [root, '/bin/sh', '-s'], { input: script, encoding: 'latin1', env: { PATH: '/usr/bin:/bin', DB_PASSWORD: 'leak' } });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`${token.replace(/[$@]/g, '\\$&')} I dropper su$`, 'm'), 'busybox su was the way found');
      // su: the account's uid and primary gid, with its own groups (its /etc/group entries), the environment emptied by env -i.
      assert.deepEqual(ranAs(r.stdout), ['uid=4321 gid=4321 groups=4321 4400 db=unset user=unset home=unset'], r.stdout);
      assert.match(r.stdout, /NOT RUN: java -version not run for '\/opt\/app\/rootjdk\/bin\/java': not trusted \(\/opt\/app: owner uid 4321.*is root: it would run as root/);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});

function readFileSafe(p: string): string {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return '';
  }
}
