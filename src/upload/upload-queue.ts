// The upload queue: finished archives go in, and each comes out `uploaded`
// (the collector took it; the file is then removed unless --keep) or
// `waiting` (it is still in the output folder for the next run or
// `octoscan-remote upload`). It never waits on a scan and a scan never waits
// on it: it has its own bound, and a slow or dead collector only delays it.
//
// Failures are counted in rounds: the uploads in flight when the collector
// fails belong to one outage, not one each. While it fails, a single upload at
// a time probes it after an exponential back-off (with jitter, capped), so a
// dead collector is not hammered by every archive; the first success opens
// the full bound again. Once no more archives will come (finish()), a
// collector that failed more than `retries` rounds in a row is given up on.
import { rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { tempName } from '../archive/archive-writer.js';
import type { CollectorConfig } from './collector-config.js';
import { collectorName, sendArchive, type SendResult } from './send-archive.js';

export type UploadState = 'uploaded' | 'waiting';

export interface UploadResult {
  state: UploadState;
  /** Why it is waiting; empty when uploaded. */
  message: string;
  /** The collector already had it (303). */
  duplicate?: boolean;
}

export interface UploadQueueOptions {
  config: CollectorConfig;
  /** Uploads at once while the collector answers. */
  parallel: number;
  /** Failed rounds in a row after which the collector counts as down; also the attempts one archive gets beyond its first. */
  retries: number;
  /** Deadline of one upload (connect, send, answer). */
  timeoutMs: number;
  /** Keep the archive in the output folder after the collector took it. */
  keep: boolean;
  signal?: AbortSignal;
  log: (message: string) => void;
  /** First back-off; doubles per failed round. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Replaceable for tests. */
  send?: (config: CollectorConfig, file: string, signal: AbortSignal) => Promise<SendResult>;
}

interface Entry {
  path: string;
  name: string;
  attempts: number;
  inFlight: boolean;
  /** A newer archive of the same name arrived while this one was in flight. */
  again: boolean;
  lastMessage: string;
  settle: (r: UploadResult) => void;
  result: Promise<UploadResult>;
}

interface Identity {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
}

export class UploadQueue {
  private readonly entries = new Map<string, Entry>();
  private readonly pending: Entry[] = [];
  private active = 0;
  private failedRounds = 0;
  private lastFailureAt = -Infinity;
  private retryAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private finishing = false;
  private drained: (() => void) | undefined;
  private readonly abort = new AbortController();
  private readonly onAbort = (): void => {
    this.abort.abort();
    // A back-off timer may be all that is pending: settle the queue now, not when it fires.
    clearTimeout(this.timer);
    this.timer = undefined;
    this.pump();
  };
  private readonly send: NonNullable<UploadQueueOptions['send']>;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly collector: string;
  readonly counts = { uploaded: 0, duplicates: 0, waiting: 0 };

  constructor(private readonly o: UploadQueueOptions) {
    this.send = o.send ?? sendArchive;
    this.baseDelayMs = o.baseDelayMs ?? 500;
    // Capped low: a collector back after an outage should not wait long to be noticed.
    this.maxDelayMs = o.maxDelayMs ?? 10_000;
    this.collector = collectorName(o.config.url);
    o.signal?.addEventListener('abort', this.onAbort);
    if (o.signal?.aborted) this.abort.abort();
  }

  /** Queues an archive; resolves once it is uploaded or, for this run, waiting. */
  add(path: string): Promise<UploadResult> {
    const name = basename(path);
    const known = this.entries.get(name);
    if (known) {
      // The same host scanned again while its older archive was queued: the
      // file under this name is now the newer one, and that must be sent too.
      if (known.inFlight) known.again = true;
      return known.result;
    }
    let settle!: (r: UploadResult) => void;
    const result = new Promise<UploadResult>((r) => (settle = r));
    const entry: Entry = { path, name, attempts: 0, inFlight: false, again: false, lastMessage: '', settle, result };
    this.entries.set(name, entry);
    this.pending.push(entry);
    this.pump();
    return result;
  }

  /** No more archives will come: resolves when every queued one is uploaded or waiting. */
  async finish(): Promise<void> {
    this.finishing = true;
    const done = new Promise<void>((r) => (this.drained = r));
    this.pump();
    await done;
    this.o.signal?.removeEventListener('abort', this.onAbort);
    clearTimeout(this.timer);
    // Idle keep-alive connections would hold the process open.
    await this.o.config.dispatcher.destroy().catch(() => {});
  }

  private settle(e: Entry, r: UploadResult): void {
    this.entries.delete(e.name);
    if (r.state === 'uploaded') {
      this.counts.uploaded++;
      if (r.duplicate) this.counts.duplicates++;
    } else this.counts.waiting++;
    e.settle(r);
  }

  private waitAll(reason: string): void {
    for (const e of this.pending.splice(0)) this.settle(e, { state: 'waiting', message: e.lastMessage ? `${reason}; last: ${e.lastMessage}` : reason });
  }

  private pump(): void {
    if (this.abort.signal.aborted) this.waitAll('not uploaded: the run was interrupted');
    else if (this.finishing && this.failedRounds > this.o.retries && this.active === 0) {
      this.waitAll(`collector ${this.collector} failed ${this.failedRounds} times in a row; kept for the next run`);
    }
    while (this.pending.length > 0 && this.active < (this.failedRounds > 0 ? 1 : this.o.parallel)) {
      const wait = this.retryAt - Date.now();
      if (this.failedRounds > 0 && wait > 0) {
        if (!this.timer) {
          this.timer = setTimeout(() => {
            this.timer = undefined;
            this.pump();
          }, wait);
        }
        break;
      }
      void this.start(this.pending.shift()!);
    }
    if (this.finishing && this.pending.length === 0 && this.active === 0 && this.entries.size === 0) this.drained?.();
  }

  private async start(e: Entry): Promise<void> {
    this.active++;
    e.attempts++;
    e.inFlight = true;
    const startedAt = Date.now();
    let outcome: 'done' | 'again' | 'failed' | 'gone';
    let result: SendResult | undefined;
    const sent = await identity(e.path);
    // What is sent now is the newest file under this name; only a later arrival needs another round.
    e.again = false;
    if (!sent) outcome = 'gone';
    else {
      const deadline = AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.o.timeoutMs)]);
      result = await this.send(this.o.config, e.path, deadline);
      outcome = result.ok ? await this.afterSuccess(e, sent) : 'failed';
    }
    this.active--;
    e.inFlight = false;
    if (outcome === 'gone') {
      this.settle(e, { state: 'waiting', message: `${e.path}: the archive vanished before it was sent` });
    } else if (outcome === 'done') {
      this.failedRounds = 0;
      this.settle(e, { state: 'uploaded', message: '', duplicate: result?.ok ? result.duplicate : false });
    } else if (outcome === 'again') {
      this.failedRounds = 0;
      e.attempts = 0;
      this.pending.push(e);
    } else {
      e.lastMessage = result && !result.ok ? result.message : '';
      this.failed(e, startedAt);
    }
    this.pump();
  }

  private failed(e: Entry, startedAt: number): void {
    if (this.abort.signal.aborted) {
      this.settle(e, { state: 'waiting', message: 'not uploaded: the run was interrupted' });
      return;
    }
    // Uploads that started before the latest failure saw the same outage.
    if (startedAt >= this.lastFailureAt) {
      this.failedRounds++;
      this.lastFailureAt = Date.now();
      const delay = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (this.failedRounds - 1)) * (0.5 + Math.random());
      this.retryAt = this.lastFailureAt + delay;
      this.o.log(`upload: ${e.lastMessage}; ${this.entries.size} archive(s) waiting, next try in ${(delay / 1000).toFixed(1)} s`);
    }
    if (e.attempts > this.o.retries) {
      this.settle(e, { state: 'waiting', message: `not uploaded after ${e.attempts} attempts; last: ${e.lastMessage}` });
      return;
    }
    this.pending.push(e);
  }

  /**
   * The collector took the file: remove exactly what was sent. The file is
   * first renamed aside (atomic), so an archive the sweep renamed into place
   * under the same name a moment ago is recognised by its inode and put back,
   * never deleted unsent.
   */
  private async afterSuccess(e: Entry, sent: Identity): Promise<'done' | 'again'> {
    if (this.o.keep) return e.again ? 'again' : 'done';
    const aside = join(dirname(e.path), tempName(e.name, 'partial'));
    try {
      await rename(e.path, aside);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'done';
      this.o.log(`upload: ${e.path} was uploaded but cannot be removed (${(err as Error).message}); the next run sends it again and the collector answers "already have it"`);
      return 'done';
    }
    const now = await identity(aside);
    if (now && sameFile(now, sent)) {
      await unlink(aside).catch(() => {});
      return e.again ? 'again' : 'done';
    }
    await rename(aside, e.path).catch(() => {});
    return 'again';
  }
}

async function identity(path: string): Promise<Identity | undefined> {
  const st = await stat(path).catch(() => undefined);
  return st?.isFile() ? { dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs } : undefined;
}

function sameFile(a: Identity, b: Identity): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs;
}
