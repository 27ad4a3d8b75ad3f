// `octoscan-remote summary REPORT [--compare PREV] -o FILE.html`, and the
// scan's --summary / --compare, which write the same page right after the
// report: one self-contained HTML page of a run (src/sweep/summary-html.ts).
import { Command } from 'commander';
import { dirname, resolve } from 'node:path';
import { writeFileAtomically } from '../fsutil/atomic-file.js';
import { ReportReadError, readReportRows, summaryRowsOf, type SummaryRow } from '../sweep/report-reader.js';
import type { ReportRow } from '../sweep/report.js';
import { parseWords } from './parse-words.js';
import { err as writeErr } from './stdio.js';

export function summaryCommand(): Command {
  return new Command('octoscan-remote summary')
    .description(
      'Write one self-contained HTML page of a run from its report: hosts by class and by OS (read from the archives the report names), failures by class, the slowest hosts, the warnings that cost the most data; with --compare, what changed since an earlier report.',
    )
    .argument('<report>', 'report written by --report (CSV or JSON lines)')
    .requiredOption('-o, --out <file>', 'the HTML file to write')
    .option('--compare <report>', 'an earlier report: new failures, recovered hosts, hosts added and gone');
}

export interface SummaryWriteOptions {
  source: string;
  compare?: string;
  /** Relative archive paths in the report are taken from here. */
  baseDir?: string;
}

export async function writeSummary(out: string, rows: SummaryRow[], o: SummaryWriteOptions): Promise<void> {
  const previous = o.compare ? await readReportRows(o.compare) : undefined;
  // The page's code (and the archive reader it uses) loads only when a page is written.
  const { archiveInfo, summaryHtml } = await import('../sweep/summary-html.js');
  const html = summaryHtml({
    rows, previous, archives: await archiveInfo(rows, o.baseDir), source: o.source, previousSource: o.compare, generatedAt: new Date(),
  });
  await writeFileAtomically(out, html);
}

/** The scan's --summary/--compare, checked before anything connects: a message, or undefined when fine. */
export async function checkSummaryOptions(o: { summary?: string; compare?: string }): Promise<string | undefined> {
  if (o.compare && !o.summary) return '--compare needs --summary FILE.html';
  if (o.compare) {
    try {
      await readReportRows(o.compare);
    } catch (err) {
      return `--compare ${o.compare}: ${(err as Error).message}`;
    }
  }
  if (o.summary) {
    const { stat } = await import('node:fs/promises');
    const dir = await stat(dirname(resolve(o.summary))).catch(() => undefined);
    if (!dir?.isDirectory()) return `--summary ${o.summary}: its folder does not exist`;
  }
  return undefined;
}

/**
 * The scan's --summary: every host of the run's list, scanned now or carried over by --resume.
 * Called once, after the report is written. Problems are reported, never fatal to the run's exit code.
 */
export async function writeRunSummary(out: string, rows: ReportRow[], compare: string | undefined, report: string | undefined): Promise<void> {
  try {
    await writeSummary(out, summaryRowsOf(rows), { source: report ?? '(this run)', compare });
  } catch (err) {
    writeErr(`octoscan-remote: --summary ${out}: ${(err as Error).message}\n`);
  }
}

export async function runSummaryCommand(args: string[]): Promise<number> {
  const cmd = summaryCommand();
  const early = parseWords(cmd, args);
  if (early !== undefined) return early;
  const o = cmd.opts() as { out: string; compare?: string };
  const report = cmd.args[0];
  try {
    const rows = await readReportRows(report);
    await writeSummary(o.out, rows, { source: report, compare: o.compare, baseDir: dirname(resolve(report)) });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    writeErr(`octoscan-remote summary: ${err instanceof ReportReadError ? e.message : `${e.path ?? ''}${e.path ? ': ' : ''}${e.message}`}\n`);
    return 1;
  }
  return 0;
}
