// Zips written byte by byte, for archives no zip library would write: entries
// whose data is given already deflated (a zip bomb costs one deflate of its
// data, shared by every entry that holds it), a million entries (zip64 end
// records), names with any bytes. Read back by yauzl like any other zip.
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { crc32, deflateRawSync } from 'node:zlib';

export interface RawEntry {
  name: string;
  /** The bytes as stored: deflated when method is 8. */
  stored: Buffer;
  method: 0 | 8;
  size: number;
  crc: number;
}

/** An entry holding `data`, deflated. */
export function deflated(name: string, data: Buffer): RawEntry {
  return { name, stored: deflateRawSync(data), method: 8, size: data.length, crc: crc32(data) };
}

/** An entry holding `data` as it is. */
export function stored(name: string, data: Buffer): RawEntry {
  return { name, stored: data, method: 0, size: data.length, crc: crc32(data) };
}

function localHeader(e: RawEntry, name: Buffer): Buffer {
  const h = Buffer.alloc(30);
  h.writeUInt32LE(0x04034b50, 0);
  h.writeUInt16LE(20, 4);
  h.writeUInt16LE(0x0800, 6); // names are UTF-8
  h.writeUInt16LE(e.method, 8);
  h.writeUInt16LE(0x5821, 12); // 2024-01-01
  h.writeUInt32LE(e.crc >>> 0, 14);
  h.writeUInt32LE(e.stored.length, 18);
  h.writeUInt32LE(e.size, 22);
  h.writeUInt16LE(name.length, 26);
  return h;
}

function centralHeader(e: RawEntry, name: Buffer, offset: number): Buffer {
  const h = Buffer.alloc(46);
  h.writeUInt32LE(0x02014b50, 0);
  h.writeUInt16LE(0x031e, 4); // made by Unix
  h.writeUInt16LE(20, 6);
  h.writeUInt16LE(0x0800, 8);
  h.writeUInt16LE(e.method, 10);
  h.writeUInt16LE(0x5821, 14);
  h.writeUInt32LE(e.crc >>> 0, 16);
  h.writeUInt32LE(e.stored.length, 20);
  h.writeUInt32LE(e.size, 24);
  h.writeUInt16LE(name.length, 28);
  h.writeUInt32LE((0o100644 << 16) >>> 0, 38);
  h.writeUInt32LE(offset, 42);
  return h;
}

/**
 * Writes the zip. `count` entries are listed; entry i is `entries[i % entries.length]`
 * renamed by `nameOf(i)` when given, and repeated entries share one local header
 * and data (so a million-entry zip is as large as its central directory).
 */
export async function writeRawZip(path: string, entries: RawEntry[], count = entries.length, nameOf?: (i: number) => string): Promise<void> {
  const out = createWriteStream(path);
  const write = async (b: Buffer): Promise<void> => {
    if (!out.write(b)) await once(out, 'drain');
  };
  const offsets: number[] = [];
  let pos = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    offsets.push(pos);
    const h = localHeader(e, name);
    await write(Buffer.concat([h, name, e.stored]));
    pos += h.length + name.length + e.stored.length;
  }
  const cdStart = pos;
  let batch: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const k = i % entries.length;
    const name = Buffer.from(nameOf ? nameOf(i) : entries[k].name, 'utf8');
    const h = centralHeader(entries[k], name, offsets[k]);
    batch.push(h, name);
    pos += h.length + name.length;
    if (batch.length >= 20_000) {
      await write(Buffer.concat(batch));
      batch = [];
    }
  }
  await write(Buffer.concat(batch));
  const cdSize = pos - cdStart;
  if (count > 0xfffe) {
    // zip64 end of central directory record and its locator: the 16-bit count cannot hold it.
    const z = Buffer.alloc(56);
    z.writeUInt32LE(0x06064b50, 0);
    z.writeBigUInt64LE(44n, 4);
    z.writeUInt16LE(45, 12);
    z.writeUInt16LE(45, 14);
    z.writeBigUInt64LE(BigInt(count), 24);
    z.writeBigUInt64LE(BigInt(count), 32);
    z.writeBigUInt64LE(BigInt(cdSize), 40);
    z.writeBigUInt64LE(BigInt(cdStart), 48);
    const loc = Buffer.alloc(20);
    loc.writeUInt32LE(0x07064b50, 0);
    loc.writeBigUInt64LE(BigInt(pos), 8);
    loc.writeUInt32LE(1, 16);
    await write(Buffer.concat([z, loc]));
  }
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(Math.min(count, 0xffff), 8);
  eocd.writeUInt16LE(Math.min(count, 0xffff), 10);
  eocd.writeUInt32LE(count > 0xfffe ? 0xffffffff : cdSize, 12);
  eocd.writeUInt32LE(count > 0xfffe ? 0xffffffff : cdStart, 16);
  await write(eocd);
  out.end();
  await once(out, 'finish');
}
