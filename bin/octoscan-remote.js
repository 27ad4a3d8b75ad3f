#!/usr/bin/env node
// Entry point: the compiled CLI in dist/ (npm run build).
import { main } from '../dist/src/cli/main.js';
import { errSync } from '../dist/src/cli/stdio.js';

// Once main() is done, everything is written and every host has ended. The
// process then exits by itself; should anything still hold the event loop
// (a bug, or a peer finding a way we did not foresee), this last resort says
// what and leaves. unref(): the timer itself keeps nothing alive.
const EXIT_GRACE_MS = 3000;

let settled = false;
// Node leaves when nothing holds its event loop, even while main() still waits
// on a promise that can no longer settle. That must never look like success
// (exit 0, no report): it is a bug, and it says so.
process.on('beforeExit', () => {
  if (settled) return;
  settled = true;
  errSync('octoscan-remote: internal error: the run stopped making progress before it finished (no report was written)\n');
  process.exitCode = 70;
});

main(process.argv).then(
  (code) => {
    settled = true;
    process.exitCode = code;
    setTimeout(() => {
      const left = process.getActiveResourcesInfo().filter((r) => r !== 'Timeout');
      errSync(`octoscan-remote: internal error: still running ${EXIT_GRACE_MS / 1000} s after the run ended (open: ${left.join(', ') || 'unknown'}); exiting\n`);
      process.exit(code);
    }, EXIT_GRACE_MS).unref();
  },
  (err) => {
    settled = true;
    errSync(`octoscan-remote: internal error: ${err && err.stack ? err.stack : err}\n`);
    process.exitCode = 1;
  },
);
