#!/usr/bin/env node
// Entry point: the compiled CLI in dist/ (npm run build).
import { main } from '../dist/src/cli/main.js';

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`octoscan-remote: internal error: ${err && err.stack ? err.stack : err}\n`);
    process.exitCode = 1;
  },
);
