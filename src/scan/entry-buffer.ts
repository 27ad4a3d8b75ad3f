// One entry's bytes while we wait to learn whether it is kept (a command that
// fails leaves no entry, so nothing may reach the zip before its end record).
// Small entries stay in memory; a large one spills to a temporary file in the
// output folder, so a host's memory use is bounded whatever it sends.
import { createReadStream } from 'node:fs';
import { open, unlink, type FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';

export const SPILL_THRESHOLD = 512 * 1024;

export class EntryBuffer {
  private chunks: Buffer[] = [];
  private inMemory = 0;
  private file: FileHandle | undefined;
  size = 0;

  constructor(private readonly spillPath: () => string) {}

  async write(chunk: Buffer): Promise<void> {
    this.size += chunk.length;
    if (!this.file && this.inMemory + chunk.length <= SPILL_THRESHOLD) {
      this.chunks.push(chunk);
      this.inMemory += chunk.length;
      return;
    }
    if (!this.file) {
      this.path = this.spillPath();
      this.file = await open(this.path, 'wx', 0o600);
      for (const c of this.chunks) await this.file.write(c);
      this.chunks = [];
      this.inMemory = 0;
    }
    await this.file.write(chunk);
  }

  private path: string | undefined;

  /** The content, as a Buffer or a stream that removes its spill file when done. */
  async content(): Promise<Buffer | Readable> {
    if (!this.file) return Buffer.concat(this.chunks);
    await this.file.close();
    this.file = undefined;
    const path = this.path!;
    const stream = createReadStream(path);
    stream.on('close', () => void unlink(path).catch(() => {}));
    this.stream = stream;
    return stream;
  }

  private stream: Readable | undefined;

  /** Drops the content; also after content() when writing it failed (the reader may never have closed). */
  async discard(): Promise<void> {
    this.chunks = [];
    this.stream?.destroy();
    if (this.file) {
      await this.file.close().catch(() => {});
      this.file = undefined;
    }
    if (this.path) await unlink(this.path).catch(() => {});
  }
}
