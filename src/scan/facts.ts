// Turns the I records of the target into octoscan.xml attribute values, in the
// form the on-host scanner's Python would have produced on that host.

export type Facts = Record<string, string>;

/** Python's platform.platform() on Linux: system-release-machine[-processor]-with-<libc><version>. */
export function pythonPlatform(f: Facts): string {
  const system = f['os'] ?? 'Linux';
  const release = f['uname-r'] ?? '';
  const machine = f['uname-m'] ?? '';
  let processor = f['uname-p'] ?? '';
  if (processor === machine) processor = '';
  // "glibc 2.36" from getconf; musl and others have none, and Python then writes a bare "with".
  const libc = (f['libc'] ?? '').trim();
  const m = /^glibc\s+(\S+)$/.exec(libc);
  const libcPart = m ? `glibc${m[1]}` : '';
  return platformJoin([system, release, machine, processor, 'with', libcPart]);
}

/** Python's platform._platform(): join, replace separators, drop "unknown", fold "--". */
export function platformJoin(parts: string[]): string {
  // Python filters empty parts first and strips after: a blank part still leaves its dash.
  let p = parts.filter((x) => x.length > 0).map((x) => x.trim()).join('-');
  p = p.replace(/ /g, '_').replace(/[/\\:;"()]/g, '-').replace(/unknown/g, '');
  while (p.includes('--')) p = p.replace(/--/g, '-');
  while (p.endsWith('-')) p = p.slice(0, -1);
  return p;
}

/** "Python 3.11.2" -> "3.11.2"; no python3 on the target -> "none". */
export function pythonVersion(f: Facts): string {
  const m = /^Python\s+(\S+)/.exec((f['python'] ?? '').trim());
  return m ? m[1] : 'none';
}

/** "+0130" -> 5400 seconds east of UTC. */
export function tzOffsetSeconds(tz: string | undefined): number {
  const m = /^([+-])(\d{2})(\d{2})$/.exec((tz ?? '').trim());
  if (!m) return 0;
  const s = Number(m[2]) * 3600 + Number(m[3]) * 60;
  return m[1] === '-' ? -s : s;
}

/** Validated so that odd output cannot break the XML's fixed-format attributes. */
export function utcTimestamp(f: Facts, fallback: Date): string {
  const v = (f['utc'] ?? '').trim();
  return /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/.test(v) ? v : fallback.toISOString().slice(0, 19);
}

export function localTimestamp(f: Facts, fallback: Date): string {
  const v = (f['local'] ?? '').trim();
  return /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/.test(v) ? v : fallback.toISOString().slice(0, 19);
}

export function integerFact(f: Facts, key: string): string {
  const v = (f[key] ?? '').trim();
  return /^\d{1,10}$/.test(v) ? v : '';
}
