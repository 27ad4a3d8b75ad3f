// A stand-in for octo-collect in the compose demo: takes what
// `curl -F "upload=@<uuid>.scal" http://collector:8080` sends, checks the
// field and file name, writes <name>.uploading and renames it into
// $COLLECT_DIR, and answers 303 for a name it already has.
// Run: COLLECT_DIR=/collected PORT=8080 node octo-collect-standin.mjs
import { existsSync, mkdirSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';

const dir = process.env.COLLECT_DIR ?? '/collected';
const port = Number(process.env.PORT ?? 8080);
const NAME = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.sca[lm]$/i;
mkdirSync(dir, { recursive: true });

const server = http.createServer((req, res) => {
  const answer = (status, text, headers = {}) => {
    console.log(`${new Date().toISOString()} ${req.method} ${status} ${text}`);
    res.writeHead(status, { 'content-type': 'text/plain', ...headers }).end(`${text}\n`);
  };
  const chunks = [];
  req.on('data', (d) => chunks.push(d));
  req.on('end', async () => {
    try {
      if (req.method !== 'POST') return answer(405, 'POST a file in the field "upload"');
      const form = await new Response(Buffer.concat(chunks), { headers: { 'content-type': req.headers['content-type'] ?? '' } }).formData();
      const file = form.get('upload');
      if (!(file instanceof File)) return answer(400, 'no file in the field "upload"');
      if (!NAME.test(file.name)) return answer(400, `bad file name ${JSON.stringify(file.name)}`);
      const final = path.join(dir, file.name);
      if (existsSync(final)) return answer(303, `already have ${file.name}`, { location: `/${file.name}` });
      await writeFile(`${final}.uploading`, Buffer.from(await file.arrayBuffer()));
      await rename(`${final}.uploading`, final);
      answer(200, `stored ${file.name}`);
    } catch (err) {
      answer(400, `bad request: ${err.message}`);
    }
  });
});
server.listen(port, () => console.log(`octo-collect stand-in on port ${server.address().port}, storing in ${dir}`));
// As PID 1 of a container (no init) Node has no default action for SIGTERM:
// without these, `docker stop` waits its grace period and kills it.
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
