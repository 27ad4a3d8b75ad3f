// How many processes one scan starts on the target: the probe script run by
// /bin/sh -s as an unprivileged user under strace -f, counting execve calls
// and the clones that make a process (threads, CLONE_THREAD, not counted).
// On hosts where fork+exec is dear this, not the probes' own work, decides
// the CPU a scan costs, so the bench prints it next to the CPU figures.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface ProcessCount {
  execve: number;
  forks: number;
  /** execve by program base name, most first. */
  byProgram: [string, number][];
}

/** Counts of one strace -f -e trace=execve,clone,clone3,fork,vfork output. */
export function countProcesses(trace: string): ProcessCount {
  let execve = 0;
  let forks = 0;
  const by = new Map<string, number>();
  for (const line of trace.split('\n')) {
    // "PID  call(...": a call that blocks shows once, as "<unfinished ...>", then "<... resumed>" (not counted again).
    const m = /^(?:\d+ +)?(execve|clone3?|v?fork)\((.*)$/.exec(line);
    if (!m) continue;
    if (m[1] === 'execve') {
      execve++;
      const prog = /^"([^"]*)"/.exec(m[2])?.[1].replace(/.*\//, '') ?? '?';
      by.set(prog, (by.get(prog) ?? 0) + 1);
    } else if (!m[2].includes('CLONE_THREAD')) {
      forks++;
    }
  }
  return { execve, forks, byProgram: [...by].sort((a, b) => b[1] - a[1]) };
}

/** Why process counting cannot run here, or undefined when it can. */
export function processCountUnavailable(): string | undefined {
  const r = spawnSync('strace', ['-V'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return 'strace is not installed';
  if (process.getuid?.() !== 0) return 'needs root (strace -u runs the script as the unprivileged user)';
  return undefined;
}

/** The probe script run once as `user` under strace; the counts of that run. */
export function countScriptProcesses(user: string, script: string): ProcessCount {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'octoscan-strace-'));
  try {
    const file = path.join(dir, 'trace');
    const r = spawnSync('strace', ['-f', '-qq', '-e', 'trace=execve,clone,clone3,fork,vfork', '-o', file, '-u', user, '/bin/sh', '-s'], {
      input: script, maxBuffer: 1 << 28, cwd: '/',
    });
    if (r.status !== 0) throw new Error(`strace exited ${r.status}: ${r.stderr.toString().slice(-300)}`);
    const c = countProcesses(readFileSync(file, 'utf8'));
    // The shell's own execve (/bin/sh -s) is strace's start, not the script's.
    const sh = c.byProgram.find(([p]) => p === 'sh');
    if (sh) sh[1]--;
    return { ...c, execve: c.execve - 1, byProgram: c.byProgram.filter(([, n]) => n > 0) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One line for the bench output. */
export function describeCount(c: ProcessCount): string {
  const top = c.byProgram.slice(0, 8).map(([p, n]) => `${n} ${p}`).join(', ');
  return `${c.execve} execve, ${c.forks} forks (threads not counted); most started: ${top}`;
}
