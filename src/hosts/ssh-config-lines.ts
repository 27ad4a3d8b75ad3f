// One ssh_config line cut into keyword and arguments exactly as OpenSSH 9.2
// does (readconf.c process_config_line_depth with misc.c strdelim and
// argv_split): the keyword ends at whitespace or one `=`, arguments are split
// on blanks with "..." / '...' quoting and \-escapes, a `#` that starts an
// argument ends the line. Anything ssh refuses here is an error naming the line.

const WHITESPACE = ' \t\r\n';

export interface ConfigLine {
  /** Lower-cased, as typed (aliases are resolved by the keyword table). */
  keyword: string;
  /** The arguments as argv_split gives them. */
  args: string[];
  /** The text after the keyword (and one `=`), as ssh keeps it for ProxyCommand, ProxyJump and Match. */
  rest: string;
  line: number;
}

export class ConfigSyntaxError extends Error {
  constructor(readonly file: string, readonly line: number, message: string) {
    super(`${file} line ${line}: ${message}`);
  }
}

/**
 * misc.c strdelim (split on whitespace or a single `=`, one "..." quoted word):
 * the next token from s at i, and where the rest starts (undefined: nothing
 * left; null token: an unmatched quote, which ssh takes as no keyword at all).
 */
export function strdelim(s: string, i: number): { token: string | null; next: number | undefined } {
  let j = i;
  while (j < s.length && !(WHITESPACE + '"=').includes(s[j])) j++;
  if (j >= s.length) return { token: s.slice(i), next: undefined };
  if (s[j] === '"') {
    const close = s.indexOf('"', j + 1);
    if (close < 0) return { token: null, next: undefined };
    const token = s.slice(i, j) + s.slice(j + 1, close);
    let k = close + 1;
    while (k < s.length && WHITESPACE.includes(s[k])) k++;
    return { token, next: k };
  }
  const equals = s[j] === '=';
  const token = s.slice(i, j);
  let k = j + 1;
  while (k < s.length && WHITESPACE.includes(s[k])) k++;
  if (!equals && s[k] === '=') {
    k++;
    while (k < s.length && WHITESPACE.includes(s[k])) k++;
  }
  return { token, next: k };
}

/** misc.c argv_split with terminate_on_comment: null for an unmatched quote. */
export function argvSplit(s: string): string[] | null {
  const argv: string[] = [];
  let i = 0;
  while (i < s.length) {
    if (s[i] === ' ' || s[i] === '\t') {
      i++;
      continue;
    }
    if (s[i] === '#') break;
    let quote = '';
    let arg = '';
    for (; i < s.length; i++) {
      const c = s[i];
      if (c === '\\') {
        const n = s[i + 1];
        if (n === "'" || n === '"' || n === '\\' || (quote === '' && n === ' ')) {
          i++;
          arg += n;
        } else arg += c;
      } else if (quote === '' && (c === ' ' || c === '\t')) break;
      else if (quote === '' && (c === '"' || c === "'")) quote = c;
      else if (quote !== '' && c === quote) quote = '';
      else arg += c;
    }
    if (quote !== '') return null;
    argv.push(arg);
  }
  return argv;
}

/** A hint for a keyword holding what ssh does not take for a blank (a non-breaking space pasted from a web page). */
export function nonAscii(keyword: string): string {
  return /[^\x21-\x7e]/.test(keyword) ? ' (it holds a character that is not plain ASCII, e.g. a non-breaking space)' : '';
}

/** A line cut as ssh cuts it; undefined for blank lines and comments. Throws ConfigSyntaxError. */
export function cutLine(text: string, file: string, line: number): ConfigLine | undefined {
  // Trailing whitespace and form feeds go; the rest is kept (no Unicode trimming: ssh does none).
  const s = text.replace(/[ \t\r\n\f]+$/, '');
  if (s === '') return undefined;
  let { token, next } = strdelim(s, 0);
  if (token === '' && next !== undefined) ({ token, next } = strdelim(s, next));
  if (token === null || token === '' || token.startsWith('#')) return undefined;
  const keyword = token.toLowerCase();
  let rest = next === undefined ? '' : s.slice(next);
  rest = rest.replace(/^[ \t\r\n]+/, '');
  if (rest === '') throw new ConfigSyntaxError(file, line, `no argument after keyword "${keyword}"${nonAscii(keyword)}`);
  const args = argvSplit(rest);
  if (args === null) throw new ConfigSyntaxError(file, line, 'invalid quotes');
  return { keyword, args, rest, line };
}

/** A whole file's lines, numbered from 1 as ssh numbers them (getline: \n ends a line). */
export function cutFile(text: string, file: string): ConfigLine[] {
  const out: ConfigLine[] = [];
  const lines = text.split('\n');
  // A final newline ends the last line; it does not start another.
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  lines.forEach((l, i) => {
    const c = cutLine(l, file, i + 1);
    if (c) out.push(c);
  });
  return out;
}
