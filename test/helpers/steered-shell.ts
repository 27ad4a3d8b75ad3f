// A shell running a probe script with the controller's side of the protocol
// and nothing else: the frame parser, the real Steering (deadlines, "H" after
// R, "K <pid>" lines, end of input after Z) and a per-entry cap. Used by the
// tests that check the script on each shell without an SSH connection.
import { spawn } from 'node:child_process';
import { FrameParser, splitStderr, type SplitStderr } from '../../src/probe/frames.js';
import { Steering, type Killed } from '../../src/scan/steering.js';

export interface Folded {
  type: string;
  probe?: string;
  attempt?: number;
  name?: string;
  mtime?: number;
  mode?: number;
  body?: Buffer;
  rc?: number;
  more?: boolean;
  id?: number;
  message?: string;
  key?: string;
  value?: string;
  reason?: string;
}

export interface SteeredRun {
  /** Records in order, each body folded into its begin record (K, k and R left out). */
  records: Folded[];
  stderr: SplitStderr;
  stderrRaw: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  ms: number;
  killed: Killed[];
  pid: number;
  /** Whether the Z record came. */
  done: boolean;
  parseError?: string;
  /** What the parser said at the end of the stream (no Z, a cut record). */
  endError?: string;
  /** Records and body chunks parsed. */
  frames: number;
  /** Bytes before the first record and after Z. */
  preamble: number;
  trailing: number;
  /** The run was killed at opts.timeoutMs. */
  timedOut: boolean;
}

export interface SteeredOptions {
  /** Bytes an entry may hold: past it, the command writing it is killed (the collector's rule). */
  capOf?: (entry: string) => number | undefined;
  /** Kill the whole run after this long (the test's own deadline). */
  timeoutMs?: number;
  /** Called with each record as it arrives (a test that drops the controller mid-run). */
  onRecord?: (r: Folded, stdin: NodeJS.WritableStream, child: import('node:child_process').ChildProcess) => void;
  /** Do not steer: end standard input right after the script (a script run by hand). */
  unsteered?: boolean;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export async function runSteered(argv: string[], script: string, token: string, opts: SteeredOptions = {}): Promise<SteeredRun> {
  const started = performance.now();
  const child = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], detached: true, env: opts.env, cwd: opts.cwd });
  const stdin = child.stdin!;
  stdin.on('error', () => {});
  let open: Folded | undefined;
  const steering = new Steering((line) => {
    if (stdin.writable && !stdin.writableEnded) stdin.write(line);
  }, () => open?.name);
  const run: SteeredRun = {
    records: [], stderr: { own: '', probes: new Map() }, stderrRaw: '', code: null, signal: null, ms: 0, killed: steering.killed, pid: child.pid!, done: false,
    frames: 0, preamble: 0, trailing: 0, timedOut: false,
  };
  const parser = new FrameParser(token);
  const push = (r: Folded): void => {
    run.records.push(r);
    opts.onRecord?.(r, stdin, child);
  };
  child.stdout!.on('data', (chunk: Buffer) => {
    if (run.parseError) return;
    try {
      for (const f of parser.push(chunk)) {
        run.frames++;
        if (steering.onRecord(f, open !== undefined && over(open))) continue;
        switch (f.type) {
          case 'begin':
            open = { type: 'begin', probe: f.probe, attempt: f.attempt, name: f.name.toString('utf8'), mtime: f.mtime, mode: f.mode, body: Buffer.alloc(0) };
            push(open);
            break;
          case 'data':
            if (open) {
              open.body = Buffer.concat([open.body!, f.chunk]);
              if (over(open)) steering.overCap();
            }
            break;
          case 'end':
            open = undefined;
            push({ type: 'end', rc: f.rc, more: f.more });
            break;
          case 'warning':
            push({ type: 'warning', id: f.id, message: f.message });
            break;
          case 'info':
            push({ type: 'info', key: f.key, value: f.value });
            break;
          case 'skip':
            push({ type: 'skip', probe: f.probe, reason: f.reason });
            break;
          case 'done':
            run.done = true;
            steering.close();
            stdin.end();
            push({ type: 'done' });
            break;
        }
      }
    } catch (err) {
      run.parseError = (err as Error).message;
    }
  });
  const over = (e: Folded): boolean => {
    const cap = e.name !== undefined ? opts.capOf?.(e.name) : undefined;
    return cap !== undefined && e.body!.length > cap;
  };
  const err: Buffer[] = [];
  child.stderr!.on('data', (c: Buffer) => err.push(c));
  stdin.write(script);
  if (opts.unsteered) stdin.end();
  const timer = setTimeout(() => {
    run.timedOut = true;
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
  }, opts.timeoutMs ?? 60_000);
  await new Promise<void>((resolve) => {
    child.on('close', (code, signal) => {
      run.code = code;
      run.signal = signal;
      resolve();
    });
  });
  clearTimeout(timer);
  steering.close();
  run.ms = performance.now() - started;
  try {
    parser.end();
  } catch (err) {
    run.endError = (err as Error).message;
  }
  run.preamble = parser.preambleBytes;
  run.trailing = parser.trailingBytes;
  run.stderrRaw = Buffer.concat(err).toString('utf8');
  run.stderr = splitStderr(run.stderrRaw, token);
  return run;
}
