// What the report keeps of each archive at scan time: OS family, name and
// version, and the Java homes with their versions and vendors. The archive
// leaves --out once the collector has it, so whatever the morning page shows
// must be in the report by then.
import { readArchive } from '../archive/archive-reader.js';
import type { ArchiveFacts, HostOutcome } from '../types.js';

export async function archiveFactsOf(path: string): Promise<ArchiveFacts | undefined> {
  try {
    const a = await readArchive(path);
    const osFamily = a.kind === 'macos' ? 'macos' : a.kind;
    const java = a.java.map((j) => `${j.home} (${[j.version || '?', j.vendor].filter(Boolean).join(', ')})`);
    return { osFamily, osName: a.os?.name || a.os?.id || '', osVersion: a.os?.version ?? '', java: [...new Set(java)] };
  } catch {
    // A file the sweep wrote a moment ago and cannot read back: the row simply lacks these columns.
    return undefined;
  }
}

/** Sets archiveFacts on a finished host and on each of its containers that has an archive. */
export async function addArchiveFacts(o: HostOutcome): Promise<void> {
  for (const r of [o, ...(o.containers ?? [])]) {
    if (r.archive && !r.archiveFacts) r.archiveFacts = await archiveFactsOf(r.archive);
  }
}
