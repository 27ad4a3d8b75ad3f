// Reads a run report back (CSV or JSON lines, as src/sweep/report.ts writes
// it) into plain rows, for `octoscan-remote summary` and --compare.
import { readFile } from 'node:fs/promises';
import { parse } from 'csv-parse/sync';
import { failedClass, isContainerRow, isJsonLines, REPORT_COLUMNS } from './report.js';

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
  completeness: string;
  warningIds: string;
  startedAt: string;
  finishedAt: string;
  runId: string;
  version: string;
  carriedOver: boolean;
  engine: string;
  containerId: string;
  containerName: string;
  image: string;
  /** uploaded, waiting, '-' (no collector or no archive); '' in reports older than --upload. */
  upload: string;
  osFamily: string;
  osName: string;
  osVersion: string;
  java: string;
  /** The hosts file's own columns, carried into the report (name -> value). */
  labels: Record<string, string>;
  /** Its container and engine rows that failed (failedClass): the host then counts as failed, as in the summary line and the exit code. */
  containersFailed?: number;
}

/** Report columns that are facts of the program, not a hosts file's labels (including those of other versions). */
const NOT_LABELS: ReadonlySet<string> = new Set<string>([...REPORT_COLUMNS, 'address', 'script_sha256', 'labels']);

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
    completeness: un(r['completeness']), warningIds: str(r['warning_ids']), startedAt: str(r['started_at']), finishedAt: str(r['finished_at']),
    runId: str(r['run_id']), version: str(r['version']), carriedOver: str(r['carried_over']) === 'yes',
    engine: str(r['engine']), containerId: str(r['container_id']), containerName: un(r['container_name']), image: un(r['image']), upload: str(r['upload']),
    osFamily: un(r['os_family']), osName: un(r['os_name']), osVersion: un(r['os_version']), java: un(r['java']), labels: labelsOf(r, un),
  };
}

/** A report's columns the program does not know are the hosts file's labels; so is a JSON `labels` object. */
function labelsOf(r: Record<string, unknown>, un: (v: unknown) => string): Record<string, string> {
  const labels: Record<string, string> = {};
  const nested = r['labels'];
  if (nested && typeof nested === 'object') for (const [k, v] of Object.entries(nested)) labels[k] = un(v);
  for (const [k, v] of Object.entries(r)) if (!NOT_LABELS.has(k) && v !== undefined && v !== null && typeof v !== 'object') labels[k] = un(v);
  return labels;
}

/** A report's rows split into the hosts' own and their containers'; a host counts its failed containers (which follow it). */
function splitRows(rows: Record<string, unknown>[], un: (v: unknown) => string = str): ReadReport {
  const out: ReadReport = { hosts: [], containers: [] };
  for (const r of rows) {
    const row = summaryRow(r, un);
    if (isHostRow(r)) {
      out.hosts.push(row);
      continue;
    }
    out.containers.push(row);
    const host = out.hosts[out.hosts.length - 1];
    if (host && failedClass(r['class'], true)) host.containersFailed = (host.containersFailed ?? 0) + 1;
  }
  return out;
}

/** The hosts' own rows of a report being written (its container rows only count as its failed containers). */
export function summaryRowsOf(rows: Record<string, unknown>[], un: (v: unknown) => string = str): SummaryRow[] {
  return splitRows(rows, un).hosts;
}

/** The container rows of a report being written. */
export function containerRowsOf(rows: Record<string, unknown>[]): SummaryRow[] {
  return splitRows(rows).containers;
}

export class ReportReadError extends Error {}

/** A container's row (--containers) shares its host's host/port/user; the summary is about hosts. */
const isHostRow = (r: Record<string, unknown>): boolean => !isContainerRow(r);

export async function readReportRows(path: string): Promise<SummaryRow[]> {
  return (await readReport(path)).hosts;
}

/** A report's hosts' rows and its containers' rows. */
export interface ReadReport {
  hosts: SummaryRow[];
  containers: SummaryRow[];
}

export async function readReport(path: string): Promise<ReadReport> {
  const text = await readFile(path, 'utf8');
  if (isJsonLines(path)) {
    const lines = text.split(/\r?\n/);
    const raw: Record<string, unknown>[] = [];
    lines.forEach((line, i) => {
      if (!line.trim()) return;
      try {
        raw.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // The last line of a report whose run was killed mid-write is cut short: the rows before it stand.
        if (lines.slice(i + 1).some((l) => l.trim())) throw new ReportReadError(`${path}:${i + 1}: not a JSON object; give a report written by --report`);
        if (!raw.length) throw new ReportReadError(`${path}:${i + 1}: not a JSON object; give a report written by --report`);
      }
    });
    return splitRows(raw);
  }
  let records: Record<string, unknown>[];
  let width = 0;
  const csv = (t: string): Record<string, unknown>[] =>
    (parse(t, { columns: (h: string[]) => ((width = h.length), h), bom: true, skip_empty_lines: true, relax_column_count_less: true }) as Record<string, unknown>[])
      // A row cut short by a killed run is left out; the rows before it stand.
      .filter((r) => Object.keys(r).length === width);
  try {
    try {
      records = csv(text);
    } catch (err) {
      if ((err as { code?: string }).code !== 'CSV_QUOTE_NOT_CLOSED') throw err;
      records = csv(text.slice(0, text.lastIndexOf('\n', text.length - 2) + 1));
    }
  } catch (err) {
    throw new ReportReadError(`${path}: ${(err as Error).message}`);
  }
  if (records.length && !('class' in records[0] && 'host' in records[0])) throw new ReportReadError(`${path}: no host and class columns; give a report written by --report`);
  return splitRows(records, uncell);
}

/** Several reports as one (the shards of one night): their rows in the order given. */
export async function readReports(paths: string[]): Promise<ReadReport> {
  const all: ReadReport = { hosts: [], containers: [] };
  for (const p of paths) {
    const r = await readReport(p);
    for (const h of r.hosts) all.hosts.push(h);
    for (const c of r.containers) all.containers.push(c);
  }
  return all;
}

/** The identity of a host across runs, as --resume uses it. */
export const hostId = (r: { host: string; port: string | number; user: string }): string => `${r.host.toLowerCase()}\0${r.port}\0${r.user}`;
