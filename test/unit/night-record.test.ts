// The night's record: the report appended as hosts finish and rewritten in
// list order at the end; a report cut short mid-line (a killed run) still
// read by --resume and summary; dated reports in --report-dir; `upload
// --report` marking delivered rows, every other cell and column untouched.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import { ReportLog } from '../../src/sweep/report-log.js';
import { datedReportName, isoBasic, newestNight, previousReport } from '../../src/sweep/report-history.js';
import { markDelivered } from '../../src/sweep/report-update.js';
import { readReport } from '../../src/sweep/report-reader.js';
import { doneHostsOf, formatRows, reportRow, withoutUploadReason, type ReportRow } from '../../src/sweep/report.js';
import type { HostOutcome } from '../../src/types.js';
import { workspace } from '../helpers/workspace.js';

const fresh = workspace('octoscan-record-');

function outcome(host: string, o: Partial<HostOutcome> = {}): HostOutcome {
  return {
    spec: { host, port: 22, user: 'scan', identities: [], tag: 'prod', origin: { file: 'h.csv', line: 2 } },
    class: 'ok', phase: 'done', message: '', archive: `/out/${host}.scal`, startedAt: new Date('2026-12-05T02:15:00Z'), durationMs: 1000, bytes: 10, warnings: 0, attempts: 1, ...o,
  };
}
const row = (host: string, o: Partial<HostOutcome> = {}): ReportRow => reportRow(outcome(host, o), { runId: 'r1', version: '9.9.9' });

describe('report log', () => {
  for (const ext of ['csv', 'jsonl']) {
    it(`${ext}: the carried rows at once, each host as it finishes, list order at the end`, async () => {
      const file = path.join(fresh('r'), `night.${ext}`);
      const faults: string[] = [];
      const log = new ReportLog(file, (m) => faults.push(m));
      await log.begin([row('carried')]);
      log.append([row('b')]);
      log.append([row('a')]);
      // What a SIGKILL now would leave: the carried row and both finished hosts, in finishing order.
      await new Promise((r) => setTimeout(r, 50));
      const mid = await readReport(file);
      assert.deepEqual(mid.hosts.map((h) => h.host), ['carried', 'b', 'a']);
      await log.finish([row('carried'), row('a'), row('b')]);
      assert.deepEqual((await readReport(file)).hosts.map((h) => h.host), ['carried', 'a', 'b']);
      assert.equal(readFileSync(file, 'utf8'), formatRows(file, [row('carried'), row('a'), row('b')]));
      assert.deepEqual(faults, []);
    });
  }

  it('a folder that cannot be written: one fault naming the file, no exception', async () => {
    const file = path.join(fresh('r'), 'missing-folder', 'night.csv');
    const faults: string[] = [];
    const log = new ReportLog(file, (m) => faults.push(m));
    await log.begin([]);
    log.append([row('a')]);
    await log.finish([row('a')]);
    assert.equal(faults.length, 1, faults.join('\n'));
    assert.match(faults[0], /^--report .*missing-folder\/night\.csv: ENOENT/);
  });
});

describe('a report cut short by a killed run', () => {
  for (const ext of ['csv', 'jsonl']) {
    it(`${ext}: the whole rows stand for --resume and summary; the cut line is left out`, async () => {
      const file = path.join(fresh('cut'), `night.${ext}`);
      const whole = formatRows(file, [row('a'), row('b', { message: 'x, "quoted"\nline' }), row('c')]);
      writeFileSync(file, whole.slice(0, whole.length - 40));
      assert.deepEqual([...(await doneHostsOf(file)).keys()].map((k) => k.split('\0')[0]), ['a', 'b']);
      assert.deepEqual((await readReport(file)).hosts.map((h) => h.host), ['a', 'b']);
    });
  }
});

describe('--report-dir', () => {
  it('names each run by its start (ISO basic) and shard; previous is the newest earlier of the same shard; a folder is its newest night', async () => {
    const dir = fresh('dir');
    const t = (s: string): Date => new Date(s);
    assert.equal(isoBasic(t('2026-12-05T02:15:00.123Z')), '20261205T021500Z');
    assert.equal(datedReportName(dir, t('2026-12-05T02:15:00Z'), 'csv', { index: 1, count: 3 }), path.join(dir, '20261205T021500Z.shard-1-of-3.csv'));
    assert.equal(await previousReport(dir, t('2026-12-05T02:15:00Z')), undefined, 'the first night');
    for (const n of ['20261203T021500Z.csv', '20261204T021500Z.jsonl', '20261204T021501Z.shard-0-of-2.csv', '20261204T021502Z.shard-1-of-2.csv', 'notes.csv']) writeFileSync(path.join(dir, n), '');
    assert.equal(await previousReport(dir, t('2026-12-05T02:15:00Z')), path.join(dir, '20261204T021500Z.jsonl'));
    assert.equal(await previousReport(dir, t('2026-12-04T02:15:00Z')), path.join(dir, '20261203T021500Z.csv'), 'earlier than the start only');
    assert.equal(await previousReport(dir, t('2026-12-05T00:00:00Z'), { index: 1, count: 2 }), path.join(dir, '20261204T021502Z.shard-1-of-2.csv'));
    assert.deepEqual(await newestNight(dir), [path.join(dir, '20261204T021501Z.shard-0-of-2.csv'), path.join(dir, '20261204T021502Z.shard-1-of-2.csv')]);
  });
});

describe('upload --report', () => {
  it('the waiting reason comes last in the message and goes again once delivered', () => {
    const r = row('a', { message: '1 command failed (x): standard error in scan.json', upload: 'waiting', uploadMessage: 'collector http://c failed 3 times in a row; kept for the next run' });
    assert.equal(r.message, '1 command failed (x): standard error in scan.json; upload: collector http://c failed 3 times in a row; kept for the next run');
    assert.equal(withoutUploadReason(String(r.message)), '1 command failed (x): standard error in scan.json');
    assert.equal(withoutUploadReason('upload: down; last: 500'), '');
  });

  for (const ext of ['csv', 'jsonl']) {
    it(`${ext}: only the delivered rows change; other cells and unknown columns stay as written`, async () => {
      const file = path.join(fresh('up'), `night.${ext}`);
      const rows = [
        { ...row('a', { upload: 'waiting', uploadMessage: 'down' }), site: '=berlin' },
        { ...row('b', { upload: 'waiting', uploadMessage: 'down' }), site: 'x' },
        { ...row('c', { class: 'auth', archive: undefined, message: '-refused' }), site: '' },
      ];
      if (ext === 'jsonl') writeFileSync(file, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
      else {
        const csv = formatRows(file, rows).split('\n');
        // A label column this version does not know, written as a later version would.
        writeFileSync(file, csv.map((l, i) => (l ? `${l},${i === 0 ? 'site' : i === 1 ? "'=berlin" : i === 2 ? 'x' : ''}` : l)).join('\n'));
      }
      const before = readFileSync(file, 'utf8');
      assert.equal(await markDelivered(file, new Set(['a.scal'])), 1);
      const after = readFileSync(file, 'utf8');
      const read = ext === 'jsonl' ? after.trim().split('\n').map((l) => JSON.parse(l)) : (parse(after, { columns: true }) as Record<string, string>[]);
      assert.deepEqual(read.map((r) => [r.host, r.upload, r.message]), [['a', 'uploaded', ''], ['b', 'waiting', 'upload: down'], ['c', '-', ext === 'csv' ? "'-refused" : '-refused']]);
      assert.equal(read[0].site, ext === 'csv' ? "'=berlin" : '=berlin', 'the formula guard stays as written');
      assert.equal(after.split('\n').length, before.split('\n').length);
      assert.equal(await markDelivered(file, new Set(['a.scal'])), 0, 'a second time changes nothing');
    });
  }
});
