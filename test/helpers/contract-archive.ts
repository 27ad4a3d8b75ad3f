// A small archive that keeps the archive contract (what `inspect` checks),
// written by the real ArchiveWriter: what a spool of ours holds.
import { randomUUID } from 'node:crypto';
import { ArchiveWriter } from '../../src/archive/archive-writer.js';

/** Writes `<uuid>.<ext>` into `dir`; returns its path. */
export async function writeContractArchive(dir: string, ext: 'scal' | 'scam' = 'scal', body = 'a test archive\n'): Promise<string> {
  const uuid = randomUUID();
  const w = await ArchiveWriter.create(dir, uuid);
  const date = new Date();
  await w.add('readme.txt', Buffer.from(body), { date });
  await w.add('octoscan.xml', Buffer.from(`<?xml version="1.0" encoding="utf-8"?>\n<octoscan uuid="${uuid}" fqdn="test.example" platform="Linux"></octoscan>\n`), { date });
  return (await w.commit(ext)).path;
}
