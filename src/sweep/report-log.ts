// The report as the run goes: begun at the start (header and the rows --resume
// carries over), one append per finished host, and at the end rewritten whole
// in list order with an atomic rename. So a run killed outright (OOM, SIGKILL,
// a node reboot) still leaves a report that lists every host it had finished,
// which --resume reads like any other.
//
// Appends are synchronous, one write() per host: once a host's line is on
// standard error its row is in the file (the page cache survives a killed
// process). What stays open is the moment between the archive's rename into
// --out and its row, while the archive is read back for the report's OS and
// Java columns (milliseconds); an archive a kill leaves there without a row is
// still sent by the next run with --upload.
//
// A report that cannot be written is the controller's fault, never a host's:
// the first failure is handed to onFault (exit 4), and appending stops.
import { closeSync, openSync, writeSync } from 'node:fs';
import { writeFileAtomically } from '../fsutil/atomic-file.js';
import { columnsOf, formatRowLines, REPORT_COLUMNS, reportLines, type ReportRow } from './report.js';

export class ReportLog {
  private fd: number | undefined;
  private failed = false;

  /**
   * `columns`: the CSV header, fixed at the start (the report's own, then the
   * list's label columns) so that every appended line fits it.
   */
  constructor(
    readonly path: string,
    private readonly onFault: (message: string) => void,
    private readonly columns: readonly string[] = REPORT_COLUMNS,
  ) {}

  /** Writes the report's beginning (atomically: an earlier report of the same name stays whole until then). */
  async begin(rows: ReportRow[]): Promise<void> {
    try {
      await writeFileAtomically(this.path, reportLines(this.path, rows, this.columns));
      this.fd = openSync(this.path, 'a');
    } catch (err) {
      this.fail(err);
    }
  }

  /** Appends a finished host's rows, at once. */
  append(rows: ReportRow[]): void {
    if (!rows.length || this.failed || this.fd === undefined) return;
    try {
      writeSync(this.fd, formatRowLines(this.path, rows, this.columns));
    } catch (err) {
      this.fail(err);
    }
  }

  /** The whole report, in list order, replacing what was appended. */
  async finish(rows: ReportRow[]): Promise<void> {
    if (this.fd !== undefined) {
      try {
        closeSync(this.fd);
      } catch {
        /* the rewrite below replaces the file anyway */
      }
      this.fd = undefined;
    }
    try {
      await writeFileAtomically(this.path, reportLines(this.path, rows, columnsOf(rows, this.columns)));
    } catch (err) {
      // What was appended stays: every finished host is listed, just not in list order.
      this.fail(err);
    }
  }

  private fail(err: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.onFault(`--report ${this.path}: ${(err as Error).message}`);
  }
}
