// Where a --cpu-prof profile spent its samples: self time per function and
// per area (our code, ssh2, zlib/archiver, Node internals, GC, idle), so a
// note can say where the controller's time went without opening DevTools.
//
//   node --import tsx bench/profile-summary.ts FILE.cpuprofile [--top 25]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** The area a frame belongs to, from its script URL. */
export function areaOf(url: string, fn: string): string {
  if (fn === '(idle)') return 'idle';
  if (fn === '(garbage collector)') return 'gc';
  if (fn === '(program)') return 'program (native, unattributed)';
  if (/node_modules\/ssh2\//.test(url)) return 'ssh2';
  if (/node_modules\/(archiver|zip-stream|compress-commons|crc32-stream|readable-stream|lazystream)/.test(url)) return 'archiver';
  if (/node_modules\//.test(url)) return `npm:${/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1]}`;
  if (/\/(dist|src|bin)\//.test(url) && !url.startsWith('node:')) return 'octoscan-remote';
  if (url.startsWith('node:zlib') || url === 'node:internal/deps/zlib') return 'node:zlib';
  if (url.startsWith('node:internal/crypto') || url.startsWith('node:crypto')) return 'node:crypto';
  if (url.startsWith('node:internal/fs') || url.startsWith('node:fs')) return 'node:fs';
  if (url.startsWith('node:internal/streams') || url.startsWith('node:stream')) return 'node:streams';
  if (url.startsWith('node:net') || url.startsWith('node:internal/stream_base') || url.startsWith('node:internal/net')) return 'node:net';
  if (url.startsWith('node:')) return 'node:other';
  if (!url) return `native (${fn || 'anonymous'})`;
  return 'other';
}

export function summarize(p: Profile): { totalMs: number; byArea: [string, number][]; byFn: [string, number][] } {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
  const area = new Map<string, number>();
  const fn = new Map<string, number>();
  let total = 0;
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    const a = areaOf(n.callFrame.url, n.callFrame.functionName);
    area.set(a, (area.get(a) ?? 0) + us);
    if (a !== 'idle') total += us;
    const name = `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/^.*\/(node_modules\/)?/, '')}:${n.callFrame.lineNumber + 1}`;
    fn.set(name, (fn.get(name) ?? 0) + us);
  }
  const sorted = (m: Map<string, number>): [string, number][] => [...m].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, v / 1000]);
  return { totalMs: total / 1000, byArea: sorted(area), byFn: sorted(fn) };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.stdout.on('error', () => process.exit(0)); // piped into head
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' }, hosts: { type: 'string' } } });
  for (const file of positionals) {
    const s = summarize(JSON.parse(readFileSync(file, 'utf8')) as Profile);
    const per = values.hosts ? ` (${(s.totalMs / Number(values.hosts)).toFixed(2)} ms per host over ${values.hosts})` : '';
    console.log(`${file}: ${s.totalMs.toFixed(0)} ms of samples outside idle${per}`);
    console.log('by area:');
    for (const [a, ms] of s.byArea) console.log(`  ${a.padEnd(34)} ${ms.toFixed(1).padStart(9)} ms${a === 'idle' ? '' : `  ${((100 * ms) / s.totalMs).toFixed(1)}%`}`);
    console.log(`top ${values.top} functions by self time:`);
    for (const [f, ms] of s.byFn.filter(([f]) => !f.startsWith('(idle)')).slice(0, Number(values.top))) console.log(`  ${ms.toFixed(1).padStart(9)} ms  ${f}`);
  }
}
