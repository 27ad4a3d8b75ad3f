// Writes one archive so that the import folder only ever holds complete ones:
// the zip is built under a name the import ignores, flushed to disk, renamed
// to <uuid>.<ext>, and the folder is flushed so the rename survives a crash.
// On any failure the temporary file is removed; what a SIGKILL leaves behind
// is swept by the next run (sweepStaleTemporaries).
import type { ZipArchive } from 'archiver';
import { createWriteStream, type WriteStream } from 'node:fs';
import { open, readdir, rename, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { scrubBytes } from '../text/secret-scrub.js';

export const TEMP_PREFIX = '.octoscan-tmp-';
export const ZLIB_LEVEL = 2;
export const ZLIB_OPTIONS = { level: ZLIB_LEVEL, windowBits: 14, memLevel: 6 } as const;

/**
 * Gathers the zip stream's many small writes (a header, a descriptor, each
 * deflated block) into writes of up to BATCH bytes: one system call where
 * there were dozens, per archive. Holds at most BATCH bytes.
 */
class WriteBatcher extends Transform {
  static readonly BATCH = 64 * 1024;
  private chunks: Buffer[] = [];
  private size = 0;

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    if (this.size >= WriteBatcher.BATCH) this.release();
    done();
  }

  override _flush(done: TransformCallback): void {
    this.release();
    done();
  }

  private release(): void {
    if (this.size === 0) return;
    this.push(this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.size));
    this.chunks = [];
    this.size = 0;
  }
}

// The host name keeps two controllers sharing one folder (shards on NFS) from
// judging each other's files by a process id that means nothing on their machine.
const self = hostname().replace(/[^A-Za-z0-9.-]/g, '_');

/** A temporary file name in the output folder: never matches the import's <uuid>.sca? pattern. */
export function tempName(uuid: string, kind: 'partial' | 'spill', n = 0): string {
  return `${TEMP_PREFIX}${self}-${process.pid}-${uuid}${kind === 'spill' ? `-${n}.spill` : '.partial'}`;
}

export interface EntryOptions {
  /** Wall-clock time on the target; stored as the zip's DOS time. */
  date: Date;
  /** Store uncompressed with this mode (hyperv pools); default deflated 0644. */
  binaryMode?: number;
}

type ZipArchiveClass = typeof ZipArchive;
let archiverLoading: Promise<ZipArchiveClass> | undefined;
/**
 * archiver takes a sixth of a second to load (it brings its tar and json
 * formats and their dependencies): loaded when the first archive is opened,
 * or earlier by a run that calls this while its first connection waits for
 * the network, so an ad-hoc scan of one host does not wait for it at start.
 */
export function preloadArchiver(): Promise<ZipArchiveClass> {
  archiverLoading ??= import('archiver').then((m) => m.ZipArchive);
  return archiverLoading;
}

export class ArchiveWriter {
  // Level 2: about half the CPU of zlib's default 6 on inventory text, for
  // archives some 9% larger; the controller deflates every host's output.
  // A 16 KiB window and memLevel 6 hold 96 KiB per entry being deflated, not
  // zlib's default 256 KiB: with 500 hosts in flight that was 50 MB of peak
  // RSS, for output within 1% of the default's. Every inflater reads it (a
  // smaller window only means shorter back-references).
  private readonly zip: ZipArchive;
  private readonly batcher = new WriteBatcher();
  private readonly out: WriteStream;
  private failure: Error | undefined;
  private readonly closed: Promise<void>;
  private finished = false;
  entries = 0;

  private constructor(
    Zip: ZipArchiveClass,
    readonly dir: string,
    readonly uuid: string,
    readonly tempPath: string,
  ) {
    this.zip = new Zip({ zlib: ZLIB_OPTIONS, forceLocalTime: false });
    this.out = createWriteStream(tempPath, { flags: 'wx', mode: 0o644 });
    this.closed = new Promise((resolve, reject) => {
      this.out.on('close', resolve);
      this.out.on('error', (err) => {
        this.failure ??= err;
        reject(err);
      });
    });
    this.closed.catch(() => {}); // observed through failure / commit()
    this.zip.on('error', (err: Error) => {
      this.failure ??= err;
    });
    this.zip.on('warning', (err: Error) => {
      this.failure ??= err;
    });
    this.batcher.on('error', (err: Error) => {
      this.failure ??= err;
    });
    this.zip.pipe(this.batcher).pipe(this.out);
  }

  static async create(dir: string, uuid: string): Promise<ArchiveWriter> {
    const w = new ArchiveWriter(await preloadArchiver(), dir, uuid, join(dir, tempName(uuid, 'partial')));
    await new Promise<void>((resolve, reject) => {
      w.out.once('open', () => resolve());
      w.out.on('error', reject);
    });
    return w;
  }

  /** Adds one entry below <uuid>/ and waits until it is written, so memory stays bounded. */
  async add(name: string, data: Buffer | Readable, opts: EntryOptions): Promise<void> {
    this.check();
    // A net under what the controller writes itself (scan.json, octoscan.xml): no secret of the
    // run in the archive. Streamed bodies were scrubbed by the collector as they came.
    if (Buffer.isBuffer(data)) data = scrubBytes(data);
    const entryDone = new Promise<void>((resolve, reject) => {
      const onEntry = (): void => {
        cleanup();
        resolve();
      };
      const onError = (err: Error): void => {
        cleanup();
        reject(err);
      };
      const cleanup = (): void => {
        this.zip.off('entry', onEntry);
        this.zip.off('error', onError);
        this.out.off('error', onError);
      };
      this.zip.on('entry', onEntry);
      this.zip.on('error', onError);
      this.out.on('error', onError);
    });
    const binary = opts.binaryMode !== undefined;
    this.zip.append(data, {
      name: `${this.uuid}/${name}`,
      date: opts.date,
      mode: binary ? opts.binaryMode : 0o644,
      store: binary,
    });
    await entryDone;
    this.entries++;
  }

  /** Finishes the zip, makes it durable and gives it its final name. Returns path and size. */
  async commit(ext: 'scal' | 'scam'): Promise<{ path: string; bytes: number }> {
    this.check();
    this.finished = true;
    await this.zip.finalize();
    await this.closed;
    this.check();
    const fh = await open(this.tempPath, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    const finalPath = join(this.dir, `${this.uuid}.${ext}`);
    await rename(this.tempPath, finalPath);
    await syncDir(this.dir);
    const { size } = await stat(finalPath);
    return { path: finalPath, bytes: size };
  }

  /** Drops everything written so far. Safe to call at any point, and twice. */
  async abort(): Promise<void> {
    this.finished = true;
    this.zip.abort();
    this.batcher.destroy();
    this.out.destroy();
    await unlink(this.tempPath).catch(() => {});
  }

  private check(): void {
    if (this.failure) throw this.failure;
    if (this.finished && !this.failure) return;
  }
}

async function syncDir(dir: string): Promise<void> {
  // Not every file system lets a folder be fsynced; the rename has still happened.
  try {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    /* best effort */
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const STALE_AFTER_MS = 24 * 3600 * 1000;

/**
 * Removes temporary files a killed run left in the output folder: ours whose
 * process is gone, and anyone's older than a day (another machine's, on a
 * shared folder). Returns the names removed.
 */
export async function sweepStaleTemporaries(dir: string): Promise<string[]> {
  const removed: string[] = [];
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return removed;
  }
  const mine = new RegExp(`^${TEMP_PREFIX.replace(/\./g, '\\.')}${self.replace(/\./g, '\\.')}-(\\d+)-`);
  for (const name of names) {
    if (!name.startsWith(TEMP_PREFIX)) continue;
    const path = join(dir, name);
    const m = mine.exec(name);
    let stale = m ? !pidAlive(Number(m[1])) : false;
    if (!stale) {
      const st = await stat(path).catch(() => undefined);
      stale = st !== undefined && Date.now() - st.mtimeMs > STALE_AFTER_MS;
    }
    if (stale && (await unlink(path).then(() => true, () => false))) removed.push(name);
  }
  return removed;
}
