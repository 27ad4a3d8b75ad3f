// The entries the controller writes itself once the probe output is in, per
// operating system: octoscan.xml in its Linux or macOS form, and whatever else
// that form needs. scan-host.ts stays the same for every OS.
import { linuxOctoscanXml } from '../archive/octoscan-xml.js';
import { ScanError } from '../errors.js';
import type { HostSpec } from '../types.js';
import type { Collected } from './collector.js';
import { integerFact, pythonPlatform, pythonVersion, utcTimestamp } from './facts.js';

export interface FinalContext {
  uuid: string;
  spec: HostSpec;
  where: string;
  collected: Collected;
  startedAt: Date;
  onTargetMs: number;
  /** The target's standard error (kept head), for OSes whose archive records it. */
  stderr: string;
}

export interface FinalPlan {
  os: 'linux' | 'darwin';
  ext: 'scal' | 'scam';
  /** Written in this order after the probe entries; octoscan.xml must be last. */
  entries: { name: string; data: Buffer }[];
}

export function finalPlan(c: FinalContext): FinalPlan {
  const f = c.collected.facts;
  if (f['unsupported'] === undefined && f['os'] === 'Linux') return linuxPlan(c);
  throw new ScanError('unsupported', 'stream', `${c.where}: unsupported operating system ${JSON.stringify(f['unsupported'] ?? f['os'] ?? '')}`);
}

function linuxPlan(c: FinalContext): FinalPlan {
  const f = c.collected.facts;
  const xml = linuxOctoscanXml({
    uuid: c.uuid,
    python: pythonVersion(f),
    platform: pythonPlatform(f),
    fqdn: f['fqdn'] || c.spec.host,
    timestamp: utcTimestamp(f, c.startedAt),
    userId: integerFact(f, 'uid'),
    effectiveUserId: integerFact(f, 'euid'),
    login: f['login'] ?? '',
    tag: c.spec.tag,
    warnings: c.collected.warnings,
    durationMs: c.onTargetMs,
  });
  return { os: 'linux', ext: 'scal', entries: [{ name: 'octoscan.xml', data: Buffer.from(xml, 'utf8') }] };
}
