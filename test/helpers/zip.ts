// Reads a zip back for tests, with an independent reader (yauzl), so archive
// tests do not trust the writer they check.
import yauzl from 'yauzl';
import type { Entry, ZipFile } from 'yauzl';
import type { Readable } from 'node:stream';

export interface ZipEntryInfo {
  data: Buffer;
  /** 0 stored, 8 deflate */
  method: number;
  /** externalFileAttributes >>> 16 & 0o7777 (the Unix permission bits) */
  mode: number;
  /**
   * yauzl getLastModDate with the DOS date/time taken as UTC: the Date's UTC
   * fields (getUTCHours() ...) are the wall-clock fields stored in the zip.
   */
  date: Date;
  /** The raw DOS wall clock, "YYYY-MM-DD HH:MM:SS", for readable assertions. */
  wallClock: string;
}

function openZip(path: string): Promise<ZipFile> {
  return new Promise((resolve, reject) => {
    yauzl.open(path, { lazyEntries: true, autoClose: true, strictFileNames: false, decodeStrings: true }, (err, zf) => {
      if (err || !zf) reject(err ?? new Error('yauzl gave no zip file'));
      else resolve(zf);
    });
  });
}

function openEntry(zf: ZipFile, entry: Entry): Promise<Readable> {
  return new Promise((resolve, reject) => {
    zf.openReadStream(entry, (err, stream) => {
      if (err || !stream) reject(err ?? new Error('yauzl gave no stream'));
      else resolve(stream);
    });
  });
}

async function drain(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Walks the entries in central-directory order, calling fn for each. */
async function walk(path: string, fn: (zf: ZipFile, entry: Entry) => Promise<void>): Promise<void> {
  const zf = await openZip(path);
  await new Promise<void>((resolve, reject) => {
    let failed = false;
    const fail = (err: unknown): void => {
      if (failed) return;
      failed = true;
      zf.close();
      reject(err);
    };
    zf.on('error', fail);
    zf.on('end', () => {
      if (!failed) resolve();
    });
    zf.on('entry', (entry: Entry) => {
      fn(zf, entry).then(() => zf.readEntry(), fail);
    });
    zf.readEntry();
  });
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/** Every entry of the zip at `path`, in entry order (a Map keeps insertion order). */
export async function readZip(path: string): Promise<Map<string, ZipEntryInfo>> {
  const out = new Map<string, ZipEntryInfo>();
  await walk(path, async (zf, entry) => {
    if (out.has(entry.fileName)) throw new Error(`duplicate zip entry ${entry.fileName}`);
    const data = entry.fileName.endsWith('/') ? Buffer.alloc(0) : await drain(await openEntry(zf, entry));
    const date = entry.getLastModDate({ timezone: 'UTC', forceDosFormat: true });
    out.set(entry.fileName, {
      data,
      method: entry.compressionMethod,
      mode: (entry.externalFileAttributes >>> 16) & 0o7777,
      date,
      wallClock:
        `${date.getUTCFullYear()}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())} ` +
        `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}`,
    });
  });
  return out;
}

/** Entry names only, in entry order, without reading any data. */
export async function entryNames(path: string): Promise<string[]> {
  const names: string[] = [];
  await walk(path, async (_zf, entry) => {
    names.push(entry.fileName);
  });
  return names;
}
