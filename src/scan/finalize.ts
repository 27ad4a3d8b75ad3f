// The entries the controller writes itself once the probe output is in, per
// operating system: octoscan.xml in its Linux or macOS form, and whatever else
// that form needs. scan-host.ts stays the same for every OS.
import { linuxOctoscanXml, macOctoscanXml, type ConfigurationValues } from '../archive/octoscan-xml.js';
import { ScanError } from '../errors.js';
import type { HostSpec } from '../types.js';
import type { Collected } from './collector.js';
import { version } from '../version.js';
import { integerFact, localTimestamp, pythonPlatform, pythonVersion, utcTimestamp } from './facts.js';

export interface FinalContext {
  uuid: string;
  spec: HostSpec;
  where: string;
  collected: Collected;
  startedAt: Date;
  onTargetMs: number;
  /** The target's standard error (kept head), for OSes whose archive records it. */
  stderr: string;
  /** configuration values (a container's, else the host's own from spec.config). */
  config?: ConfigurationValues;
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
  if (f['unsupported'] === undefined && f['os'] === 'Darwin') return darwinPlan(c);
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
    config: c.config ?? c.spec.config,
    warnings: c.collected.warnings,
    durationMs: c.onTargetMs,
  });
  return { os: 'linux', ext: 'scal', entries: [{ name: 'octoscan.xml', data: Buffer.from(xml, 'utf8') }] };
}

/**
 * macOS (spec sections 3 and 5): no warnings in octoscan.xml; the reference
 * sends its diagnostics to stdout.log and stderr.log entries instead. Here
 * stdout.log is this scan's account of what it skipped and what went wrong
 * (the W and S records), stderr.log the target's standard error, which on
 * macOS carries the probe commands' own complaints.
 */
function darwinPlan(c: FinalContext): FinalPlan {
  const f = c.collected.facts;
  const xml = macOctoscanXml({
    uuid: c.uuid,
    fqdn: f['fqdn'] || c.spec.host,
    shell: f['shell'] || 'bash none',
    timestamp: localTimestamp(f, c.startedAt),
    platform: f['uname-v'] ?? '',
    tag: c.spec.tag,
    login: f['login'] ?? '',
    userId: integerFact(f, 'euid'),
    kerberos: f['kerberos'] === 'true',
  });
  const log = [
    `octoscan-remote ${version()}: macOS scan of ${c.where}`,
    ...c.collected.skips.map((s) => `skipped ${s.probe}: ${s.reason}`),
    ...c.collected.warnings.map((w) => `warning ${w.id}: ${w.message}`),
  ];
  return {
    os: 'darwin',
    ext: 'scam',
    entries: [
      { name: 'stdout.log', data: Buffer.from(`${log.join('\n')}\n`, 'utf8') },
      { name: 'stderr.log', data: Buffer.from(c.stderr, 'utf8') },
      { name: 'octoscan.xml', data: Buffer.from(xml, 'utf8') },
    ],
  };
}
