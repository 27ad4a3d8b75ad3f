// A secret given as a file (passphrase, password, sudo password, collector
// credentials): never an argument, which every user sees in ps, and, as
// OpenSSH demands of keys, a file only its owner can read.
import { readFile, stat } from 'node:fs/promises';

/**
 * The file's text without its last line end. Every problem becomes
 * `fail(message)`, the message naming the option and the file; callers pass
 * their own error type so that each reaches its own exit path.
 */
export async function readOwnerOnlyFile(option: string, file: string, fail: (message: string) => Error): Promise<string> {
  const st = await stat(file).catch((err: Error) => {
    throw fail(`${option} ${file}: ${err.message}`);
  });
  if (!st.isFile()) throw fail(`${option} ${file}: not a file`);
  if ((st.mode & 0o077) !== 0) {
    throw fail(`${option} ${file}: readable by group or others (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it`);
  }
  const text = await readFile(file, 'utf8');
  return text.replace(/\r?\n$/, '');
}
