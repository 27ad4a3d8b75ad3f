// Standard output and standard error may close under us: `| head -1`, a
// terminal that went away, a log pipe whose reader died. That must stop only
// the printing. The scan, the archives, the report and the exit code go on, so
// each stream gets an error listener for the life of the process, and once a
// stream has failed we stop writing to it.
import { writeSync } from 'node:fs';
import { scrubText } from '../text/secret-scrub.js';

const broken = new Set<NodeJS.WriteStream>();
let guarded = false;

export function guardStdio(): void {
  if (guarded) return;
  guarded = true;
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', () => {
      broken.add(stream);
    });
  }
}

function write(stream: NodeJS.WriteStream, text: string): void {
  if (broken.has(stream) || stream.destroyed) return;
  try {
    // The last net under every line we print: no secret of the run, whatever path it came by.
    stream.write(scrubText(text));
  } catch {
    broken.add(stream);
  }
}

export const out = (text: string): void => write(process.stdout, text);
export const err = (text: string): void => write(process.stderr, text);

/** For the last words before process.exit(): nothing queued is lost, and a closed stderr is no crash. */
export function errSync(text: string): void {
  try {
    writeSync(2, text);
  } catch {
    /* nobody is listening */
  }
}
