// Reads a run report back (CSV or JSON lines, as src/sweep/report.ts writes
// it) into plain rows, for `octoscan-remote summary` and --compare.
import { readFile } from 'node:fs/promises';
import { parse } from 'csv-parse/sync';
import { failedClass, isContainerRow, isJsonLines } from './report.js';

export interface SummaryRow {
  host: string;
  port: string;
  user: string;
  tag: string;
  class: string;
  phase: string;
  message: string;
  archive: string;
  durationMs: number;
  bytes: number;
  warnings: number;
  attempts: number;
  /** Its container and engine rows that failed (failedClass): the host then counts as failed, as in the summary line and the exit code. */
  containersFailed?: number;
}

const num = (v: unknown): number => {
  const n = Number(v);
  return Number.isFinite(n) ? n : 0;
};
const str = (v: unknown): string => (v === undefined || v === null ? '' : String(v));
/** csvCell put an apostrophe before =, +, -, @, tab and CR; take it off again. */
const uncell = (v: unknown): string => str(v).replace(/^'(?=[=+\-@\t\r])/, '');

export function summaryRow(r: Record<string, unknown>, un: (v: unknown) => string = str): SummaryRow {
  return {
    host: un(r['host']), port: str(r['port']), user: un(r['user']), tag: un(r['tag']), class: str(r['class']), phase: str(r['phase']),
    message: un(r['message']), archive: un(r['archive']), durationMs: num(r['duration_ms']), bytes: num(r['bytes']), warnings: num(r['warnings']), attempts: num(r['attempts']),
  };
}

/** The hosts' own rows of a report being written; a host's container rows (which follow it) only count its failed containers. */
export function summaryRowsOf(rows: Record<string, unknown>[], un: (v: unknown) => string = str): SummaryRow[] {
  const out: SummaryRow[] = [];
  for (const r of rows) {
    const last = out[out.length - 1];
    if (!isHostRow(r)) {
      if (last && failedClass(r['class'], true)) last.containersFailed = (last.containersFailed ?? 0) + 1;
    } else out.push(summaryRow(r, un));
  }
  return out;
}

export class ReportReadError extends Error {}

/** A container's row (--containers) shares its host's host/port/user; the summary is about hosts. */
const isHostRow = (r: Record<string, unknown>): boolean => !isContainerRow(r);

export async function readReportRows(path: string): Promise<SummaryRow[]> {
  const text = await readFile(path, 'utf8');
  if (isJsonLines(path)) {
    return summaryRowsOf(text.split(/\r?\n/).flatMap((line, i) => {
      if (!line.trim()) return [];
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        throw new ReportReadError(`${path}:${i + 1}: not a JSON object; give a report written by --report`);
      }
    }));
  }
  let records: Record<string, unknown>[];
  try {
    records = parse(text, { columns: true, bom: true, skip_empty_lines: true }) as Record<string, unknown>[];
  } catch (err) {
    throw new ReportReadError(`${path}: ${(err as Error).message}`);
  }
  if (records.length && !('class' in records[0] && 'host' in records[0])) throw new ReportReadError(`${path}: no host and class columns; give a report written by --report`);
  return summaryRowsOf(records, uncell);
}

/** The identity of a host across runs, as --resume uses it. */
export const hostId = (r: { host: string; port: string | number; user: string }): string => `${r.host.toLowerCase()}\0${r.port}\0${r.user}`;
