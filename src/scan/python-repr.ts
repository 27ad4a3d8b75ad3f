// The on-host scanner words command failures with Python's repr() of the argv
// list (warning 1004); the import shows these messages, so we word them alike.

// What Python's str.isprintable() rejects: the Other and Separator categories (space aside).
const NOT_PRINTABLE = /^[\p{C}\p{Z}]$/u;

function escapeCodePoint(cp: number): string {
  if (cp < 0x100) return `\\x${cp.toString(16).padStart(2, '0')}`;
  if (cp < 0x10000) return `\\u${cp.toString(16).padStart(4, '0')}`;
  return `\\U${cp.toString(16).padStart(8, '0')}`;
}

export function pyStr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (ch === '\\') out += '\\\\';
    else if (ch === quote) out += `\\${quote}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch !== ' ' && NOT_PRINTABLE.test(ch)) out += escapeCodePoint(cp);
    else out += ch;
  }
  return out + quote;
}

export function pyList(items: string[]): string {
  return `[${items.map(pyStr).join(', ')}]`;
}

/** `add_command_output exception ['cmd', 'arg']: CalledProcessError(rc, ['cmd', 'arg'])` */
export function commandFailedMessage(argv: string[], rc: number): string {
  return `add_command_output exception ${pyList(argv)}: CalledProcessError(${rc}, ${pyList(argv)})`;
}
