// Inputs of a real estate's size, generated here: a known_hosts of 1,000,000
// lines, a report of 1,000,000 rows for the summary page, a host with 1,000,000
// containers in the report, and archives for inspect that are hostile (a
// million entries, zip bombs, bidi and control characters). Each must give an
// answer, not a crash, within a bounded time and memory.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { decideHostKey, knownKeyTypes, loadKnownHosts } from '../../src/transport/known-hosts.js';
import { ed25519Blob, lineOf, writeLargeKnownHosts, type LargeFileShape } from '../helpers/known-hosts-file.js';
import { summaryHtml } from '../../src/sweep/summary-html.js';
import { summaryRow, type SummaryRow } from '../../src/sweep/report-reader.js';
import { wholeList } from '../../src/cli/main.js';
import { writeReportRows, type ReportRow } from '../../src/sweep/report.js';
import type { HostOutcome, HostSpec } from '../../src/types.js';
import { ARCHIVE_LIMITS, readArchive } from '../../src/archive/archive-reader.js';
import { linuxOctoscanXml } from '../../src/archive/octoscan-xml.js';
import { deflated, stored, writeRawZip } from '../helpers/raw-zip.js';

const root = join(import.meta.dirname, '..', '..');
const MILLION = 1_000_000;
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'octoscan-large-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('known_hosts of 1,000,000 lines', () => {
  // One line in 20 hashed (50,000), one in 1,000 a @revoked, @cert-authority or wildcard line in turn.
  const shape: LargeFileShape = { lines: MILLION, hashedEvery: 20, markerEvery: 1000 };

  it('reads once, and every kind of line decides as on a small file; a host costs a bounded lookup', async () => {
    const file = join(dir, 'known_hosts');
    await writeLargeKnownHosts(file, shape);
    const warnings: string[] = [];
    const entries = await loadKnownHosts([file], warnings);
    assert.deepEqual(warnings, []);
    assert.equal(entries.length, MILLION - 10); // ten comment lines

    const at = (i: number) => lineOf(shape, i);
    // A plain name and its address, near the end of the file.
    const plain = at(999_999);
    assert.equal(plain.kind, 'plain');
    const d = decideHostKey(entries, plain.host, 22, ed25519Blob(plain.key));
    assert.equal(d.verdict, 'match');
    assert.deepEqual(d.matchedLine, { file, line: 999_999 });
    assert.equal(decideHostKey(entries, '10.15.66.63', 22, ed25519Blob(plain.key)).verdict, 'match'); // 999999 = 0x0f423f
    assert.equal(decideHostKey(entries, plain.host.toUpperCase(), 22, ed25519Blob(plain.key)).verdict, 'match');
    assert.equal(decideHostKey(entries, plain.host, 22, ed25519Blob(7)).verdict, 'changed');
    assert.equal(decideHostKey(entries, plain.host, 2222, ed25519Blob(plain.key)).verdict, 'unknown');
    // A hashed name.
    const hashed = at(999_980);
    assert.equal(hashed.kind, 'hashed');
    const h = decideHostKey(entries, hashed.host, 22, ed25519Blob(hashed.key));
    assert.equal(h.verdict, 'match');
    assert.equal(h.matchedLine?.line, 999_980);
    assert.equal(decideHostKey(entries, hashed.host, 22, ed25519Blob(hashed.key + 1)).verdict, 'changed');
    // @revoked refuses its key whatever host presents it; @cert-authority lines never match a host key.
    const revoked = at(999_000);
    assert.equal(revoked.kind, 'revoked');
    const r = decideHostKey(entries, plain.host, 22, ed25519Blob(revoked.key));
    assert.equal(r.verdict, 'revoked');
    assert.equal(r.matchedLine?.line, 999_000);
    const ca = at(997_000);
    assert.equal(ca.kind, 'cert-authority');
    assert.equal(decideHostKey(entries, `x.ca${997_000}.example.org`, 22, ed25519Blob(ca.key)).verdict, 'unknown');
    // A wildcard with a negation beside it.
    const wild = at(998_000);
    assert.equal(wild.kind, 'wildcard');
    assert.equal(decideHostKey(entries, `db.w${998_000}.example.org`, 22, ed25519Blob(wild.key)).verdict, 'match');
    assert.equal(decideHostKey(entries, `bad.w${998_000}.example.org`, 22, ed25519Blob(wild.key)).verdict, 'unknown');
    assert.equal(decideHostKey(entries, 'nowhere.example.com', 22, ed25519Blob(1)).verdict, 'unknown');

    // 200 hosts as a sweep looks them up (key types, then the decision): the plain
    // names by Map, the 50,000 hashed ones once per host (kept for the second call).
    const t = performance.now();
    for (let k = 0; k < 200; k++) {
      const l = at(1 + k * 4999);
      const types = knownKeyTypes(entries, l.host, 22);
      const v = decideHostKey(entries, l.host, 22, ed25519Blob(l.key)).verdict;
      if (l.kind === 'plain' || l.kind === 'hashed') assert.equal(v, 'match', `line ${1 + k * 4999}`);
      if (l.kind === 'plain') assert.deepEqual(types, ['ssh-ed25519']);
    }
    const perHost = (performance.now() - t) / 200;
    // One pass over 50,000 hashed names is about 30 ms of CPU; a scan of the whole file per host would be seconds.
    assert.ok(perHost < 1000, `${perHost.toFixed(1)} ms per host`);
  });
});

describe('the summary page of 1,000,000 rows', () => {
  it('500,000 distinct classes and 500,000 distinct messages: the largest shown, the rest counted', () => {
    const rows: SummaryRow[] = [];
    for (let i = 0; i < MILLION; i++) {
      rows.push(summaryRow({
        host: `h${i}`, port: '22', user: 'scan', class: i % 2 ? `class-${i}` : 'auth', phase: 'auth', message: `no way in (${i} tries)`, archive: '', duration_ms: i, bytes: 0, warnings: 0, attempts: 1,
      }));
    }
    const t = performance.now();
    const html = summaryHtml({ rows, archives: new Map(), source: 'big.csv', generatedAt: new Date(0) });
    const ms = performance.now() - t;
    assert.match(html, /1000000 hosts, 0 ok, 1000000 failed/);
    assert.match(html, /<p id="other-classes">499951 other classes: 499951 hosts\.<\/p>/);
    assert.match(html, /<p class="more-messages">499900 other messages: 499900 hosts\.<\/p>/);
    assert.ok(html.length < 5_000_000, `${html.length} characters`);
    assert.ok(ms < 60_000, `${ms} ms`);
  });
});

describe('the report of a host with 1,000,000 containers', () => {
  it('is assembled and written whole', async () => {
    const spec = { host: 'big', port: 22, user: 'scan', tag: '', identities: [], origin: { file: 'hosts.csv', line: 2 } } as unknown as HostSpec;
    const carried = { host: 'old', port: 22, user: 'scan', tag: '', identities: [], origin: { file: 'hosts.csv', line: 3 } } as unknown as HostSpec;
    const base = { spec, phase: 'done', message: '', startedAt: new Date(0), durationMs: 1, bytes: 0, warnings: 0, attempts: 1 } as const;
    const containers: HostOutcome[] = [];
    const startedAt = new Date(0);
    for (let i = 0; i < MILLION; i++) {
      containers.push({ spec, class: 'ok', phase: 'done', message: '', startedAt, durationMs: 1, bytes: 0, warnings: 0, attempts: 1, container: { engine: 'podman', id: `c${i}`, name: 'n', image: 'img' } } as unknown as HostOutcome);
    }
    const o = { ...base, class: 'ok', containers } as unknown as HostOutcome;
    // A host carried over by --resume, with its own long list of rows.
    const carriedRows = Array.from({ length: 1000 }, (_, i) => ({ host: 'old', container_id: `k${i}` }) as unknown as ReportRow);
    const rows = wholeList({ all: [spec, carried], carried: new Map([[carried, carriedRows]]) }, [o], { runId: 'r', version: 'v' });
    assert.equal(rows.length, 1 + MILLION + 1000);
    assert.equal(rows[MILLION].container_id, `c${MILLION - 1}`);
    assert.equal(rows[rows.length - 1].container_id, `k${1000 - 1}`);
    const report = join(dir, 'report.jsonl');
    await writeReportRows(report, rows.slice(0, 1 + MILLION));
    const text = await readFile(report);
    let lines = 0;
    for (let i = text.indexOf(0x0a); i >= 0; i = text.indexOf(0x0a, i + 1)) lines++;
    assert.equal(lines, 1 + MILLION);
    assert.ok(text.subarray(text.length - 400).toString().includes(`"container_id":"c${MILLION - 1}"`));
    await rm(report);
  });
});

describe('inspect of hostile archives', () => {
  const UUID = '0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d';
  const xml = (fqdn = 'db01.example.com') =>
    linuxOctoscanXml({
      uuid: UUID, python: '3.11.2', platform: 'Linux', fqdn, timestamp: '2026-11-24T19:45:45', userId: '0', effectiveUserId: '0', login: 'root', tag: '', warnings: [], durationMs: 1,
    });
  /**
   * inspect run as the CLI runs it, with its peak RSS: VmHWM of its own memory map
   * (getrusage's maxRSS would count the parent's, copied at fork).
   */
  const inspect = (args: string[]) => {
    const code = `import { runInspectCommand } from ${JSON.stringify(pathToFileURL(join(root, 'src', 'cli', 'inspect-command.ts')).href)};
      import { readFileSync } from 'node:fs';
      const rc = await runInspectCommand(process.argv.slice(1));
      process.stderr.write('maxrss ' + /VmHWM:\\s*(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1] + '\\n');
      process.exitCode = rc;`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code, '--', ...args], { encoding: 'utf8', cwd: root, timeout: 120_000, maxBuffer: 64 * 1024 * 1024 });
    const rssMb = Number(/maxrss (\d+)/.exec(r.stderr)?.[1] ?? NaN) / 1024;
    return { ...r, rssMb };
  };

  it('an archive of 1,000,000 entries breaks the contract, without a crash', async () => {
    const file = join(dir, `${UUID}.scal`);
    await writeRawZip(file, [stored(`${UUID}/e`, Buffer.from('x'))], MILLION, (i) => `${UUID}/e${i}`);
    const a = await readArchive(file);
    assert.equal(a.ok, false);
    assert.match(a.problems.join('\n'), /holds 1000000 entries, more than the 100000 inspect reads/);
    const r = inspect([file]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stdout, /BREAKS THE ARCHIVE CONTRACT/);
    assert.ok(r.rssMb < 256, `${r.rssMb} MB`);
    await rm(file);
  });


  it('entry names are kept up to a total: 300 names of 64,000 bytes stop the listing', async () => {
    const file = join(dir, `${UUID}.scal`);
    await writeRawZip(file, [stored(`${UUID}/e`, Buffer.from('x'))], 300, (i) => `${UUID}/${'n'.repeat(64_000)}${i}`);
    const a = await readArchive(file);
    assert.equal(a.ok, false);
    assert.match(a.problems.join('\n'), /the entry names take more than the 16777216 bytes inspect reads: not read further/);
    assert.ok(a.entries.length < 300 && a.entries.length > 200, `${a.entries.length} entries listed`);
    await rm(file);
  });

  it('zip bombs are reported as such (exit 1) and nothing is decompressed past the limits, within 256 MB', async () => {
    const zeros = deflated('x', Buffer.alloc(200 * 1024 * 1024)); // 200 MiB of zeros, about 200 KB deflated
    const bomb = (name: string) => ({ ...zeros, name });
    const file = join(dir, 'bomb', `${UUID}.scal`);
    await import('node:fs/promises').then((fs) => fs.mkdir(join(dir, 'bomb')));
    await writeRawZip(file, [
      bomb(`${UUID}/release/os-release`),
      bomb(`${UUID}/dpkg/installed.txt`),
      ...Array.from({ length: 20 }, (_, i) => bomb(`${UUID}/release/x${i}-release`)),
      deflated(`${UUID}/octoscan.xml`, Buffer.from(xml())),
    ]);
    const a = await readArchive(file);
    assert.equal(a.ok, false);
    assert.match(a.problems[0], /^zip bomb: ".*\/release\/os-release" declares 209715200 bytes from \d+ compressed \(\d+:1; the limit is 200:1\) \(and 21 more entries over the limits\)$/);
    assert.equal(a.host.fqdn, 'db01.example.com'); // what is within the limits is still read
    assert.deepEqual(a.packages, []);
    const r = inspect([file]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /zip bomb/);
    assert.ok(r.rssMb < 256, `${r.rssMb} MB`);

    // Sizes a central directory declares are capped too, whatever the ratio.
    const huge = join(dir, 'bomb', `${UUID.replace('0b', '1b')}.scal`);
    await writeRawZip(huge, [{ ...deflated(`${UUID.replace('0b', '1b')}/big`, Buffer.alloc(0)), size: ARCHIVE_LIMITS.entrySize + 1 }]);
    assert.match((await readArchive(huge)).problems.join('\n'), /zip bomb: .*big" declares 2147483649 bytes uncompressed, more than the 2147483648-byte limit/);
  });

  it('text from the archive is printed with the peer-text rule: controls and bidi escaped, in text and JSON', async () => {
    // XML 1.0 cannot hold C0 controls (the writer makes them U+FFFD); the entry name can.
    const evil = 'db\u202e\u2066moc.elpmaxe\u2069\u007f\u0085';
    const file = join(dir, 'evil', `${UUID}.scal`);
    await import('node:fs/promises').then((fs) => fs.mkdir(join(dir, 'evil')));
    await writeRawZip(file, [deflated(`${UUID}/release/os-\u2067\u001b[2Jrelease`, Buffer.from('x')), deflated(`${UUID}/octoscan.xml`, Buffer.from(xml(evil)))]);
    const r = inspect([file]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /fqdn {6}db\\u202e\\u2066moc\.elpmaxe\\u2069\\x7f\\x85\n/);
    assert.match(r.stdout, /os-\\u2067\\x1b\[2Jrelease/);
    assert.doesNotMatch(r.stdout, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);
    const j = inspect(['--json', file]);
    assert.doesNotMatch(j.stdout, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);
    assert.equal(JSON.parse(j.stdout).host.fqdn, evil); // the JSON value itself is unchanged
  });

  it('an octoscan.xml nested deeper than the parser holds is reported, not thrown', async () => {
    const file = join(dir, 'deep', `${UUID}.scal`);
    await import('node:fs/promises').then((fs) => fs.mkdir(join(dir, 'deep')));
    const n = 140_000; // under 1 MiB, so the ratio check leaves it to the parser
    await writeRawZip(file, [deflated(`${UUID}/octoscan.xml`, Buffer.from(`<octoscan uuid="${UUID}">${'<a>'.repeat(n)}${'</a>'.repeat(n)}</octoscan>`))]);
    const a = await readArchive(file);
    assert.equal(a.ok, false);
    assert.match(a.problems.join('\n'), /octoscan\.xml cannot be parsed/);
  });
});
