// The retry file: the hosts that did not succeed, in the hosts-file format so
// that it can be given back with --hosts-file. Written atomically.
import { writeFileAtomically } from '../fsutil/atomic-file.js';
import type { HostSpec } from '../types.js';

const CLI_COLUMNS = ['host', 'port', 'user'] as const;

/** One CSV field, quoted (RFC 4180) when the hosts-file reader would otherwise change it. */
export function csvField(value: string, first: boolean): string {
  const needsQuotes =
    /[",\r\n]/.test(value) || // separators and quotes
    /^\s|\s$/.test(value) || // the reader trims unquoted fields
    (first && value.startsWith('#')) || // would start a comment line
    (first && value === ''); // would make a one-column row look blank
  return needsQuotes ? `"${value.replace(/"/g, '""')}"` : value;
}

/**
 * The header for a retry file: `columns` as read from the hosts file; when a
 * host has no row (it came from the command line), the columns it needs
 * (host, port, user) are appended where missing.
 */
export function retryColumns(columns: string[], hosts: HostSpec[]): string[] {
  const out = [...columns];
  if (out.length === 0 || hosts.some((h) => !h.row)) {
    for (const c of CLI_COLUMNS) if (!out.includes(c)) out.push(c);
  }
  return out;
}

// A host read from a file keeps its row as read: a column it did not have is
// left empty, so that the defaults of the next run apply to it as before.
// A command-line host (no row) gets its host, port and user.
function cell(spec: HostSpec, column: string): string {
  if (spec.row) return spec.row[column] ?? '';
  switch (column) {
    case 'host':
      // The name as typed: ssh_config's HostName, ProxyJump... apply again on the retry.
      return spec.alias ?? spec.host;
    case 'port':
      return String(spec.port);
    case 'user':
      return spec.user;
    default:
      return '';
  }
}

/** The retry file's text: header, then one row per host, each line ended by "\n". */
export function formatRetryFile(columns: string[], hosts: HostSpec[]): string {
  const cols = retryColumns(columns, hosts);
  const line = (values: string[]): string => values.map((v, i) => csvField(v, i === 0)).join(',') + '\n';
  const parts = [line(cols)];
  for (const h of hosts) parts.push(line(cols.map((c) => cell(h, c))));
  return parts.join('');
}

/**
 * Write `hosts` to `path` in the hosts-file format: header = `columns` (see
 * retryColumns), a row's values are those read from the hosts file, and a
 * command-line host gets its host, port and user. Atomic: a temporary file in
 * the same directory is written, flushed and renamed over `path`.
 */
export async function writeRetryFile(path: string, columns: string[], hosts: HostSpec[]): Promise<void> {
  await writeFileAtomically(path, formatRetryFile(columns, hosts));
}
