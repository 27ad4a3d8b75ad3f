// Text that came from a peer (a disconnect reason, a banner, an error string,
// an OS name, a stderr head) is shown to people: on a terminal, in a CSV opened
// by a spreadsheet, in a log viewer. A hostile peer must not be able to move
// the cursor, retitle the window, erase our FAILED line or draw a fake "ok", so
// every control character is replaced by a visible escape before it leaves us.

// C0 controls (tab and newline included: one message is one line), DEL, the
// C1 controls (0x9b alone is a CSI on many terminals), and the Unicode format
// characters that reorder or break what is shown (bidi overrides and
// isolates, line and paragraph separators). Secrets of the run are removed
// first (secret-scrub.ts), before an escape or a cut could hide one.
import { scrubText } from './secret-scrub.js';

// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]/g;

function escapeOne(ch: string): string {
  const c = ch.charCodeAt(0);
  return c <= 0xff ? `\\x${c.toString(16).padStart(2, '0')}` : `\\u${c.toString(16).padStart(4, '0')}`;
}

/** `text` with every control or reordering character written as \xNN or \uNNNN. */
export function escapeControls(text: string): string {
  return scrubText(text).replace(UNSAFE, escapeOne);
}

/** Like escapeControls, and cut to `max` characters so one peer cannot flood a log line. */
export function peerText(text: string, max = 2000): string {
  const clean = scrubText(text);
  const cut = clean.length > max ? `${clean.slice(0, max)}...[${clean.length - max} more characters]` : clean;
  return cut.replace(UNSAFE, escapeOne);
}

/**
 * JSON text (from JSON.stringify) with the same characters written as JSON
 * `\uNNNN` escapes: the values read back unchanged, and nothing reaches a
 * terminal raw.
 */
export function escapeControlsInJson(json: string): string {
  return json.replace(UNSAFE, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
