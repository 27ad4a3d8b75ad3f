// The wire format between the probe script and the controller, both sides.
//
// Every record is a line "\n<token> <type> <fields...>\n"; an entry's body is
// the raw bytes between its B record and the next record. The token holds 128
// random bits drawn per scan and is never put in any argv on the target, so
// content (a file, a process list) cannot contain it unless the target already
// controls the shell reading our script, and then it controls the answers too.
//
// Why not a length in front of each body, as first proposed: a shell can only
// know a length up front by buffering the whole output (memory on the target,
// O(n^2) string handling in dash) or by reading a file twice (a race on /proc
// files whose size changes between the reads, which desynchronises the
// stream). A delimiter needs neither; the controller still counts every byte.
//
// Records: B <probe[#attempt]> <mtime|-> <mode|-> <entry>   body follows
//          E <rc> [more]                                   end of body
//          W <id> <message>                                warning
//          I <key> <value>                                 fact for octoscan.xml
//          S <probe> <reason>                              probe skipped
//          Z                                               script finished
//          R                                               the script is read; the controller may steer
//
// Steering records have no newline in front: "<token>+K <pid> <seconds>\n"
// (a command started, with its deadline) and "<token>+k <pid>\n" (it
// ended). The shell prints them while the command it started may already be
// writing its entry, so they arrive anywhere inside a body. Each is one
// write of a few dozen bytes, so it never splits a body's byte sequence,
// and cutting it out leaves the body exactly as the command wrote it. Why no
// newline in front: bash's stdout is line-buffered, so its printf writes
// "\n" and "<token> ...\n" in two writes, between which the command's
// bytes could land; a record whose only newline is its last is one write on
// every shell. The token anywhere marks a record: content cannot hold it.
// The controller answers on the script's standard input
// (src/scan/steering.ts): "H" once after R, then "K <pid>" for a command past
// its deadline or its entry's cap.
//
// On the script's standard error (a stream of its own, never mixed with the
// records above), a command whose entry does not keep its standard error
// sends the first 4 KiB of it between two records of the same token:
//          P <probe#attempt>                               its stderr follows
//          p                                               end of it
// Everything else on standard error is the shell's own.
import { randomBytes } from 'node:crypto';

export function newToken(): string {
  return `@@OCTO:${randomBytes(16).toString('hex')}@@`;
}

export type Frame =
  | { type: 'begin'; probe: string; attempt: number; mtime?: number; mode?: number; name: Buffer }
  | { type: 'data'; chunk: Buffer }
  | { type: 'end'; rc: number; more: boolean }
  | { type: 'warning'; id: number; message: string }
  | { type: 'info'; key: string; value: string }
  | { type: 'skip'; probe: string; reason: string }
  | { type: 'ready' }
  | { type: 'started'; pid: number; seconds: number }
  | { type: 'ended'; pid: number }
  | { type: 'done' };

export class FrameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FrameError';
  }
}

const MAX_HEADER = 64 * 1024;

/**
 * Incremental parser: push() chunks as they arrive, get frames back. Holds at
 * most one header line plus a delimiter's length of body, whatever the input.
 */
export class FrameParser {
  private readonly token: Buffer;
  private pending: Buffer = Buffer.alloc(0);
  private state: 'preamble' | 'header' | 'body' | 'between' | 'finished' = 'preamble';
  /** Where a header returns to when it only announces a command (K, k, R): a body goes on. */
  private resume: 'body' | 'between' = 'between';
  /** Bytes seen outside any record: login-shell noise before the first record, anything odd after. */
  preambleBytes = 0;
  strayBytes = 0;
  trailingBytes = 0;

  constructor(token: string) {
    this.token = Buffer.from(token, 'latin1');
  }

  get finished(): boolean {
    return this.state === 'finished';
  }

  push(chunk: Buffer): Frame[] {
    const frames: Frame[] = [];
    if (this.state === 'finished') {
      this.trailingBytes += chunk.length;
      return frames;
    }
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    for (;;) {
      if (this.state === 'header') {
        const nl = this.pending.indexOf(0x0a);
        if (nl < 0) {
          if (this.pending.length > MAX_HEADER) throw new FrameError(`record header longer than ${MAX_HEADER} bytes`);
          break;
        }
        // Checked here too: with the newline in the same chunk the check above never runs.
        if (nl > MAX_HEADER) throw new FrameError(`record header longer than ${MAX_HEADER} bytes`);
        const line = this.pending.subarray(0, nl);
        this.pending = this.pending.subarray(nl + 1);
        const frame = parseHeader(line);
        frames.push(frame);
        if (frame.type === 'done') {
          this.state = 'finished';
          this.trailingBytes += this.pending.length;
          this.pending = Buffer.alloc(0);
          break;
        }
        if (frame.type === 'started' || frame.type === 'ended' || frame.type === 'ready') this.state = this.resume;
        else this.state = frame.type === 'begin' ? 'body' : 'between';
        continue;
      }
      // preamble, body or between: everything up to the next token
      const at = this.pending.indexOf(this.token);
      const after = at + this.token.length;
      if (at < 0 || after >= this.pending.length) {
        // Keep a newline and a possible partial token at the end (or a token
        // whose next byte has not come); hand on the rest.
        const from = at < 0 ? this.pending.length - Math.min(this.pending.length, this.token.length) : Math.max(0, at - 1);
        const ready = this.pending.subarray(0, from);
        this.pending = Buffer.from(this.pending.subarray(from));
        this.spend(ready, frames);
        break;
      }
      const kind = this.pending[after];
      if (kind === 0x2b) {
        // "+": a steering record; nothing before it is its own.
        this.spend(this.pending.subarray(0, at), frames);
      } else if (kind === 0x20) {
        // " ": a record, with its newline in front (where a stray writer did not come between).
        this.spend(this.pending.subarray(0, at > 0 && this.pending[at - 1] === 0x0a ? at - 1 : at), frames);
      } else {
        throw new FrameError(`malformed record: the token followed by ${JSON.stringify(String.fromCharCode(kind))}`);
      }
      this.pending = this.pending.subarray(after + 1);
      this.resume = this.state === 'body' ? 'body' : 'between';
      this.state = 'header';
    }
    // Own copy of what is kept: the caller may reuse the buffer it handed us.
    // At most a header plus a delimiter's length, so the copy is small.
    this.pending = Buffer.from(this.pending);
    return frames;
  }

  /** Call at end of stream: throws when the script did not finish. */
  end(): void {
    if (this.state !== 'finished') {
      throw new FrameError(this.state === 'preamble' ? 'no probe output at all' : 'output ended before the script finished');
    }
  }

  private spend(bytes: Buffer, frames: Frame[]): void {
    if (bytes.length === 0) return;
    if (this.state === 'body') frames.push({ type: 'data', chunk: Buffer.from(bytes) });
    else if (this.state === 'preamble') this.preambleBytes += bytes.length;
    else this.strayBytes += bytes.length;
  }
}

function parseHeader(line: Buffer): Frame {
  // The type letter and fixed fields are ASCII; the last field may be anything.
  const fields = (n: number): Buffer[] => {
    const out: Buffer[] = [];
    let rest = line;
    for (let i = 0; i < n - 1; i++) {
      const sp = rest.indexOf(0x20);
      if (sp < 0) break;
      out.push(rest.subarray(0, sp));
      rest = rest.subarray(sp + 1);
    }
    out.push(rest);
    return out;
  };
  const type = line.subarray(0, 1).toString('latin1');
  if (line.length > 1 && line[1] !== 0x20) throw new FrameError(`malformed record: ${printable(line)}`);
  switch (type) {
    case 'B': {
      const f = fields(5);
      if (f.length !== 5) throw new FrameError(`malformed begin record: ${printable(line)}`);
      const [probeAttempt, mtime, mode] = [f[1].toString('latin1'), f[2].toString('latin1'), f[3].toString('latin1')];
      const m = /^([a-z0-9-]+)(?:#(\d+))?$/.exec(probeAttempt);
      if (!m) throw new FrameError(`malformed probe id in begin record: ${printable(f[1])}`);
      return {
        type: 'begin',
        probe: m[1],
        attempt: m[2] ? Number(m[2]) : 0,
        mtime: /^\d{1,12}$/.test(mtime) ? Number(mtime) : undefined,
        mode: /^[0-7]{3,4}$/.test(mode) ? parseInt(mode, 8) : undefined,
        name: Buffer.from(f[4]),
      };
    }
    case 'E': {
      const f = fields(3).map((b) => b.toString('latin1'));
      const rc = f[1] ?? '';
      // A command killed in an odd way leaves the status empty: treat as failure.
      return { type: 'end', rc: /^\d{1,3}$/.test(rc) ? Number(rc) : 255, more: f[2] === '1' };
    }
    case 'W': {
      const f = fields(3);
      const id = f[1]?.toString('latin1') ?? '';
      if (!/^\d{1,5}$/.test(id)) throw new FrameError(`malformed warning record: ${printable(line)}`);
      return { type: 'warning', id: Number(id), message: (f[2] ?? Buffer.alloc(0)).toString('utf8') };
    }
    case 'I': {
      const f = fields(3);
      const key = f[1]?.toString('latin1') ?? '';
      if (!/^[a-z0-9-]+$/.test(key)) throw new FrameError(`malformed info record: ${printable(line)}`);
      return { type: 'info', key, value: f.length > 2 ? f[2].toString('utf8') : '' };
    }
    case 'S': {
      const f = fields(3).map((b) => b.toString('utf8'));
      return { type: 'skip', probe: f[1] ?? '', reason: f[2] ?? '' };
    }
    case 'Z':
      return { type: 'done' };
    case 'R':
      return { type: 'ready' };
    case 'K': {
      const f = fields(3).map((b) => b.toString('latin1'));
      if (!/^\d{1,10}$/.test(f[1] ?? '') || !/^\d{1,6}$/.test(f[2] ?? '')) throw new FrameError(`malformed command record: ${printable(line)}`);
      return { type: 'started', pid: Number(f[1]), seconds: Number(f[2]) };
    }
    case 'k': {
      const f = fields(2).map((b) => b.toString('latin1'));
      if (!/^\d{1,10}$/.test(f[1] ?? '')) throw new FrameError(`malformed command record: ${printable(line)}`);
      return { type: 'ended', pid: Number(f[1]) };
    }
    default:
      throw new FrameError(`unknown record type: ${printable(line)}`);
  }
}

function printable(b: Buffer): string {
  const s = b.subarray(0, 120).toString('latin1').replace(/[^\x20-\x7e]/g, '?');
  return JSON.stringify(b.length > 120 ? `${s}...` : s);
}

/**
 * Bounds on what the stderr splitter keeps. The target sends each command's
 * standard error whole (no head process there): these hold it, and a forged
 * stream, to a few hundred KiB.
 */
export const STDERR_BOUNDS = { probes: 200, headBytes: 4096 } as const;

export interface SplitStderr {
  /** The shell's own standard error, without the probe sections. */
  own: string;
  /** Each probe's standard error head, by `probe#attempt`, in order of arrival. */
  probes: Map<string, string>;
}

/**
 * Splits the script's standard error, as it arrives, into the shell's own
 * (its first `ownMax` bytes kept) and each command's head (the first
 * STDERR_BOUNDS.headBytes of each of the first STDERR_BOUNDS.probes
 * commands; see P and p above). Holds at most those plus one header line.
 */
export class StderrSplitter {
  private readonly delim: Buffer;
  private pending: Buffer = Buffer.alloc(0);
  private state: 'own' | 'header' | 'probe' = 'own';
  /** The section a header interrupted, to go back to when it was no header of ours. */
  private resume: 'own' | 'probe' = 'own';
  private probe: string | undefined;
  private readonly own: Buffer[] = [];
  private ownSize = 0;
  /** Bytes of the shell's own stderr not kept. */
  ownDropped = 0;
  private readonly heads = new Map<string, Buffer[]>();
  private readonly headSize = new Map<string, number>();

  constructor(token: string, private readonly ownMax = 1024 * 1024) {
    this.delim = Buffer.from(`\n${token} `, 'latin1');
  }

  push(chunk: Buffer): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    for (;;) {
      if (this.state === 'header') {
        const nl = this.pending.indexOf(0x0a);
        if (nl < 0) {
          // Not a header of ours after all: a line that long is the shell's own text.
          if (this.pending.length > 1024) this.notHeader();
          break;
        }
        const line = this.pending.subarray(0, nl).toString('latin1');
        if (line.startsWith('P ')) {
          this.pending = this.pending.subarray(nl + 1);
          const name = line.slice(2);
          this.probe = /^[A-Za-z0-9_.-]+(#\d+)?$/.test(name) ? name : undefined;
          this.state = 'probe';
        } else if (line === 'p') {
          this.pending = this.pending.subarray(nl + 1);
          this.probe = undefined;
          this.state = 'own';
        } else {
          this.notHeader();
        }
        continue;
      }
      const at = this.pending.indexOf(this.delim);
      if (at < 0) {
        const keep = Math.min(this.pending.length, this.delim.length - 1);
        this.take(this.pending.subarray(0, this.pending.length - keep));
        this.pending = Buffer.from(this.pending.subarray(this.pending.length - keep));
        break;
      }
      this.take(this.pending.subarray(0, at));
      this.pending = this.pending.subarray(at + this.delim.length);
      this.resume = this.state;
      this.state = 'header';
    }
    this.pending = Buffer.from(this.pending);
  }

  /** What followed a delimiter was no header of ours: it and the delimiter are text where they stood. */
  private notHeader(): void {
    this.state = this.resume;
    this.take(this.delim);
  }

  private take(bytes: Buffer): void {
    if (bytes.length === 0) return;
    if (this.state === 'probe') {
      const p = this.probe;
      if (p === undefined) return;
      let list = this.heads.get(p);
      if (!list) {
        if (this.heads.size >= STDERR_BOUNDS.probes) return;
        list = [];
        this.heads.set(p, list);
        this.headSize.set(p, 0);
      }
      const size = this.headSize.get(p)!;
      const room = STDERR_BOUNDS.headBytes - size;
      if (room <= 0) return;
      list.push(Buffer.from(bytes.subarray(0, room)));
      this.headSize.set(p, size + Math.min(room, bytes.length));
      return;
    }
    const room = this.ownMax - this.ownSize;
    if (room > 0) {
      this.own.push(Buffer.from(bytes.subarray(0, room)));
      this.ownSize += Math.min(room, bytes.length);
    }
    this.ownDropped += Math.max(0, bytes.length - Math.max(room, 0));
  }

  /** Everything so far; what is held back (a partial delimiter) counts as the current section's. */
  end(): SplitStderr {
    if (this.state === 'header') this.notHeader();
    this.take(this.pending);
    this.pending = Buffer.alloc(0);
    const probes = new Map<string, string>();
    for (const [p, list] of this.heads) {
      const text = Buffer.concat(list).toString('utf8');
      if (text !== '') probes.set(p, text);
    }
    const own = Buffer.concat(this.own).toString('utf8');
    return { own: this.ownDropped ? `${own}\n[... ${this.ownDropped} more bytes]` : own, probes };
  }
}

/** Splits the script's standard error into the shell's own and each command's head (see P and p above). */
export function splitStderr(text: string, token: string): SplitStderr {
  const s = new StderrSplitter(token, Number.MAX_SAFE_INTEGER);
  s.push(Buffer.from(text, 'utf8'));
  return s.end();
}
