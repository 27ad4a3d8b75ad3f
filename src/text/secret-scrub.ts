// A password we sent must never come back out of us. A target may echo what
// it read (a broken sudo, a PAM module, a shell with `set -v`, a process whose
// arguments hold it), and from there it would reach the report, standard
// error, --json, octoscan.xml, scan.json and the archive's entries. So the run
// registers its secrets once (the login and the sudo password), and every
// text and byte stream from a target passes through this scrubber before it is
// kept or shown: each occurrence is replaced by SECRET_MARKER.
//
// Besides the plain text it catches the forms a target can produce cheaply and
// that cannot occur by chance: JSON/C-style escaped, URL-encoded, base64 and
// hex. Those only for secrets of 6 bytes or more: the hex of "ab" is in any dump.
// A secret split across stream chunks (or frames) is caught by ScrubStream,
// which holds back the bytes that may begin one.

export const SECRET_MARKER = '[secret removed]';
const MARKER = Buffer.from(SECRET_MARKER);
const ENCODED_FROM = 6;

let forms: Buffer[] = [];
let textForms: string[] = [];
let longest = 0;

function formsOf(secret: string): string[] {
  const plain = Buffer.from(secret, 'utf8');
  const all = [secret];
  if (plain.length >= ENCODED_FROM) {
    all.push(
      JSON.stringify(secret).slice(1, -1),
      encodeURIComponent(secret),
      plain.toString('base64'),
      plain.toString('base64').replace(/=+$/, ''), // within a longer encoded text
      plain.toString('hex'),
      plain.toString('hex').toUpperCase(),
    );
  }
  return all;
}

/** Remember a secret of this run (undefined and '' are ignored). */
export function registerSecret(secret: string | undefined): void {
  if (!secret) return;
  const set = new Set(textForms);
  for (const f of formsOf(secret)) set.add(f);
  // Longest first: a form that holds a shorter one is replaced whole.
  textForms = [...set].sort((a, b) => b.length - a.length);
  forms = textForms.map((f) => Buffer.from(f, 'utf8'));
  longest = forms.reduce((m, f) => Math.max(m, f.length), 0);
}

/** For tests: forget every registered secret. */
export function forgetSecrets(): void {
  forms = [];
  textForms = [];
  longest = 0;
}

/** `text` with every registered secret (in any of its forms) replaced by SECRET_MARKER. */
export function scrubText(text: string): string {
  if (textForms.length === 0) return text;
  let t = text;
  for (const f of textForms) if (t.includes(f)) t = t.split(f).join(SECRET_MARKER);
  return t;
}

/** The same for bytes. */
export function scrubBytes(data: Buffer): Buffer {
  if (forms.length === 0) return data;
  const s = new ScrubStream();
  const head = s.push(data);
  const tail = s.end();
  return tail.length ? Buffer.concat([head, tail]) : head;
}

/** Text decoded as latin1 (byte for byte), scrubbed as the bytes it stands for. */
export function scrubLatin1(text: string): string {
  if (forms.length === 0) return text;
  return scrubBytes(Buffer.from(text, 'latin1')).toString('latin1');
}

/**
 * One stream of bytes (an entry's body, a standard error): push() each chunk
 * and write what it returns; end() returns the bytes held back at the end.
 */
export class ScrubStream {
  private held: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Buffer {
    return this.scan(chunk, false);
  }

  end(): Buffer {
    return this.scan(Buffer.alloc(0), true);
  }

  private scan(chunk: Buffer, final: boolean): Buffer {
    if (forms.length === 0 && this.held.length === 0) return chunk;
    const buf = this.held.length ? Buffer.concat([this.held, chunk]) : chunk;
    const out: Buffer[] = [];
    let from = 0;
    let hold = buf.length - Math.min(buf.length, Math.max(0, longest - 1));
    for (;;) {
      let at = -1;
      let len = 0;
      for (const f of forms) {
        const i = buf.indexOf(f, from);
        if (i !== -1 && (at === -1 || i < at || (i === at && f.length > len))) {
          at = i;
          len = f.length;
        }
      }
      if (at === -1) break;
      // A longer form may start here and not be complete yet (base64 before its "="): wait for it.
      if (!final && at + longest > buf.length) {
        hold = Math.min(hold, at);
        break;
      }
      out.push(buf.subarray(from, at), MARKER);
      from = at + len;
      hold = Math.max(hold, from);
    }
    if (final) hold = buf.length;
    // Only the target's own bytes are held back (never the marker): they may begin a secret.
    out.push(buf.subarray(from, Math.max(from, hold)));
    this.held = Buffer.from(buf.subarray(Math.max(from, hold)));
    return out.length === 1 ? Buffer.from(out[0]) : Buffer.concat(out);
  }
}
