// The fuzzer, bounded for CI: seeded random peers (raw packets before login,
// faults during authentication, random framed output after login) swept by
// the real CLI beside good hosts. The seed is printed; replay a failure with
// OCTOSCAN_FUZZ_SEED=<seed> node --import tsx --test test/integration/fuzz-peers.test.ts.
// The long run is `npm run bench:fuzz` (bench/fuzz-peers.ts).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { cliBuilt, sweepPeers, sweepProblems } from '../helpers/cli-sweep.js';
import type { PeerRequest } from '../helpers/hostile-peers.js';
import { workspace } from '../helpers/workspace.js';

const freshDir = workspace('octoscan-fuzz-');
const SEED = Number(process.env.OCTOSCAN_FUZZ_SEED ?? 20261130);
const PEERS = Number(process.env.OCTOSCAN_FUZZ_PEERS ?? 36);
const GOOD = 6;
const MB = 1e6;

describe('fuzzer: random hostile peers beside good hosts (seeded, bounded)', { skip: cliBuilt ? undefined : 'dist/ not built (npm run build)' }, () => {
  test(`${PEERS} random peers from seed ${SEED}, ${GOOD} good hosts: all classified, good hosts scanned, report complete, no temporaries, bounded RSS, exit 2`, { timeout: 240_000 }, async () => {
    // Good hosts spread among the hostile ones, so they run while the hostile ones misbehave.
    const requests: PeerRequest[] = [];
    for (let i = 0; i < PEERS; i++) {
      requests.push({ seed: SEED + i });
      if (i % Math.ceil(PEERS / GOOD) === 0) requests.push({ name: 'healthy' });
    }
    const s = await sweepPeers(freshDir('sweep'), requests, ['-j', '12']);
    const classes = new Map<string, number>();
    for (const r of s.rows) classes.set(r.class, (classes.get(r.class) ?? 0) + 1);
    console.error(
      `[fuzz] seed ${SEED}: ${PEERS} random peers + ${GOOD} good; classes ${JSON.stringify(Object.fromEntries(classes))}; ` +
        `peak RSS ${(s.run.peakRss / MB).toFixed(0)} MB; summary to exit ${s.run.summaryToExitMs?.toFixed(0)} ms; wall ${(s.run.wallMs / 1000).toFixed(1)} s`,
    );
    assert.deepEqual(sweepProblems(s, GOOD), []);
    assert.equal(s.run.code, 2, 'some random peers must fail');
    assert.ok(s.run.peakRss > 0 && s.run.peakRss < 300 * MB, `peak RSS ${(s.run.peakRss / MB).toFixed(0)} MB`);
  });
});
