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
  /** execve calls that started a program (a failed one, such as a PATH lookup trying the next folder, is not counted here). */
  execve: number;
  /** execve calls that failed (ENOENT and the like): a system call each, no process. */
  execveFailed: number;
  forks: number;
  /** Successful execve by program base name, most first. */
  byProgram: [string, number][];
}

/** Counts of one strace -f -e trace=execve,clone,clone3,fork,vfork output. */
export function countProcesses(trace: string): ProcessCount {
  let forks = 0;
  let failed = 0;
  const by = new Map<string, number>();
  // An execve that blocks shows as "<unfinished ...>" and its result comes with "<... execve resumed>", by PID.
  const pending = new Map<string, string>();
  const done = (prog: string, result: string): void => {
    if (/^-\d/.test(result)) failed++;
    else by.set(prog, (by.get(prog) ?? 0) + 1);
  };
  for (const line of trace.split('\n')) {
    const resumed = /^(\d+) +<\.\.\. execve resumed>.*\) += (-?\d+)/.exec(line);
    if (resumed) {
      const prog = pending.get(resumed[1]);
      if (prog !== undefined) {
        pending.delete(resumed[1]);
        done(prog, resumed[2]);
      }
      continue;
    }
    const m = /^(?:(\d+) +)?(execve|clone3?|v?fork)\((.*)$/.exec(line);
    if (!m) continue;
    if (m[2] === 'execve') {
      const prog = /^"([^"]*)"/.exec(m[3])?.[1].replace(/.*\//, '') ?? '?';
      const result = /\) += (-?\d+)/.exec(m[3]);
      if (result) done(prog, result[1]);
      else pending.set(m[1] ?? '', prog);
    } else if (!m[3].includes('CLONE_THREAD')) {
      forks++;
    }
  }
  // Never resumed (the trace ended first): counted as started.
  for (const prog of pending.values()) done(prog, '0');
  const byProgram = [...by].sort((a, b) => b[1] - a[1]);
  return { execve: byProgram.reduce((a, [, n]) => a + n, 0), execveFailed: failed, forks, byProgram };
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
  return countCommandProcesses(user, ['/bin/sh', '-s'], { input: script });
}

/**
 * argv run once as `user` under strace (from `cwd`, default /); the counts of
 * that run, without the execve of argv[0] itself (that is strace starting it).
 */
export function countCommandProcesses(user: string, argv: string[], o: { input?: string; cwd?: string } = {}): ProcessCount {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'octoscan-strace-'));
  try {
    const file = path.join(dir, 'trace');
    const r = spawnSync('strace', ['-f', '-qq', '-e', 'trace=execve,clone,clone3,fork,vfork', '-o', file, '-u', user, ...argv], {
      input: o.input ?? '', maxBuffer: 1 << 28, cwd: o.cwd ?? '/',
    });
    if (r.status !== 0) throw new Error(`strace ${argv.join(' ')} exited ${r.status}: ${r.stderr.toString().slice(-300)}`);
    const c = countProcesses(readFileSync(file, 'utf8'));
    const self = path.basename(argv[0]);
    const own = c.byProgram.find(([p]) => p === self);
    if (own) own[1]--;
    return { ...c, execve: c.execve - 1, byProgram: c.byProgram.filter(([, n]) => n > 0) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One line for the bench output. */
export function describeCount(c: ProcessCount): string {
  const top = c.byProgram.slice(0, 8).map(([p, n]) => `${n} ${p}`).join(', ');
  const failed = c.execveFailed ? ` (and ${c.execveFailed} failed execve: PATH lookups, no process)` : '';
  return `${c.execve} execve${failed}, ${c.forks} forks (threads not counted); most started: ${top}`;
}
