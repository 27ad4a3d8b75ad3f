// Hosts files: CSV with a header row, streamed with csv-parse so that large
// farms (100,000 rows and more) load quickly. All problems are collected and
// thrown together as one HostsFileError, each as `<file>:<line>: ...`.
//
// Format: UTF-8 (a BOM is skipped), LF or CRLF line ends, RFC 4180 quoting,
// fields trimmed outside quotes, blank lines and lines starting with '#'
// (after optional blanks) ignored; a '#' later in a line is data. A row whose
// fields are all empty (",,," as spreadsheets write) counts as a blank line.
// The header names the columns, in any order, case-insensitively:
//   host      required; a name, IPv4 or IPv6 address (IPv6 may be in [...])
//   port      1..65535; empty = default port
//   user      empty = default user
//   identity  private key file; replaces the default identities; empty = defaults
//   jump      ProxyJump chain [user@]host[:port][,...], or none; empty = ssh_config decides
//   tag       free text (no control characters but tab)
//   sudo      yes/no (also true/false, 1/0): run the script as root through sudo; empty = --sudo
//   containers yes/no: also scan the host's running containers; empty = --containers
//   machine, config_host, cluster, virt   octoscan.xml configuration values (spec section 2);
//             empty = the option's value. `host` is the address, so configuration/host is config_host.
//   name      the host's name in the report, log and summary; empty = host
//   transport ssh2 or openssh: this host's transport; empty = --transport
// Any other column is a label: carried into the report unchanged. A name one
// or two letters from a known column (idnetity) is an error naming that column.
import { createReadStream } from 'node:fs';
import { isIP } from 'node:net';
import { pipeline } from 'node:stream';
import { CsvError, Parser } from 'csv-parse';
import type { HostSpec } from '../types.js';
import { displayName, HostsError, HostsFileError, MAX_LISTED_ERRORS, quoteValue } from './errors.js';
import { parseHostArg } from './host-arg.js';
import { parseJumpChain } from './jump-spec.js';
import { checkHost, checkUser, hasControl, hasControlButTab, hostKey, isShellCharReason, parsePort, REASON } from './validate.js';

export const KNOWN_COLUMNS = ['host', 'port', 'user', 'identity', 'jump', 'tag', 'sudo', 'containers', 'machine', 'config_host', 'cluster', 'virt', 'name', 'transport'] as const;
/** Hosts-file column -> HostConfig field. */
const CONFIG_COLUMNS = [['machine', 'machine'], ['config_host', 'host'], ['cluster', 'cluster'], ['virt', 'virt']] as const;
type Column = (typeof KNOWN_COLUMNS)[number];

export interface HostsFileDefaults {
  port: number;
  user: string;
  identities: string[];
  /** Column names a label may not have (the report's own columns), compared case-insensitively. */
  reserved?: readonly string[];
}

export interface HostsFileResult {
  hosts: HostSpec[];
  /** The header's column names, trimmed and lower-cased, in file order. */
  columns: string[];
  /** The label columns' names as written in the header, in file order. */
  labels: string[];
}

/**
 * Edits between two names (optimal string alignment: insert, delete,
 * substitute, swap two neighbours), for "did you mean" on column names.
 */
export function editDistance(a: string, b: string): number {
  const d: number[][] = [];
  for (let i = 0; i <= a.length; i++) d.push([i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 0; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/**
 * The known column an unknown name is most likely a typo of: one edit away,
 * or two for names longer than four letters (so that short labels such as
 * "os" or "env" stay labels).
 */
export function typoOf(name: string): string | undefined {
  const most = name.length > 4 ? 2 : 1;
  let best: string | undefined;
  let bestDistance = most + 1;
  for (const k of KNOWN_COLUMNS) {
    const d = editDistance(name, k);
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best;
}

/** The longest row (in characters) the hosts file may hold. */
export const MAX_RECORD_CHARS = 128_000;

/** Reasons of structural problems (no single column value at fault). */
export const FILE_REASON = {
  empty: 'no hosts: the file is empty',
  headerOnly: 'no hosts: the file has a header row but no host rows',
  unterminatedQuote: 'unterminated quoted field: no closing " before the end of the file',
  closingQuote: 'a closing " must be followed by "," or the end of the line',
  openingQuote: 'a " inside an unquoted field; quote the whole field and double each " in it',
  recordTooLong: `record is longer than ${MAX_RECORD_CHARS} characters`,
} as const;

const HOST_WITH_PORT = /^(\[[^\]]*\]|[^:]*):[0-9]*$/;

interface LineInfo {
  lines: number;
  comment_lines: number;
  empty_lines: number;
}

/**
 * Turns csv-parse records into HostSpecs as they are made. A Parser subclass
 * whose push() takes each record synchronously, while `info` still describes
 * it (csv-parse's on_record/info options cost more than the rest of the
 * parse), and pushes nothing downstream. Handling records at once also means
 * none is lost when a later record in the same chunk fails to parse.
 */
class HostsFileParser extends Parser {
  readonly hosts: HostSpec[] = [];
  columns: string[] | undefined;
  dataRows = 0;
  readonly errors: HostsError[] = [];
  total = 0;
  /** The file has no header: one [user@]host[:port] per line. */
  list = false;
  /** Set after a bad header: parsing stops with this error. */
  readonly stop = new Error('bad header');
  /** A bug while handling a record, rethrown as is. */
  internal: unknown;
  /** csv-parse counts each CR and each LF inside a quoted field as a line; how many too many so far. */
  inflation = 0;
  /** Where the last record ended, to find the line where an unterminated quote opened. */
  readonly lastEnd: LineInfo = { lines: 0, comment_lines: 0, empty_lines: 0 };

  private readonly index: Partial<Record<Column, number>> = {};
  /** Label columns: field index -> the name as written in the header. */
  readonly labels = new Map<number, string>();
  private readonly seen = new Map<string, number>(); // hostKey -> line of its first occurrence
  private readonly shown: string;
  private done = false;

  constructor(
    readonly file: string,
    private readonly defaults: HostsFileDefaults,
  ) {
    super({
      bom: true,
      comment: '#',
      comment_no_infix: true, // '#' starts a comment only at the start of a line
      skip_empty_lines: true,
      relax_column_count: true, // field counts are checked here, so that all bad rows are reported
      trim: true,
      record_delimiter: ['\r\n', '\n', '\r'],
      // One row of a hosts file is a few hundred characters; a 400 MB cell must not reach memory.
      max_record_size: MAX_RECORD_CHARS,
    });
    this.shown = displayName(file);
  }

  override push(chunk: unknown, encoding?: BufferEncoding): boolean {
    if (chunk === null) return super.push(null, encoding);
    if (this.done) return true;
    try {
      this.record(chunk as string[]);
    } catch (err) {
      this.done = true;
      this.internal = err;
      this.destroy(err as Error);
    }
    return true;
  }

  private record(fields: string[]): void {
    const info = this.info;
    let breaks = 0;
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i];
      if (f.includes('\n') || f.includes('\r')) {
        const real = f.match(/\r\n|\r|\n/g)!.length;
        this.inflation += f.match(/[\r\n]/g)!.length - real;
        breaks += real;
      }
    }
    const endLine = info.lines - this.inflation;
    const line = endLine - breaks; // the physical line where the record starts
    const last = this.lastEnd;
    last.lines = endLine;
    last.comment_lines = info.comment_lines;
    last.empty_lines = info.empty_lines;

    const columns = this.columns;
    if (columns === undefined) {
      this.header(fields, line);
      return;
    }
    let empty = true;
    for (let i = 0; i < fields.length; i++) {
      if (fields[i] !== '') {
        empty = false;
        break;
      }
    }
    if (empty) return; // ",,," counts as a blank line
    this.dataRows++;
    if (this.list) {
      this.listRow(fields, line);
      return;
    }
    if (fields.length !== columns.length) {
      const n = columns.length;
      this.lineError(line, `expected ${n} field${n === 1 ? '' : 's'} (${columns.join(',')}), got ${fields.length}`);
      return;
    }
    const spec = this.row(fields, columns, line);
    if (spec === undefined) return;
    const key = hostKey(spec);
    const first = this.seen.get(key);
    if (first !== undefined) {
      this.valueError(line, 'host', fields[this.index.host!], `duplicate of line ${first} (same host, port and user)`);
      return;
    }
    this.seen.set(key, line);
    this.hosts.push(spec);
  }

  private header(fields: string[], line: number): void {
    if (fields.length === 1 && !(KNOWN_COLUMNS as readonly string[]).includes(fields[0].trim().toLowerCase())) {
      // No header: a plain list, one [user@]host[:port] per line, as pssh and pdsh take it.
      this.list = true;
      this.columns = [];
      this.record(fields);
      return;
    }
    const columns = fields.map((f) => f.trim().toLowerCase());
    this.columns = columns;
    const known: readonly string[] = KNOWN_COLUMNS;
    const index = this.index;
    for (let i = 0; i < columns.length; i++) {
      const name = columns[i];
      if (name === '') {
        this.lineError(line, `header column ${i + 1} has no name`);
      } else if (!known.includes(name)) {
        const typo = typoOf(name);
        const label = fields[i].trim();
        if (typo !== undefined) {
          this.lineError(line, `unknown column ${quoteValue(name)}: did you mean "${typo}"? (a column the program does not know is a label, carried into the report, but this name is too close to "${typo}" to be one; rename it if it is meant as a label)`);
        } else if (this.defaults.reserved?.includes(name)) {
          this.lineError(line, `column ${quoteValue(label)} would be a label, but the report has a column of that name; rename the label`);
        } else if ([...this.labels.values()].some((l) => l.toLowerCase() === name)) {
          this.lineError(line, `column ${quoteValue(label)} appears twice in the header`);
        } else {
          this.labels.set(i, label);
        }
      } else {
        const k = name as Column;
        const before = index[k];
        if (before !== undefined) {
          this.lineError(line, `column "${name}" appears twice in the header (columns ${before + 1} and ${i + 1})`);
        } else {
          index[k] = i;
        }
      }
    }
    if (index.host === undefined) {
      this.lineError(line, `missing column "host"; the header names ${columns.map((c) => quoteValue(c)).join(', ')}`);
    }
    if (this.total > 0) {
      // rows cannot be read without a good header
      this.done = true;
      this.destroy(this.stop);
    }
  }

  /** A line of a plain host list. No `row`: the retry file writes such hosts as host,port,user. */
  private listRow(fields: string[], line: number): void {
    if (fields.length !== 1) {
      this.lineError(line, `expected one [user@]host[:port] per line (a plain host list, as the first line has no comma), got ${fields.length} fields; a CSV hosts file starts with a header row such as host,port,user`);
      return;
    }
    let spec: HostSpec;
    try {
      spec = parseHostArg(fields[0], { port: this.defaults.port, user: this.defaults.user });
    } catch (err) {
      if (!(err instanceof HostsError)) throw err;
      this.valueError(line, 'host', fields[0], `${err.reason} (a plain host list holds one [user@]host[:port] per line; a CSV hosts file starts with a header row such as host,port,user)`);
      return;
    }
    spec.identities = [...this.defaults.identities];
    spec.origin = { file: this.file, line };
    const key = hostKey(spec);
    const first = this.seen.get(key);
    if (first !== undefined) {
      this.valueError(line, 'host', fields[0], `duplicate of line ${first} (same host, port and user)`);
      return;
    }
    this.seen.set(key, line);
    this.hosts.push(spec);
  }

  private row(fields: string[], columns: string[], line: number): HostSpec | undefined {
    const index = this.index;
    const defaults = this.defaults;
    const before = this.total;

    const rawHost = fields[index.host!];
    let host = rawHost;
    if (host.charCodeAt(0) === 0x5b /* [ */ && host.endsWith(']') && isIP(host.slice(1, -1)) === 6) {
      host = host.slice(1, -1);
    }
    const hostReason = checkHost(host);
    if (hostReason !== undefined) {
      let reason: string = hostReason;
      if (hostReason === REASON.hostChars || isShellCharReason(hostReason)) {
        if (host.includes('@')) reason = REASON.hostWithUser;
        else if (HOST_WITH_PORT.test(host)) reason = REASON.hostWithPort;
      }
      this.valueError(line, 'host', rawHost, reason);
    }

    let port = defaults.port;
    if (index.port !== undefined && fields[index.port] !== '') {
      const text = fields[index.port];
      const p = parsePort(text);
      if (p === undefined) this.valueError(line, 'port', text, REASON.port);
      else port = p;
    }

    let user = defaults.user;
    if (index.user !== undefined && fields[index.user] !== '') {
      const text = fields[index.user];
      const reason = checkUser(text);
      if (reason !== undefined) this.valueError(line, 'user', text, reason);
      else user = text;
    }

    let identities: string[] | undefined;
    if (index.identity !== undefined && fields[index.identity] !== '') {
      const text = fields[index.identity];
      if (hasControl(text)) this.valueError(line, 'identity', text, REASON.identityChars);
      else identities = [text];
    }

    let jump: string | undefined;
    if (index.jump !== undefined && fields[index.jump] !== '') {
      jump = fields[index.jump];
      try {
        parseJumpChain(jump);
      } catch (err) {
        this.valueError(line, 'jump', jump, `jump must be [user@]host[:port][,...] or none: ${(err as Error).message}`);
      }
    }

    const yesNo = (column: 'sudo' | 'containers'): boolean | undefined => {
      const i = index[column];
      if (i === undefined || fields[i] === '') return undefined;
      const v = fields[i].toLowerCase();
      if (['yes', 'true', '1'].includes(v)) return true;
      if (['no', 'false', '0'].includes(v)) return false;
      this.valueError(line, column, fields[i], `${column} must be yes or no (or empty for the --${column} default)`);
      return undefined;
    };
    const sudo = yesNo('sudo');
    const containers = yesNo('containers');
    const config: Record<string, string> = {};
    for (const [column, key] of CONFIG_COLUMNS) {
      const i = index[column];
      if (i === undefined || fields[i] === '') continue;
      if (hasControlButTab(fields[i])) this.valueError(line, column, fields[i], REASON.tagChars.replace(/tag/g, column));
      else config[key] = fields[i];
    }

    let tag = '';
    if (index.tag !== undefined) {
      tag = fields[index.tag];
      if (hasControlButTab(tag)) this.valueError(line, 'tag', tag, REASON.tagChars);
    }

    let name: string | undefined;
    if (index.name !== undefined && fields[index.name] !== '') {
      name = fields[index.name];
      if (hasControl(name)) this.valueError(line, 'name', name, 'name must not contain control characters');
    }

    let transport: 'ssh2' | 'openssh' | undefined;
    if (index.transport !== undefined && fields[index.transport] !== '') {
      const v = fields[index.transport].toLowerCase();
      if (v === 'ssh2' || v === 'openssh') transport = v;
      else this.valueError(line, 'transport', fields[index.transport], 'transport must be ssh2 or openssh (or empty for --transport)');
    }

    let labels: Record<string, string> | undefined;
    for (const [i, label] of this.labels) {
      if (hasControlButTab(fields[i])) this.valueError(line, label, fields[i], `a label must not contain control characters other than tab`);
      else (labels ??= {})[label] = fields[i];
    }

    if (this.total !== before) return undefined;
    const row: Record<string, string> = {};
    for (let i = 0; i < columns.length; i++) row[columns[i]] = fields[i];
    const spec: HostSpec = {
      host,
      port,
      user,
      identities: identities ?? [...defaults.identities],
      tag,
      origin: { file: this.file, line },
      row,
    };
    if (jump !== undefined) spec.jump = jump;
    if (sudo !== undefined) spec.sudo = sudo;
    if (containers !== undefined) spec.containers = containers;
    if (Object.keys(config).length) spec.config = config;
    if (name !== undefined) spec.name = name;
    if (transport !== undefined) spec.transport = transport;
    if (labels !== undefined) spec.labels = labels;
    return spec;
  }

  private report(line: number, column: string, value: string, reason: string, message: string): void {
    this.total++;
    if (this.errors.length < MAX_LISTED_ERRORS) {
      this.errors.push(new HostsError({ file: this.file, line, column, value, reason }, message));
    }
  }

  valueError(line: number, column: string, value: string, reason: string): void {
    this.report(line, column, value, reason, `${this.shown}:${line}: column "${column}": value ${quoteValue(value)}: ${reason}`);
  }

  lineError(line: number, reason: string, column = ''): void {
    this.report(line, column, '', reason, `${this.shown}:${line}: ${column ? `column "${column}": ` : ''}${reason}`);
  }

  fileError(reason: string): HostsFileError {
    const e = new HostsError({ file: this.file, line: 0, column: '', value: '', reason }, `${this.shown}: ${reason}`);
    return new HostsFileError(this.file, [e]);
  }

  failure(): HostsFileError {
    return new HostsFileError(this.file, this.errors, this.total);
  }

  /** Record a csv-parse syntax error, at the line it concerns. */
  syntaxError(err: CsvError): void {
    const e = err as CsvError & Partial<LineInfo> & { column?: unknown };
    const columns = this.columns;
    const col = typeof e.column === 'number' && columns && e.column < columns.length ? columns[e.column] : '';
    const at = (e.lines ?? 0) - this.inflation;
    switch (e.code) {
      case 'CSV_QUOTE_NOT_CLOSED': {
        // The quote opened on the first line after the last record that is neither blank nor a comment.
        const last = this.lastEnd;
        const skipped = (e.comment_lines ?? 0) - last.comment_lines + ((e.empty_lines ?? 0) - last.empty_lines);
        this.lineError(last.lines + 1 + skipped, FILE_REASON.unterminatedQuote);
        break;
      }
      case 'CSV_INVALID_CLOSING_QUOTE':
      case 'CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE':
        this.lineError(at, FILE_REASON.closingQuote, col);
        break;
      case 'INVALID_OPENING_QUOTE':
        this.lineError(at, FILE_REASON.openingQuote, col);
        break;
      case 'CSV_MAX_RECORD_SIZE':
        this.lineError(at, FILE_REASON.recordTooLong);
        break;
      default:
        this.lineError(at, e.message);
    }
  }
}

/**
 * Read a hosts file ('-' = standard input, or whatever `opts.input` gives).
 * Resolves with the hosts in file order and the header's columns; rejects
 * with HostsFileError listing every problem (see FILE_REASON and REASON).
 */
export async function readHostsFile(
  path: string,
  defaults: HostsFileDefaults,
  opts: { input?: NodeJS.ReadableStream } = {},
): Promise<HostsFileResult> {
  let input: NodeJS.ReadableStream;
  if (opts.input) input = opts.input;
  else if (path === '-') input = process.stdin;
  else input = createReadStream(path);

  const parser = new HostsFileParser(path, defaults);
  // pipeline() closes the input when parsing stops early; its errors reach us through the parser.
  pipeline(input, parser, () => {});
  try {
    for await (const _ of parser) {
      // nothing is pushed: records are handled in HostsFileParser.push
    }
  } catch (err) {
    if (err === parser.stop) throw parser.failure();
    if (parser.internal !== undefined) throw parser.internal;
    if (err instanceof CsvError) {
      parser.syntaxError(err);
      throw parser.failure();
    }
    throw parser.fileError(`cannot read hosts file: ${(err as Error)?.message ?? String(err)}`);
  }
  if (parser.total > 0) throw parser.failure();
  if (parser.columns === undefined) throw parser.fileError(FILE_REASON.empty);
  if (parser.dataRows === 0) throw parser.fileError(FILE_REASON.headerOnly);
  return { hosts: parser.hosts, columns: parser.columns, labels: [...parser.labels.values()] };
}
