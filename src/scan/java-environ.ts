// The environment of a running JVM (java/dynamic/<pid>/environ) holds what
// inventory needs (JAVA_HOME, JAVA_OPTS, PATH, the application's name) next to
// database passwords, tokens and cloud keys. The controller redacts it, once,
// before the entry reaches the archive: the target sends /proc/<pid>/environ
// as it is (a scan reads, it does not filter on the target), and this is the
// one place that decides what of it is kept (--java-environ).

export type JavaEnvironMode = 'redacted' | 'full' | 'none';
export const JAVA_ENVIRON_MODES: readonly JavaEnvironMode[] = ['redacted', 'full', 'none'];

/** What replaces a value: the whole value, never a part of it. */
export const REDACTED_VALUE = '[redacted by octoscan-remote]';

/** A variable whose name (any case) holds one of these has its value redacted. */
export const SECRET_NAME_PARTS = ['PASSWORD', 'PASSWD', 'SECRET', 'TOKEN', 'CREDENTIAL', 'API_KEY', 'APIKEY', 'PRIVATE', 'COOKIE', 'SESSION', 'AUTH'] as const;
/** ... or ends in one of these. */
export const SECRET_NAME_ENDINGS = ['_KEY', '_PASS'] as const;

/**
 * A value holding scheme://user:password@ (credentials in a URL), anywhere in
 * it. A scan from each `://` (not one regular expression: a target sends
 * megabytes of environment, and a backtracking pattern over a long run of
 * letters costs quadratic time on the controller).
 */
export function holdsUrlPassword(value: string): boolean {
  for (let at = value.indexOf('://'); at >= 0; at = value.indexOf('://', at + 3)) {
    if (at === 0 || !/[a-z0-9+.-]/i.test(value[at - 1])) continue;
    let colon = false;
    for (let i = at + 3; i < value.length; i++) {
      const c = value.charCodeAt(i);
      if (c === 0x40 /* @ */) {
        if (colon) return true;
        break;
      }
      if (c === 0x3a /* : */) colon = true;
      else if (c === 0x2f /* / */ || c === 0x3f /* ? */ || c === 0x23 /* # */ || c <= 0x20) break;
    }
  }
  return false;
}

/** The archive entries this applies to (their names come from the probe list, entry-name.ts). */
export function isJavaEnvironEntry(name: string): boolean {
  return /^java\/dynamic\/\d+\/environ$/.test(name);
}

export function isSecretName(name: string): boolean {
  const upper = name.toUpperCase();
  return SECRET_NAME_PARTS.some((p) => upper.includes(p)) || SECRET_NAME_ENDINGS.some((e) => upper.endsWith(e));
}

/**
 * The environ entry with every secret value replaced by REDACTED_VALUE. The
 * NUL separators stay, so it parses as before. `truncated`: the entry was
 * cut at its cap, so its last item may be a URL cut before its `@`: a value
 * there holding `://` goes too. Bytes are handled as latin1, so whatever is
 * not a secret comes back byte for byte.
 */
export function redactEnviron(data: Buffer, truncated = false): Buffer {
  const items = data.toString('latin1').split('\0');
  const last = items.length - 1;
  const out = items.map((item, i) => {
    const eq = item.indexOf('=');
    const name = eq < 0 ? '' : item.slice(0, eq);
    const value = eq < 0 ? item : item.slice(eq + 1);
    const secret =
      (eq >= 0 && isSecretName(name)) || holdsUrlPassword(value) || (truncated && i === last && value.includes('://'));
    if (!secret) return item;
    return eq < 0 ? REDACTED_VALUE : `${name}=${REDACTED_VALUE}`;
  });
  return Buffer.from(out.join('\0'), 'latin1');
}
