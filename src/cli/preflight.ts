// Start-up checks: every destination the run will write, and every credential
// or trust file all hosts depend on, is checked before the first connection.
// A mistake here would otherwise fail every host the same way (or, for a
// report in a missing folder, lose the whole night's record at the very end),
// so it is one precise message and exit 1 instead. Problems that concern only
// some hosts (an `identity` column) become those hosts' outcomes, still before
// any connection.
import { constants, type Stats } from 'node:fs';
import { access, readFile, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parsePrivateKey } from '../transport/key-formats.js';
import type { HostKeyPolicy } from '../types.js';


/** A run-wide problem: printed as is, exit 1, nothing scanned. */
export class PreflightError extends Error {}

const statOf = (path: string): Promise<Stats | undefined> => stat(path).catch(() => undefined);
/** stat, or the error's code ('ENOENT', 'EACCES', ...) for the message. */
const statOrCode = (path: string): Promise<Stats | string> => stat(path).catch((err: NodeJS.ErrnoException) => err.code ?? err.message);
const writable = (path: string): Promise<boolean> => access(path, constants.W_OK).then(() => true, () => false);

/** The output folder: it exists, is a folder, and we may create files in it. Returns the absolute path. */
export async function checkOutFolder(dir: string): Promise<string> {
  const abs = resolve(dir);
  const st = await statOrCode(abs);
  if (st === 'ENOENT') throw new PreflightError(`--out ${dir}: the folder does not exist; create it first (mkdir -p ${dir})`);
  if (typeof st === 'string') throw new PreflightError(`--out ${dir}: cannot be reached by this user (${st})`);
  if (!st.isDirectory()) throw new PreflightError(`--out ${dir}: not a folder`);
  if (!(await writable(abs))) throw new PreflightError(`--out ${dir}: the folder is not writable by this user`);
  return abs;
}

/**
 * A file the run writes at its end (--report, --retry-file, --summary): its
 * folder exists and is writable, and the name is not a folder. Checked now so
 * that a typo costs seconds, not the night's record.
 */
export async function checkDestination(option: string, file: string): Promise<void> {
  const abs = resolve(file);
  const folder = dirname(abs);
  const dir = await statOrCode(folder);
  if (dir === 'ENOENT') throw new PreflightError(`${option} ${file}: the folder ${folder} does not exist`);
  if (typeof dir === 'string') throw new PreflightError(`${option} ${file}: the folder ${folder} cannot be reached by this user (${dir})`);
  if (!dir.isDirectory()) throw new PreflightError(`${option} ${file}: ${folder} is not a folder`);
  if (!(await writable(folder))) throw new PreflightError(`${option} ${file}: the folder ${folder} is not writable by this user`);
  const st = await statOf(abs);
  if (st?.isDirectory()) throw new PreflightError(`${option} ${file}: is a folder; give a file name`);
}

/** --report: the format follows the name; `.json` would promise one JSON document, which JSON lines are not. */
export function checkReportName(file: string): void {
  if (/\.json$/i.test(file)) {
    throw new PreflightError(`--report ${file}: a report in JSON is JSON lines (one object per host); name it .jsonl or .ndjson`);
  }
}

/**
 * Why a private key cannot be used, or undefined when it can. As OpenSSH
 * (sshkey_perm_ok), a key of ours that group or others may read is refused:
 * it is no longer private.
 */
export async function identityProblem(file: string, passphrase: string | undefined): Promise<string | undefined> {
  const st = await stat(file).catch((err: NodeJS.ErrnoException) => err);
  if (st instanceof Error) return st.code === 'ENOENT' ? 'does not exist' : `cannot be read: ${st.message}`;
  if (!st.isFile()) return 'not a file';
  if (typeof process.getuid === 'function' && st.uid === process.getuid() && (st.mode & 0o077) !== 0) {
    return `readable by group or others (mode ${(st.mode & 0o777).toString(8)}), so OpenSSH would refuse it too; chmod 600 ${file}`;
  }
  let data: Buffer;
  try {
    data = await readFile(file);
  } catch (err) {
    return `cannot be read: ${(err as Error).message}`;
  }
  const parsed = parsePrivateKey(data, passphrase);
  if (parsed instanceof Error) {
    if (/encrypted/i.test(parsed.message) && !passphrase) {
      return 'is encrypted and no passphrase was given: put it in a file readable only by you and pass --passphrase-file FILE, or set OCTOSCAN_SSH_PASSPHRASE';
    }
    if (/passphrase|decrypt|bad/i.test(parsed.message) && passphrase) return `cannot be decrypted with the passphrase given (${parsed.message})`;
    return `is not a usable private key: ${parsed.message}`;
  }
  return undefined;
}

/** -i files: every host would try them, so a bad one is a run-wide mistake. */
export async function checkIdentities(files: string[], passphrase: string | undefined): Promise<void> {
  for (const file of files) {
    const problem = await identityProblem(file, passphrase);
    if (problem) throw new PreflightError(`-i ${file}: ${problem}`);
  }
}

/**
 * The known_hosts file, as the policy will use it. strict needs it to exist
 * (else every host fails as hostkey-unknown); accept-new needs to be able to
 * write it (or create it); every policy needs to read it when it is there.
 */
export async function checkKnownHosts(file: string, policy: HostKeyPolicy): Promise<void> {
  const st = await statOf(file);
  if (st) {
    if (!st.isFile()) throw new PreflightError(`--known-hosts ${file}: not a file`);
    try {
      await readFile(file);
    } catch (err) {
      throw new PreflightError(`--known-hosts ${file}: cannot be read: ${(err as Error).message}`);
    }
    if (policy === 'accept-new' && !(await writable(file))) {
      throw new PreflightError(`--known-hosts ${file}: not writable by this user, and --host-key-policy accept-new must record new keys in it`);
    }
    return;
  }
  if (policy === 'strict') {
    throw new PreflightError(
      `--known-hosts ${file}: does not exist, so every host would fail as hostkey-unknown; ` +
        `record the hosts' keys first and check their fingerprints (ssh-keyscan HOST >> ${file}; ssh-keygen -lf ${file})`,
    );
  }
  if (policy === 'accept-new') {
    // appendKnownHost creates the file and its folder: the nearest existing folder must be writable.
    let dir = dirname(resolve(file));
    while (!(await statOf(dir)) && dirname(dir) !== dir) dir = dirname(dir);
    if (!(await writable(dir))) {
      throw new PreflightError(`--known-hosts ${file}: does not exist and cannot be created (${dir} is not writable), and --host-key-policy accept-new must record new keys in it`);
    }
  }
}
