// The on-host scanner words command failures with Python's repr() of the argv
// list (warning 1004); the import shows these messages, so we word them alike.

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
    else if (cp < 0x20 || cp === 0x7f) out += `\\x${cp.toString(16).padStart(2, '0')}`;
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
