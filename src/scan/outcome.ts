// The one place a HostOutcome is made from a class and a message, for a host
// and for each of its containers alike: the message is escaped here (it may
// hold a peer's text) and the duration runs from `startedAt` to now.
import { escapeControls } from '../text/peer-text.js';
import { scrubText } from '../text/secret-scrub.js';
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
  // A container's name and image are the engine's words: they reach the report too.
  const container = extra.container && { ...extra.container, name: scrubText(extra.container.name), image: scrubText(extra.container.image) };
  return {
    spec, class: cls, phase, message: escapeControls(message), startedAt, durationMs: Date.now() - startedAt.getTime(), bytes: 0, warnings: 0, attempts, ...extra, ...(container ? { container } : {}),
  };
}
