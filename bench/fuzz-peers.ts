// The long fuzzer run (issue 10): rounds of seeded random hostile peers, each
// round a real CLI sweep beside good hosts. Every round must end with the good
// hosts scanned, every hostile host classified, the report complete, no
// temporary files, bounded RSS and exit 2. Prints per-round and total figures;
// exits 1 on the first round that breaks an invariant, naming its seeds.
//
//   npm run build && node --import tsx bench/fuzz-peers.ts [--rounds 10] [--peers 100] [--seed N] [--big]
//
// --big uses floods up to 600 MB per peer (the CI test keeps them to 24 MB).
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { cliBuilt, sweepPeers, sweepProblems } from '../test/helpers/cli-sweep.js';
import { CI_SCALE, type FuzzScale, type PeerRequest } from '../test/helpers/hostile-peers.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '10' },
    peers: { type: 'string', default: '100' },
    good: { type: 'string', default: '8' },
    seed: { type: 'string', default: String(Date.now() % 1_000_000_000) },
    parallel: { type: 'string', default: '24' },
    big: { type: 'boolean', default: false },
  },
});
if (!cliBuilt) {
  console.error('dist/ not built: npm run build first');
  process.exit(1);
}
const rounds = Number(values.rounds);
const peersPerRound = Number(values.peers);
const good = Number(values.good);
const seed0 = Number(values.seed);
const scale: FuzzScale = values.big ? { maxFlood: 600 * 2 ** 20, maxWaitMs: 2000 } : CI_SCALE;
const RSS_BOUND = 400e6;
const MB = 1e6;

let peers = 0;
let peakRss = 0;
let slowestExit = 0;
const classes = new Map<string, number>();
const started = performance.now();
console.log(`fuzz: ${rounds} rounds × ${peersPerRound} random peers + ${good} good hosts, seeds from ${seed0}, -j ${values.parallel}, floods up to ${(scale.maxFlood / MB).toFixed(0)} MB`);
for (let round = 0; round < rounds; round++) {
  const first = seed0 + round * peersPerRound;
  const requests: PeerRequest[] = [];
  for (let i = 0; i < peersPerRound; i++) {
    requests.push({ seed: first + i, scale });
    if (i % Math.ceil(peersPerRound / good) === 0) requests.push({ name: 'healthy' });
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'octoscan-fuzz-bench-'));
  try {
    const s = await sweepPeers(dir, requests, ['-j', String(values.parallel), '--host-timeout', '20']);
    const problems = sweepProblems(s, good);
    if (s.run.code !== 2) problems.push(`exit ${s.run.code}, expected 2`);
    if (s.run.peakRss > RSS_BOUND) problems.push(`peak RSS ${(s.run.peakRss / MB).toFixed(0)} MB`);
    peers += peersPerRound;
    peakRss = Math.max(peakRss, s.run.peakRss);
    slowestExit = Math.max(slowestExit, s.run.summaryToExitMs ?? Infinity);
    for (const r of s.rows) if (r.tag !== 'healthy') classes.set(r.class, (classes.get(r.class) ?? 0) + 1);
    console.log(
      `round ${round + 1}: seeds ${first}..${first + peersPerRound - 1}: wall ${(s.run.wallMs / 1000).toFixed(1)} s, ` +
        `peak RSS ${(s.run.peakRss / MB).toFixed(0)} MB, summary to exit ${s.run.summaryToExitMs?.toFixed(0)} ms`,
    );
    if (problems.length) {
      console.log(`FAILED round ${round + 1} (replay: --seed ${first} --peers ${peersPerRound} --rounds 1${values.big ? ' --big' : ''}):\n  ${problems.join('\n  ')}`);
      process.exit(1);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
console.log(
  `fuzz: ${peers} random peers in ${((performance.now() - started) / 1000).toFixed(0)} s; hostile outcomes ${JSON.stringify(Object.fromEntries(classes))}; ` +
    `peak RSS ${(peakRss / MB).toFixed(0)} MB; longest summary-to-exit ${slowestExit.toFixed(0)} ms; every invariant held`,
);
