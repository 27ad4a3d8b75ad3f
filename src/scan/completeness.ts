// How complete an "ok" archive is. A scan succeeds when the target answered
// and the archive was written, but an archive without a package list or a
// release file is of little use to the inventory; that must show in the
// report row, not only in scan.json inside the zip.
import type { Collected } from './collector.js';

export interface Completeness {
  /** Entries in the archive (probe entries plus those the controller writes). */
  entries: number;
  /** Linux: dpkg/apk/rpm list; macOS: system_profiler.xml (the application list). */
  packageList: boolean;
  /** Linux: a release/* file; macOS: sysctl.properties or system_profiler.xml, where the OS version is read. */
  release: boolean;
  /** Probes skipped and why, short: `rpm:not-found:rpm`. Probes superseded by another package manager are left out. */
  skipped: string[];
  /** Warning ids and how often each occurred. */
  warningIds: Record<string, number>;
  /** What the inventory cannot do without and the archive lacks; empty when complete. */
  missing: string[];
}

const PACKAGE_LISTS = new Set(['dpkg/installed.txt', 'apk/installed.txt', 'rpm/installed.txt']);
const MAC_HARDWARE = ['sysctl.properties', 'IOPlatformExpertDevice.xml', 'system_profiler.xml'];

export function completenessOf(os: 'linux' | 'darwin', c: Pick<Collected, 'entries' | 'skips' | 'warnings'>, archiveEntries: number): Completeness {
  const names = new Set(c.entries.map((e) => e.name));
  const warningIds: Record<string, number> = {};
  for (const w of c.warnings) warningIds[String(w.id)] = (warningIds[String(w.id)] ?? 0) + 1;
  const skipped = c.skips.filter((s) => s.reason !== 'superseded').map((s) => `${s.probe}:${s.reason}`);
  const missing: string[] = [];
  let packageList: boolean;
  let release: boolean;
  if (os === 'linux') {
    packageList = [...names].some((n) => PACKAGE_LISTS.has(n));
    release = [...names].some((n) => n.startsWith('release/') || n.startsWith('release-usrlib/'));
    if (!release) missing.push('no release file');
    // A distribution (it has a release file) has a package manager; a busybox appliance has neither.
    if (release && !packageList) missing.push('no package list');
  } else {
    packageList = names.has('system_profiler.xml');
    release = names.has('sysctl.properties') || names.has('system_profiler.xml');
    if (!MAC_HARDWARE.some((n) => names.has(n))) missing.push('no hardware data');
    if (!packageList) missing.push('no application list');
  }
  return { entries: archiveEntries, packageList, release, skipped, warningIds, missing };
}

/** The report's completeness cell: `complete`, or `incomplete: ` and what is missing. */
export function completenessText(c: Completeness | undefined): string {
  if (!c) return '';
  return c.missing.length ? `incomplete: ${c.missing.join(', ')}` : 'complete';
}

/** `1002:4 1004:1`, by id. */
export function warningIdsText(ids: Record<string, number> | undefined): string {
  if (!ids) return '';
  return Object.keys(ids)
    .sort((a, b) => Number(a) - Number(b))
    .map((id) => `${id}:${ids[id]}`)
    .join(' ');
}
