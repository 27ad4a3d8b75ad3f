// Secrets for a run: key passphrase, login password, sudo password. Each comes
// from a file only its owner can read, from an environment variable (removed
// from our environment once read, so no child inherits it), or from one prompt
// on the terminal per run; never from an argument, which every user sees in ps.
import { openSync } from 'node:fs';
import { ReadStream, WriteStream } from 'node:tty';
import { read } from 'read';
import { readOwnerOnlyFile } from '../fsutil/secret-file.js';

export class SecretError extends Error {}

export interface SecretSource {
  /** The option naming the file, for messages: --password-file. */
  fileOption: string;
  file?: string;
  env: string;
  /** The option asking on the terminal, and its prompt. */
  askOption?: string;
  ask?: boolean;
  prompt?: string;
}

export async function readSecret(src: SecretSource): Promise<string | undefined> {
  const fromEnv = process.env[src.env];
  delete process.env[src.env];
  const given = [src.file && src.fileOption, src.ask && src.askOption].filter(Boolean);
  if (given.length > 1) throw new SecretError(`${given.join(' and ')} both give the same secret; use one`);
  if (src.file) return readOwnerOnlyFile(src.fileOption, src.file, (m) => new SecretError(m));
  if (src.ask) return askOnTerminal(src.askOption ?? '', src.prompt ?? 'Password: ');
  return fromEnv || undefined;
}

/**
 * One prompt on the controlling terminal, without echo. The terminal, not
 * standard input: `--hosts -` may be reading that, and a pipe cannot hide what
 * is typed.
 */
async function askOnTerminal(option: string, prompt: string): Promise<string> {
  let input: ReadStream;
  let output: WriteStream;
  try {
    // One descriptor per stream: each stream closes its own.
    input = new ReadStream(openSync('/dev/tty', 'r'));
    output = new WriteStream(openSync('/dev/tty', 'w'));
  } catch (err) {
    throw new SecretError(`${option}: no terminal to ask on (${(err as Error).message}); use the file or environment form instead`);
  }
  try {
    const answer = await read({ prompt, silent: true, replace: '', input, output, terminal: true });
    return String(answer);
  } catch (err) {
    throw new SecretError(`${option}: ${(err as Error).message}`);
  } finally {
    input.setRawMode(false);
    input.destroy();
    output.destroy();
  }
}
