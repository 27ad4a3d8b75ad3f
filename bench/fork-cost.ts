// What one fork+exec costs on this machine: /bin/sh starting /bin/true in a
// loop, less the same loop with the builtin `:` (the loop, the shell's own
// start and the measurement itself), per run. The probe script's CPU depends
// on it as much as on the probes' own work (issue 24: 4.4 ms on one machine of
// the same kind), so the bench prints it next to the target-cost figures.
import { spawnSync } from 'node:child_process';

export interface ForkExecCost {
  /** Median over the rounds, milliseconds per fork+exec of /bin/true (loop overhead subtracted). */
  msPerForkExec: number;
  /** Each round's figure, ms per fork+exec. */
  roundsMs: number[];
  /** fork+execs per round. */
  runs: number;
}

function loopMs(body: string, runs: number): number {
  const t0 = performance.now();
  const r = spawnSync('/bin/sh', ['-c', `i=0; while [ $i -lt ${runs} ]; do ${body}; i=$((i+1)); done`], { stdio: 'ignore' });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`fork+exec loop exited ${r.status ?? r.signal}`);
  return ms;
}

export function measureForkExec(runs = 200, rounds = 5): ForkExecCost {
  const roundsMs: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const withExec = loopMs('/bin/true', runs);
    const bare = loopMs(':', runs);
    roundsMs.push(Math.max(0, withExec - bare) / runs);
  }
  const sorted = [...roundsMs].sort((a, b) => a - b);
  return { msPerForkExec: sorted[Math.floor(sorted.length / 2)], roundsMs, runs };
}

/** One line for the bench output. */
export function describeForkExec(c: ForkExecCost): string {
  return `${c.msPerForkExec.toFixed(2)} ms per fork+exec of /bin/true from /bin/sh (median of ${c.roundsMs.length} rounds of ${c.runs}; rounds ${c.roundsMs.map((m) => m.toFixed(2)).join(', ')} ms)`;
}
