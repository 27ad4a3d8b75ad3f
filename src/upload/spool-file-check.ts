// Only our own archives leave the spool. The output folder may hold what
// others put there: a symlink named like an archive that points at a file only
// we may read, a text file under an archive's name. Before a file is sent it
// must be, on one descriptor opened without following links: a regular file,
// owned by the user running us, named <uuid>.scal/.scam, and a zip that keeps
// the archive contract (the checks of `octoscan-remote inspect`).
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename } from 'node:path';
import { readArchive } from '../archive/archive-reader.js';
import { ARCHIVE_NAME } from './spool.js';

/** Why `path` must not be sent, or undefined when it is one of our archives. */
export async function spoolFileProblem(path: string, uid = process.getuid?.() ?? 0): Promise<string | undefined> {
  if (!ARCHIVE_NAME.test(basename(path))) return 'not named <uuid>.scal or <uuid>.scam';
  let fh;
  try {
    // O_NONBLOCK: a FIFO under an archive's name must not hang the run.
    fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') return 'a symbolic link';
    return `cannot be opened (${code ?? (err as Error).message})`;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) return 'not a regular file';
    if (st.uid !== uid) return `owned by uid ${st.uid}, not by the user running the upload (uid ${uid})`;
    const summary = await readArchive(path, fh.fd);
    if (!summary.ok) return `not an archive of ours: ${summary.problems[0]}`;
    return undefined;
  } finally {
    await fh.close();
  }
}
