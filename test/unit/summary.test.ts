// The summary page: written from a report (CSV and JSON lines) and from a scan
// (--summary), parsed back with an HTML5 parser (parse5): sections, counts,
// escaping of peer text, no network assets; --compare.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ZipArchive } from 'archiver';
import { parse } from 'parse5';
import { linuxOctoscanXml } from '../../src/archive/octoscan-xml.js';
import { REPORT_COLUMNS, csvCell } from '../../src/sweep/report.js';

const root = join(import.meta.dirname, '..', '..');
const runCli = (args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', join(root, 'test', 'helpers', 'run-cli.ts'), ...args], { encoding: 'utf8', cwd: root, timeout: 120_000 });

// --- a minimal DOM walk over parse5's tree -----------------------------------
interface Node {
  nodeName: string;
  tagName?: string;
  attrs?: { name: string; value: string }[];
  childNodes?: Node[];
  content?: Node;
  value?: string;
}
function* walk(n: Node): Generator<Node> {
  yield n;
  for (const c of n.childNodes ?? []) yield* walk(c);
  if (n.content) yield* walk(n.content);
}
const attr = (n: Node, name: string): string | undefined => n.attrs?.find((a) => a.name === name)?.value;
const text = (n: Node): string => [...walk(n)].filter((x) => x.nodeName === '#text').map((x) => x.value).join('');
const byId = (doc: Node, id: string): Node => {
  const hit = [...walk(doc)].find((n) => attr(n, 'id') === id);
  assert.ok(hit, `no element #${id}`);
  return hit;
};
const rowsOf = (table: Node): string[][] =>
  [...walk(table)].filter((n) => n.tagName === 'tr' && (n.childNodes ?? []).some((c) => c.tagName === 'td')).map((tr) => (tr.childNodes ?? []).filter((c) => c.tagName === 'td').map(text));

function assertSelfContained(doc: Node, html: string): void {
  for (const n of walk(doc)) {
    assert.ok(!['script', 'link', 'img', 'iframe', 'object', 'embed', 'audio', 'video', 'base'].includes(n.tagName ?? ''), `<${n.tagName}> in the page`);
    for (const a of n.attrs ?? []) {
      if (a.name === 'xmlns') continue;
      assert.ok(!/^on/i.test(a.name), `event handler attribute ${a.name}`);
      assert.doesNotMatch(a.value, /(https?:|\/\/|url\()/i, `${a.name}="${a.value}" reaches out`);
    }
  }
  // the page's own CSS loads nothing (peer text mentioning a URL is only text, checked above as attributes)
  for (const st of [...walk(doc)].filter((n) => n.tagName === 'style')) assert.doesNotMatch(text(st), /url\(|@import|https?:/);
  assert.ok(html.length > 0);
}

// --- fixtures -----------------------------------------------------------------
const EVIL = `<script>alert("x")</script> & 'quotes' <img src=http://evil/x.png>`;

async function archive(dir: string, uuid: string, osRelease: string, warnings: { id: number; message: string }[]): Promise<string> {
  const path = join(dir, `${uuid}.scal`);
  const z = new ZipArchive({});
  const out = createWriteStream(path);
  const done = new Promise<void>((res, rej) => {
    out.on('close', res);
    out.on('error', rej);
  });
  z.pipe(out);
  z.append(Buffer.from(osRelease), { name: `${uuid}/release/os-release` });
  z.append(
    Buffer.from(linuxOctoscanXml({ uuid, python: 'none', platform: 'Linux-x', fqdn: 'h', timestamp: '2026-01-01T00:00:00', userId: '1001', effectiveUserId: '1001', login: 'scan', tag: '', warnings, durationMs: 1000 })),
    { name: `${uuid}/octoscan.xml` },
  );
  await z.finalize();
  await done;
  return path;
}

const rootOnly = (f: string, uid: number) => ({ id: 1002, message: `cannot read /sys/class/dmi/id/${f}: PermissionError(13, 'Permission denied') (readable by root only; scanned as uid ${uid})` });
const row = (o: Partial<Record<(typeof REPORT_COLUMNS)[number], string | number>>): Record<string, string | number> => ({
  host: 'h', port: 22, user: 'scan', tag: '', class: 'ok', phase: 'done', message: '', archive: '', duration_ms: 1000, bytes: 1000, warnings: 0, attempts: 1, engine: '', container_id: '', container_name: '', image: '', ...o,
});
const csv = (rows: Record<string, string | number>[]): string => [REPORT_COLUMNS.join(','), ...rows.map((r) => REPORT_COLUMNS.map((c) => csvCell(r[c] ?? '')).join(','))].join('\n') + '\n';

describe('summary page', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'octoscan-summary-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('from a CSV report and its archives: classes, OS, failures, slowest, costly warnings, chart; peer text escaped; nothing external', async () => {
    const a = await mkdir(join(dir, 'import'), { recursive: true }).then(() => join(dir, 'import'));
    const rocky = 'NAME="Rocky Linux"\nID="rocky"\nVERSION_ID="9.3"\nPRETTY_NAME="Rocky Linux 9.3"\n';
    const deb = 'NAME="Debian GNU/Linux"\nID=debian\nVERSION_ID="12"\n';
    const evilOs = `NAME="${EVIL.replace(/"/g, '')}"\nID=evil\nVERSION_ID="1"\n`;
    const u = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
    const rows = [
      row({ host: 'db01', archive: await archive(a, u(1), rocky, [rootOnly('product_uuid', 1001), rootOnly('product_serial', 1001)]), duration_ms: 4000, warnings: 2 }),
      row({ host: 'db02', archive: await archive(a, u(2), rocky, [rootOnly('product_uuid', 1002)]), duration_ms: 9000, warnings: 1 }),
      row({ host: 'web01', archive: await archive(a, u(3), deb, []), duration_ms: 2000 }),
      row({ host: 'odd', archive: await archive(a, u(4), evilOs, [{ id: 1004, message: EVIL }]), duration_ms: 100, warnings: 1 }),
      row({ host: 'gone-archive', archive: join(a, 'moved-away.scal') }),
      row({ host: 'down1', class: 'unreachable', phase: 'connect', message: 'connect ECONNREFUSED 10.0.0.1:22', duration_ms: 300 }),
      row({ host: 'down2', class: 'unreachable', phase: 'connect', message: 'connect ECONNREFUSED 10.0.0.2:22', duration_ms: 300 }),
      row({ host: 'slow', class: 'timeout', phase: 'stream', message: `host timeout; the target said ${EVIL}`, duration_ms: 900_000 }),
      row({ host: '=cmd|x', class: 'auth', phase: 'auth', message: '-all keys refused', duration_ms: 50 }),
    ];
    const report = join(dir, 'run.csv');
    await writeFile(report, csv(rows));
    const out = join(dir, 'summary.html');
    const r = runCli(['summary', report, '-o', out]);
    assert.equal(r.status, 0, r.stderr);
    const html = await readFile(out, 'utf8');
    const doc = parse(html) as unknown as Node;
    assertSelfContained(doc, html);
    assert.ok(![...walk(doc)].some((n) => n.tagName === 'script'), 'peer text made no element');
    assert.ok(html.includes('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;'), 'peer text escaped');

    assert.match(text(byId(doc, 'classes')), /Hosts by class/);
    assert.deepEqual(rowsOf(byId(doc, 'class-table')).map((x) => [x[0], x[1]]), [['ok', '5'], ['unreachable', '2'], ['auth', '1'], ['timeout', '1']]);
    const bars = [...walk(byId(doc, 'class-chart'))].filter((n) => attr(n, 'class') === 'bar');
    assert.deepEqual(bars.map((b) => [attr(b, 'data-class'), attr(b, 'data-count')]), [['ok', '5'], ['unreachable', '2'], ['auth', '1'], ['timeout', '1']]);
    assert.equal(byId(doc, 'class-chart').tagName, 'svg');

    const os = rowsOf(byId(doc, 'os-table'));
    assert.deepEqual(os.slice(0, 2), [['Rocky Linux', '', '2'], ['', '9.3', '2']]);
    assert.ok(os.some((x) => x[0] === 'Debian GNU/Linux'));
    assert.ok(os.some((x) => x[0].includes('<script>alert(x)</script>')), 'the OS name from an archive, as text');
    assert.match(text(byId(doc, 'os-unknown')), /^1 ok host without a readable archive/);

    const unreachable = rowsOf(byId(doc, 'failures-unreachable'));
    assert.deepEqual(unreachable, [['connect', 'connect ECONNREFUSED <addr>', '2: scan@down1, scan@down2']], 'one cause on two hosts is one line');
    assert.equal(rowsOf(byId(doc, 'failures-timeout'))[0][1], `host timeout; the target said ${EVIL}`);
    assert.deepEqual(rowsOf(byId(doc, 'failures-auth'))[0], ['auth', '-all keys refused', '1: scan@=cmd|x'], 'the CSV apostrophe is taken off again');

    const slowest = rowsOf(byId(doc, 'slowest-table'));
    assert.deepEqual(slowest.slice(0, 3).map((x) => x[0]), ['scan@slow', 'scan@db02', 'scan@db01']);
    assert.equal(slowest[0][2], '15.0 min');

    const warnings = rowsOf(byId(doc, 'warnings-table'));
    assert.deepEqual(warnings[0], ['1002', "cannot read /sys/class/dmi/id/product_uuid: PermissionError(13, 'Permission denied') (readable by root only; scanned as uid N)", '2']);
    assert.match(text(byId(doc, 'root-only')), /readable by root only: 2 kinds of data missing on 2 hosts/);
    assert.ok(warnings.some((w) => w[1] === EVIL));
    assert.ok(![...walk(doc)].some((n) => attr(n, 'id') === 'compare'), 'no comparison without --compare');
  });

  it('--compare: new failures, recovered, added, gone (previous report as JSON lines)', async () => {
    const now = [
      row({ host: 'a', class: 'ok' }),
      row({ host: 'b', class: 'auth', phase: 'auth', message: 'refused' }),
      row({ host: 'c', class: 'ok' }),
      row({ host: 'd', class: 'timeout', phase: 'connect', message: 't' }),
      row({ host: 'new1', class: 'ok' }),
    ];
    const prev = [row({ host: 'a', class: 'ok' }), row({ host: 'b', class: 'ok' }), row({ host: 'c', class: 'dns', phase: 'resolve' }), row({ host: 'd', class: 'timeout' }), row({ host: 'old1', class: 'ok' })];
    const report = join(dir, 'now.jsonl');
    const previous = join(dir, 'prev.jsonl');
    await writeFile(report, now.map((x) => JSON.stringify(x)).join('\n') + '\n');
    await writeFile(previous, prev.map((x) => JSON.stringify(x)).join('\n') + '\n');
    const out = join(dir, 'cmp.html');
    const r = runCli(['summary', report, '--compare', previous, '-o', out]);
    assert.equal(r.status, 0, r.stderr);
    const html = await readFile(out, 'utf8');
    const doc = parse(html) as unknown as Node;
    assertSelfContained(doc, html);
    assert.deepEqual(rowsOf(byId(doc, 'new-failures')), [['scan@b', 'auth', 'auth', 'refused']]);
    assert.deepEqual(rowsOf(byId(doc, 'recovered')), [['scan@c', 'dns']]);
    assert.deepEqual(rowsOf(byId(doc, 'added')), [['scan@new1', 'ok']]);
    assert.deepEqual(rowsOf(byId(doc, 'gone')), [['scan@old1', 'ok']]);
    assert.match(text(byId(doc, 'still-failing')), /Still failing: 1\./);
  });

  it('from the report alone (archives uploaded and gone): delivery, run facts, OS, tags and labels, containers, pasteable fix commands, warnings by id', async () => {
    const base = { started_at: '2026-12-05T02:15:00.000Z', finished_at: '2026-12-05T02:15:04.000Z', run_id: 'r1', version: '1.2.3', carried_over: '', completeness: 'complete', upload: 'uploaded' };
    const hostKey = (host: string, port: number) =>
      `HOST KEY CHANGED for [${host}]:${port}: offered ssh-ed25519 SHA256:x, /etc/octoscan/known_hosts line 3 has a different ssh-ed25519 key; refusing to connect (possible man-in-the-middle). If the change is expected, remove the old key with: ssh-keygen -R '[${host}]:${port}' -f /etc/octoscan/known_hosts`;
    const rows = [
      { ...row({ host: 'db01', tag: 'db', archive: '/spool/a.scal', warning_ids: '1002:3 1004:1' }), ...base, os_family: 'linux', os_name: 'Rocky Linux', os_version: '9.3', java: '/usr/lib/jvm/jre-17 (17.0.9, Red Hat)', site: 'berlin' },
      { ...row({ host: 'db02', tag: 'db', archive: '/spool/b.scal', warning_ids: '1002:1' }), ...base, os_family: 'linux', os_name: 'Rocky Linux', os_version: '9.3', upload: 'waiting', message: 'upload: collector http://c failed 3 times in a row; kept for the next run', site: 'paris' },
      { ...row({ host: 'web01', tag: 'web', class: 'sudo', phase: 'exec', archive: '/spool/c.scal' }), ...base, os_family: 'linux', os_name: 'Debian GNU/Linux', os_version: '12', completeness: 'incomplete: no package list', site: 'berlin' },
      { ...row({ host: 'web01', tag: 'web', archive: '/spool/d.scal', engine: 'podman', container_id: 'abc', container_name: 'app', image: 'img' }), ...base },
      { ...row({ host: 'web01', tag: 'web', class: 'no-shell', phase: 'exec', engine: 'podman', container_id: 'def', container_name: 'distroless', image: 'img2' }), ...base, upload: '-' },
      { ...row({ host: 'db03.example.com', port: 2222, tag: 'db', class: 'hostkey-changed', phase: 'handshake', message: hostKey('db03.example.com', 2222) }), ...base, upload: '-', site: 'paris' },
      { ...row({ host: '10.0.0.9', tag: 'db', class: 'hostkey-changed', phase: 'handshake', message: hostKey('10.0.0.9', 22).replace("'[10.0.0.9]:22'", "'10.0.0.9'") }), ...base, upload: '-', carried_over: 'yes', run_id: 'r0' },
    ];
    const report = join(dir, 'alone.jsonl');
    await writeFile(report, rows.map((x) => JSON.stringify(x)).join('\n') + '\n');
    const out = join(dir, 'alone.html');
    const r = runCli(['summary', report, '--compare', join(dir, 'no-such-yesterday.jsonl'), '-o', out]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /--compare .*no-such-yesterday\.jsonl: does not exist yet: nothing to compare with/);
    const html = await readFile(out, 'utf8');
    const doc = parse(html) as unknown as Node;
    assertSelfContained(doc, html);
    assert.match(text(byId(doc, 'delivery-uploaded')), /uploaded: 3$/, 'the sudo host and the container count');
    assert.match(text(byId(doc, 'delivery-waiting')), /: 1$/);
    assert.deepEqual(rowsOf(byId(doc, 'delivery-reasons')), [['collector http://c failed 3 times in a row; kept for the next run', '1']]);
    const facts = Object.fromEntries(rowsOf(byId(doc, 'run-facts-table')));
    assert.deepEqual(facts, { started: '2026-12-05 02:15:00 UTC', duration: '4.0 s', version: '1.2.3', hosts: '5', 'scanned in this run': '4', 'carried over (--resume)': '1', incomplete: '1', shards: '1' });
    assert.deepEqual(rowsOf(byId(doc, 'os-table')), [['Rocky Linux', '', '2'], ['', '9.3', '2'], ['Debian GNU/Linux', '', '1'], ['', '12', '1']]);
    assert.deepEqual(rowsOf(byId(doc, 'java-table')), [['17.0.9, Red Hat', '1']]);
    assert.deepEqual(rowsOf(byId(doc, 'tag-table')), [['db', '4', '2', '2'], ['web', '1', '0', '1']]);
    assert.deepEqual(rowsOf(byId(doc, 'label-site')), [['berlin', '2', '1', '1'], ['paris', '2', '1', '1'], ['(none)', '1', '0', '1']]);
    assert.deepEqual(rowsOf(byId(doc, 'containers-table')), [['podman', '1', '1', '0']]);
    assert.equal(text(byId(doc, 'fix-commands')), [
      "ssh-keygen -R '[db03.example.com]:2222' -f /etc/octoscan/known_hosts    # scan@db03.example.com:2222",
      "ssh-keygen -R '10.0.0.9' -f /etc/octoscan/known_hosts    # scan@10.0.0.9",
    ].join('\n'), 'the hosts\' own names, nothing folded');
    assert.deepEqual(rowsOf(byId(doc, 'warning-ids')).map((x) => [x[0], x[2], x[3]]), [['1002', '2', '4'], ['1004', '1', '1']]);
    assert.match(text(byId(doc, 'compare-missing')), /^Nothing to compare with/);
  });

  it('usage errors: exit 1, nothing written', async () => {
    assert.equal(runCli(['summary', join(dir, 'none.csv'), '-o', join(dir, 'x.html')]).status, 1);
    await writeFile(join(dir, 'bad.jsonl'), 'not json\n');
    const bad = runCli(['summary', join(dir, 'bad.jsonl'), '-o', join(dir, 'x.html')]);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /bad\.jsonl:1: not a JSON object/);
    assert.equal(runCli(['summary', join(dir, 'bad.jsonl')]).status, 1, '-o is required');
    const scan = runCli(['--local', '--out', dir, '--compare', join(dir, 'bad.jsonl')]);
    assert.equal(scan.status, 1);
    assert.match(scan.stderr, /--compare needs --summary/);
  });

  it('opens in a headless browser from a file, offline (skipped only where chromium is not installed and CI is not set)', async (t) => {
    const browser = '/usr/bin/chromium';
    if (!existsSync(browser)) {
      assert.ok(!process.env.CI, `${browser} missing in CI: .ci/run installs chromium`);
      t.skip('no chromium here (apt-get install chromium to run this test)');
      return;
    }
    const report = join(dir, 'browser.csv');
    await writeFile(report, csv([row({ host: 'a' }), row({ host: 'b', class: 'auth', phase: 'auth', message: EVIL })]));
    const page = join(dir, 'browser.html');
    assert.equal(runCli(['summary', report, '-o', page]).status, 0);
    const profile = await mkdtemp(join(tmpdir(), 'octoscan-chromium-'));
    try {
      const flags = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', `--user-data-dir=${profile}`];
      const dom = spawnSync(browser, [...flags, '--dump-dom', `file://${page}`], { encoding: 'utf8', timeout: 90_000 });
      assert.equal(dom.status, 0, dom.stderr);
      const doc = parse(dom.stdout) as unknown as Node;
      assert.equal(byId(doc, 'class-chart').tagName, 'svg');
      assert.deepEqual(rowsOf(byId(doc, 'class-table')).map((x) => x[0]), ['auth', 'ok']);
      assert.equal(rowsOf(byId(doc, 'failures-auth'))[0][1], EVIL, 'peer text stays text in a real browser');
      assert.ok(![...walk(doc)].some((n) => n.tagName === 'img' || n.tagName === 'script'));
      const shot = join(profile, 'page.png');
      const png = spawnSync(browser, [...flags, `--screenshot=${shot}`, '--window-size=1200,900', `file://${page}`], { encoding: 'utf8', timeout: 90_000 });
      assert.equal(png.status, 0, png.stderr);
      assert.ok((await readFile(shot)).subarray(1, 4).toString() === 'PNG', 'a screenshot was rendered');
    } finally {
      await rm(profile, { recursive: true, force: true });
    }
  });

  it('a --local scan with --summary and --compare writes the page after the report', async () => {
    const out = join(dir, 'scan');
    await mkdir(out);
    const prev = join(dir, 'prev-local.csv');
    await writeFile(prev, csv([row({ host: 'localhost', port: 0, user: 'someone-else', class: 'ok' })]));
    const page = join(dir, 'night.html');
    const r = runCli(['--local', '--out', out, '--report', join(out, 'r.csv'), '--summary', page, '--compare', prev, '--no-progress']);
    assert.ok(r.status === 0 || r.status === 2, r.stderr);
    const html = await readFile(page, 'utf8');
    const doc = parse(html) as unknown as Node;
    assertSelfContained(doc, html);
    assert.equal(rowsOf(byId(doc, 'class-table')).length, 1);
    assert.equal(rowsOf(byId(doc, 'added')).length, 1);
    assert.equal(rowsOf(byId(doc, 'gone')).length, 1);
    if (r.status === 0 && process.platform === 'linux') assert.ok(rowsOf(byId(doc, 'os-table')).length >= 2, 'this machine\'s OS read from its archive');
  });
});
