// Uploads beside a sweep: first what earlier runs left in the output folder
// (oldest first), then each archive as its host finishes, whatever the row's
// class: ok, sudo (refused: scanned without root), incomplete, and each
// container's. A row with an archive says `waiting` while it is queued and
// `uploaded` once the collector has it; rows without an archive say `-`.
import type { HostOutcome } from '../types.js';
import type { CollectorConfig } from './collector-config.js';
import { collectorName, sendArchive } from './send-archive.js';
import { spoolFileProblem } from './spool-file-check.js';
import { waitingArchives } from './spool.js';
import { UploadQueue, type UploadResult } from './upload-queue.js';
import type { UploadCliOptions } from './upload-options.js';

export interface UploadTotals {
  uploaded: number;
  /** Of those, the collector already had (303). */
  duplicates: number;
  waiting: number;
  /** Archives of earlier runs found waiting at the start. */
  leftovers: number;
  /** The archives the collector took, by path. */
  delivered: string[];
}

export interface UploadRun {
  /** Queues a host's archive and its containers'; `settled` runs once all their upload states are final (at once without archives). */
  add(o: HostOutcome, settled?: () => void): void;
  /** Waits for the queue; sets each outcome's `upload`. */
  finish(): Promise<UploadTotals>;
}

export interface UploadRunOptions extends UploadCliOptions {
  dir: string;
  /** The upload subcommand: the folder's archives are all there is, not leftovers before a sweep. */
  leftoversOnly?: boolean;
  signal?: AbortSignal;
  log: (message: string) => void;
}

export async function startUploadRun(config: CollectorConfig, o: UploadRunOptions): Promise<UploadRun> {
  const queue = new UploadQueue({
    config,
    parallel: o.uploadParallel,
    retries: o.uploadRetries,
    timeoutMs: o.uploadTimeout * 1000,
    keep: o.keep,
    signal: o.signal,
    log: o.log,
    // Checked again just before sending: the folder may have changed since.
    send: async (c, file, signal) => {
      const problem = await spoolFileProblem(file);
      return problem ? { ok: false, message: `${file}: not sent: ${problem}` } : sendArchive(c, file, signal);
    },
  });
  const leftovers: string[] = [];
  for (const f of await waitingArchives(o.dir)) {
    const problem = await spoolFileProblem(f);
    // Not ours: it stays where it is, named once, and counts as neither sent nor waiting.
    if (problem) o.log(`upload: ${f} is not sent: ${problem}; it stays where it is`);
    else leftovers.push(f);
  }
  if (leftovers.length) o.log(o.leftoversOnly ? `upload: ${leftovers.length} archive(s) in ${o.dir}` : `upload: ${leftovers.length} archive(s) left by earlier runs in ${o.dir}, sent first`);
  const delivered: string[] = [];
  const note = (path: string) => (r: UploadResult): UploadResult => {
    if (r.state === 'uploaded') delivered.push(path);
    return r;
  };
  const pending: Promise<UploadResult>[] = leftovers.map((f) => queue.add(f).then(note(f)));
  const tracked: Promise<void>[] = [];
  return {
    add(outcome, settled) {
      const withArchive = [outcome, ...(outcome.containers ?? [])].filter((o) => o.archive);
      const sent = withArchive.map((o) => {
        o.upload = 'waiting';
        return queue.add(o.archive!).then(note(o.archive!)).then((r) => {
          o.upload = r.state;
          if (r.state === 'waiting') o.uploadMessage = r.message;
        });
      });
      const all = Promise.all(sent).then(() => settled?.());
      tracked.push(all);
    },
    async finish() {
      await queue.finish();
      await Promise.all([...tracked, ...pending]);
      return { ...queue.counts, leftovers: leftovers.length, delivered };
    },
  };
}

/** The line for standard error after a run with --upload. */
export function uploadSummaryLine(t: UploadTotals, config: CollectorConfig, dir: string): string {
  const dup = t.duplicates ? ` (${t.duplicates} it already had)` : '';
  const earlier = t.leftovers ? `, ${t.leftovers} of them from earlier runs` : '';
  const line = `upload to ${collectorName(config.url)}: ${t.uploaded} uploaded${dup}${earlier}`;
  if (!t.waiting) return line;
  return `${line}; ${t.waiting} waiting in ${dir}: a later run sends them, or now: octoscan-remote upload --from ${dir} URL`;
}
