// One upload: the request curl makes for `curl -F "upload=@<file>" URL`, a
// multipart/form-data body with the archive in the field `upload` under its
// own file name (octo-collect checks it), Content-Length set. fetch and
// FormData build it; the file is streamed from disk, never held in memory.
import { openAsBlob } from 'node:fs';
import { basename } from 'node:path';
import type { fetch as undiciFetch } from 'undici';
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

async function bodyHead(res: Response | Awaited<ReturnType<typeof undiciFetch>>): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let n = 0;
  try {
    while (n < ERROR_BODY_BYTES) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      n += value.byteLength;
    }
  } catch {
    /* a body cut short still leaves the status to report */
  } finally {
    await reader.cancel().catch(() => {});
  }
  return Buffer.concat(chunks).subarray(0, ERROR_BODY_BYTES).toString('utf8');
}

/** Sends one archive. Never throws: every failure is a message (all are worth a retry). */
export async function sendArchive(config: CollectorConfig, file: string, signal: AbortSignal): Promise<SendResult> {
  const name = collectorName(config.url);
  try {
    // Loaded on the first upload only (see collector-config.ts).
    const { fetch, FormData } = await import('undici');
    const form = new FormData();
    form.append(UPLOAD_FIELD, await openAsBlob(file), basename(file));
    const headers: Record<string, string> = {};
    if (config.authorization) headers['authorization'] = config.authorization;
    const res = await fetch(config.url, {
      method: 'POST',
      body: form,
      headers,
      // 303 is octo-collect's "I already have it": an answer, not a place to go.
      redirect: 'manual',
      dispatcher: config.dispatcher,
      signal,
    });
    if (res.status === 200 || res.status === 201 || res.status === 303) {
      await res.body?.cancel().catch(() => {});
      return { ok: true, status: res.status, duplicate: res.status === 303 };
    }
    return { ok: false, message: collectorAnswerError(name, res.status, await bodyHead(res)) };
  } catch (err) {
    return { ok: false, message: collectorNetworkError(name, err) };
  }
}
