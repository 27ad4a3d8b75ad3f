// How the probe script is started on the target: the plain shell, or as root
// through sudo. sudo is asked first without a password (`sudo -n`); only when
// it answers that one is required and the run was given one does the scan
// start `sudo -S` with a random prompt and write the password once, in answer
// to that prompt. The script itself is sent only after the root shell has
// proved it runs (it prints a marker line), so no script line is ever taken
// for a password and no password is ever read by the shell. When sudo
// refuses, the plain shell follows in the same session: the host keeps the
// archive of what the scan user can read, and the refusal is reported.
import { randomBytes } from 'node:crypto';
import { peerText } from '../text/peer-text.js';
import { scrubLatin1 } from '../text/secret-scrub.js';
import type { RemoteProcess, Session } from '../transport/transport.js';

const GATE_STDERR_MAX = 64 * 1024;

/** No login-shell syntax in these: csh and fish must run them too. */
export const PLAIN_COMMAND = '/bin/sh -s';
export const SUDO_COMMAND = 'sudo -n /bin/sh -s';
/** The form with a password; the prompt is drawn per run, so it cannot be forged by anything the target prints. */
export function sudoPasswordCommand(prompt: string): string {
  return `sudo -S -p ${prompt} /bin/sh -s`;
}
export const SUDO_PROMPT_SHOWN = 'octoscan-sudo-<random>:';

export interface Privilege {
  sudo: boolean;
  /** For sudo -S; from a file, the environment or the terminal, never from argv. */
  sudoPassword?: string;
  /** How long sudo may take to answer (it may wait for PAM, LDAP, a slow disk). */
  answerMs: number;
  /**
   * The probe script: its standard input stays open after it for the
   * controller's steering lines (src/scan/steering.ts). Anything else (the
   * container listing) gets the end of its input after the script.
   */
  steered?: boolean;
}

export interface Started {
  proc: RemoteProcess;
  /** The command that runs the script. */
  command: string;
  /** sudo's own words when it refused (the script then runs unprivileged). */
  refused?: string;
}

/** Starts the probe script on the session, with sudo when asked for. */
export async function startScript(session: Session, script: string, p: Privilege): Promise<Started> {
  const send = (proc: RemoteProcess): void => {
    if (p.steered) proc.stdin.write(script);
    else proc.stdin.end(script);
  };
  if (p.sudo) {
    let r = await trySudo(session, SUDO_COMMAND, undefined, p.answerMs);
    if ('proc' in r) {
      send(r.proc);
      return { proc: r.proc, command: SUDO_COMMAND };
    }
    if (p.sudoPassword !== undefined && /password is required/i.test(r.refused)) {
      const prompt = `octoscan-sudo-${randomBytes(12).toString('hex')}:`;
      r = await trySudo(session, sudoPasswordCommand(prompt), { prompt, password: p.sudoPassword }, p.answerMs);
      if ('proc' in r) {
        send(r.proc);
        return { proc: r.proc, command: sudoPasswordCommand(SUDO_PROMPT_SHOWN) };
      }
    }
    const proc = await session.start(PLAIN_COMMAND);
    send(proc);
    return { proc, command: PLAIN_COMMAND, refused: r.refused };
  }
  const proc = await session.start(PLAIN_COMMAND);
  send(proc);
  return { proc, command: PLAIN_COMMAND };
}

/** `stopped`: the refused process, for a caller that must end it (a shell that never answered). */
/** `stdout`: what came before the marker (an engine may say why its shell did not start there: docker does). */
export type Verified = { proc: RemoteProcess } | { refused: string; stderr: string; stdout: string; code: number | null; stopped: RemoteProcess };

/**
 * Starts a sudo command and waits until either the root shell printed the
 * marker (then the caller sends the script) or sudo gave up (its message).
 * Also used for a shell in a container (src/containers/), sudo or not: the
 * marker proves that the shell there runs before the script is sent.
 */
export async function trySudo(
  session: Session,
  command: string,
  ask: { prompt: string; password: string } | undefined,
  answerMs: number,
): Promise<Verified> {
  const proc = await session.start(command);
  const marker = `octoscan-root-${randomBytes(12).toString('hex')}`;
  const line = markerLine(marker);
  let stderr = '';
  let stdout = '';
  let prompts = 0;
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (v: { proc: RemoteProcess } | { refused: string }, code: number | null = null): void => {
      if (settled) return;
      settled = true;
      // A connection that failed (openssh: ssh exited 255) is not sudo's refusal.
      const failed = 'refused' in v ? session.failure?.() : undefined;
      if (failed) {
        clearTimeout(timer);
        return reject(failed);
      }
      clearTimeout(timer);
      proc.stdout.off('data', onOut);
      proc.stderr.off('data', onErr);
      // Not paused: nothing more arrives until the script is sent, and a paused
      // stream would not restart for the 'data' listeners that read it next.
      if ('refused' in v) {
        proc.stdin.destroy();
        // An echoing sudo may have written the password back: never a byte of it in what we keep.
        return resolve({ ...v, stderr: scrubLatin1(stderr), stdout: scrubLatin1(stdout).slice(0, 4096), code, stopped: proc });
      }
      resolve(v);
    };
    const onOut = (chunk: Buffer): void => {
      stdout += chunk.toString('latin1');
      const nl = stdout.indexOf('\n');
      if (nl < 0) {
        if (stdout.length > 4096) finish({ refused: `unexpected output before the root shell started: ${peerText(scrubLatin1(stdout).slice(0, 200), 200)}` });
        return;
      }
      if (stdout.slice(0, nl) === marker) {
        // Nothing else can follow yet: the script has not been sent.
        const rest = stdout.slice(nl + 1);
        if (rest) proc.stdout.unshift(Buffer.from(rest, 'latin1'));
        finish({ proc });
      } else {
        finish({ refused: `unexpected output before the root shell started: ${peerText(scrubLatin1(stdout.slice(0, nl)), 200)}` });
      }
    };
    const onErr = (chunk: Buffer): void => {
      stderr += chunk.toString('latin1');
      // sudo says a line or two; a peer that floods here is not given our memory.
      if (stderr.length > GATE_STDERR_MAX) return finish({ refused: `more than ${GATE_STDERR_MAX} bytes on standard error before the root shell started: ${sudoSays(scrubLatin1(stderr).slice(0, 2000), ask?.prompt, null)}` });
      if (!ask) return;
      const seen = stderr.split(ask.prompt).length - 1;
      if (seen > prompts) {
        prompts = seen;
        if (prompts === 1) {
          // Once: sudo reads the password line byte by byte, so the marker line stays for the shell.
          proc.stdin.write(`${ask.password}\n`);
          proc.stdin.write(line);
        } else {
          // Asked again: the password was wrong. End its input; it says so and exits.
          proc.stdin.end();
        }
      }
    };
    proc.stdout.on('data', onOut);
    proc.stderr.on('data', onErr);
    const timer = setTimeout(() => finish({ refused: `sudo did not answer within ${Math.round(answerMs / 1000)} s` }), answerMs);
    // The connection (or the ssh process) holds the run open while sudo is asked, not this timer.
    timer.unref();
    // With -n there is no prompt: the marker is harmless if sudo refuses (never read), and run as root if not.
    if (!ask) proc.stdin.write(line);
    void proc.exit.then((x) => {
      // Let the last stderr bytes in before quoting sudo.
      setImmediate(() => finish({ refused: sudoSays(stderr, ask?.prompt, x.code) }, x.code));
    });
  });
}

/** The first line the root shell gets; printf, not echo: the same on every sh. It runs only if sudo let it through. */
export function markerLine(marker: string): string {
  return `printf '%s\\n' ${marker}\n`;
}

/** sudo's own message, without its prompts and lecture. */
export function sudoSays(stderr: string, prompt: string | undefined, code: number | null): string {
  let text = scrubLatin1(stderr);
  if (prompt) text = text.split(prompt).join('\n');
  const lines = [...new Set(text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean))];
  const own = lines.filter((l) => /^sudo:/i.test(l));
  // After a wrong password sudo also says "no password was provided" for the attempt we did not make.
  const wrong = own.filter((l) => /incorrect password attempt/i.test(l));
  const picked = wrong.length ? wrong : own.length ? own : lines.filter((l) => /^sorry/i.test(l)).length ? lines.filter((l) => /^sorry/i.test(l)) : lines.slice(-2);
  const said = picked.join('; ');
  return said ? peerText(said, 500) : `sudo exited with ${code === null ? 'no status' : `code ${code}`} and no message`;
}
