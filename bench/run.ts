// Runs every benchmark in turn: npm run bench
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
for (const [file, args] of [['scan-one.ts', ['5']], ['sweep-farm.ts', ['--replay']]] as const) {
  if (!existsSync(here + file)) continue;
  console.log(`\n== ${file}`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', here + file, ...args], { stdio: 'inherit' });
  if (r.status !== 0) process.exitCode = 1;
}
