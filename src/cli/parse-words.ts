// How every subcommand reads its words: commander with exit overridden (the
// process decides its own exit code) and output through the guarded stdio.
import { CommanderError, type Command } from 'commander';
import { err, out } from './stdio.js';

/** Parses `args` with `cmd`; a number is the exit code to return at once (help, version, a usage error). */
export function parseWords(cmd: Command, args: string[]): number | undefined {
  cmd.exitOverride().configureOutput({ writeOut: out, writeErr: err });
  try {
    cmd.parse(args, { from: 'user' });
    return undefined;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 1;
    throw e;
  }
}
