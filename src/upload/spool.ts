// The spool is the output folder itself: an archive stays there, under its
// final name, until the collector has taken it. So whatever an earlier run
// could not deliver (collector down, run killed) is simply the archives still
// in the folder, and nothing else needs to be remembered anywhere.
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** `<uuid>.scal` / `<uuid>.scam`: the names octo-collect and the import accept. */
export const ARCHIVE_NAME = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.sca[lm]$/i;

/**
 * What waits in `dir` under an archive's name, oldest first (it has waited
 * longest). Links and other non-files are listed too: spool-file-check.ts
 * decides what is ours, and names the rest.
 */
export async function waitingArchives(dir: string): Promise<string[]> {
  const names = (await readdir(dir)).filter((n) => ARCHIVE_NAME.test(n));
  const withTimes = await Promise.all(
    names.map(async (n) => {
      const st = await lstat(join(dir, n)).catch(() => undefined);
      return st ? { path: join(dir, n), mtime: st.mtimeMs } : undefined;
    }),
  );
  return withTimes
    .filter((x): x is { path: string; mtime: number } => x !== undefined)
    .sort((a, b) => a.mtime - b.mtime || a.path.localeCompare(b.path))
    .map((x) => x.path);
}
