// octoscan.xml exactly as the on-host scanners structure it (spec sections 2 and 3).
import { el, serialize, type XmlElement } from './xml.js';

export const LINUX_BUILD = '1.10.9.41 2024-06-13';
export const MACOS_BUILD = '1.10.9 2024-09-19';

export interface Warning {
  id: number;
  message: string;
}

export interface LinuxScanFacts {
  uuid: string;
  python: string; // target's python3 version, or 'none'
  platform: string; // Python platform.platform() form
  fqdn: string;
  timestamp: string; // UTC, YYYY-MM-DDTHH:MM:SS
  userId: string;
  effectiveUserId: string;
  login: string;
  tag: string;
  /** configuration values beyond the tag, each written only when given. */
  config?: ConfigurationValues;
  warnings: Warning[];
  durationMs: number;
}

export interface ConfigurationValues {
  machine?: string;
  host?: string;
  cluster?: string;
  container?: boolean;
  virt?: string;
}

/** configuration's children: the tag always, then only the given values, in the spec's order (section 2). */
export function configurationInfos(tag: string, c: ConfigurationValues = {}): XmlElement[] {
  const out = [info('tag', 'S', tag)];
  if (c.machine !== undefined) out.push(info('machine', 'S', c.machine));
  if (c.host !== undefined) out.push(info('host', 'S', c.host));
  if (c.cluster !== undefined) out.push(info('cluster', 'S', c.cluster));
  // As Python writes a boolean (str(True)), unlike macOS's lower-case kerberos flag.
  if (c.container) out.push(info('container', 'B', 'True'));
  if (c.virt !== undefined) out.push(info('virt', 'S', c.virt));
  return out;
}

export interface MacScanFacts {
  uuid: string;
  fqdn: string;
  shell: string; // 'bash 3.2.57(1)-release' or 'zsh 5.9'
  timestamp: string; // target local time, YYYY-MM-DDTHH:MM:SS
  platform: string; // uname -v
  tag: string;
  login: string;
  userId: string;
  kerberos: boolean;
}

const info = (name: string, type: 'S' | 'I' | 'B', value: string): XmlElement =>
  el('info', [['name', name], ['type', type], ['value', value]]);

/** Python's str(timedelta): H:MM:SS[.ffffff], the fraction dropped when zero. */
export function formatDuration(ms: number): string {
  const micros = Math.max(0, Math.round(ms * 1000));
  const totalSeconds = Math.floor(micros / 1e6);
  const frac = micros % 1e6;
  const h = Math.floor(totalSeconds / 3600);
  const m = Math.floor((totalSeconds % 3600) / 60);
  const s = totalSeconds % 60;
  const base = `${h}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}`;
  return frac === 0 ? base : `${base}.${String(frac).padStart(6, '0')}`;
}

export function linuxOctoscanXml(f: LinuxScanFacts): string {
  const root = el(
    'octoscan',
    [['uuid', f.uuid], ['python', f.python], ['platform', f.platform], ['build', LINUX_BUILD], ['fqdn', f.fqdn], ['timestamp', f.timestamp]],
    [
      el('user', [], [info('user_id', 'I', f.userId), info('effective_user_id', 'I', f.effectiveUserId), info('login', 'S', f.login)]),
      el('operating_system', [], [info('platform', 'S', f.platform)]),
      el('configuration', [], configurationInfos(f.tag, f.config)),
      ...f.warnings.map((w) => el('warning', [['id', String(w.id)], ['message', w.message]])),
      el('octoscan', [], [info('performance', 'S', formatDuration(f.durationMs))]),
    ],
  );
  return serialize(root, '<?xml version="1.0" encoding="utf-8"?>');
}

export function macOctoscanXml(f: MacScanFacts): string {
  const root = el(
    'octoscan',
    [['uuid', f.uuid], ['fqdn', f.fqdn], ['build', MACOS_BUILD], ['python', 'none'], ['shell', f.shell], ['timestamp', f.timestamp], ['platform', f.platform]],
    [
      el('configuration', [], [info('tag', 'S', f.tag)]),
      el('user', [], [info('login', 'S', f.login), info('user_id', 'I', f.userId), info('kerberos', 'B', f.kerberos ? 'true' : 'false')]),
    ],
  );
  return serialize(root, '<?xml version="1.0" encoding="utf-8" ?>');
}
