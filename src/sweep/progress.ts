// What a person or a log sees on standard error while a sweep runs: a live
// bar on a terminal (cli-progress), one plain line per finished host
// otherwise, and a summary either way. Standard output is never touched here.
import { SingleBar } from 'cli-progress';
import { escapeControls } from '../text/peer-text.js';
import type { HostOutcome } from '../types.js';
import { failedClass } from './report.js';
import { displayTarget } from '../transport/ssh2-transport.js';

export interface Progress {
  started(): void;
  finished(o: HostOutcome): void;
  /** A message that must not be torn by the bar. */
  log(message: string): void;
  stop(): void;
}

export function createProgress(
  total: number,
  opts: { tty: boolean; stream?: NodeJS.WriteStream; quiet?: boolean; write?: (text: string) => void; now?: () => number },
): Progress {
  const now = opts.now ?? (() => performance.now());
  const stream = opts.stream ?? process.stderr;
  const write = opts.write ?? ((text: string) => void stream.write(text));
  let active = 0;
  let ok = 0;
  let failed = 0;
  if (opts.tty) {
    const bar = new SingleBar(
      {
        stream,
        format: ' {bar} {value}/{total} | ok {ok} | failed {failed} | in flight {active} | ETA {eta_hosts}',
        hideCursor: true,
        clearOnComplete: false,
        fps: 5,
      },
    );
    // cli-progress estimates from the bar's own updates, and restarts its
    // estimate whenever the bar is stopped to print a failure: "ETA 0s", then
    // minutes, for a run of seconds. Finished hosts are the only honest clock.
    const began = now();
    const eta = (): string => etaText(now() - began, ok + failed, total);
    bar.start(total, 0, { ok, failed, active, eta_hosts: eta() });
    return {
      started: () => {
        active++;
        bar.update({ active, eta_hosts: eta() });
      },
      finished: (o) => {
        active--;
        if (hostFailed(o)) failed++;
        else ok++;
        if (o.class !== 'ok') {
          bar.stop();
          write(`${failureLine(o)}\n`);
          bar.start(total, ok + failed, { ok, failed, active, eta_hosts: eta() });
        } else {
          bar.increment(1, { ok, failed, active, eta_hosts: eta() });
        }
      },
      log: (message) => {
        bar.stop();
        write(`${escapeControls(message)}\n`);
        bar.start(total, ok + failed, { ok, failed, active, eta_hosts: eta() });
      },
      stop: () => bar.stop(),
    };
  }
  return {
    started: () => {
      active++;
    },
    finished: (o) => {
      active--;
      if (opts.quiet && o.class === 'ok') return;
      write(`${o.class === 'ok' ? okLine(o) : failureLine(o)}\n`);
    },
    log: (message) => write(`${escapeControls(message)}\n`),
    stop: () => {},
  };
}

/**
 * Time left, from the hosts finished so far: the mean time per finished host
 * times the hosts still to finish. Nothing finished yet: unknown, not 0.
 */
export function etaText(elapsedMs: number, done: number, total: number): string {
  if (done >= total) return '0s';
  if (done === 0) return '?';
  const s = Math.round(((elapsedMs / done) * (total - done)) / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

function okLine(o: HostOutcome): string {
  const missing = o.completeness?.missing.length ? ` INCOMPLETE (${o.completeness.missing.join(', ')})` : '';
  return `ok ${target(o)} ${(o.durationMs / 1000).toFixed(1)}s ${o.warnings} warnings ${o.archive}${missing}`;
}

function failureLine(o: HostOutcome): string {
  return `FAILED ${o.class} ${target(o)} (${o.phase}, attempt ${o.attempts}): ${escapeControls(o.message)}`;
}

function target(o: HostOutcome): string {
  return displayTarget(o.spec);
}

/** A host counts as failed when it or one of its containers (or engines) failed: the rule of the exit code and the retry file. */
export function hostFailed(o: HostOutcome): boolean {
  return failedClass(o.class, false) || (o.containers ?? []).some((c) => failedClass(c.class, true));
}

export function summaryLine(outcomes: HostOutcome[], wallMs: number, carried = 0): string {
  const byClass = new Map<string, number>();
  for (const o of outcomes) {
    const cls = o.class === 'ok' && hostFailed(o) ? 'containers' : o.class;
    byClass.set(cls, (byClass.get(cls) ?? 0) + 1);
  }
  const ok = byClass.get('ok') ?? 0; // hosts whose containers failed are under 'containers'
  const failed = outcomes.length - ok;
  const incomplete = outcomes.filter((o) => o.completeness?.missing.length).length;
  const parts = [...byClass].filter(([c]) => c !== 'ok').map(([c, n]) => `${c} ${n}`);
  const okText = `${ok} ok${incomplete ? ` (${incomplete} incomplete)` : ''}`;
  const carriedText = carried ? `, ${carried} carried over` : '';
  return `${outcomes.length} host${outcomes.length === 1 ? '' : 's'}: ${okText}, ${failed} failed${parts.length ? ` (${parts.join(', ')})` : ''}${carriedText} in ${(wallMs / 1000).toFixed(1)} s`;
}
