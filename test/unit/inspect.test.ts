// `octoscan-remote inspect`: real zips written to disk and read back, good
// ones and ones that break the archive contract; and one from a real --local scan.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ZipArchive } from 'archiver';
import { readArchive, osFromRelease, parseJavaRecord } from '../../src/archive/archive-reader.js';
import { linuxOctoscanXml, macOctoscanXml } from '../../src/archive/octoscan-xml.js';

const root = join(import.meta.dirname, '..', '..');
const runCli = (args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', join(root, 'test', 'helpers', 'run-cli.ts'), ...args], { encoding: 'utf8', cwd: root, timeout: 120_000 });

const UUID = '0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d';

async function zip(path: string, entries: [string, string | Buffer][]): Promise<string> {
  const z = new ZipArchive({ zlib: { level: 6 } });
  const out = createWriteStream(path);
  const done = new Promise<void>((resolve, reject) => {
    out.on('close', resolve);
    out.on('error', reject);
    z.on('error', reject);
  });
  z.pipe(out);
  for (const [name, data] of entries) {
    if (name.endsWith('/')) z.append('', { name, type: 'directory' } as never);
    else z.append(typeof data === 'string' ? Buffer.from(data) : data, { name });
  }
  await z.finalize();
  await done;
  return path;
}

const xml = (warnings: { id: number; message: string }[] = []): string =>
  linuxOctoscanXml({
    uuid: UUID, python: '3.11.2', platform: 'Linux-6.1.0-18-amd64-x86_64-with-glibc2.36', fqdn: 'db01.example.com', timestamp: '2026-11-24T19:45:45',
    userId: '1001', effectiveUserId: '1001', login: 'scanuser', tag: 'prod <eu>', warnings, durationMs: 1415.411,
  });

const java17 = 'Path:/usr/lib/jvm/java-17/bin/java\nVariant:JDK\n\nopenjdk version "17.0.2" 2022-01-18\nOpenJDK Runtime Environment (build 17.0.2+8-86)\n';
const goodLinux = (): [string, string][] => [
  [`${UUID}/release/os-release`, 'NAME="Rocky Linux"\nVERSION="9.3 (Blue Onyx)"\nID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.3"\nPRETTY_NAME="Rocky Linux 9.3 (Blue Onyx)"\n'],
  [`${UUID}/rpm/installed.txt`, 'bash\t5.1.8\t6.el9\tx86_64\tThe GNU Bourne Again shell\t1700000000\tRocky\tRocky\nzlib\t1.2.11\t40.el9\tx86_64\tzlib\t1700000000\tRocky\tRocky\nopenssl\t3.0.7\t24.el9\tx86_64\tssl\t1700000000\tRocky\tRocky\n'],
  [`${UUID}/java/static/opt_1/version`, java17],
  [`${UUID}/java/static/opt_2/version`, "Path:/opt/broken/bin/java\nVariant:JRE\n\nFAILED: java -version failed for '/opt/broken/bin/java', exit code: 1\n"],
  [`${UUID}/octoscan.xml`, xml([{ id: 1002, message: "cannot read /sys/class/dmi/id/product_uuid: PermissionError(13, 'Permission denied') (readable by root only; scanned as uid 1001)" }])],
];

describe('inspect', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'octoscan-inspect-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads host facts, OS, package counts, Java homes, warnings and entries of a good Linux archive', async () => {
    const file = await zip(join(dir, `${UUID}.scal`), goodLinux());
    const a = await readArchive(file);
    assert.deepEqual(a.problems, []);
    assert.equal(a.ok, true);
    assert.equal(a.kind, 'linux');
    assert.equal(a.uuid, UUID);
    assert.deepEqual(a.host, {
      fqdn: 'db01.example.com', platform: 'Linux-6.1.0-18-amd64-x86_64-with-glibc2.36', login: 'scanuser', userId: '1001', tag: 'prod <eu>',
      timestamp: '2026-11-24T19:45:45', build: '1.10.9.41 2024-06-13', python: '3.11.2',
    });
    assert.deepEqual(a.os, { id: 'rocky', name: 'Rocky Linux', version: '9.3', pretty: 'Rocky Linux 9.3 (Blue Onyx)', source: 'release/os-release' });
    assert.deepEqual(a.packages, [{ list: 'rpm/installed.txt', count: 3 }]);
    assert.deepEqual(a.java.map((j) => [j.home, j.version, j.variant]), [
      ['/usr/lib/jvm/java-17', '17.0.2', 'JDK'],
      ['/opt/broken', "failed: java -version failed for '/opt/broken/bin/java', exit code: 1", 'JRE'],
    ]);
    assert.equal(a.warnings.length, 1);
    assert.equal(a.warnings[0].id, 1002);
    assert.deepEqual(a.entries.map((e) => e.name.slice(UUID.length + 1)), ['release/os-release', 'rpm/installed.txt', 'java/static/opt_1/version', 'java/static/opt_2/version', 'octoscan.xml']);
    assert.equal(a.entries[1].size, Buffer.byteLength(goodLinux()[1][1]));

    const text = runCli(['inspect', file]);
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /: ok\n/);
    assert.match(text.stdout, /fqdn +db01\.example\.com/);
    assert.match(text.stdout, /user +scanuser \(uid 1001\)/);
    assert.match(text.stdout, /tag +prod <eu>/);
    assert.match(text.stdout, /os +Rocky Linux 9\.3 \(Blue Onyx\) \(rocky 9\.3/);
    assert.match(text.stdout, /packages +3 in rpm\/installed\.txt/);
    assert.match(text.stdout, /java +\/usr\/lib\/jvm\/java-17 +17\.0\.2 JDK/);
    assert.match(text.stdout, /1002 cannot read \/sys\/class\/dmi\/id\/product_uuid/);
    assert.match(text.stdout, /entries +5, /);
    const json = runCli(['inspect', '--json', file, file]);
    assert.equal(json.status, 0, json.stderr);
    const lines = json.stdout.trim().split('\n');
    assert.equal(lines.length, 2, 'one object per archive');
    assert.deepEqual(JSON.parse(lines[0]), JSON.parse(JSON.stringify(a)));
  });

  it('a macOS archive: folder entries and octoscan.xml anywhere are fine (Info-ZIP zip -r); OS from sysctl; brew count', async () => {
    const mx = macOctoscanXml({ uuid: UUID, fqdn: 'mac01.local', shell: 'bash 3.2.57(1)-release', timestamp: '2026-11-24T20:00:00', platform: 'Darwin Kernel Version 22.5.0', tag: '', login: 'scan', userId: '501', kerberos: false });
    const file = await zip(join(dir, `${UUID}.scam`), [
      [`${UUID}/`, ''],
      [`${UUID}/octoscan.xml`, mx],
      [`${UUID}/cmd/`, ''],
      [`${UUID}/cmd/brew.json`, JSON.stringify([{ name: 'git' }, { name: 'jq' }])],
      [`${UUID}/sysctl.properties`, 'kern.ostype: Darwin\nkern.osproductversion: 13.4\n'],
    ]);
    const a = await readArchive(file);
    assert.deepEqual(a.problems, []);
    assert.equal(a.kind, 'macos');
    assert.equal(a.os?.version, '13.4');
    assert.equal(a.host.login, 'scan');
    assert.deepEqual(a.packages, [{ list: 'cmd/brew.json', count: 2 }]);
  });

  const broken: [string, () => Promise<string>, RegExp][] = [
    ['not a zip', async () => {
      const f = join(dir, `${UUID.replace('0b', '01')}.scal`);
      await writeFile(f, 'this is a text file, not a zip\n');
      return f;
    }, /not a zip archive/],
    ['an entry outside <uuid>/', async () => {
      // archiver cleans "../" out of names: write a same-length name and put the bytes in place (names are not in the CRC)
      const f = await zip(join(dir, 'b1', `${UUID}.scal`), [[`${UUID}/a`, 'x'], ['QQ/QQ/evil', 'x'], [`${UUID}/octoscan.xml`, xml()]]);
      const { readFile } = await import('node:fs/promises');
      const bytes = (await readFile(f)).toString('latin1').split('QQ/QQ/evil').join('../../evil');
      await writeFile(f, Buffer.from(bytes, 'latin1'));
      return f;
    }, /1 entry outside 0b1c2d3e[^:]*: "\.\.\/\.\.\/evil"/],
    ['an entry of another folder', () => zip(join(dir, 'b2', `${UUID}.scal`), [[`${UUID}/a`, 'x'], ['other/x', 'x'], [`${UUID}/octoscan.xml`, xml()]]), /outside .*"other\/x"/],
    ['octoscan.xml missing', () => zip(join(dir, 'b3', `${UUID}.scal`), [[`${UUID}/a`, 'x']]), /octoscan\.xml is missing/],
    ['octoscan.xml not last', () => zip(join(dir, 'b4', `${UUID}.scal`), [[`${UUID}/octoscan.xml`, xml()], [`${UUID}/a`, 'x']]), /octoscan\.xml is not the last entry/],
    ['malformed XML', () => zip(join(dir, 'b5', `${UUID}.scal`), [[`${UUID}/a`, 'x'], [`${UUID}/octoscan.xml`, '<octoscan uuid="x"><user></octoscan>']]), /octoscan\.xml is malformed/],
    ['uuid differs', () => zip(join(dir, 'b6', `${UUID}.scal`), [[`${UUID}/octoscan.xml`, xml().replace(UUID, '11111111-2222-4333-8444-555555555555')]]), /uuid 11111111-.* differs/],
    ['no uuid in the file name', () => zip(join(dir, 'b7', 'scan.zip'), [[`${UUID}/octoscan.xml`, xml()]]), /file name "scan\.zip" is not <uuid>\.scal/],
  ];
  for (const [what, make, problem] of broken) {
    it(`exit 1 and says what is wrong: ${what}`, async () => {
      const { mkdir } = await import('node:fs/promises');
      for (const d of ['b1', 'b2', 'b3', 'b4', 'b5', 'b6', 'b7']) await mkdir(join(dir, d), { recursive: true });
      const file = await make();
      const a = await readArchive(file);
      assert.equal(a.ok, false);
      assert.ok(a.problems.some((p) => problem.test(p)), `${problem} in ${JSON.stringify(a.problems)}`);
      const r = runCli(['inspect', file]);
      assert.equal(r.status, 1);
      assert.match(r.stdout, /BREAKS THE ARCHIVE CONTRACT/);
      assert.match(r.stderr, problem);
    });
  }

  it('a missing file: exit 1, named on standard error', () => {
    const r = runCli(['inspect', join(dir, 'nope.scal')]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /nope\.scal: ENOENT/);
  });

  it('an archive from a real --local scan keeps the contract', async () => {
    const out = join(dir, 'local');
    const { mkdir } = await import('node:fs/promises');
    await mkdir(out);
    const scan = runCli(['--local', '--out', out, '--no-progress']);
    assert.ok(scan.status === 0 || scan.status === 2, scan.stderr);
    const [name] = (await readdir(out)).filter((n) => /\.sca[lm]$/.test(n));
    assert.ok(name, `no archive: ${scan.stderr}`);
    const r = runCli(['inspect', '--json', join(out, name)]);
    assert.equal(r.status, 0, r.stderr + r.stdout);
    const a = JSON.parse(r.stdout);
    assert.equal(a.ok, true);
    assert.equal(a.uuid, name.slice(0, 36));
    assert.ok(a.host.login, 'login read');
    assert.ok(a.entries.some((e: { name: string }) => e.name.endsWith('/octoscan.xml')));
    if (process.platform === 'linux') assert.ok(a.os?.name, 'the OS of this machine from its release entries');
  });

  it('OS from older release files; Java records of both forms', () => {
    assert.deepEqual(osFromRelease(new Map([['release/centos-release', 'CentOS Linux release 7.9.2009 (Core)\n']])), { id: 'centos', name: 'CentOS Linux', version: '7.9.2009', pretty: 'CentOS Linux release 7.9.2009 (Core)', source: 'release/centos-release' });
    assert.equal(osFromRelease(new Map([['release/alpine-release', '3.18.4\n']]))?.version, '3.18.4');
    assert.equal(parseJavaRecord('e', 'Path:/Library/Java/JavaVirtualMachines/x/Contents/Home/bin/java\nVariant:JDK\nFeatures:\njava version "21.0.1" 2023-10-17 LTS\n').version, '21.0.1');
  });
});
