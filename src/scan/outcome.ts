// The one place a HostOutcome is made from a class and a message, for a host
// and for each of its containers alike: the message is escaped here (it may
// hold a peer's text) and the duration runs from `startedAt` to now.
import { escapeControls } from '../text/peer-text.js';
import type { HostOutcome, HostSpec, OutcomeClass, Phase } from '../types.js';

export function outcome(
  spec: HostSpec,
  startedAt: Date,
  attempts: number,
  cls: OutcomeClass,
  phase: Phase,
  message: string,
  extra: Partial<HostOutcome> = {},
): HostOutcome {
  return {
    spec, class: cls, phase, message: escapeControls(message), startedAt, durationMs: Date.now() - startedAt.getTime(), bytes: 0, warnings: 0, attempts, ...extra,
  };
}
