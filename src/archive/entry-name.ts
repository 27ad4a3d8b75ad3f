// Entry names inside the archive. Every name is decided here, from the probe
// definitions, never taken as given from the target: the only part a target
// supplies is one file name (a glob hit), and that part is reduced to one safe
// path segment. So no entry can leave <uuid>/, and none can collide with a
// fixed entry of another probe.
import type { Probe } from '../probe/probe.js';

// Bytes kept as they are in a name segment; everything else becomes %XX (as in
// a URL), so distinct names stay distinct and the mapping is reversible.
const SAFE_BYTE = /[A-Za-z0-9._+,=@~-]/;

/** One target-supplied file name as a single, printable, non-special path segment. */
export function safeSegment(raw: Buffer): string {
  let out = '';
  for (const byte of raw) {
    const ch = String.fromCharCode(byte);
    out += byte < 0x80 && SAFE_BYTE.test(ch) ? ch : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  // A lone % is what no escaped name can be (escapes are always %XX), so it stays distinct.
  if (out === '') return '%';
  // "." and ".." would be path navigation for whoever unpacks the archive.
  if (out === '.' || out === '..') return out.replace(/\./g, '%2E');
  return out;
}

/** Undoes the prelude's _pctnl (%25 is %, %0A a newline); undefined for anything it cannot have sent. */
export function unescapeNewlineName(escaped: Buffer): Buffer | undefined {
  const out: number[] = [];
  for (let i = 0; i < escaped.length; i++) {
    const b = escaped[i];
    if (b === 0x2f) return undefined;
    if (b !== 0x25) {
      out.push(b);
      continue;
    }
    const code = escaped.subarray(i + 1, i + 3).toString('latin1');
    if (code === '25') out.push(0x25);
    else if (code === '0A') out.push(0x0a);
    else return undefined;
    i += 2;
  }
  return out.includes(0x0a) ? Buffer.from(out) : undefined;
}

/** Why a name from a frame was refused; the caller records it and drops the entry. */
export class EntryNameError extends Error {}

/**
 * The archive path (below <uuid>/) for an entry the target announced. Fixed
 * entries must match their probe exactly; glob entries get <dir>/<segment>;
 * Java entries must have their numbered or per-process shape.
 */
export function entryPathFor(probe: Probe, announced: Buffer): string {
  const text = announced.toString('latin1');
  switch (probe.kind) {
    case 'file':
    case 'command':
      if (text !== probe.entry) throw new EntryNameError(`probe ${probe.id} announced entry ${JSON.stringify(text)}, expected ${probe.entry}`);
      return probe.entry;
    case 'glob': {
      const prefix = Buffer.from(`${probe.entryDir}/`, 'latin1');
      if (announced.length <= prefix.length || !announced.subarray(0, prefix.length).equals(prefix)) {
        throw new EntryNameError(`probe ${probe.id} announced entry ${JSON.stringify(text)} outside ${probe.entryDir}/`);
      }
      const rest = announced.subarray(prefix.length);
      // "<dir>//<name>": a name holding a newline, sent with % as %25 and newline as %0A
      // (a record is one line; no base name holds a "/", so the form is unambiguous).
      // Anything else starting with "/" is no name the script sends: escaped whole, as before.
      if (rest[0] === 0x2f) {
        const raw = unescapeNewlineName(rest.subarray(1));
        if (raw) return `${probe.entryDir}/${safeSegment(raw)}`;
      }
      return `${probe.entryDir}/${safeSegment(rest)}`;
    }
    case 'builtin': {
      const shapes: Record<typeof probe.builtin, RegExp> = {
        'total-memory': /^sys\/devices\/system\/memory\/octoscan_total_memory$/,
        'java-default': /^java\/static\/default_java\/version$/,
        'java-home': /^java\/static\/java_home\/version$/,
        'java-static': /^java\/static\/opt_[1-9][0-9]{0,5}\/version$/,
        'java-dynamic': /^java\/dynamic\/[1-9][0-9]{0,9}\/(version|cmdline|environ)$/,
        'mac-apps': /^apps\/app_[1-9][0-9]{0,5}\.plist$/,
        'mac-java-plists': /^java\/java_[1-9][0-9]{0,5}\.plist$/,
        'mac-java-static': /^java\/static\/opt_[1-9][0-9]{0,5}\/version$/,
        'mac-virtualbox': /^virtualbox\/(extpacks\.txt|extension_[1-9][0-9]{0,5}\.xml)$/,
      };
      if (!shapes[probe.builtin].test(text)) {
        throw new EntryNameError(`probe ${probe.id} announced entry ${JSON.stringify(text)}, which is not a ${probe.builtin} entry`);
      }
      return text;
    }
  }
}
