// ssh_config files are read only when ssh itself would trust them
// (readconf.c, SSHCONF_CHECKPERM): the file must belong to the user running
// us or to root, and must not be writable by group or others; otherwise ssh
// stops with "Bad owner or permissions on FILE", and so do we, on both
// transports. ssh checks ~/.ssh/config and every Included file, not the system
// /etc/ssh/ssh_config; it does not check a -F file, but a file named on our
// command line reaches a root scan just the same, so we check it too.
// Debian's ssh also lets a group write the file when that group is the
// owner's private one; we keep upstream's rule (stricter, and the same on
// every system). Checked on the open descriptor: the file judged is the file read.
import { closeSync, fstatSync, openSync, readFileSync, constants } from 'node:fs';

/** Why a config file is refused; `message` is ssh's words and the reason. */
export class UntrustedConfigError extends Error {}

/** Why ssh would refuse a file with this owner and mode, or undefined. */
export function configFileProblem(st: { uid: number; mode: number }, uid: number): string | undefined {
  const owner = st.uid !== 0 && st.uid !== uid ? `owned by uid ${st.uid}, neither you (uid ${uid}) nor root` : undefined;
  const writable = (st.mode & 0o022) !== 0 ? `writable by ${[(st.mode & 0o020) && 'group', (st.mode & 0o002) && 'others'].filter(Boolean).join(' and ')} (mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')})` : undefined;
  const why = [owner, writable].filter(Boolean).join(', ');
  return why || undefined;
}

/**
 * The text of a config file, or undefined when it cannot be opened (as ssh:
 * no file, no settings). With `check`, an untrusted file throws.
 */
export function readConfigFileText(path: string, check: boolean, uid = process.getuid?.() ?? 0): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // As ssh: a file it cannot open is no settings. A run as another user whose HOME is root's cannot even look into /root.
    if (code === 'ENOENT' || code === 'EACCES' || code === 'ENOTDIR') return undefined;
    throw err;
  }
  try {
    if (check) {
      const problem = configFileProblem(fstatSync(fd), uid);
      if (problem) throw new UntrustedConfigError(`Bad owner or permissions on ${path}: ${problem}; ssh refuses such a file too (chmod go-w, and chown to yourself)`);
    }
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}
