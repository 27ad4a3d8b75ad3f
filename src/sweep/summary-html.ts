// The nightly summary page: one self-contained HTML file (inline CSS and SVG,
// no script, no network assets), readable from a file share. Every text that
// comes from a host, a hosts file or an archive is HTML-escaped.
import { readArchive, type OsInfo } from '../archive/archive-reader.js';
import { hostId, type SummaryRow } from './report-reader.js';

export interface HostArchiveInfo {
  os?: OsInfo;
  warnings: { id: number; message: string }[];
}

export interface SummaryInput {
  rows: SummaryRow[];
  /** The containers' rows (--containers). */
  containers?: SummaryRow[];
  /** --compare named a report that does not exist yet (a first night). */
  compareMissing?: string;
  /** Reports merged into this page (the shards of one night). */
  reports?: number;
  /** The previous run's rows, for --compare. */
  previous?: SummaryRow[];
  /** Per host (hostId), what its archive says; hosts without a readable archive are absent. */
  archives: Map<string, HostArchiveInfo>;
  /** Where the rows came from, shown in the header. */
  source: string;
  previousSource?: string;
  generatedAt: Date;
}

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
/** HTML-escapes text for element content and quoted attribute values; control characters shown as U+FFFD. */
export function esc(s: string | number): string {
  return String(s)
    .replace(/[&<>"']/g, (c) => ESC[c])
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g, '\ufffd');
}

const fmtMs = (ms: number): string => (ms >= 60_000 ? `${(ms / 60_000).toFixed(1)} min` : `${(ms / 1000).toFixed(1)} s`);
const fmtBytes = (n: number): string => (n >= 1 << 30 ? `${(n / (1 << 30)).toFixed(1)} GiB` : n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`);
const hostLabel = (r: SummaryRow): string => `${r.user ? `${r.user}@` : ''}${r.host}${r.port && r.port !== '22' && r.port !== '0' ? `:${r.port}` : ''}`;

function table(id: string, head: string[], rows: string[][], empty = 'none'): string {
  if (!rows.length) return `<p class="empty" id="${id}-empty">${esc(empty)}</p>`;
  return `<table id="${id}"><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>\n${rows
    .map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`)
    .join('\n')}\n</tbody></table>`;
}

function countBy<T>(items: T[], key: (t: T) => string): [string, number][] {
  const m = new Map<string, number>();
  for (const i of items) m.set(key(i), (m.get(key(i)) ?? 0) + 1);
  return [...m.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
}

const CLASS_COLOURS: Record<string, string> = {
  ok: '#2e7d32', unreachable: '#c62828', dns: '#ad1457', 'hostkey-unknown': '#6a1b9a', 'hostkey-changed': '#4a148c', auth: '#e65100', sudo: '#ef6c00',
  timeout: '#f9a825', protocol: '#5d4037', unsupported: '#546e7a', interrupted: '#757575', 'not-scanned': '#9e9e9e', internal: '#000000',
};

/** One small chart: a horizontal bar per class, inline SVG. */
function classChart(counts: [string, number][]): string {
  const max = counts.reduce((m, [, n]) => Math.max(m, n), 1);
  const barH = 18;
  const width = 420;
  const labelW = 130;
  const h = counts.length * (barH + 6) + 6;
  const bars = counts.map(([cls, n], i) => {
    const y = 6 + i * (barH + 6);
    const w = Math.max(2, Math.round(((width - labelW - 50) * n) / max));
    return `<g class="bar" data-class="${esc(cls)}" data-count="${n}"><text x="${labelW - 6}" y="${y + 13}" text-anchor="end">${esc(cls)}</text><rect x="${labelW}" y="${y}" width="${w}" height="${barH}" fill="${CLASS_COLOURS[cls] ?? '#1565c0'}"/><text x="${labelW + w + 6}" y="${y + 13}">${n}</text></g>`;
  });
  return `<svg id="class-chart" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${h}" viewBox="0 0 ${width} ${h}" role="img" aria-label="hosts by class">${bars.join('')}</svg>`;
}

/** Warning texts with the host-specific parts (uids, pids) folded, so the same loss on N hosts is one line. */
export function warningKey(message: string): string {
  return message
    .replace(/scanned as uid \d+/g, 'scanned as uid N')
    .replace(/\/proc\/\d+\//g, '/proc/<pid>/')
    .replace(/java\/dynamic\/\d+\//g, 'java/dynamic/<pid>/');
}

/** A failure message with the host's own name and addresses folded, so one cause on N hosts is one line. */
export function failureKey(r: { host: string; message: string }): string {
  let m = r.message;
  if (r.host) m = m.split(r.host).join('<host>');
  return m
    .replace(/\b\d{1,3}(\.\d{1,3}){3}(:\d+)?\b/g, '<addr>')
    .replace(/\[?\b[0-9a-f]{1,4}(:[0-9a-f]{0,4}){2,7}\]?(:\d+)?/gi, '<addr>');
}

// A report is outside data: a broken or hostile one may hold a million classes
// or messages. The page shows the largest ones and counts the rest.
const MAX_CLASSES = 50;
const MAX_MESSAGES = 100; // per class

export function summaryHtml(input: SummaryInput): string {
  const { rows, archives } = input;
  const ok = rows.filter((r) => r.class === 'ok');
  const failed = rows.filter((r) => r.class !== 'ok');
  const allClasses = countBy(rows, (r) => r.class);
  const classes = allClasses.slice(0, MAX_CLASSES);
  const otherClasses = allClasses.slice(MAX_CLASSES);
  const parts: string[] = [];

  // One count with the summary line and the exit code: a host whose container or engine failed is failed.
  const hostsFailed = rows.filter((r) => r.class !== 'ok' || (r.containersFailed ?? 0) > 0).length;
  const withFailedContainers = hostsFailed - failed.length;
  parts.push(`<header><h1>octoscan-remote: ${rows.length} host${rows.length === 1 ? '' : 's'}, ${rows.length - hostsFailed} ok, ${hostsFailed} failed</h1>${
    withFailedContainers ? `\n<p id="container-failures">${withFailedContainers} of them scanned ok but had a container or engine that failed (the report's container rows say which).</p>` : ''}
<p>Report <code>${esc(input.source)}</code>${input.previousSource ? `, compared with <code>${esc(input.previousSource)}</code>` : ''}; page made ${esc(input.generatedAt.toISOString().replace('T', ' ').slice(0, 19))} UTC.
Archives: ${esc(fmtBytes(ok.reduce((n, r) => n + r.bytes, 0)))}; warnings recorded: ${rows.reduce((n, r) => n + r.warnings, 0)}.</p></header>`);

  parts.push(deliverySection(rows, input.containers ?? []));
  parts.push(runFactsSection(rows, input.reports ?? 1));

  // Hosts by class, with the chart.
  parts.push(`<section id="classes"><h2>Hosts by class</h2><div class="row">${table(
    'class-table',
    ['class', 'hosts', 'share'],
    classes.map(([c, n]) => [`<span class="cls" style="background:${CLASS_COLOURS[c] ?? '#1565c0'}"></span>${esc(c)}`, String(n), `${((100 * n) / Math.max(1, rows.length)).toFixed(1)} %`]),
  )}${classChart(classes)}</div>${otherClasses.length ? `<p id="other-classes">${otherClasses.length} other classes: ${otherClasses.reduce((n, [, k]) => n + k, 0)} hosts.</p>` : ''}</section>`);

  // Hosts by OS family and version: the report's columns (written at scan
  // time), else the archive where it still exists (reports of older versions).
  const osOf = (r: SummaryRow): OsInfo | undefined =>
    r.osName || r.osFamily ? { id: r.osFamily, name: r.osName || r.osFamily, version: r.osVersion, pretty: '', source: 'report' } : archives.get(hostId(r))?.os;
  const osGroups = new Map<string, { name: string; versions: Map<string, number> }>();
  let noOs = 0;
  for (const r of rows.filter((x) => x.archive || x.osName)) {
    const os = osOf(r);
    if (!os) {
      noOs++;
      continue;
    }
    const fam = os.name || os.id || 'unknown';
    const g = osGroups.get(fam) ?? { name: fam, versions: new Map<string, number>() };
    g.versions.set(os.version || '?', (g.versions.get(os.version || '?') ?? 0) + 1);
    osGroups.set(fam, g);
  }
  const osRows: string[][] = [];
  for (const g of [...osGroups.values()].sort((a, b) => sum(b.versions) - sum(a.versions) || (a.name < b.name ? -1 : 1))) {
    const versions = [...g.versions.entries()].sort((a, b) => compareVersions(b[0], a[0]));
    osRows.push([`<b>${esc(g.name)}</b>`, '', `<b>${sum(g.versions)}</b>`]);
    for (const [v, n] of versions) osRows.push(['', esc(v), String(n)]);
  }
  parts.push(`<section id="os"><h2>Hosts by OS family and version</h2>${table('os-table', ['OS', 'version', 'hosts'], osRows, 'no OS known: the report has no OS columns and no archive could be read')}${
    noOs ? `<p id="os-unknown">${noOs} ok host${noOs === 1 ? '' : 's'} without a readable archive or release entry.</p>` : ''
  }${javaTable(rows)}</section>`);
  parts.push(groupsSection(rows));
  parts.push(containersSection(input.containers ?? []));

  // Failures grouped by class, then by phase and message.
  // Grouped in one pass: filtering the rows per class and per message was quadratic.
  const byClass = new Map<string, Map<string, SummaryRow[]>>();
  for (const r of failed) {
    let groups = byClass.get(r.class);
    if (!groups) byClass.set(r.class, (groups = new Map()));
    const key = `${r.phase}\0${failureKey(r)}`;
    const hosts = groups.get(key);
    if (hosts) hosts.push(r);
    else groups.set(key, [r]);
  }
  const failureParts: string[] = [];
  for (const [cls, n] of classes) {
    if (cls === 'ok') continue;
    const groups = [...byClass.get(cls)!].sort((a, b) => b[1].length - a[1].length || (a[0] < b[0] ? -1 : 1));
    const more = groups.slice(MAX_MESSAGES);
    failureParts.push(`<h3 id="fail-${esc(cls)}">${esc(cls)} (${n})</h3>${table(
      `failures-${cls.replace(/[^a-z-]/g, '')}`,
      ['phase', 'message', 'hosts'],
      groups.slice(0, MAX_MESSAGES).map(([key, hosts]) => {
        const [phase, message] = key.split('\0');
        const shown = hosts.slice(0, 20).map((h) => esc(hostLabel(h))).join(', ') + (hosts.length > 20 ? `, … (${hosts.length - 20} more)` : '');
        return [esc(phase), `<span class="msg">${esc(message)}</span>`, `${hosts.length}: ${shown}`];
      }),
    )}${more.length ? `<p class="more-messages">${more.length} other messages: ${more.reduce((k, [, hosts]) => k + hosts.length, 0)} hosts.</p>` : ''}`);
  }
  parts.push(`<section id="failures"><h2>Failures by class</h2>${failureParts.length ? failureParts.join('\n') : '<p class="empty">none: every host was scanned</p>'}</section>`);

  parts.push(fixSection(failed));

  // Slowest hosts.
  const slowest = [...rows].sort((a, b) => b.durationMs - a.durationMs).slice(0, 10);
  parts.push(`<section id="slowest"><h2>Slowest hosts</h2>${table(
    'slowest-table',
    ['host', 'class', 'duration', 'archive size', 'attempts'],
    slowest.map((r) => [esc(hostLabel(r)), esc(r.class), esc(fmtMs(r.durationMs)), r.class === 'ok' ? esc(fmtBytes(r.bytes)) : '', String(r.attempts)]),
  )}</section>`);

  // Warnings that cost the most data: the same warning across the most hosts.
  const byWarning = new Map<string, { id: number; key: string; hosts: Set<string> }>();
  for (const r of ok) {
    const a = archives.get(hostId(r));
    if (!a) continue;
    for (const w of a.warnings) {
      const key = `${w.id}\0${warningKey(w.message)}`;
      const e = byWarning.get(key) ?? { id: w.id, key: warningKey(w.message), hosts: new Set<string>() };
      e.hosts.add(hostLabel(r));
      byWarning.set(key, e);
    }
  }
  const idRows = warningIdRows(rows);
  const warnRows = [...byWarning.values()].sort((a, b) => b.hosts.size - a.hosts.size || a.id - b.id || (a.key < b.key ? -1 : 1)).slice(0, 25);
  const rootOnly = [...byWarning.values()].filter((w) => w.key.includes('readable by root only'));
  const rootHosts = new Set(rootOnly.flatMap((w) => [...w.hosts]));
  parts.push(`<section id="warnings"><h2>Warnings that cost the most data</h2>${table('warning-ids', ['id', 'meaning', 'hosts', 'times'], idRows, 'no warnings')}${
    rootHosts.size ? `<p id="root-only"><b>readable by root only</b>: ${rootOnly.length} kind${rootOnly.length === 1 ? '' : 's'} of data missing on ${rootHosts.size} host${rootHosts.size === 1 ? '' : 's'} scanned without root.</p>` : ''
  }${table(
    'warnings-table',
    ['id', 'warning', 'hosts'],
    warnRows.map((w) => [String(w.id), `<span class="msg">${esc(w.key)}</span>`, String(w.hosts.size)]),
    archives.size ? 'no warnings' : 'the warning texts are in the archives, which are no longer here: the counts by id are above',
  )}</section>`);

  // Compared with the previous run.
  if (!input.previous && input.compareMissing) {
    parts.push(`<section id="compare"><h2>Since the previous run</h2><p id="compare-missing">Nothing to compare with: ${esc(input.compareMissing)}.</p></section>`);
  }
  if (input.previous) {
    const prev = new Map(input.previous.map((r) => [hostId(r), r]));
    const now = new Map(rows.map((r) => [hostId(r), r]));
    const newFailures = rows.filter((r) => r.class !== 'ok' && prev.get(hostId(r))?.class === 'ok');
    const stillFailing = rows.filter((r) => r.class !== 'ok' && prev.has(hostId(r)) && prev.get(hostId(r))!.class !== 'ok');
    const recovered = rows.filter((r) => r.class === 'ok' && prev.has(hostId(r)) && prev.get(hostId(r))!.class !== 'ok');
    const added = rows.filter((r) => !prev.has(hostId(r)));
    const gone = input.previous.filter((r) => !now.has(hostId(r)));
    const list = (id: string, title: string, rs: SummaryRow[], cols: (r: SummaryRow) => string[], head: string[]): string =>
      `<h3>${esc(title)} (${rs.length})</h3>${table(id, head, rs.map(cols))}`;
    parts.push(`<section id="compare"><h2>Since the previous run</h2>
${list('new-failures', 'New failures', newFailures, (r) => [esc(hostLabel(r)), esc(r.class), esc(r.phase), `<span class="msg">${esc(r.message)}</span>`], ['host', 'class', 'phase', 'message'])}
${list('recovered', 'Recovered', recovered, (r) => [esc(hostLabel(r)), esc(prev.get(hostId(r))!.class)], ['host', 'class before'])}
${list('added', 'Added to the list', added, (r) => [esc(hostLabel(r)), esc(r.class)], ['host', 'class'])}
${list('gone', 'Gone from the list', gone, (r) => [esc(hostLabel(r)), esc(r.class)], ['host', 'class before'])}
<p id="still-failing">Still failing: ${stillFailing.length}.</p></section>`);
  }

  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>octoscan-remote summary: ${rows.length - hostsFailed}/${rows.length} ok</title>
<style>
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.5em;color:#222;max-width:1200px}
h1{font-size:1.4em}h2{font-size:1.15em;border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}h3{font-size:1em}
table{border-collapse:collapse;margin:.4em 0}th,td{border:1px solid #ddd;padding:.2em .6em;text-align:left;vertical-align:top}
th{background:#f3f3f3}pre.fix{background:#f6f6f6;border:1px solid #ddd;padding:.6em;overflow-x:auto;white-space:pre}td:nth-child(n+2){font-variant-numeric:tabular-nums}.msg{font-family:ui-monospace,monospace;white-space:pre-wrap;word-break:break-word}
.row{display:flex;gap:2em;align-items:flex-start;flex-wrap:wrap}.cls{display:inline-block;width:.8em;height:.8em;margin-right:.4em;border-radius:2px}
svg text{font:12px system-ui,sans-serif;fill:#222}.empty{color:#666}
</style>
</head>
<body>
${parts.join('\n')}
</body>
</html>
`;
}

function sum(m: Map<string, number>): number {
  let n = 0;
  for (const v of m.values()) n += v;
  return n;
}

function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.-]/).map((x) => (/^\d+$/.test(x) ? Number(x) : x));
  const pb = b.split(/[.-]/).map((x) => (/^\d+$/.test(x) ? Number(x) : x));
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? -1;
    const y = pb[i] ?? -1;
    if (x === y) continue;
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    return String(x) < String(y) ? -1 : 1;
  }
  return 0;
}

/** Reads the archives the rows name (ok hosts), for OS and warning texts; unreadable ones are left out. */
export async function archiveInfo(rows: SummaryRow[], baseDir?: string): Promise<Map<string, HostArchiveInfo>> {
  const { isAbsolute, join } = await import('node:path');
  const out = new Map<string, HostArchiveInfo>();
  for (const r of rows) {
    if (r.class !== 'ok' || !r.archive) continue;
    const path = isAbsolute(r.archive) || !baseDir ? r.archive : join(baseDir, r.archive);
    try {
      const a = await readArchive(path);
      if (a.entries.length) out.set(hostId(r), { os: a.os, warnings: a.warnings });
    } catch {
      // gone (moved by the import): the page says how many had no archive
    }
  }
  return out;
}

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/** Where the archives are: with the collector, still waiting in --out (and why), or never sent. */
function deliverySection(rows: SummaryRow[], containers: SummaryRow[]): string {
  const withArchive = [...rows, ...containers].filter((r) => r.archive);
  const uploaded = withArchive.filter((r) => r.upload === 'uploaded');
  const waiting = withArchive.filter((r) => r.upload === 'waiting');
  const unsent = withArchive.filter((r) => r.upload !== 'uploaded' && r.upload !== 'waiting');
  const collector = uploaded.length + waiting.length > 0;
  const reason = (r: SummaryRow): string => {
    const at = r.message.lastIndexOf('upload: ');
    return at < 0 ? '(no reason recorded)' : r.message.slice(at + 'upload: '.length);
  };
  const reasons = countBy(waiting, reason).map(([why, n]) => [`<span class="msg">${esc(why)}</span>`, String(n)]);
  const lines = [
    `<li id="delivery-uploaded">uploaded: <b>${uploaded.length}</b></li>`,
    `<li id="delivery-waiting">still waiting in the output folder: <b>${waiting.length}</b></li>`,
    `<li id="delivery-unsent">${collector ? 'not delivered (never queued)' : 'not sent (no --upload: the archives stay in the output folder)'}: <b>${unsent.length}</b></li>`,
  ];
  return `<section id="delivery"><h2>Delivery</h2><p>${plural(withArchive.length, 'archive')} written.</p><ul>${lines.join('')}</ul>${
    waiting.length ? `<h3>Why archives wait</h3>${table('delivery-reasons', ['reason', 'archives'], reasons)}` : ''
  }</section>`;
}

/** When, how long, which version, how many hosts, carried over, incomplete, shards. */
function runFactsSection(rows: SummaryRow[], reports: number): string {
  const now = rows.filter((r) => !r.carriedOver);
  const times = (xs: string[]): number[] => xs.map((t) => Date.parse(t)).filter((t) => Number.isFinite(t));
  const starts = times(now.map((r) => r.startedAt));
  const ends = times(now.map((r) => r.finishedAt));
  const start = starts.length ? starts.reduce((a, b) => Math.min(a, b)) : undefined;
  const end = ends.length ? ends.reduce((a, b) => Math.max(a, b)) : undefined;
  const versions = [...new Set(now.map((r) => r.version).filter(Boolean))];
  const runs = new Set(now.map((r) => r.runId).filter(Boolean));
  const facts: [string, string][] = [
    ['started', start === undefined ? 'unknown' : new Date(start).toISOString().replace('T', ' ').slice(0, 19) + ' UTC'],
    ['duration', start === undefined || end === undefined ? 'unknown' : fmtMs(end - start)],
    ['version', versions.join(', ') || 'unknown'],
    ['hosts', String(rows.length)],
    ['scanned in this run', String(now.length)],
    ['carried over (--resume)', String(rows.length - now.length)],
    ['incomplete', String(rows.filter((r) => r.completeness.startsWith('incomplete')).length)],
    ['shards', String(Math.max(reports, runs.size, 1))],
  ];
  return `<section id="run-facts"><h2>Run facts</h2>${table('run-facts-table', ['fact', 'value'], facts.map(([k, v]) => [esc(k), esc(v)]))}</section>`;
}

/** Hosts, ok and failed per tag, and per value of each label the hosts list gives. */
function groupsSection(rows: SummaryRow[]): string {
  const tally = (key: (r: SummaryRow) => string | undefined): string[][] => {
    const m = new Map<string, { hosts: number; ok: number }>();
    for (const r of rows) {
      const k = key(r);
      if (k === undefined) continue;
      const e = m.get(k) ?? { hosts: 0, ok: 0 };
      e.hosts++;
      if (r.class === 'ok') e.ok++;
      m.set(k, e);
    }
    return [...m].sort((a, b) => b[1].hosts - a[1].hosts || (a[0] < b[0] ? -1 : 1)).map(([k, e]) => [esc(k || '(none)'), String(e.hosts), String(e.ok), String(e.hosts - e.ok)]);
  };
  const head = ['value', 'hosts', 'ok', 'failed'];
  const labelNames = [...new Set(rows.flatMap((r) => Object.keys(r.labels)))].sort();
  const labels = labelNames.map((n) => `<h3>label ${esc(n)}</h3>${table(`label-${n.replace(/[^A-Za-z0-9_-]/g, '_')}`, head, tally((r) => r.labels[n] ?? ''))}`);
  return `<section id="groups"><h2>By tag and by label</h2><h3>tag</h3>${table('tag-table', head, tally((r) => r.tag))}${
    labels.length ? labels.join('') : '<p class="empty" id="labels-empty">the hosts list gives no labels</p>'
  }</section>`;
}

/** Containers per engine: scanned, no shell, failed. */
function containersSection(containers: SummaryRow[]): string {
  const engines = [...new Set(containers.map((c) => c.engine || '?'))].sort();
  const rows = engines.map((e) => {
    const of = containers.filter((c) => (c.engine || '?') === e);
    const scanned = of.filter((c) => c.class === 'ok').length;
    const noShell = of.filter((c) => c.class === 'no-shell').length;
    return [esc(e), String(scanned), String(noShell), String(of.length - scanned - noShell)];
  });
  return `<section id="containers"><h2>Containers</h2>${table('containers-table', ['engine', 'scanned', 'no shell', 'failed'], rows, 'no containers scanned (--containers not given, or none running)')}</section>`;
}

// The commands a failure message tells the operator to run, as written there.
const FIX_COMMANDS = [/ssh-keygen -R '[^']*'(?: -f (?:'[^']*'|\S+))?/g];

/** One pasteable block of the commands the failures name, each with the host's own name. */
function fixSection(failed: SummaryRow[]): string {
  const lines: string[] = [];
  for (const r of failed) {
    for (const re of FIX_COMMANDS) for (const m of r.message.matchAll(re)) lines.push(`${m[0]}    # ${hostLabel(r)}`);
  }
  const unique = [...new Set(lines)];
  return `<section id="fix"><h2>Fix commands</h2>${
    unique.length
      ? `<p>Check each change first (a changed host key may be an attack); then these lines can be pasted into a shell as they are.</p><pre class="fix" id="fix-commands">${esc(unique.join('\n'))}</pre>`
      : '<p class="empty" id="fix-empty">no failure names a command to run</p>'
  }</section>`;
}

/** The archive contract's warning ids (readable from the report's warning_ids column, no archive needed). */
const WARNING_MEANINGS: Record<string, string> = {
  '1001': 'a file to copy does not exist',
  '1002': 'a file could not be read (rights: often readable by root only)',
  '1003': 'a file is not valid UTF-8, was truncated, or another read error',
  '1004': 'a command failed (sudo refused counts here)',
};

function warningIdRows(rows: SummaryRow[]): string[][] {
  const by = new Map<string, { hosts: number; times: number }>();
  for (const r of rows) {
    for (const part of r.warningIds.split(/\s+/)) {
      const m = /^(\d+):(\d+)$/.exec(part);
      if (!m) continue;
      const e = by.get(m[1]) ?? { hosts: 0, times: 0 };
      e.hosts++;
      e.times += Number(m[2]);
      by.set(m[1], e);
    }
  }
  return [...by].sort((a, b) => b[1].hosts - a[1].hosts || Number(a[0]) - Number(b[0])).map(([id, e]) => [esc(id), esc(WARNING_MEANINGS[id] ?? ''), String(e.hosts), String(e.times)]);
}

/** Java homes by version and vendor, from the report's java column. */
function javaTable(rows: SummaryRow[]): string {
  const kinds = countBy(rows.flatMap((r) => (r.java ? r.java.split('; ') : [])).map((j) => /\(([^)]*)\)$/.exec(j)?.[1] ?? j), (k) => k);
  if (!kinds.length) return '';
  return `<h3>Java</h3>${table('java-table', ['version, vendor', 'Java homes'], kinds.map(([k, n]) => [esc(k), String(n)]))}`;
}
