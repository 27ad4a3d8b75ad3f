// What a person or a log sees on standard error while a sweep runs: a live
// bar on a terminal (cli-progress), one plain line per finished host
// otherwise, and a summary either way. Standard output is never touched here.
import { SingleBar } from 'cli-progress';
import { escapeControls } from '../text/peer-text.js';
import type { HostOutcome } from '../types.js';
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
  opts: { tty: boolean; stream?: NodeJS.WriteStream; quiet?: boolean; write?: (text: string) => void },
): Progress {
  const stream = opts.stream ?? process.stderr;
  const write = opts.write ?? ((text: string) => void stream.write(text));
  let active = 0;
  let ok = 0;
  let failed = 0;
  if (opts.tty) {
    const bar = new SingleBar(
      {
        stream,
        format: ' {bar} {value}/{total} | ok {ok} | failed {failed} | in flight {active} | ETA {eta_formatted}',
        hideCursor: true,
        clearOnComplete: false,
        etaBuffer: 50,
        fps: 5,
      },
    );
    bar.start(total, 0, { ok, failed, active });
    return {
      started: () => {
        active++;
        bar.update({ active });
      },
      finished: (o) => {
        active--;
        if (o.class === 'ok') ok++;
        else failed++;
        if (o.class !== 'ok') {
          bar.stop();
          write(`${failureLine(o)}\n`);
          bar.start(total, ok + failed, { ok, failed, active });
        } else {
          bar.increment(1, { ok, failed, active });
        }
      },
      log: (message) => {
        bar.stop();
        write(`${escapeControls(message)}\n`);
        bar.start(total, ok + failed, { ok, failed, active });
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

function okLine(o: HostOutcome): string {
  return `ok ${target(o)} ${(o.durationMs / 1000).toFixed(1)}s ${o.warnings} warnings ${o.archive}`;
}

function failureLine(o: HostOutcome): string {
  return `FAILED ${o.class} ${target(o)} (${o.phase}, attempt ${o.attempts}): ${escapeControls(o.message)}`;
}

function target(o: HostOutcome): string {
  return displayTarget(o.spec);
}

export function summaryLine(outcomes: HostOutcome[], wallMs: number): string {
  const byClass = new Map<string, number>();
  for (const o of outcomes) byClass.set(o.class, (byClass.get(o.class) ?? 0) + 1);
  const ok = byClass.get('ok') ?? 0;
  const failed = outcomes.length - ok;
  const parts = [...byClass].filter(([c]) => c !== 'ok').map(([c, n]) => `${c} ${n}`);
  return `${outcomes.length} host${outcomes.length === 1 ? '' : 's'}: ${ok} ok, ${failed} failed${parts.length ? ` (${parts.join(', ')})` : ''} in ${(wallMs / 1000).toFixed(1)} s`;
}
