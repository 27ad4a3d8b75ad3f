// The local and openssh transports start each command in a process group of
// its own, so that a deadline or a closed session ends the command and
// everything it started (probe commands, a ProxyCommand) at once.

/** SIGKILL to the whole group led by `pid`; a group already gone is no error. */
export function killGroup(pid: number | undefined): void {
  if (!pid) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
}
