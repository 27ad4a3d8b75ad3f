// Errors for host targets: one bad value (HostsError) and a whole hosts file
// with all its problems listed together (HostsFileError).

/** Display name of a hosts file in messages: '-' (standard input) is shown as '<stdin>'. */
export function displayName(file: string): string {
  return file === '-' ? '<stdin>' : file;
}

/** A value as it appears in a message: JSON-quoted (escapes quotes and control characters), shortened. */
export function quoteValue(v: string): string {
  const max = 100;
  return JSON.stringify(v.length > max ? `${v.slice(0, max)}...` : v);
}

export interface HostsErrorInit {
  file: string; // '<args>' for command-line targets, '-' for standard input, else the path
  line: number; // 1-based physical line; 0 for command-line targets and whole-file errors
  column: string; // column name ('host', 'port', ...); '' when the error is not about one column
  value: string; // the offending value ('' when none)
  reason: string; // what was expected, e.g. 'port must be an integer from 1 to 65535'
}

/** One problem with one host target; `message` is complete and ready to print. */
export class HostsError extends Error {
  readonly file: string;
  readonly line: number;
  readonly column: string;
  readonly value: string;
  readonly reason: string;

  constructor(init: HostsErrorInit, message: string) {
    super(message);
    this.name = 'HostsError';
    this.file = init.file;
    this.line = init.line;
    this.column = init.column;
    this.value = init.value;
    this.reason = init.reason;
  }
}

/** How many problems a HostsFileError message lists before "and N more errors". */
export const MAX_LISTED_ERRORS = 20;

/**
 * All problems found in one hosts file. The message has one line per problem
 * (at most MAX_LISTED_ERRORS), then `and N more errors` when there were more.
 */
export class HostsFileError extends Error {
  readonly file: string;
  /** The listed problems (the first MAX_LISTED_ERRORS, in file order). */
  readonly errors: HostsError[];
  /** How many problems there were in all. */
  readonly total: number;

  constructor(file: string, errors: HostsError[], total: number = errors.length) {
    const listed = errors.slice(0, MAX_LISTED_ERRORS);
    const more = total - listed.length;
    const lines = listed.map((e) => e.message);
    if (more > 0) lines.push(`and ${more} more error${more === 1 ? '' : 's'}`);
    super(lines.join('\n'));
    this.name = 'HostsFileError';
    this.file = file;
    this.errors = listed;
    this.total = total;
  }
}
