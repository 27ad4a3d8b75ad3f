// An octo-collect stand-in for the upload tests, on loopback, over HTTP or
// HTTPS. Like the real server it takes `curl -F "upload=@<uuid>.scal" URL`:
// it checks the field name and the file name, writes `<name>.uploading` and
// then renames it, and answers 303 when it already has that name. It can be
// told to fail: refuse the first N requests (500), stall (never answer), close
// the connection in the middle of the body, answer 500 to everything, or
// answer 200 at once and close after the first part of the body ('early-200',
// what a broken collector or proxy does); and to demand basic auth.
import { mkdirSync, existsSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import path from 'node:path';

export type CollectMode = 'ok' | 'fail' | 'stall' | 'close-mid-body' | 'early-200';

export interface CollectRequest {
  status: number;
  name?: string;
  contentLength?: string;
  reason: string;
}

export interface OctoCollect {
  url: string;
  dir: string;
  /** Every request, in arrival order, with the answer given. */
  requests: CollectRequest[];
  /** File names stored (complete, renamed from .uploading). */
  stored(): string[];
  mode: CollectMode;
  /** Answer 500 to the next n requests. */
  failNext(n: number): void;
  close(): Promise<void>;
}

export interface OctoCollectOptions {
  dir: string;
  host?: string;
  /** PEM key and certificate: serve HTTPS. */
  tls?: { key: string; cert: string };
  /** `user:password` the server demands. */
  basicAuth?: string;
  failFirst?: number;
}

const NAME = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.sca[lm]$/i;

export async function startOctoCollect(o: OctoCollectOptions): Promise<OctoCollect> {
  mkdirSync(o.dir, { recursive: true });
  const requests: CollectRequest[] = [];
  const sockets = new Set<Socket>();
  let failing = o.failFirst ?? 0;
  const state = { mode: 'ok' as CollectMode };

  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const answer = (status: number, reason: string, name?: string, headers: Record<string, string> = {}): void => {
      requests.push({ status, name, contentLength: req.headers['content-length'], reason });
      res.writeHead(status, { 'content-type': 'text/plain', ...headers }).end(`${reason}\n`);
    };
    if (state.mode === 'stall') {
      requests.push({ status: 0, reason: 'stalled' });
      req.resume();
      return;
    }
    if (state.mode === 'early-200') {
      // 200 before the body, then the connection closes after its first bytes: it never had the file.
      let seen = 0;
      requests.push({ status: 200, contentLength: req.headers['content-length'], reason: 'answered 200 at once' });
      res.writeHead(200, { 'content-type': 'text/plain', connection: 'close' }).end('OK\n');
      req.on('data', (d: Buffer) => {
        seen += d.length;
        if (seen > 64 * 1024) req.socket.destroy();
      });
      return;
    }
    if (state.mode === 'close-mid-body') {
      let seen = 0;
      req.on('data', (d: Buffer) => {
        seen += d.length;
        if (seen > 0) req.socket.destroy();
      });
      requests.push({ status: 0, reason: 'closed mid-body' });
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => {
      void (async () => {
        if (failing > 0 || state.mode === 'fail') {
          if (failing > 0) failing--;
          return answer(500, 'Internal Server Error (told to fail)');
        }
        if (req.method !== 'POST') return answer(405, 'POST only');
        if (o.basicAuth && req.headers.authorization !== `Basic ${Buffer.from(o.basicAuth).toString('base64')}`) {
          return answer(401, 'authentication required', undefined, { 'www-authenticate': 'Basic realm="octo-collect"' });
        }
        const body = Buffer.concat(chunks);
        if (req.headers['content-length'] === undefined) return answer(411, 'Content-Length required');
        if (Number(req.headers['content-length']) !== body.length) return answer(400, `Content-Length ${req.headers['content-length']} but ${body.length} bytes`);
        let form: FormData;
        try {
          form = await new Response(body, { headers: { 'content-type': req.headers['content-type'] ?? '' } }).formData();
        } catch (err) {
          return answer(400, `not multipart/form-data: ${(err as Error).message}`);
        }
        const file = form.get('upload');
        if (!(file instanceof File)) return answer(400, `no file in field "upload" (fields: ${[...form.keys()].join(', ')})`);
        if (!NAME.test(file.name)) return answer(400, `bad file name ${JSON.stringify(file.name)}`, file.name);
        const final = path.join(o.dir, file.name);
        if (existsSync(final)) return answer(303, 'already have it', file.name, { location: `/${file.name}` });
        writeFileSync(`${final}.uploading`, Buffer.from(await file.arrayBuffer()));
        renameSync(`${final}.uploading`, final);
        answer(200, 'OK', file.name);
      })();
    });
  };

  const server = o.tls ? https.createServer({ key: o.tls.key, cert: o.tls.cert }, handler) : http.createServer(handler);
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, o.host ?? '127.0.0.1', resolve));
  const { address, port } = server.address() as AddressInfo;
  return {
    url: `${o.tls ? 'https' : 'http'}://${address}:${port}/`,
    dir: o.dir,
    requests,
    stored: () => readdirSync(o.dir).filter((n) => NAME.test(n)).sort(),
    get mode() {
      return state.mode;
    },
    set mode(m: CollectMode) {
      state.mode = m;
    },
    failNext(n: number) {
      failing = n;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
