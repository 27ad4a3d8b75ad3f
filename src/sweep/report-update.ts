// `octoscan-remote upload --report FILE`: the rows whose archives the upload
// delivered say so (`upload` uploaded, the waiting reason gone from
// `message`), so the report no longer says `waiting` for what the collector
// has, and --resume carries the true state. Every other cell, and every column
// (also those this version does not know), stays as written.
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { parse } from 'csv-parse/sync';
import { writeFileAtomically } from '../fsutil/atomic-file.js';
import { isJsonLines, withoutUploadReason } from './report.js';

/** Quotes a cell already in the report's form (its formula apostrophe, if any, was written with it). */
const quote = (s: string): string => (/[",\r\n]/.test(s) || s !== s.trim() ? `"${s.replace(/"/g, '""')}"` : s);

/** Marks the rows whose archive (by file name) was delivered; returns how many rows changed. */
export async function markDelivered(path: string, delivered: ReadonlySet<string>): Promise<number> {
  const text = await readFile(path, 'utf8');
  let changed = 0;
  const mark = (row: Record<string, unknown>): void => {
    const archive = String(row['archive'] ?? '');
    if (!archive || row['upload'] === 'uploaded' || !delivered.has(basename(archive))) return;
    row['upload'] = 'uploaded';
    row['message'] = withoutUploadReason(String(row['message'] ?? ''));
    changed++;
  };
  let out: string;
  if (isJsonLines(path)) {
    out = text
      .split('\n')
      .map((line) => {
        if (!line.trim()) return line;
        let row: Record<string, unknown>;
        try {
          row = JSON.parse(line) as Record<string, unknown>;
        } catch {
          return line; // a line cut short by a killed run: left as it is
        }
        const before = changed;
        mark(row);
        return changed === before ? line : JSON.stringify(row);
      })
      .join('\n');
  } else {
    const records = parse(text, { bom: true, skip_empty_lines: true, relax_column_count_less: true }) as string[][];
    const [header, ...rows] = records;
    if (!header?.includes('archive') || !header.includes('upload')) throw new Error('no archive and upload columns; give a report written by --report');
    const lines = [header.map(quote).join(',')];
    for (const cells of rows) {
      const row: Record<string, unknown> = Object.fromEntries(header.map((h, i) => [h, cells[i] ?? '']));
      mark(row);
      lines.push(header.map((h) => quote(String(row[h]))).join(','));
    }
    out = `${lines.join('\n')}\n`;
  }
  if (changed) await writeFileAtomically(path, out);
  return changed;
}
