// The report as the run goes: begun at the start (header and the rows --resume
// carries over), one append per finished host, and at the end rewritten whole
// in list order with an atomic rename. So a run killed outright (OOM, SIGKILL,
// a node reboot) still leaves a report that lists every host it had finished,
// which --resume reads like any other.
//
// A report that cannot be written is the controller's fault, never a host's:
// the first failure is handed to onFault (exit 4), and appending stops.
import { open, type FileHandle } from 'node:fs/promises';
import { writeFileAtomically } from '../fsutil/atomic-file.js';
import { formatRowLines, formatRows, type ReportRow } from './report.js';

export class ReportLog {
  private file: FileHandle | undefined;
  private chain: Promise<void> = Promise.resolve();
  private failed = false;

  constructor(
    readonly path: string,
    private readonly onFault: (message: string) => void,
  ) {}

  /** Writes the report's beginning (atomically: an earlier report of the same name stays whole until then). */
  async begin(rows: ReportRow[]): Promise<void> {
    try {
      await writeFileAtomically(this.path, formatRows(this.path, rows));
      this.file = await open(this.path, 'a');
    } catch (err) {
      this.fail(err);
    }
  }

  /** Appends a finished host's rows; in order, one write at a time. */
  append(rows: ReportRow[]): void {
    if (!rows.length) return;
    const text = formatRowLines(this.path, rows);
    this.chain = this.chain.then(async () => {
      if (this.failed || !this.file) return;
      try {
        await this.file.write(text);
      } catch (err) {
        this.fail(err);
      }
    });
  }

  /** The whole report, in list order, replacing what was appended. */
  async finish(rows: ReportRow[]): Promise<void> {
    await this.chain;
    await this.file?.close().catch(() => {});
    this.file = undefined;
    try {
      await writeFileAtomically(this.path, formatRows(this.path, rows));
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
