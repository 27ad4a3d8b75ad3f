// npm run bench: the cost table (bench/cost-table.ts), quick mode unless --full
// is passed through (npm run bench -- --full). The other benchmarks run on
// their own: bench/scan-one.ts, bench/sweep-farm.ts, bench/controller-cost.ts,
// bench/fuzz-peers.ts (npm run bench:fuzz), bench/known-hosts.ts.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const r = spawnSync(process.execPath, ['--import', 'tsx', `${here}cost-table.ts`, ...process.argv.slice(2)], { stdio: 'inherit' });
process.exitCode = r.status ?? 1;
