// Standard error for people and for cron. Off a terminal every line starts
// with an ISO timestamp, so a mailed or journaled log says when each host
// ended; on a terminal the progress bar shows time enough. Three levels:
// -q only what needs someone (failures, warnings, the summary), the default
// adds the start line and one line per finished host, -v adds each host's
// phases, negotiated algorithms and authentication methods.
import { escapeControls } from '../text/peer-text.js';

export interface LogOptions {
  /** Standard error is a terminal: no timestamps. */
  tty: boolean;
  quiet?: boolean;
  verbose?: boolean;
  write: (text: string) => void;
  now?: () => Date;
}

export interface Log {
  readonly quiet: boolean;
  readonly verbose: boolean;
  /** Writes text as is, each line stamped off a terminal. For the progress display. */
  write(text: string): void;
  /** Failures, warnings, the summary: always shown. */
  always(message: string): void;
  /** Shown unless --quiet. */
  info(message: string): void;
  /** Shown only with --verbose. */
  detail(message: string): void;
}

export function createLog(o: LogOptions): Log {
  const now = o.now ?? (() => new Date());
  const write = (text: string): void => {
    if (o.tty) return o.write(text);
    const stamp = now().toISOString();
    // Each line its own stamp; a trailing newline does not start a line.
    o.write(text.replace(/^(?=[^\n])|(?<=\n)(?=[^\n])/g, `${stamp} `));
  };
  const line = (message: string): void => write(`${escapeControls(message)}\n`);
  return {
    quiet: Boolean(o.quiet),
    verbose: Boolean(o.verbose) && !o.quiet,
    write,
    always: line,
    info: (m) => {
      if (!o.quiet) line(m);
    },
    detail: (m) => {
      if (o.verbose && !o.quiet) line(m);
    },
  };
}

/** The first line of a run: enough to tell from a log which run this is and what it was asked to do. */
export function startLine(s: { version: string; runId: string; hosts: number; skipped: number; parallel: number; shard?: string; out: string }): string {
  const parts = [
    `octoscan-remote ${s.version}`,
    `run ${s.runId}`,
    `${s.hosts} host${s.hosts === 1 ? '' : 's'}${s.skipped ? ` (+${s.skipped} carried over by --resume)` : ''}`,
    `parallel ${s.parallel}`,
    `shard ${s.shard ?? 'all'}`,
    `out ${s.out}`,
  ];
  return parts.join(', ');
}
