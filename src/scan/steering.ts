// The controller's side of a command's deadline and cap. The probe script
// announces each command it starts (K <pid> <seconds>) and its end (k <pid>);
// this arms a timer per announced command and, when one passes its deadline
// or its entry passes its cap, writes "K <pid>" on the script's standard
// input, where the script's reader (_steer in targets/prelude.sh) kills it.
// The target thus needs no watchdog process and no head per command; a
// controller that goes away ends the scan there (end of input, or the
// target's backstop).
import { FrameError, type Frame } from '../probe/frames.js';

/** Commands announced and not yet ended, at most: the script runs one at a time, a pipeline two or three. */
export const MAX_ARMED = 64;
/** Commands killed per scan, at most: a few dozen commands run at all; a target past this is not running our script. */
export const MAX_KILLS = 1000;

export interface Killed {
  pid: number;
  why: 'deadline' | 'cap';
  /** The deadline it had, for a deadline kill. */
  seconds?: number;
  /** The entry it was writing, when one was open. */
  entry?: string;
}

export class Steering {
  private ready = false;
  private closed = false;
  private readonly armed = new Map<number, { timer: NodeJS.Timeout; seconds: number }>();
  private readonly sent = new Set<number>();
  /** What was killed and why, for scan.json; bounded by the records that announce them. */
  readonly killed: Killed[] = [];

  /** `write`: to the script's standard input; `entry`: the entry being written now, if any. */
  constructor(
    private readonly write: (line: string) => void,
    private readonly entry: () => string | undefined = () => undefined,
  ) {}

  /**
   * Takes the steering records (R, K, k); false for any other frame.
   * `overCap`: the entry being written is past its cap already (its bytes
   * can arrive before the record announcing the command that writes them).
   */
  onRecord(frame: Frame, overCap: boolean): boolean {
    switch (frame.type) {
      case 'ready':
        this.onReady();
        return true;
      case 'started':
        this.onStarted(frame.pid, frame.seconds);
        if (overCap) this.overCap();
        return true;
      case 'ended':
        this.onEnded(frame.pid);
        return true;
      default:
        return false;
    }
  }

  /** R: the script is read, its reader runs; from now on a line reaches it. */
  onReady(): void {
    if (this.ready || this.closed) return;
    this.ready = true;
    this.write('H\n');
  }

  onStarted(pid: number, seconds: number): void {
    if (this.closed) return;
    this.clear(pid);
    if (this.armed.size >= MAX_ARMED) throw new FrameError(`more than ${MAX_ARMED} commands running at once: our script runs one at a time`);
    const timer = setTimeout(() => this.kill(pid, 'deadline', seconds), seconds * 1000);
    // The host's own deadline keeps the run going while a scan is under way; a timer left over must not.
    timer.unref();
    this.armed.set(pid, { timer, seconds });
  }

  onEnded(pid: number): void {
    this.clear(pid);
  }

  /** The open entry passed its cap (or the host's): the newest command still running is the one writing it. */
  overCap(): void {
    let newest: number | undefined;
    for (const pid of this.armed.keys()) newest = pid;
    if (newest !== undefined) this.kill(newest, 'cap');
  }

  /** The script ended or the scan is over: no more lines, no timers left. */
  close(): void {
    this.closed = true;
    for (const pid of [...this.armed.keys()]) this.clear(pid);
  }

  private clear(pid: number): void {
    const a = this.armed.get(pid);
    if (!a) return;
    clearTimeout(a.timer);
    this.armed.delete(pid);
  }

  private kill(pid: number, why: Killed['why'], seconds?: number): void {
    const a = this.armed.get(pid);
    if (!a) return;
    // It stays announced until its k record: the newest command is still the one writing the entry.
    clearTimeout(a.timer);
    // Before R nothing reads our lines (the shell may still be reading its script): the host's deadline covers that time.
    if (!this.ready || this.closed || this.sent.has(pid)) return;
    if (this.sent.size >= MAX_KILLS) throw new FrameError(`more than ${MAX_KILLS} commands past their deadline or cap: our script runs a few dozen`);
    this.sent.add(pid);
    this.write(`K ${pid}\n`);
    const entry = this.entry();
    this.killed.push({ pid, why, ...(seconds !== undefined ? { seconds } : {}), ...(entry !== undefined ? { entry } : {}) });
  }
}
