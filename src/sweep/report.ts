// The run report: one row per host, CSV or JSON lines by the file's extension.
// Written once at the end (also after an interrupt), atomically.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { parse } from 'csv-parse';
import { writeFileAtomically } from '../fsutil/atomic-file.js';
import { escapeControls } from '../text/peer-text.js';
import type { HostOutcome } from '../types.js';

// The container columns come last (issue 17), then upload (issue 14): readers of the older columns keep working.
export const REPORT_COLUMNS = [
  'host', 'port', 'user', 'tag', 'class', 'phase', 'message', 'archive', 'duration_ms', 'bytes', 'warnings', 'attempts',
  'engine', 'container_id', 'container_name', 'image', 'upload',
] as const;
export type ReportRow = Record<(typeof REPORT_COLUMNS)[number], string | number>;

export function reportRow(o: HostOutcome): ReportRow {
  return {
    host: o.spec.host,
    port: o.spec.port,
    user: o.spec.user,
    tag: o.spec.tag,
    class: o.class,
    phase: o.phase,
    // An ok host's archive that could not be delivered says why here.
    message: escapeControls(o.message || (o.uploadMessage ? `upload: ${o.uploadMessage}` : '')),
    archive: o.archive ?? '',
    duration_ms: o.durationMs,
    bytes: o.bytes,
    warnings: o.warnings,
    attempts: o.attempts,
    engine: o.container?.engine ?? '',
    container_id: o.container?.id ?? '',
    container_name: escapeControls(o.container?.name ?? ''),
    image: escapeControls(o.container?.image ?? ''),
    // uploaded / waiting with --upload; '-' for hosts without an archive or runs without a collector.
    upload: o.upload ?? '-',
  };
}

/**
 * A CSV cell that a spreadsheet will not run as a formula: values starting
 * with = + - @ (or tab/CR, which some spreadsheets strip first) get a leading
 * apostrophe, as OWASP recommends. Numbers we wrote ourselves are left alone.
 */
export function csvCell(value: string | number): string {
  let s = String(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) || s !== s.trim() ? `"${s.replace(/"/g, '""')}"` : s;
}

export function formatReport(path: string, outcomes: HostOutcome[]): string {
  const rows = outcomes.map(reportRow);
  if (isJsonLines(path)) return rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : '');
  const lines = [REPORT_COLUMNS.join(','), ...rows.map((r) => REPORT_COLUMNS.map((c) => csvCell(r[c])).join(','))];
  return lines.join('\n') + '\n';
}

export function isJsonLines(path: string): boolean {
  return /\.(jsonl|ndjson|json)$/i.test(path);
}

export async function writeReport(path: string, outcomes: HostOutcome[]): Promise<void> {
  await writeFileAtomically(path, formatReport(path, outcomes));
}

/** host\0port\0user of every `ok` row of an earlier report, for --resume. */
export async function okHostsOf(path: string): Promise<Set<string>> {
  const ok = new Set<string>();
  const add = (r: Record<string, unknown>): void => {
    // A container's row shares its host's host/port/user: only the host's own row counts.
    if (r['class'] === 'ok' && !r['container_id'] && !r['engine']) ok.add(`${String(r['host']).toLowerCase()}\0${String(r['port'])}\0${String(r['user'])}`);
  };
  if (isJsonLines(path)) {
    const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
    let n = 0;
    for await (const line of lines) {
      n++;
      if (!line.trim()) continue;
      try {
        add(JSON.parse(line) as Record<string, unknown>);
      } catch {
        throw new Error(`${path}:${n}: not a JSON object; --resume takes a report written by --report`);
      }
    }
    return ok;
  }
  const parser = createReadStream(path).pipe(parse({ columns: true, bom: true, skip_empty_lines: true }));
  for await (const r of parser) add(r as Record<string, unknown>);
  return ok;
}

export function resumeKey(spec: { host: string; port: number; user: string }): string {
  return `${spec.host.toLowerCase()}\0${spec.port}\0${spec.user}`;
}
