// The run report: one row per host, CSV or JSON lines by the file's extension.
// Written once at the end (also after an interrupt), atomically.
import type { ReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { parse } from 'csv-parse';
import { writeFileAtomically } from '../fsutil/atomic-file.js';
import { escapeControls } from '../text/peer-text.js';
import { completenessText, warningIdsText } from '../scan/completeness.js';
import { hostName } from '../hosts/host-name.js';
import type { HostOutcome } from '../types.js';

// New columns come last, so readers of the older columns keep working: completeness and run
// facts (issue 12), containers (issue 17), upload (issue 14), address (issue 22), script_sha256
// (issue 20). After them, a hosts file's label columns, as named there.
export const REPORT_COLUMNS = [
  'host', 'port', 'user', 'tag', 'class', 'phase', 'message', 'archive', 'duration_ms', 'bytes', 'warnings', 'attempts',
  'completeness', 'entries', 'package_list', 'release', 'skipped', 'warning_ids',
  'started_at', 'finished_at', 'run_id', 'version', 'carried_over',
  'engine', 'container_id', 'container_name', 'image', 'upload', 'address', 'script_sha256',
] as const;
export type ReportColumn = (typeof REPORT_COLUMNS)[number];
/** The fixed columns, then the host's labels (HostSpec.labels) under their own names. */
export type ReportRow = Record<ReportColumn, string | number> & Record<string, string | number>;
const NUMERIC: ReadonlySet<string> = new Set(['port', 'duration_ms', 'bytes', 'warnings', 'attempts', 'entries']);

/** What every row of one run shares. */
export interface RunInfo {
  runId: string;
  version: string;
}

const yesNo = (v: boolean | undefined): string => (v === undefined ? '' : v ? 'yes' : 'no');

export function reportRow(o: HostOutcome, run: RunInfo = { runId: '', version: '' }): ReportRow {
  const c = o.completeness;
  const row: ReportRow = {
    // The name people use (inventory name, ssh_config alias, as typed); address is what was connected to.
    host: hostName(o.spec),
    port: o.spec.port,
    user: o.spec.user,
    tag: o.spec.tag,
    class: o.class,
    phase: o.phase,
    // An ok host's archive that could not be delivered says why here, first: the inventory has not got it.
    message: escapeControls([o.uploadMessage ? `upload: ${o.uploadMessage}` : '', o.message].filter(Boolean).join('; ')),
    archive: o.archive ?? '',
    duration_ms: o.durationMs,
    bytes: o.bytes,
    warnings: o.warnings,
    attempts: o.attempts,
    completeness: completenessText(c),
    entries: c?.entries ?? 0,
    package_list: yesNo(c?.packageList),
    release: yesNo(c?.release),
    skipped: escapeControls(c?.skipped.join(' ') ?? ''),
    warning_ids: warningIdsText(c?.warningIds),
    started_at: o.startedAt.toISOString(),
    finished_at: new Date(o.startedAt.getTime() + o.durationMs).toISOString(),
    run_id: run.runId,
    version: run.version,
    carried_over: '',
    engine: o.container?.engine ?? '',
    container_id: o.container?.id ?? '',
    container_name: escapeControls(o.container?.name ?? ''),
    image: escapeControls(o.container?.image ?? ''),
    // uploaded / waiting with --upload; '-' for hosts without an archive or runs without a collector.
    upload: o.upload ?? '-',
    address: o.spec.host,
    script_sha256: o.scriptSha256 ?? '',
  };
  return withLabels(row, o.spec.labels);
}

/** The row with the host's labels added as columns (a label never replaces a report column). */
export function withLabels(row: ReportRow, labels: Record<string, string> | undefined): ReportRow {
  for (const [k, v] of Object.entries(labels ?? {})) if (!(k in row)) row[k] = escapeControls(v);
  return row;
}

/**
 * A row of an earlier report, carried into this one (--resume): as it was,
 * so it still says when it was scanned and by which run, marked as carried.
 * A report from an older version lacks some columns; they stay empty.
 */
export function carriedRow(previous: Record<string, unknown>): ReportRow {
  const row = {} as ReportRow;
  for (const c of REPORT_COLUMNS) {
    const v = previous[c];
    const text = v === undefined || v === null ? '' : escapeControls(String(v)).replace(/^'(?=[=+\-@\t\r])/, '');
    row[c] = NUMERIC.has(c) && text !== '' && Number.isFinite(Number(text)) ? Number(text) : text;
  }
  row.carried_over = 'yes';
  return row;
}

/**
 * A CSV cell that a spreadsheet will not run as a formula: values starting
 * with = + - @ (or tab/CR, which some spreadsheets strip first) get a leading
 * apostrophe, as OWASP recommends. Numbers we wrote ourselves are left alone.
 */
export function csvCell(value: string | number): string {
  let s = String(value);
  // A lone '-' (no upload) is no formula and stays as written.
  if (typeof value === 'string' && s !== '-' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) || s !== s.trim() ? `"${s.replace(/"/g, '""')}"` : s;
}

export function formatReport(path: string, outcomes: HostOutcome[], run?: RunInfo): string {
  return formatRows(path, outcomes.map((o) => reportRow(o, run)));
}

export function formatRows(path: string, rows: ReportRow[]): string {
  return [...reportLines(path, rows)].join('');
}

/** The CSV columns: the report's own, then each label column in the order first seen. */
function columnsOf(rows: ReportRow[]): string[] {
  const columns: string[] = [...REPORT_COLUMNS];
  const known = new Set(columns);
  for (const r of rows) for (const k of Object.keys(r)) if (!known.has(k)) (known.add(k), columns.push(k));
  return columns;
}

/** The report's lines, each with its newline: written one by one, since a million rows outgrow one string. */
function* reportLines(path: string, rows: ReportRow[]): Generator<string> {
  const json = isJsonLines(path);
  const columns = json ? [] : columnsOf(rows);
  if (!json) yield `${columns.map((c) => csvCell(c)).join(',')}\n`;
  for (const r of rows) yield json ? `${JSON.stringify(r)}\n` : `${columns.map((c) => csvCell(r[c] ?? '')).join(',')}\n`;
}

/** JSON lines by name; `.json` is still read (reports of earlier versions) but no longer written. */
export function isJsonLines(path: string): boolean {
  return /\.(jsonl|ndjson|json)$/i.test(path);
}

export async function writeReport(path: string, outcomes: HostOutcome[], run?: RunInfo): Promise<void> {
  await writeFileAtomically(path, formatReport(path, outcomes, run));
}

export async function writeReportRows(path: string, rows: ReportRow[]): Promise<void> {
  await writeFileAtomically(path, reportLines(path, rows));
}

/** A host an earlier report lists as done: its own row, then its containers' rows, in the report's order. */
export interface DoneHost {
  row: Record<string, unknown>;
  containers: Record<string, unknown>[];
}

/** A container's row (or an engine's) shares its host's host/port/user and follows the host's own row. */
export const isContainerRow = (r: Record<string, unknown>): boolean => Boolean(r['container_id'] || r['engine']);

/**
 * Classes of a container's (or an engine's) row that record a fact, not a
 * failure: no /bin/sh, not running, an engine only root may use in a run
 * without sudo, not scanned because --max-containers or --containers-timeout cut.
 */
export const CONTAINER_NOTES: ReadonlySet<string> = new Set(['no-shell', 'not-running', 'needs-root', 'skipped']);

/** Whether a result counts as failed: the one rule of the summary line, the exit code, the retry file, --resume and the page. */
export function failedClass(cls: unknown, isContainer: boolean): boolean {
  return cls !== 'ok' && !(isContainer && CONTAINER_NOTES.has(String(cls)));
}

/**
 * The hosts an earlier report lists as done, for --resume, by host\0port\0user:
 * the host's own row is ok and none of its containers failed (a host whose
 * container failed is scanned again, as the retry file has it). Each comes with
 * its container rows, so a carried host keeps them. Read whole before the run
 * starts, so the same file may be the new report.
 */
export async function doneHostsOf(path: string): Promise<Map<string, DoneHost>> {
  const all = new Map<string, DoneHost>();
  // Opened first: a read stream's error (no such file, a folder) reaches neither
  // readline nor pipe(), and unheard it ended the process with a stack trace.
  const file = await open(path, 'r');
  const input = file.createReadStream();
  try {
    for await (const r of rowsIn(path, input)) {
      const key = resumeKey({ host: String(r['host']), port: r['port'] as number, user: String(r['user']) });
      if (!isContainerRow(r)) all.set(key, { row: r, containers: [] });
      else all.get(key)?.containers.push(r);
    }
  } finally {
    input.destroy(); // closes the file also when reading stopped early (a line that is not JSON)
  }
  return new Map([...all].filter(([, d]) => d.row['class'] === 'ok' && !d.containers.some((c) => failedClass(c['class'], true))));
}

/** The rows of a report as read: JSON lines or CSV, by the file's name. */
async function* rowsIn(path: string, input: ReadStream): AsyncGenerator<Record<string, unknown>> {
  if (isJsonLines(path)) {
    let n = 0;
    for await (const line of createInterface({ input, crlfDelay: Infinity })) {
      n++;
      if (!line.trim()) continue;
      let row: Record<string, unknown>;
      try {
        row = JSON.parse(line) as Record<string, unknown>;
      } catch {
        throw new Error(`${path}:${n}: not a JSON object; --resume takes a report written by --report`);
      }
      yield row;
    }
    return;
  }
  const parser = input.pipe(parse({ columns: true, bom: true, skip_empty_lines: true }));
  input.on('error', (err) => parser.destroy(err));
  yield* parser as AsyncIterable<Record<string, unknown>>;
}

/** When an earlier row's scan started, or undefined for a report that did not say (before version 0.2). */
export function scannedAt(row: Record<string, unknown>): Date | undefined {
  const t = Date.parse(String(row['started_at'] ?? ''));
  return Number.isFinite(t) ? new Date(t) : undefined;
}

export function resumeKey(spec: { host: string; port: number; user: string }): string {
  return `${spec.host.toLowerCase()}\0${spec.port}\0${spec.user}`;
}
