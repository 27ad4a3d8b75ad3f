// Who runs the scanner, also when the uid has no passwd entry: a container
// started with --user <uid>, OpenShift's random uid, systemd's DynamicUser=yes,
// a directory service that is down. os.userInfo() throws there (ENOENT from
// getpwuid_r), and os.homedir() does too when HOME is not set either.
import { homedir, userInfo } from 'node:os';

export interface LocalAccount {
  /** Login name: the passwd entry's, else $USER, else uid<N>. */
  name: string;
  /** -1 where there are no uids (Windows). */
  uid: number;
  /** $HOME, else the passwd entry's home, else / (what login and Docker use). */
  home: string;
  /** Whether the system knows the uid (the system ssh refuses to start without it). */
  known: boolean;
}

export function localAccount(env: NodeJS.ProcessEnv = process.env): LocalAccount {
  const uid = process.getuid?.() ?? -1;
  let entry: { username: string; homedir: string } | undefined;
  try {
    entry = userInfo();
  } catch {
    entry = undefined;
  }
  let home: string;
  try {
    home = homedir();
  } catch {
    home = '/';
  }
  return { name: entry?.username || env.USER || `uid${uid}`, uid, home, known: entry !== undefined };
}
