// `octoscan-remote summary REPORT... [--compare PREV] -o FILE.html`, and the
// scan's --summary / --compare, which write the same page right after the
// report: one self-contained HTML page of a run (src/sweep/summary-html.ts).
// Several reports (the shards of one night) or a folder of dated reports
// (--report-dir: its newest night) make one page.
import { Command } from 'commander';
import { stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { writeFileAtomically } from '../fsutil/atomic-file.js';
import { containerRowsOf, ReportReadError, readReport, readReportRows, readReports, summaryRowsOf, type SummaryRow } from '../sweep/report-reader.js';
import { newestNight } from '../sweep/report-history.js';
import type { ReportRow } from '../sweep/report.js';
import { parseWords } from './parse-words.js';
import { err as writeErr } from './stdio.js';

export function summaryCommand(): Command {
  return new Command('octoscan-remote summary')
    .description(
      'Write one self-contained HTML page of a run from its report (or the reports of its shards, or a --report-dir folder: its newest night): delivery, run facts, hosts by class, OS, tag and label, containers, failures with pasteable fix commands, the slowest hosts, the warnings; with --compare, what changed since an earlier report.',
    )
    .argument('<reports...>', 'reports written by --report (CSV or JSON lines), or a --report-dir folder')
    .requiredOption('-o, --out <file>', 'the HTML file to write')
    .option('--compare <report>', 'an earlier report: new failures, recovered hosts, hosts added and gone (a file that does not exist yet: the page says there is nothing to compare with)');
}

export interface SummaryWriteOptions {
  source: string;
  compare?: string;
  /** --compare named a report that does not exist yet: said on the page. */
  compareMissing?: string;
  /** Relative archive paths in the report are taken from here. */
  baseDir?: string;
  containers?: SummaryRow[];
  /** How many reports were merged (shards). */
  reports?: number;
}

export async function writeSummary(out: string, rows: SummaryRow[], o: SummaryWriteOptions): Promise<void> {
  const previous = o.compare ? await readReportRows(o.compare) : undefined;
  // The page's code (and the archive reader it uses) loads only when a page is written.
  const { archiveInfo, summaryHtml } = await import('../sweep/summary-html.js');
  const html = summaryHtml({
    rows, containers: o.containers ?? [], previous, archives: await archiveInfo(rows, o.baseDir), source: o.source, previousSource: o.compare,
    compareMissing: o.compareMissing, reports: o.reports ?? 1, generatedAt: new Date(),
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
    const dir = await stat(dirname(resolve(o.summary))).catch(() => undefined);
    if (!dir?.isDirectory()) return `--summary ${o.summary}: its folder does not exist`;
  }
  return undefined;
}

/**
 * The scan's --summary: every host of the run's list, scanned now or carried over by --resume.
 * Called once, after the report is written. Returns the problem (the caller's exit 4), or undefined.
 */
export async function writeRunSummary(out: string, rows: ReportRow[], o: { compare?: string; compareMissing?: string; report?: string }): Promise<string | undefined> {
  try {
    await writeSummary(out, summaryRowsOf(rows), { source: o.report ?? '(this run)', compare: o.compare, compareMissing: o.compareMissing, containers: containerRowsOf(rows) });
    return undefined;
  } catch (err) {
    return `--summary ${out}: ${(err as Error).message}`;
  }
}

/** The reports a `summary` argument list names: files as given, a folder as its newest night. */
async function reportsNamed(args: string[]): Promise<string[]> {
  const files: string[] = [];
  for (const a of args) {
    const st = await stat(a).catch(() => undefined);
    if (!st?.isDirectory()) {
      files.push(a);
      continue;
    }
    const night = await newestNight(a);
    if (!night.length) throw new ReportReadError(`${a}: a folder without reports named <start>[.shard-I-of-N].csv|.jsonl (--report-dir)`);
    for (const f of night) files.push(f);
  }
  return files;
}

export async function runSummaryCommand(args: string[]): Promise<number> {
  const cmd = summaryCommand();
  const early = parseWords(cmd, args);
  if (early !== undefined) return early;
  const o = cmd.opts() as { out: string; compare?: string };
  try {
    const reports = await reportsNamed(cmd.args);
    const read = reports.length === 1 ? await readReport(reports[0]) : await readReports(reports);
    let compare = o.compare;
    let compareMissing: string | undefined;
    if (compare && !(await stat(compare).catch(() => undefined))) {
      compareMissing = `--compare ${compare}: does not exist yet: nothing to compare with`;
      writeErr(`octoscan-remote summary: ${compareMissing}\n`);
      compare = undefined;
    }
    await writeSummary(o.out, read.hosts, {
      source: reports.join(', '), compare, compareMissing, baseDir: dirname(resolve(reports[0])), containers: read.containers, reports: reports.length,
    });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    writeErr(`octoscan-remote summary: ${err instanceof ReportReadError ? e.message : `${e.path ?? ''}${e.path ? ': ' : ''}${e.message}`}\n`);
    return 1;
  }
  return 0;
}
