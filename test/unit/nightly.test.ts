// Unit checks behind the nightly-operations issue (12): the ETA from finished
// hosts, the stamped log and its levels, completeness of an ok archive, report
// rows and carried-over rows.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { buildCommand } from '../../src/cli/options.js';
import { completenessOf, completenessText, warningIdsText } from '../../src/scan/completeness.js';
import { createLog, startLine } from '../../src/sweep/log.js';
import { createProgress, etaText, summaryLine } from '../../src/sweep/progress.js';
import { carriedRow, formatRows, REPORT_COLUMNS, reportRow, scannedAt } from '../../src/sweep/report.js';
import type { HostOutcome } from '../../src/types.js';

const spec = { host: 'db01', port: 22, user: 'scan', identities: [], tag: '', origin: { file: '<args>', line: 0 } };
const outcome = (o: Partial<HostOutcome> = {}): HostOutcome => ({
  spec, class: 'ok', phase: 'done', message: '', archive: '/import/x.scal', startedAt: new Date('2026-11-30T02:00:00.000Z'), durationMs: 1500, bytes: 10, warnings: 0, attempts: 1, ...o,
});

/** A terminal that records what the bar draws. */
function fakeTty(): { stream: NodeJS.WriteStream; text: () => string } {
  let buf = '';
  const w = new Writable({
    write(chunk: Buffer, _enc, cb) {
      buf += chunk.toString();
      cb();
    },
  }) as unknown as NodeJS.WriteStream & Record<string, unknown>;
  Object.assign(w, { isTTY: true, columns: 200, cursorTo: () => true, clearLine: () => true, moveCursor: () => true, clearScreenDown: () => true });
  return { stream: w, text: () => buf };
}

describe('ETA from finished hosts', () => {
  it('unknown until a host finished, then the mean time per finished host times those left', () => {
    assert.equal(etaText(1000, 0, 40), '?');
    assert.equal(etaText(5800, 20, 40), '6s');
    assert.equal(etaText(60_000, 1, 5), '4m00s');
    assert.equal(etaText(1000, 40, 40), '0s');
  });

  it('the bar does not show "ETA 0s" and then minutes for a run of seconds when hosts fail', () => {
    const tty = fakeTty();
    let now = 0;
    const p = createProgress(40, { tty: true, stream: tty.stream, write: (t) => tty.stream.write(t), now: () => now });
    for (let i = 0; i < 40; i++) p.started();
    for (let i = 0; i < 40; i++) {
      now += 290; // 40 hosts in 11.6 s
      p.finished(outcome({ class: i % 5 === 0 ? 'auth' : 'ok', message: 'no' }));
    }
    p.stop();
    const etas = [...tty.text().matchAll(/ETA ([^\s\x1b]+)/g)].map((m) => m[1]);
    assert.ok(etas.length > 0, tty.text());
    assert.equal(etas[0], '?', 'nothing finished yet: unknown, not 0s');
    for (const e of etas) assert.match(e, /^(\?|\d{1,2}s)$/, `every ETA is seconds for an 11.6 s run: ${etas.join(' ')}`);
  });
});

describe('the log', () => {
  it('off a terminal every line starts with an ISO timestamp; on a terminal none', () => {
    let text = '';
    const log = createLog({ tty: false, write: (t) => (text += t), now: () => new Date('2026-11-30T02:00:00.000Z') });
    log.write('ok a\nok b\n');
    log.info('start');
    assert.equal(text, '2026-11-30T02:00:00.000Z ok a\n2026-11-30T02:00:00.000Z ok b\n2026-11-30T02:00:00.000Z start\n');
    let plain = '';
    createLog({ tty: true, write: (t) => (plain += t) }).info('start');
    assert.equal(plain, 'start\n');
  });

  it('-q keeps failures and the summary, -v adds details', () => {
    const seen = (o: { quiet?: boolean; verbose?: boolean }): string[] => {
      const out: string[] = [];
      const log = createLog({ tty: true, ...o, write: (t) => out.push(t.trim()) });
      log.always('FAILED x');
      log.info('ok y');
      log.detail('y: handshake');
      return out;
    };
    assert.deepEqual(seen({ quiet: true }), ['FAILED x']);
    assert.deepEqual(seen({}), ['FAILED x', 'ok y']);
    assert.deepEqual(seen({ verbose: true }), ['FAILED x', 'ok y', 'y: handshake']);
  });

  it('the start line names version, run, hosts, parallelism, shard and folder', () => {
    assert.equal(
      startLine({ version: '1.2.3', runId: 'r1', hosts: 40, skipped: 2, parallel: 8, shard: '0/4', out: '/import' }),
      'octoscan-remote 1.2.3, run r1, 40 hosts (+2 carried over by --resume), parallel 8, shard 0/4, out /import',
    );
  });
});

describe('completeness of an ok archive', () => {
  const e = (...names: string[]) => names.map((name) => ({ name, probe: 'p', bytes: 1, truncated: false }));
  it('RHEL without rpm: no package list', () => {
    const c = completenessOf('linux', {
      entries: e('release/redhat-release', 'release/os-release', 'proc/cpuinfo'),
      skips: [{ probe: 'dpkg', reason: 'not-found:dpkg-query' }, { probe: 'rpm', reason: 'not-found:rpm' }, { probe: 'apk', reason: 'superseded' }],
      warnings: [{ id: 1004, message: 'a' }, { id: 1002, message: 'b' }, { id: 1004, message: 'c' }],
    }, 6);
    assert.deepEqual(c, { entries: 6, packageList: false, release: true, skipped: ['dpkg:not-found:dpkg-query', 'rpm:not-found:rpm'], warningIds: { 1004: 2, 1002: 1 }, missing: ['no package list'] });
    assert.equal(completenessText(c), 'incomplete: no package list');
    assert.equal(warningIdsText(c.warningIds), '1002:1 1004:2');
  });
  it('a busybox appliance: no release file (and then no package manager is expected)', () => {
    assert.deepEqual(completenessOf('linux', { entries: e('proc/cpuinfo'), skips: [], warnings: [] }, 3).missing, ['no release file']);
  });
  it('a Debian host with its list is complete', () => {
    assert.equal(completenessText(completenessOf('linux', { entries: e('release/os-release', 'dpkg/installed.txt'), skips: [], warnings: [] }, 4)), 'complete');
  });
  it('a Mac without sysctl, ioreg and system_profiler: no hardware data, no application list', () => {
    const c = completenessOf('darwin', { entries: e('cmd/who'), skips: [{ probe: 'mac-sysctl', reason: 'not-found:/usr/sbin/sysctl' }], warnings: [] }, 5);
    assert.deepEqual(c.missing, ['no hardware data', 'no application list']);
  });
});

describe('report rows', () => {
  it('carry completeness, times, run id and version', () => {
    const r = reportRow(outcome({ completeness: { entries: 9, packageList: false, release: true, skipped: ['rpm:not-found:rpm'], warningIds: { 1004: 1 }, missing: ['no package list'] } }), { runId: 'run-1', version: '9.9.9' });
    assert.deepEqual(Object.keys(r), [...REPORT_COLUMNS]);
    assert.equal(r.completeness, 'incomplete: no package list');
    assert.equal(r.package_list, 'no');
    assert.equal(r.started_at, '2026-11-30T02:00:00.000Z');
    assert.equal(r.finished_at, '2026-11-30T02:00:01.500Z');
    assert.equal(r.run_id, 'run-1');
    assert.equal(r.version, '9.9.9');
    assert.equal(r.carried_over, '');
  });
  it('a carried row keeps its values, undoes the CSV apostrophe, and is marked', () => {
    const c = carriedRow({ host: 'db01', port: '22', user: 'scan', tag: "'=x", class: 'ok', started_at: '2026-11-29T02:00:00.000Z', run_id: 'old', bytes: '10' });
    assert.equal(c.tag, '=x');
    assert.equal(c.port, 22);
    assert.equal(c.carried_over, 'yes');
    assert.equal(c.run_id, 'old');
    assert.equal(scannedAt(c)?.toISOString(), '2026-11-29T02:00:00.000Z');
    assert.equal(scannedAt({}), undefined);
    assert.match(formatRows('r.csv', [c]), /\n db01|db01,22,scan,'=x,ok/);
  });
  it('the summary line counts incomplete hosts and carried rows', () => {
    const inc = outcome({ completeness: { entries: 1, packageList: false, release: false, skipped: [], warningIds: {}, missing: ['no release file'] } });
    assert.equal(summaryLine([outcome(), inc, outcome({ class: 'auth' })], 11_600, 3), '3 hosts: 2 ok (1 incomplete), 1 failed (auth 1), 3 carried over in 11.6 s');
  });
});

describe('smaller truths', () => {
  const readme = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
  it('--help on --host-key-policy: off accepts a changed key with a warning, so "always fails" is not said', () => {
    const help = buildCommand().helpInformation().replace(/\s+/g, ' ');
    assert.doesNotMatch(help, /changed key always fails/);
    assert.match(help, /off: no verification, a warning per host/);
  });
  it('--max-host-bytes names its 1 MiB minimum in --help and the README', () => {
    assert.match(buildCommand().helpInformation().replace(/\s+/g, ' '), /--max-host-bytes <bytes> cap on the output kept per host \(at least 1048576\)/);
    assert.match(readme, /`--max-host-bytes N` \| 536870912 \| [^\n]*at least 1048576/);
  });
  it('the README links the archive format written down in this repository, not a file it does not hold', () => {
    assert.doesNotMatch(readme, /octoscan-archive\.md/);
    assert.match(readme, /\]\(docs\/archive-format\.md\)/);
    assert.ok(existsSync(join(import.meta.dirname, '..', '..', 'docs', 'archive-format.md')));
  });
});
