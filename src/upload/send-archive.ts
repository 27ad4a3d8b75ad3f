// One upload: the request curl makes for `curl -F "upload=@<file>" URL`, a
// multipart/form-data body with the archive in the field `upload` under its
// own file name (octo-collect checks it), Content-Length set. The body is
// streamed from disk, never held in memory, and counted: a collector that
// answers before the body's last byte was written has not got the archive
// (a proxy or a broken collector may say 200 after 98 KB of 40 MB), so that
// answer is a failure, tried again, and the archive stays in the spool.
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { Readable } from 'node:stream';
import { collectorAnswerError, collectorNetworkError } from '../errors.js';
import type { CollectorConfig } from './collector-config.js';

export type SendResult =
  | { ok: true; status: number; duplicate: boolean }
  | { ok: false; message: string };

/** The field octo-collect reads the file from. */
export const UPLOAD_FIELD = 'upload';
const ERROR_BODY_BYTES = 4096;

/** The collector as shown in messages: never user:password, never a query. */
export function collectorName(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname === '/' ? '' : url.pathname}`;
}

async function bodyHead(body: AsyncIterable<Buffer> & { destroy?: () => void }): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  try {
    for await (const c of body) {
      chunks.push(c);
      n += c.length;
      if (n >= ERROR_BODY_BYTES) break;
    }
  } catch {
    /* a body cut short still leaves the status to report */
  }
  return Buffer.concat(chunks).subarray(0, ERROR_BODY_BYTES).toString('utf8');
}

/** The multipart body, streamed: `whole` settles true once its last byte was handed to the connection, false if it never was. */
function multipartBody(file: string, size: number, name: string): { body: Readable; length: number; type: string; whole: Promise<boolean>; sent: () => number } {
  const boundary = `----octoscan-${randomBytes(12).toString('hex')}`;
  const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${UPLOAD_FIELD}"; filename="${name}"\r\nContent-Type: application/octet-stream\r\n\r\n`);
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const length = head.length + size + tail.length;
  let sent = 0;
  async function* parts(): AsyncGenerator<Buffer> {
    yield head;
    sent += head.length;
    for await (const c of createReadStream(file) as AsyncIterable<Buffer>) {
      yield c;
      sent += c.length;
    }
    yield tail;
    sent += tail.length;
  }
  const body = Readable.from(parts(), { objectMode: false });
  // The HTTP client writes each chunk to the connection as it reads it, so
  // 'end' (everything read) comes only after the last byte was written.
  const whole = new Promise<boolean>((resolve) => {
    body.once('end', () => resolve(sent === length));
    body.once('close', () => resolve(body.readableEnded && sent === length));
    // on, not once: a stream may error more than once (the file, then the client's destroy), and an
    // error with no listener left would end the process.
    body.on('error', () => resolve(false));
  });
  return { body, length, type: `multipart/form-data; boundary=${boundary}`, whole, sent: () => sent };
}

/** Sends one archive. Never throws: every failure is a message (all are worth a retry). */
export async function sendArchive(config: CollectorConfig, file: string, signal: AbortSignal): Promise<SendResult> {
  const name = collectorName(config.url);
  let body: Readable | undefined;
  try {
    // Loaded on the first upload only (see collector-config.ts).
    const { request } = await import('undici');
    const { size } = await stat(file);
    const form = multipartBody(file, size, basename(file));
    body = form.body;
    const headers: Record<string, string> = { 'content-type': form.type, 'content-length': String(form.length) };
    if (config.authorization) headers['authorization'] = config.authorization;
    // 303 is octo-collect's "I already have it": an answer, not a place to go (request() follows no redirect).
    const res = await request(config.url, { method: 'POST', body: form.body, headers, dispatcher: config.dispatcher, signal });
    if (res.statusCode === 200 || res.statusCode === 201 || res.statusCode === 303) {
      // The answer may come before the body is out: success only once all of it was written.
      const aborted = new Promise<false>((r) => signal.addEventListener('abort', () => r(false), { once: true }));
      const whole = await Promise.race([form.whole, aborted]);
      res.body.resume();
      res.body.on('error', () => {});
      if (!whole) {
        form.body.destroy(); // closes the archive file, whatever the HTTP client did with the body
        return { ok: false, message: `collector ${name} answered ${res.statusCode} after ${form.sent()} of ${form.length} bytes of the upload: not taken as delivered` };
      }
      return { ok: true, status: res.statusCode, duplicate: res.statusCode === 303 };
    }
    return { ok: false, message: collectorAnswerError(name, res.statusCode, await bodyHead(res.body)) };
  } catch (err) {
    body?.destroy();
    return { ok: false, message: collectorNetworkError(name, signal.aborted ? signal.reason : err) };
  }
}
