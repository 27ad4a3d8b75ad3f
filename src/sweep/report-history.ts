// Dated reports in one folder (--report-dir): each run's report is
// DIR/<start, ISO 8601 basic>[.shard-I-of-N].csv|.jsonl, kept, so the history
// is the folder. --compare previous takes the newest earlier one, and
// `summary DIR` the newest night (all its shards).
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';

const REPORT_NAME = /^(\d{8}T\d{6}Z)(?:\.shard-(\d+)-of-(\d+))?\.(csv|jsonl)$/;

export interface DatedReport {
  path: string;
  /** The run's start, ISO basic (sorts as time). */
  stamp: string;
  shard?: { index: number; count: number };
}

/** 2026-12-05T02:15:00.123Z -> 20261205T021500Z */
export function isoBasic(d: Date): string {
  return d.toISOString().replace(/\.\d+Z$/, 'Z').replace(/[-:]/g, '');
}

export function datedReportName(dir: string, start: Date, format: 'csv' | 'jsonl', shard?: { index: number; count: number }): string {
  return join(dir, `${isoBasic(start)}${shard ? `.shard-${shard.index}-of-${shard.count}` : ''}.${format}`);
}

/** The dated reports in a folder, oldest first. */
export async function datedReports(dir: string): Promise<DatedReport[]> {
  const found: DatedReport[] = [];
  for (const name of await readdir(dir)) {
    const m = REPORT_NAME.exec(name);
    if (!m) continue;
    found.push({ path: join(dir, name), stamp: m[1], shard: m[2] === undefined ? undefined : { index: Number(m[2]), count: Number(m[3]) } });
  }
  return found.sort((a, b) => (a.stamp < b.stamp ? -1 : a.stamp > b.stamp ? 1 : a.path < b.path ? -1 : 1));
}

const sameShard = (a: DatedReport['shard'], b: DatedReport['shard']): boolean => a?.index === b?.index && a?.count === b?.count;

/** The newest report of the same shard started before `start`, or undefined on the first night. */
export async function previousReport(dir: string, start: Date, shard?: { index: number; count: number }): Promise<string | undefined> {
  const now = isoBasic(start);
  return (await datedReports(dir)).filter((r) => r.stamp < now && sameShard(r.shard, shard)).at(-1)?.path;
}

/** The newest night in a folder: its one report, or the newest report of each of its shards. */
export async function newestNight(dir: string): Promise<string[]> {
  const all = await datedReports(dir);
  const last = all.at(-1);
  if (!last) return [];
  if (!last.shard) return [last.path];
  const count = last.shard.count;
  const picked: string[] = [];
  for (let i = 0; i < count; i++) {
    const r = all.filter((x) => x.shard?.count === count && x.shard.index === i).at(-1);
    if (r) picked.push(r.path);
  }
  return picked;
}
