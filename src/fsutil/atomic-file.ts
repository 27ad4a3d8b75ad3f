// Every file the program writes outside the archive writer (report, retry
// file, summary) goes through here: a temporary name no one can predict,
// created exclusively (O_EXCL does not follow a symlink planted under that
// name), flushed, then renamed over the destination. In a folder another user
// can write to, a root run therefore never writes through their symlink, and a
// reader never sees half a file.
import { randomBytes } from 'node:crypto';
import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** The temporary name beside `path`: hidden, and random. */
export function temporaryNameFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(8).toString('hex')}.tmp`);
}

/** Writes the pieces in batches of about 1 MB: a large report is never one string. */
async function writeLines(fh: FileHandle, pieces: Iterable<string>): Promise<void> {
  let batch = '';
  for (const p of pieces) {
    batch += p;
    if (batch.length >= 1 << 20) {
      await fh.write(batch);
      batch = '';
    }
  }
  if (batch) await fh.write(batch);
}

export async function writeFileAtomically(path: string, data: string | Uint8Array | Iterable<string>, mode = 0o644): Promise<void> {
  const tmp = temporaryNameFor(path);
  const fh = await open(tmp, 'wx', mode);
  try {
    try {
      if (typeof data === 'string' || data instanceof Uint8Array) await fh.writeFile(data);
      else await writeLines(fh, data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
}
