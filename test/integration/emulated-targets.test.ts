// Issue 5: every recorded system profile of ../shared/fixtures (RHEL family,
// SUSE, Amazon Linux, Alpine, busybox, Debian/Ubuntu, macOS) becomes an
// emulated host on loopback (test/helpers/emulated-targets.ts) and is scanned
// by the real CLI over a real sshd, all in one sweep with a hosts file. Each
// archive is then read back with an independent zip reader and checked:
// - the kind (.scal for Linux, .scam for macOS), decided on the target;
// - octoscan.xml in its Linux or macOS form, attribute by attribute;
// - entries whose bytes are known: fixture files byte for byte, package lists
//   in the spec's formats (computed here from the recorded databases, not by
//   the shims), command outputs, Java version records;
// - the golden entry list and normalised octoscan.xml of the profile
//   (test/golden/profiles/<profile>.json; UPDATE_GOLDEN=1 rewrites them,
//   review the diff). A profile without a golden file (a new fixture folder)
//   gets every other check.
//
// Needs root, /usr/sbin/sshd, busybox-static (/bin/busybox), dash and bash,
// and a built dist/ (npm test builds first).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { XMLParser } from 'fast-xml-parser';
import { LINUX_BUILD, MACOS_BUILD } from '../../src/archive/octoscan-xml.js';
import { newToken } from '../../src/probe/frames.js';
import type { Probe } from '../../src/probe/probe.js';
import { buildScript, checkSections, probeShell } from '../../src/probe/script.js';
import { darwinProbes, linuxProbes } from '../../targets/index.js';
import { SYSTEM_PROFILER_TYPES } from '../../targets/macos.js';
import {
  emulationUnavailable,
  FIXTURES_DIR,
  isComponentSet,
  profileInfo,
  startEmulatedFarm,
  systemProfiles,
  UNSUPPORTED_TARGET,
  type EmulatedFarm,
  type EmulatedTarget,
} from '../helpers/emulated-targets.js';
import { sshdAvailable } from '../helpers/sshd.js';
import { runSteered } from '../helpers/steered-shell.js';
import { readZip, type ZipEntryInfo } from '../helpers/zip.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = join(ROOT, 'bin', 'octoscan-remote.js');
const GOLDEN = join(ROOT, 'test', 'golden', 'profiles');
const UPDATE = process.env.UPDATE_GOLDEN === '1';

function why(): string | undefined {
  const s = sshdAvailable();
  if (s) return s;
  if (!existsSync(FIXTURES_DIR)) return `fixtures folder ${FIXTURES_DIR} not found (set OCTOSCAN_FIXTURES_DIR)`;
  if (!existsSync(join(ROOT, 'dist', 'src', 'cli', 'main.js'))) return 'dist/ not built (npm run build)';
  return emulationUnavailable();
}
const skip = why();
if (skip) console.error(`\n*** SKIPPING emulated-target tests: ${skip} ***\n`);

const PROFILES = existsSync(FIXTURES_DIR) ? systemProfiles() : [];
const UUID = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.(scal|scam)$/;

interface Row {
  host: string;
  tag: string;
  class: string;
  phase: string;
  message: string;
  archive: string;
  duration_ms: number;
  warnings: number;
}

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, SSH_AUTH_SOCK: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (n) => n === 'info' || n === 'warning' });

interface Scanned {
  uuid: string;
  ext: string;
  zip: Map<string, ZipEntryInfo>;
  /** Entry names below <uuid>/, in archive order. */
  names: string[];
  get(name: string): Buffer;
}

describe('emulated targets: every recorded profile scanned over SSH', { skip }, () => {
  let farm: EmulatedFarm;
  let work: string;
  let out: string;
  const rows = new Map<string, Row>();
  const scanned = new Map<string, Scanned>();
  let sweepSeconds = 0;
  let sweepStderr = '';

  before(async () => {
    work = mkdtempSync('/tmp/octoscan-emulated-');
    out = join(work, 'out');
    mkdirSync(out);
    farm = await startEmulatedFarm(PROFILES, work);
    const t0 = performance.now();
    const r = await cli([
      '--hosts', farm.hostsCsv, '--out', out, '--known-hosts', farm.knownHosts,
      '--json', '--no-progress', '--parallel', '16', '--host-timeout', '300', '--retries', '1', '--connect-timeout', '60', '--auth-timeout', '60',
    ]);
    sweepSeconds = (performance.now() - t0) / 1000;
    sweepStderr = r.stderr;
    for (const line of r.stdout.split('\n').filter(Boolean)) {
      const row = JSON.parse(line) as Row;
      rows.set(row.tag, row);
    }
    // Exit 2: the unsupported target fails on purpose.
    assert.equal(r.code, 2, `sweep exit code\n${r.stderr}`);
  });

  after(async () => {
    await farm?.stop();
    if (work && !process.env.OCTOSCAN_SSHD_KEEP) rmSync(work, { recursive: true, force: true });
  });

  async function archiveOf(t: EmulatedTarget): Promise<Scanned> {
    const hit = scanned.get(t.name);
    if (hit) return hit;
    const row = rows.get(t.name);
    assert.ok(row, `no result for ${t.name}\n${sweepStderr}`);
    assert.equal(row.class, 'ok', `${t.name}: ${row.class} in ${row.phase}: ${row.message}\n${t.notes.join('\n')}`);
    const file = row.archive.slice(out.length + 1);
    assert.equal(row.archive, join(out, file));
    const m = UUID.exec(file);
    assert.ok(m, `archive name ${file}`);
    const zip = await readZip(row.archive);
    const uuid = m[1];
    const names = [...zip.keys()].map((n) => {
      assert.ok(n.startsWith(`${uuid}/`) && !n.includes('..') && !n.includes('\\'), `entry ${n} under ${uuid}/`);
      return n.slice(uuid.length + 1);
    });
    const s: Scanned = {
      uuid,
      ext: m[2],
      zip,
      names,
      get(name: string): Buffer {
        const e = zip.get(`${uuid}/${name}`);
        assert.ok(e, `${t.name}: entry ${name} missing; have ${names.join(', ')}`);
        return e.data;
      },
    };
    scanned.set(t.name, s);
    return s;
  }

  test('every fixture folder is a system profile or a known component set', () => {
    const all = readdirSync(FIXTURES_DIR, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
    const components = all.filter(isComponentSet);
    assert.deepEqual([...PROFILES, ...components].sort(), all);
    const table = PROFILES.map((p) => {
      const i = profileInfo(p);
      return `${p}: ${i.family}, /bin/sh ${i.shell}, ${i.arch}`;
    });
    console.error(`system profiles (${PROFILES.length}):\n  ${table.join('\n  ')}\ncomponent sets: ${components.join(', ')}`);
    // The families the issue names are all there.
    const families = new Set(PROFILES.map((p) => profileInfo(p).family));
    for (const f of ['rpm', 'dpkg', 'apk', 'busybox', 'darwin'] as const) assert.ok(families.has(f), `no ${f} profile`);
  });

  for (const profile of PROFILES) {
    test(`${profile}`, async (t) => {
      const target = farm.targets.find((x) => x.name === profile)!;
      if (target.family === 'unsupported') {
        const row = rows.get(profile);
        assert.equal(row?.class, 'unsupported', `${profile}: ${JSON.stringify(row)}`);
        return;
      }
      const a = await archiveOf(target);
      const mac = target.family === 'darwin';
      assert.equal(a.ext, mac ? 'scam' : 'scal', `${profile}: archive kind`);
      assert.equal(a.names.at(-1), 'octoscan.xml', 'octoscan.xml is the last entry');
      assert.equal(new Set(a.names).size, a.names.length, 'no entry twice');

      // octoscan.xml
      const xmlText = a.get('octoscan.xml').toString('utf8');
      const rootTag = /<octoscan ([^>]*)>/.exec(xmlText)![1];
      const attrOrder = [...rootTag.matchAll(/(\w+)="/g)].map((x) => x[1]);
      const doc = parser.parse(xmlText).octoscan;
      const infos = (node: { info?: { name: string; type: string; value: string }[] }): Record<string, string> =>
        Object.fromEntries((node?.info ?? []).map((i) => [`${i.name}:${i.type}`, String(i.value)]));
      assert.equal(doc.uuid, a.uuid);
      assert.match(doc.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
      assert.match(doc.platform, target.expect.platformPattern);
      if (target.expect.fqdn) assert.equal(doc.fqdn, target.expect.fqdn);
      else assert.ok(String(doc.fqdn).length > 0);
      assert.deepEqual(infos(doc.configuration), { 'tag:S': profile });
      if (mac) {
        assert.match(xmlText, /^<\?xml version="1\.0" encoding="utf-8" \?>\n/);
        assert.deepEqual(attrOrder, ['uuid', 'fqdn', 'build', 'python', 'shell', 'timestamp', 'platform']);
        assert.equal(doc.build, MACOS_BUILD);
        assert.equal(doc.python, 'none');
        assert.match(doc.shell, /^(bash|zsh) \S+/);
        assert.deepEqual(infos(doc.user), { 'login:S': farm.user.name, 'user_id:I': String(farm.user.uid), 'kerberos:B': String(target.expect.kerberos) });
        assert.deepEqual(Object.keys(doc).filter((k) => typeof doc[k] === 'object'), ['configuration', 'user'], 'no operating_system, warnings or performance');
        for (const e of ['stdout.log', 'stderr.log']) assert.ok(a.names.includes(e), `${e} present`);
      } else {
        assert.match(xmlText, /^<\?xml version="1\.0" encoding="utf-8"\?>\n/);
        assert.deepEqual(attrOrder, ['uuid', 'python', 'platform', 'build', 'fqdn', 'timestamp']);
        assert.equal(doc.build, LINUX_BUILD);
        assert.equal(doc.python, 'none');
        assert.deepEqual(infos(doc.user), { 'user_id:I': String(farm.user.uid), 'effective_user_id:I': String(farm.user.uid), 'login:S': farm.user.name });
        assert.equal(infos(doc.operating_system)['platform:S'], doc.platform);
        const warnings = (doc.warning ?? []).map((w: { id: string; message: string }) => ({ id: Number(w.id), message: w.message.replace(/uid \d+/, 'uid <uid>') }));
        for (const w of target.expect.warnings) assert.ok(warnings.some((x: { id: number; message: string }) => x.id === w.id && x.message === w.message), `warning ${w.id} ${w.message}; have ${JSON.stringify(warnings)}`);
      }

      // Entries whose bytes are known.
      for (const [name, { data, source }] of target.expect.contents) {
        assert.ok(a.names.includes(name), `${profile}: entry ${name} (${source}) missing; have ${a.names.join(', ')}`);
        assert.ok(a.get(name).equals(data), `${profile}: ${name} differs from ${source}:\n--- got\n${a.get(name).toString('latin1').slice(0, 800)}\n--- expected\n${data.toString('latin1').slice(0, 800)}`);
      }
      for (const name of target.expect.absent) assert.ok(!a.names.includes(name), `${profile}: ${name} must not be collected`);

      // Java version records.
      const statics = a.names.filter((n) => /^java\/static\/opt_\d+\/version$/.test(n));
      assert.equal(statics.length, target.expect.javaStatic.length, `${profile}: Java records ${statics.join(', ')}`);
      if (mac) {
        // find's order: match by the Path line.
        for (const j of target.expect.javaStatic) {
          const got = statics.map((n) => a.get(n)).find((d) => d.toString('latin1').startsWith(`Path:${j.path}\n`));
          assert.ok(got, `${profile}: no record for ${j.path}`);
          assert.equal(got.toString('latin1'), j.record.toString('latin1'));
        }
        assert.deepEqual(statics, statics.map((_, i) => `java/static/opt_${i + 1}/version`).sort(), 'numbered 1, 2, ...');
      } else {
        target.expect.javaStatic.forEach((j, i) => assert.equal(a.get(`java/static/opt_${i + 1}/version`).toString('latin1'), j.record.toString('latin1')));
      }
      if (target.expect.javaDefault) assert.equal(a.get('java/static/default_java/version').toString('latin1'), target.expect.javaDefault.toString('latin1'));

      // Text entries deflated with mode 0644.
      for (const n of a.names) {
        const e = a.zip.get(`${a.uuid}/${n}`)!;
        assert.equal(e.mode, 0o644, `${n} mode`);
      }

      // Golden: the full entry list and octoscan.xml, normalised.
      const golden = {
        profile,
        kind: a.ext,
        entries: [...a.names].sort(),
        xml: normaliseXml(xmlText, a.uuid, target),
      };
      const file = join(GOLDEN, `${profile}.json`);
      if (UPDATE) {
        mkdirSync(GOLDEN, { recursive: true });
        writeFileSync(file, `${JSON.stringify(golden, null, 2)}\n`);
      }
      if (!existsSync(file)) {
        t.diagnostic(`no golden file ${file}: generic checks only (UPDATE_GOLDEN=1 writes one)`);
        return;
      }
      assert.deepEqual(golden, JSON.parse(readFileSync(file, 'utf8')), `${profile}: differs from ${file}\n${t.name} notes:\n${target.notes.join('\n')}`);
    });
  }

  test(`${UNSUPPORTED_TARGET}: another OS is a classified result, with no archive`, () => {
    const row = rows.get(UNSUPPORTED_TARGET);
    assert.ok(row);
    assert.equal(row.class, 'unsupported');
    assert.match(row.message, /unsupported operating system "SunOS"/);
    assert.equal(row.archive, '');
  });

  test('the output folder holds one archive per profile and nothing else', () => {
    const files = readdirSync(out).sort();
    assert.equal(files.length, farm.targets.filter((x) => x.family !== 'unsupported').length, files.join(', '));
    for (const f of files) assert.match(f, UUID);
  });

  test('timings', (t) => {
    const slowest = [...rows.values()].sort((x, y) => y.duration_ms - x.duration_ms).slice(0, 3);
    t.diagnostic(`${PROFILES.length} profiles: chroots + sshd ${farm.buildSeconds.toFixed(1)} s, sweep ${sweepSeconds.toFixed(1)} s; slowest ${slowest.map((r) => `${r.tag} ${(r.duration_ms / 1000).toFixed(1)} s`).join(', ')}`);
  });
});

// The command-probe options the macOS probes rely on (input, withStderr,
// always, absolute, timeout), run by each shell the targets use, reading the
// script on standard input as over ssh. No sshd needed.
describe('command probe options on dash, bash (POSIX mode) and busybox ash', () => {
  const probes: Probe[] = [
    { id: 't-input', kind: 'command', entry: 't/input', argv: ['cat'], input: 'show com.apple.smb\nquit\n' },
    { id: 't-input-sub', kind: 'command', entry: 't/input-sub', argv: ['sh', '-c', 'read a; echo "got $a"'], input: 'x y\n', timeout: 30 },
    { id: 't-stderr', kind: 'command', entry: 't/stderr', argv: ['sh', '-c', 'echo out; echo err >&2'], withStderr: true },
    { id: 't-no-stderr', kind: 'command', entry: 't/no-stderr', argv: ['sh', '-c', 'echo out; echo err >&2'], timeout: 30 },
    { id: 't-missing', kind: 'command', entry: 't/missing', argv: ['/nonexistent/java_home', '-V'], absolute: true, always: true, withStderr: true },
    { id: 't-missing-quiet', kind: 'command', entry: 't/missing-quiet', argv: ['/nonexistent/scutil'], absolute: true, always: true, input: 'show x\n' },
    { id: 't-fails', kind: 'command', entry: 't/fails', argv: ['sh', '-c', 'echo partial; exit 3'], always: true, timeout: 30 },
    { id: 't-slow', kind: 'command', entry: 't/slow', argv: ['sleep', '30'], timeout: 1 },
    { id: 't-nice', kind: 'command', entry: 't/nice', argv: ['nice', '-n', '20', '/bin/echo', 'niced'], absolute: true },
  ];
  const shells: [string, string[]][] = [
    ['dash', ['/usr/bin/dash', '-s']],
    ['bash --posix', ['/bin/bash', '--posix', '-s']],
    ['busybox ash', ['/bin/busybox', 'sh', '-s']],
  ];
  for (const [name, argv] of shells) {
    test(name, { skip: existsSync(argv[0]) ? undefined : `${argv[0]} not installed` }, async () => {
      const token = newToken();
      const script = buildScript({ linux: probes }, { token });
      // With the controller's side of the protocol: the deadline of t-slow is the controller's.
      const run = await runSteered(argv, script, token);
      assert.equal(run.parseError, undefined);
      const entries = new Map<string, { rc: number; data: string }>();
      let open: { name: string; data: string } | undefined;
      for (const r of run.records) {
        if (r.type === 'begin') open = { name: r.name!, data: r.body!.toString() };
        else if (r.type === 'end') {
          entries.set(open!.name, { rc: r.rc!, data: open!.data });
          open = undefined;
        }
      }
      assert.ok(run.done, `${name}: no end record`);
      const e = (n: string): { rc: number; data: string } => {
        const x = entries.get(n);
        assert.ok(x, `${name}: no ${n}; have ${[...entries.keys()].join(', ')}`);
        return x;
      };
      assert.deepEqual(e('t/input'), { rc: 0, data: 'show com.apple.smb\nquit\n' });
      assert.deepEqual(e('t/input-sub'), { rc: 0, data: 'got x y\n' });
      assert.deepEqual(e('t/stderr'), { rc: 0, data: 'out\nerr\n' });
      assert.deepEqual(e('t/no-stderr'), { rc: 0, data: 'out\n' });
      assert.deepEqual(e('t/missing'), { rc: 127, data: '/nonexistent/java_home: No such file or directory\n' });
      assert.deepEqual(e('t/missing-quiet'), { rc: 127, data: '' });
      assert.deepEqual(e('t/fails'), { rc: 3, data: 'partial\n' });
      assert.equal(e('t/slow').rc, 137, 'killed at its own deadline');
      assert.deepEqual(e('t/nice'), { rc: 0, data: 'niced\n' });
    });
  }

  test('the macOS probes: absolute paths, nice, their own deadlines, scutil fed on standard input', () => {
    const sh = new Map(darwinProbes.map((p) => [p.id, probeShell(p)]));
    assert.match(sh.get('mac-system-profiler')!, new RegExp(`^if _have 'nice' && \\[ -x '/usr/sbin/system_profiler' \\]; then\n  _cmdx mac-system-profiler#0 'system_profiler\\.xml' '0' 0 480 - '' 'nice' '-n' '20' '/usr/sbin/system_profiler' '-xml' ${SYSTEM_PROFILER_TYPES.map((t) => `'${t}'`).join(' ')}\n`));
    assert.match(sh.get('mac-scutil-smb')!, /_cmdx mac-scutil-smb#0 'scutil\/com_apple_smb' '0' 0 30 - 'show com\.apple\.smb\n' '\/usr\/sbin\/scutil'/);
    assert.match(sh.get('mac-java-home')!, /_cmdx mac-java-home#0 'cmd\/java_home' '0' 0 60 e '' '\/usr\/libexec\/java_home' '-V'/);
    assert.match(sh.get('mac-java-home')!, /else _r S mac-java-home not-found:\/usr\/libexec\/java_home; _r B mac-java-home - - 'cmd\/java_home'; printf/);
    assert.match(sh.get('mac-brew')!, /^if _have 'brew'; then/);
  });

  test('probe ids are unique across both sections; builtins stay in their section', () => {
    checkSections({ linux: linuxProbes, darwin: darwinProbes });
    assert.throws(() => checkSections({ linux: linuxProbes, darwin: [{ ...darwinProbes[0], id: 'ps' }] }), /used twice/);
    assert.throws(() => checkSections({ linux: [{ id: 'x', kind: 'builtin', builtin: 'mac-apps' }] }), /does not exist in the linux section/);
    assert.throws(() => checkSections({ linux: [], darwin: [{ id: 'x', kind: 'builtin', builtin: 'java-static' }] }), /does not exist in the darwin section/);
  });
});

/** octoscan.xml with what changes from run to run or machine to machine replaced by placeholders. */
function normaliseXml(xml: string, uuid: string, t: EmulatedTarget): string {
  let s = xml.split(uuid).join('<uuid>');
  s = s.replace(/timestamp="[^"]*"/, 'timestamp="<timestamp>"');
  s = s.replace(/(name="performance" type="S" value=")[^"]*"/, '$1<duration>"');
  s = s.replace(/(name="(user_id|effective_user_id)" type="I" value=")\d+"/g, '$1<uid>"');
  s = s.replace(/scanned as uid \d+/g, 'scanned as uid <uid>');
  s = s.replace(/this scan runs as uid \d+/g, 'this scan runs as uid <uid>');
  s = s.replace(/shell="bash [^"]*"/, 'shell="bash <version>"');
  // The host's kernel release (uname -r is the host's in every chroot) and, where
  // busybox's own hostname runs, the host's name.
  s = s.replace(/"Linux-[^"]*?-(x86_64|aarch64|ppc64le|s390x)-with/g, '"Linux-<kernel>-$1-with');
  s = s.replace(/-with-glibc\d+\.\d+"/g, '-with-glibc<version>"');
  if (!t.expect.fqdn) s = s.replace(/fqdn="[^"]*"/, 'fqdn="<host>"');
  return s;
}
