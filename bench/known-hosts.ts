// known_hosts of 1,000,000 lines: the time to read it, the memory it takes, and
// what one host's lookup costs, for a file of plain names and one of hashed
// names (both with @revoked, @cert-authority and wildcard lines every 1,000th).
//
//   node --import tsx bench/known-hosts.ts [--lines 1000000]
//
// Each file is measured in a fresh Node process (--expose-gc), so the memory
// figures are that of the entries alone: heap used after a full GC, and RSS.
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { decideHostKey, knownKeyTypes, loadKnownHosts } from '../src/transport/known-hosts.js';
import { ed25519Blob, lineOf, writeLargeKnownHosts, type LargeFileShape } from '../test/helpers/known-hosts-file.js';

const self = fileURLToPath(import.meta.url);
const mb = (n: number): string => `${(n / 1024 / 1024).toFixed(0)} MB`;

async function measure(file: string, shape: LargeFileShape): Promise<Record<string, string>> {
  const gc = (globalThis as { gc?: () => void }).gc!;
  gc();
  const heap0 = process.memoryUsage().heapUsed;
  const rss0 = process.memoryUsage().rss;
  // CPU time beside wall time: on a shared machine the wall time says more about the neighbours.
  const cpu = (from: NodeJS.CpuUsage): string => {
    const u = process.cpuUsage(from);
    return `${((u.user + u.system) / 1e6).toFixed(2)} s CPU`;
  };
  let c = process.cpuUsage();
  let t = performance.now();
  const entries = await loadKnownHosts([file]);
  const readMs = performance.now() - t;
  const readCpu = cpu(c);
  // The index is built on the first lookup; a host near the end of the file.
  const last = shape.lines - 1;
  const probe = lineOf(shape, last);
  c = process.cpuUsage();
  t = performance.now();
  const first = decideHostKey(entries, probe.host, 22, ed25519Blob(probe.key));
  const firstMs = performance.now() - t;
  const firstCpu = cpu(c);
  // Distinct hosts, each looked up as a connection does: key types, then the decision.
  const hosts = 20;
  c = process.cpuUsage();
  t = performance.now();
  for (let h = 0; h < hosts; h++) {
    const l = lineOf(shape, 1 + Math.floor((h * (shape.lines - 2)) / hosts));
    knownKeyTypes(entries, l.host, 22);
    decideHostKey(entries, l.host, 22, ed25519Blob(l.key));
  }
  const perHostMs = (performance.now() - t) / hosts;
  const u = process.cpuUsage(c);
  const perHostCpuMs = (u.user + u.system) / 1000 / hosts;
  gc();
  const mem = process.memoryUsage();
  return {
    entries: String(entries.length),
    read: `${(readMs / 1000).toFixed(2)} s (${readCpu})`,
    'first lookup (index)': `${(firstMs / 1000).toFixed(2)} s (${firstCpu}; ${first.verdict})`,
    'per host': `${perHostMs.toFixed(2)} ms (${perHostCpuMs.toFixed(2)} ms CPU)`,
    heap: mb(mem.heapUsed - heap0),
    'rss growth': mb(mem.rss - rss0),
    rss: mb(mem.rss),
  };
}

const { values } = parseArgs({ options: { lines: { type: 'string', default: '1000000' }, measure: { type: 'string' }, shape: { type: 'string' } } });

if (values.measure) {
  console.log(JSON.stringify(await measure(values.measure, JSON.parse(values.shape!) as LargeFileShape)));
} else {
  const lines = Number(values.lines);
  const dir = await mkdtemp(join(tmpdir(), 'octoscan-bench-kh-'));
  try {
    for (const [label, hashedEvery] of [['plain', 0], ['hashed', 1]] as const) {
      const shape: LargeFileShape = { lines, hashedEvery, markerEvery: 1000 };
      const file = join(dir, label);
      const t = performance.now();
      await writeLargeKnownHosts(file, shape);
      const size = (await stat(file)).size;
      console.log(`${label}: ${lines} lines, ${mb(size)} (written in ${((performance.now() - t) / 1000).toFixed(1)} s)`);
      const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', self, '--measure', file, '--shape', JSON.stringify(shape)], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`measuring ${label} failed: ${r.stderr}`);
      for (const [k, v] of Object.entries(JSON.parse(r.stdout) as Record<string, string>)) console.log(`  ${k.padEnd(22)} ${v}`);
      await rm(file);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
