// The run report: one row per host, CSV or JSON lines by the file's extension.
// Rows are appended as hosts finish (report-log.ts), and the whole report is
// rewritten in list order at the end (also after an interrupt), atomically.
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
// (issue 20), what the archive holds (issue 21). After them, a hosts file's label columns, as named there.
export const REPORT_COLUMNS = [
  'host', 'port', 'user', 'tag', 'class', 'phase', 'message', 'archive', 'duration_ms', 'bytes', 'warnings', 'attempts',
  'completeness', 'entries', 'package_list', 'release', 'skipped', 'warning_ids',
  'started_at', 'finished_at', 'run_id', 'version', 'carried_over',
  'engine', 'container_id', 'container_name', 'image', 'upload', 'address', 'script_sha256',
  'os_family', 'os_name', 'os_version', 'java',
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
    // An archive that could not be delivered says why here, last (`upload delivers` strips it again).
    message: escapeControls([o.message, o.uploadMessage ? `${UPLOAD_PREFIX}${o.uploadMessage}` : ''].filter(Boolean).join('; ')),
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
    os_family: o.archiveFacts?.osFamily ?? '',
    os_name: escapeControls(o.archiveFacts?.osName ?? ''),
    os_version: escapeControls(o.archiveFacts?.osVersion ?? ''),
    java: escapeControls(o.archiveFacts?.java.join('; ') ?? ''),
  };
  return withLabels(row, o.spec.labels);
}

/** The row with the host's labels added as columns (a label never replaces a report column). */
export function withLabels(row: ReportRow, labels: Record<string, string> | undefined): ReportRow {
  for (const [k, v] of Object.entries(labels ?? {})) if (!(k in row)) row[k] = escapeControls(v);
  return row;
}

/** How a row's message says why its archive waits. */
export const UPLOAD_PREFIX = 'upload: ';

/** A message without the reason its archive waited (it was delivered since). */
export function withoutUploadReason(message: string): string {
  if (message.startsWith(UPLOAD_PREFIX)) return '';
  const at = message.lastIndexOf(`; ${UPLOAD_PREFIX}`);
  return at < 0 ? message : message.slice(0, at);
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

export function formatRows(path: string, rows: ReportRow[], columns?: readonly string[]): string {
  return [...reportLines(path, rows, columns)].join('');
}

/** The CSV columns: the report's own, then each label column in the order first seen. */
export function columnsOf(rows: Iterable<Record<string, unknown>>, columns: readonly string[] = REPORT_COLUMNS): string[] {
  const out: string[] = [...columns];
  const known = new Set(out);
  for (const r of rows) for (const k of Object.keys(r)) if (!known.has(k)) (known.add(k), out.push(k));
  return out;
}

/** The columns of a report about these hosts: the report's own, then their labels' names (a report begun before any row). */
export function columnsForLabels(labels: Iterable<Record<string, string> | undefined>): string[] {
  const rows: Record<string, string>[] = [];
  for (const l of labels) if (l) rows.push(l);
  return columnsOf(rows);
}

/** The report's lines, each with its newline: written one by one, since a million rows outgrow one string. */
export function* reportLines(path: string, rows: ReportRow[], columns: readonly string[] = isJsonLines(path) ? [] : columnsOf(rows)): Generator<string> {
  const header = reportHeader(path, columns);
  if (header) yield header;
  for (const r of rows) yield rowLine(path, r, columns);
}

/** What a report starts with: the CSV header line, nothing for JSON lines. */
export function reportHeader(path: string, columns: readonly string[] = REPORT_COLUMNS): string {
  return isJsonLines(path) ? '' : `${columns.map((c) => csvCell(c)).join(',')}\n`;
}

function rowLine(path: string, r: ReportRow, columns: readonly string[]): string {
  return isJsonLines(path) ? `${JSON.stringify(r)}\n` : `${columns.map((c) => csvCell(r[c] ?? '')).join(',')}\n`;
}

/** Rows as lines to append to a report begun with reportHeader() and the same columns. */
export function formatRowLines(path: string, rows: ReportRow[], columns: readonly string[] = REPORT_COLUMNS): string {
  let text = '';
  for (const r of rows) text += rowLine(path, r, columns);
  return text;
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
  // A run killed in the middle of an append leaves its last line cut short:
  // the rows before it stand (report-log.ts), only that line is left out.
  if (isJsonLines(path)) {
    let n = 0;
    let cut: string | undefined;
    for await (const line of createInterface({ input, crlfDelay: Infinity })) {
      n++;
      if (!line.trim()) continue;
      if (cut) throw new Error(cut);
      let row: Record<string, unknown>;
      try {
        row = JSON.parse(line) as Record<string, unknown>;
      } catch {
        cut = `${path}:${n}: not a JSON object; --resume takes a report written by --report`;
        if (n === 1) throw new Error(cut);
        continue;
      }
      yield row;
    }
    return;
  }
  let width = 0;
  const parser = input.pipe(parse({
    columns: (header: string[]) => ((width = header.length), header), bom: true, skip_empty_lines: true, relax_column_count_less: true,
  }));
  input.on('error', (err) => parser.destroy(err));
  try {
    for await (const r of parser as AsyncIterable<Record<string, unknown>>) if (Object.keys(r).length === width) yield r;
  } catch (err) {
    if ((err as { code?: string }).code !== 'CSV_QUOTE_NOT_CLOSED') throw err;
  }
}

/** When an earlier row's scan started, or undefined for a report that did not say (before version 0.2). */
export function scannedAt(row: Record<string, unknown>): Date | undefined {
  const t = Date.parse(String(row['started_at'] ?? ''));
  return Number.isFinite(t) ? new Date(t) : undefined;
}

export function resumeKey(spec: { host: string; port: number; user: string }): string {
  return `${spec.host.toLowerCase()}\0${spec.port}\0${spec.user}`;
}
