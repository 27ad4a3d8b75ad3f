// The README's entry tables, generated from the probe definitions (the same
// rows as `octoscan-remote script --list`); test/unit/script-list.test.ts
// checks that README.md holds exactly these, between the markers.
import { darwinProbes, linuxProbes } from '../../targets/index.js';
import { probeRows } from './catalogue.js';

export const README_MARKERS = {
  linux: ['<!-- generated: linux probes (script --list) -->', '<!-- end: linux probes -->'],
  macos: ['<!-- generated: macos probes (script --list) -->', '<!-- end: macos probes -->'],
} as const;

const cell = (s: string): string => s.replace(/\|/g, '\\|');
const code = (s: string): string => (s === '' || s === '-' ? s : `\`${cell(s)}\``);

export function readmeEntryTable(os: 'linux' | 'macos'): string {
  const probes = os === 'linux' ? linuxProbes : darwinProbes;
  const rows = probeRows({ linux: linuxProbes, darwin: darwinProbes }).filter((r) => r.os === os);
  const lines = ['| entry | runs or reads | deadline | cap | needs root | why |', '| --- | --- | --- | --- | --- | --- |'];
  for (const r of rows) {
    const doc = probes.find((p) => p.id === r.id)?.doc ?? '';
    lines.push(`| ${code(r.entry)} | ${code(r.source)} | ${r.deadline} | ${r.cap} | ${cell(r.root || '')} | ${cell(doc)} |`);
  }
  return lines.join('\n');
}
