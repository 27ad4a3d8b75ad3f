// A sweep: many hosts, at most N at once, each with retries for failures that
// may pass (before authentication only). One host's failure is a row in the
// report, never the end of the sweep.
import pLimit from 'p-limit';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ScanError } from '../errors.js';
import type { HostOutcome, HostSpec } from '../types.js';
import { scanHost, type ScanSettings } from '../scan/scan-host.js';

export interface SweepOptions {
  parallel: number;
  retries: number;
  /** First retry delay; doubles each time, with jitter. */
  retryDelayMs: number;
  onStart?: (spec: HostSpec) => void;
  onResult?: (o: HostOutcome) => void;
  /** Hosts found unusable before connecting (their own key is bad): they end with this error, untried. */
  rejected?: Map<HostSpec, ScanError>;
  /**
   * Why no new host may start (the controller's output folder failed), or
   * undefined while hosts may start. Hosts not started then end `not-scanned`.
   */
  stopReason?: () => string | undefined;
  /** Runs on each finished host before onResult, while its archive is still in --out (reads facts from it). */
  enrich?: (o: HostOutcome) => Promise<void>;
}

export async function sweep(hosts: HostSpec[], settings: ScanSettings, opts: SweepOptions): Promise<HostOutcome[]> {
  const limit = pLimit(Math.max(1, opts.parallel));
  const signal = settings.signal;
  const outcomes = await Promise.all(
    hosts.map((spec) =>
      limit(async () => {
        let outcome: HostOutcome;
        const rejected = opts.rejected?.get(spec);
        if (rejected) {
          outcome = { spec, class: rejected.cls, phase: rejected.phase, message: rejected.message, startedAt: new Date(), durationMs: 0, bytes: 0, warnings: 0, attempts: 0 };
        } else if (signal?.aborted) {
          // Never started: recorded so the report lists every host.
          outcome = { spec, class: 'interrupted', phase: 'resolve', message: 'not started: the run was interrupted', startedAt: new Date(), durationMs: 0, bytes: 0, warnings: 0, attempts: 0 };
        } else if (opts.stopReason?.()) {
          outcome = { spec, class: 'not-scanned', phase: 'resolve', message: `not started: ${opts.stopReason()}`, startedAt: new Date(), durationMs: 0, bytes: 0, warnings: 0, attempts: 0 };
        } else {
          opts.onStart?.(spec);
          outcome = await scanWithRetries(spec, settings, opts);
          await opts.enrich?.(outcome);
        }
        opts.onResult?.(outcome);
        return outcome;
      }),
    ),
  );
  return outcomes;
}

async function scanWithRetries(spec: HostSpec, settings: ScanSettings, opts: SweepOptions): Promise<HostOutcome> {
  const first = Date.now();
  for (let attempt = 1; ; attempt++) {
    const o = await scanHost(spec, settings, attempt);
    if (o.class === 'ok' || !o.transient || attempt > opts.retries || settings.signal?.aborted || opts.stopReason?.()) {
      return { ...o, durationMs: Date.now() - first, startedAt: new Date(first) };
    }
    const delay = opts.retryDelayMs * 2 ** (attempt - 1) * (0.5 + Math.random());
    try {
      await sleep(delay, undefined, { signal: settings.signal });
    } catch {
      // Interrupted while waiting to retry: the host was not given its chance.
      return { ...o, class: 'interrupted', message: `interrupted before retry ${attempt + 1} (last attempt: ${o.message})`, durationMs: Date.now() - first };
    }
  }
}
