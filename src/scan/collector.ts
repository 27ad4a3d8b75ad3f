// Reads the framed stream of one host and turns it into archive entries,
// warnings and facts. It is the only place that decides what the target's
// output means, and it trusts none of it: names come from the probe list
// (entry-name.ts), sizes are capped here whatever the target's own head did,
// and every record must belong to a known probe. Nothing it keeps holds a
// secret of the run (secret-scrub.ts): records and entry bodies are scrubbed
// as they arrive, a body as one stream across its frames.
import type { Readable } from 'node:stream';
import { EntryNameError, entryPathFor } from '../archive/entry-name.js';
import type { ArchiveWriter } from '../archive/archive-writer.js';
import type { Warning } from '../archive/octoscan-xml.js';
import { FrameError, FrameParser, type Frame } from '../probe/frames.js';
import { DEFAULT_ENTRY_CAP, DEFAULT_HOST_CAP, type Probe } from '../probe/probe.js';
import { ScrubStream, scrubText } from '../text/secret-scrub.js';
import { EntryBuffer } from './entry-buffer.js';
import type { Steering } from './steering.js';
import { isJavaEnvironEntry, redactEnviron, type JavaEnvironMode } from './java-environ.js';
import { tzOffsetSeconds, type Facts } from './facts.js';
import { commandFailedMessage, pyList } from './python-repr.js';

/**
 * What one host may make the controller keep besides entry bodies (those are
 * capped per entry and per host, and spill to disk). Our script sends a few
 * dozen of each record; a target that sends more is not running it as
 * written, and its host ends as 'protocol'. The README lists these bounds.
 */
export const RECORD_BOUNDS = {
  warnings: 5000,
  skips: 2000,
  /** Distinct fact keys (the script sends about 20). */
  facts: 200,
  entries: 5000,
  /** One warning message, skip reason or fact value is cut to this many bytes. */
  textBytes: 4096,
  /** Memory an entry costs until the archive is finished (zip directory record, bookkeeping). */
  entryOverhead: 512,
  /** Everything above together, per host, on top of the entry bodies under --max-host-bytes. */
  totalBytes: 8 * 1024 * 1024,
} as const;

export interface CollectorOptions {
  token: string;
  probes: Probe[];
  writer: ArchiveWriter;
  hostCap?: number;
  /** A fresh spill-file path in the output folder, for entries too big for memory. */
  spillPath: () => string;
  /** Called once the end record (Z) has arrived: the output is complete from then on. */
  onDone?: () => void;
  now?: () => number;
  /** --java-environ: what of a running JVM's environment is kept (default redacted). */
  javaEnviron?: JavaEnvironMode;
  /** Deadlines and caps of the target's commands (K, k and R records): see steering.ts. */
  steering?: Steering;
}

export interface EntryRecord {
  name: string;
  probe: string;
  bytes: number;
  truncated: boolean;
}

export interface Collected {
  facts: Facts;
  warnings: Warning[];
  skips: { probe: string; reason: string }[];
  entries: EntryRecord[];
  /** Commands that failed for good (no fallback left): their stderr heads go into scan.json. */
  failed: { probe: string; attempt: number; entry: string; rc: number }[];
  /** Body bytes received (before caps). */
  bytesReceived: number;
  /** Bytes of records kept (warnings, skips, facts, entry bookkeeping); they count against the host cap too. */
  recordBytes: number;
  hostCapReached: boolean;
  /** Bytes outside records: login-shell noise before the script, stray bytes between records. */
  noise: { preamble: number; stray: number; trailing: number };
  finished: boolean;
}

interface OpenEntry {
  probe: Probe;
  attempt: number;
  name: string | undefined; // undefined: dropped (bad name or duplicate), body discarded
  buffer: EntryBuffer;
  /** The body's bytes pass through this before the caps: a secret split across frames is still one. */
  scrub: ScrubStream;
  mtime?: number;
  mode?: number;
  kept: number;
  truncated: boolean;
  collectedAt: number;
}

export class Collector {
  private readonly parser: FrameParser;
  private readonly byId: Map<string, Probe>;
  private readonly hostCap: number;
  private readonly now: () => number;
  private open: OpenEntry | undefined;
  private written = new Set<string>();
  private announced = 0;
  private keptTotal = 0;
  /** Bytes of records kept (warnings, skips, facts, entry bookkeeping), against RECORD_BOUNDS.totalBytes. */
  private recordBytes = 0;
  /** Target clock minus our clock, in ms: entry times are the target's. */
  private skewMs = 0;
  private tzSec = 0;
  readonly result: Collected = {
    facts: {},
    warnings: [],
    skips: [],
    entries: [],
    failed: [],
    bytesReceived: 0,
    recordBytes: 0,
    hostCapReached: false,
    noise: { preamble: 0, stray: 0, trailing: 0 },
    finished: false,
  };

  constructor(private readonly opts: CollectorOptions) {
    this.parser = new FrameParser(opts.token);
    this.byId = new Map(opts.probes.map((p) => [p.id, p]));
    this.hostCap = opts.hostCap ?? DEFAULT_HOST_CAP;
    this.now = opts.now ?? Date.now;
  }

  /** Consumes the stream to its end. Backpressure: the stream waits while an entry is written. */
  async consume(stream: Readable): Promise<Collected> {
    for await (const chunk of stream) {
      await this.push(chunk as Buffer);
    }
    return this.end();
  }

  async push(chunk: Buffer): Promise<void> {
    for (const frame of this.parser.push(chunk)) await this.handle(frame);
  }

  async end(): Promise<Collected> {
    const n = this.result.noise;
    n.preamble = this.parser.preambleBytes;
    n.stray = this.parser.strayBytes;
    n.trailing = this.parser.trailingBytes;
    if (this.open) {
      await this.open.buffer.discard();
      this.open = undefined;
    }
    this.parser.end(); // throws FrameError when the script did not finish
    this.result.finished = true;
    return this.result;
  }

  /** The entry being received now, for the steering's record of what it killed. */
  openEntry(): string | undefined {
    return this.open?.name;
  }

  /** Frees a half-received entry when the scan is abandoned. */
  async dispose(): Promise<void> {
    if (this.open) await this.open.buffer.discard();
    this.open = undefined;
  }

  private warn(id: number, message: string): void {
    const text = cutText(scrubText(message));
    this.charge(text.length + 16, 'warning records');
    if (this.result.warnings.length >= RECORD_BOUNDS.warnings) throw boundError(`more than ${RECORD_BOUNDS.warnings} warning records`);
    this.result.warnings.push({ id, message: text });
  }

  /**
   * Counts kept record bytes against their own bound. They do not take room
   * from entry bodies (--max-host-bytes): a target whose bodies
   * filled the host cap goes on announcing entries, and that must stay a
   * truncation with a warning, not become a protocol failure.
   */
  private charge(bytes: number, what: string): void {
    this.recordBytes += bytes;
    this.result.recordBytes = this.recordBytes;
    const bound = RECORD_BOUNDS.totalBytes;
    if (this.recordBytes > bound) throw boundError(`${what} beyond the ${bound}-byte bound on what a host's records may hold`);
  }

  private async handle(frame: Frame): Promise<void> {
    switch (frame.type) {
      case 'info': {
        const value = cutText(scrubText(frame.value));
        const known = frame.key in this.result.facts;
        if (!known && Object.keys(this.result.facts).length >= RECORD_BOUNDS.facts) throw boundError(`more than ${RECORD_BOUNDS.facts} distinct fact keys`);
        this.charge(frame.key.length + value.length + 16, 'fact records');
        this.result.facts[frame.key] = value;
        if (frame.key === 'epoch' && /^\d{1,12}$/.test(frame.value)) this.skewMs = Number(frame.value) * 1000 - this.now();
        if (frame.key === 'tz') this.tzSec = tzOffsetSeconds(frame.value);
        return;
      }
      case 'warning':
        this.warn(frame.id, frame.message);
        return;
      case 'skip':
        return this.skip(frame.probe, frame.reason);
      case 'begin':
        return this.begin(frame);
      case 'data':
        return this.data(frame.chunk);
      case 'end':
        return this.finish(frame.rc, frame.more);
      case 'ready':
      case 'started':
      case 'ended':
        this.opts.steering?.onRecord(frame, this.open?.truncated ?? false);
        return;
      case 'done':
        if (this.open) throw new FrameError(`script ended inside entry ${this.open.name ?? this.open.probe.id}`);
        this.opts.onDone?.();
        return;
    }
  }

  private skip(probe: string, reason: string): void {
    const p = cutText(scrubText(probe), 256);
    const r = cutText(scrubText(reason));
    this.charge(p.length + r.length + 16, 'skip records');
    if (this.result.skips.length >= RECORD_BOUNDS.skips) throw boundError(`more than ${RECORD_BOUNDS.skips} skip records`);
    this.result.skips.push({ probe: p, reason: r });
  }

  private begin(frame: Extract<Frame, { type: 'begin' }>): void {
    if (this.open) throw new FrameError(`entry of probe ${frame.probe} began before the previous one ended`);
    // Every announcement costs, kept or not: a million empty entries must not be free.
    this.charge(RECORD_BOUNDS.entryOverhead + frame.name.length, 'entry records');
    if (++this.announced > RECORD_BOUNDS.entries) throw boundError(`more than ${RECORD_BOUNDS.entries} entries`);
    const probe = this.byId.get(frame.probe);
    if (!probe) throw new FrameError(`record for unknown probe ${JSON.stringify(frame.probe)}`);
    let name: string | undefined;
    try {
      // A file name on the target is the target's text too.
      name = scrubText(entryPathFor(probe, frame.name));
    } catch (err) {
      if (!(err instanceof EntryNameError)) throw err;
      this.warn(9001, `Exception: ${err.message}`);
    }
    if (name !== undefined && this.written.has(name)) {
      this.warn(9001, `Exception: entry ${name} announced twice; the second copy was dropped`);
      name = undefined;
    }
    this.open = {
      probe,
      attempt: frame.attempt,
      name,
      buffer: new EntryBuffer(this.opts.spillPath),
      scrub: new ScrubStream(),
      mtime: frame.mtime,
      mode: frame.mode,
      kept: 0,
      truncated: false,
      collectedAt: this.now(),
    };
  }

  private async data(chunk: Buffer): Promise<void> {
    this.result.bytesReceived += chunk.length;
    const e = this.open;
    if (!e || e.name === undefined) return;
    await this.keep(e, e.scrub.push(chunk));
  }

  /** Keeps scrubbed body bytes, within the entry's and the host's caps. */
  private async keep(e: OpenEntry, chunk: Buffer): Promise<void> {
    if (e.name === undefined) return;
    const entryRoom = (e.probe.cap ?? DEFAULT_ENTRY_CAP) - e.kept;
    const hostRoom = this.hostCap - this.keptTotal;
    const room = Math.min(entryRoom, hostRoom);
    if (chunk.length > room) {
      e.truncated = true;
      // The target has no cap of its own: the command writing this goes now.
      this.opts.steering?.overCap();
      if (hostRoom <= entryRoom && !this.result.hostCapReached) {
        this.result.hostCapReached = true;
        this.warn(9001, `Exception: host output cap of ${this.hostCap} bytes reached in ${e.name}; later entries are not collected`);
      }
      chunk = chunk.subarray(0, Math.max(0, room));
    }
    if (chunk.length === 0) return;
    e.kept += chunk.length;
    this.keptTotal += chunk.length;
    await e.buffer.write(chunk);
  }

  private async finish(rc: number, more: boolean): Promise<void> {
    const e = this.open;
    if (!e) throw new FrameError('end record without an entry');
    if (e.name !== undefined) await this.keep(e, e.scrub.end());
    this.open = undefined;
    if (e.name === undefined) return e.buffer.discard();
    const p = e.probe;
    if (e.truncated && e.kept === 0) {
      // Nothing of it fitted under the host cap: an empty entry would read as
      // "no packages", "no processes". Leave it out and say why in scan.json.
      this.skip(p.id, `host-cap:${e.name}`);
      return e.buffer.discard();
    }
    let keep: boolean;
    if (p.kind === 'command') {
      // A command past its cap is killed (steering.ts): still an answer.
      const ok = rc === 0 || (p.okExit ?? []).includes(rc) || e.truncated || p.always === true;
      keep = ok;
      if (!ok && !more && !p.quiet) {
        this.warn(1004, commandFailedMessage(p.argv, rc));
      }
      // Bounded: one per entry record, and entries are bounded.
      if (!ok && !more) this.result.failed.push({ probe: p.id, attempt: e.attempt, entry: e.name, rc });
    } else {
      // Files and builtins report their own read errors as W records; a failed read leaves no entry.
      keep = rc === 0 || e.truncated;
    }
    if (!keep) return e.buffer.discard();
    if (e.truncated && !this.result.hostCapReached) {
      const cap = p.cap ?? DEFAULT_ENTRY_CAP;
      if (p.kind === 'command') this.warn(1004, `add_command_output exception ${pyList(p.argv)}: output truncated at ${cap} bytes`);
      else this.warn(1003, `cannot read ${e.name}: truncated at ${cap} bytes`);
    }
    const environ = isJavaEnvironEntry(e.name) && this.opts.javaEnviron !== 'full';
    if (environ && this.opts.javaEnviron === 'none') return e.buffer.discard();
    this.written.add(e.name);
    const date = this.entryDate(e);
    // The source's permission bits only: a target must not plant setuid, setgid or sticky bits in the archive.
    const binaryMode = p.kind === 'glob' && p.binary ? (e.mode ?? 0o644) & 0o777 : undefined;
    try {
      const content = await e.buffer.content();
      // Secrets go before anything is written: the entry is bounded by its probe's cap, so it is read whole.
      const data = environ ? redactEnviron(await wholeBuffer(content), e.truncated) : content;
      await this.opts.writer.add(e.name, data, { date, binaryMode });
    } catch (err) {
      await e.buffer.discard(); // a failed write (ENOSPC) must not leave the spill file behind
      throw err;
    }
    this.result.entries.push({ name: e.name, probe: p.id, bytes: e.kept, truncated: e.truncated });
  }

  /** The zip stores wall-clock time without a zone: the target's local time, as the on-host scanner writes it. */
  private entryDate(e: OpenEntry): Date {
    const utcMs = e.mtime !== undefined ? e.mtime * 1000 : e.collectedAt + this.skewMs;
    return new Date(utcMs + this.tzSec * 1000);
  }

  /** Wall-clock "now" on the target, for the entries the controller writes itself. */
  targetDate(): Date {
    return new Date(this.now() + this.skewMs + this.tzSec * 1000);
  }
}

async function wholeBuffer(content: Buffer | Readable): Promise<Buffer> {
  if (Buffer.isBuffer(content)) return content;
  const chunks: Buffer[] = [];
  for await (const c of content) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** A record that breaks a bound: the host ends as protocol/stream with this message. */
function boundError(what: string): FrameError {
  return new FrameError(`${what}: our script sends far fewer, so the target is not running it as written (bounds: README, "What a host may make the controller keep")`);
}

/** Text from a record, cut to a bound (at a character boundary) and marked as cut. */
function cutText(text: string, max: number = RECORD_BOUNDS.textBytes): string {
  if (text.length <= max) return text;
  // Through a Buffer: a plain slice would keep the whole long string alive in V8.
  return `${Buffer.from(text.slice(0, max), 'utf8').toString('utf8')}...[cut: ${text.length - max} more characters]`;
}
