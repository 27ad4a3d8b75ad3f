// --transport openssh: the same script through the system `ssh` client, so
// whatever the admin's OpenSSH can do (Kerberos, smartcards and FIDO keys,
// certificates, ProxyCommand, ControlMaster, the whole ssh_config) reaches the
// target. ssh gives us no phases, only an exit status and its messages: exit
// 255 with its own words on standard error is mapped onto the same classes the
// ssh2 transport reports. BatchMode: ssh never prompts (no password, no
// passphrase, no host-key question); a password is never put on its arguments.
import { spawn } from 'node:child_process';
import { dnsError, protocolError, ScanError, timeoutError } from '../errors.js';
import { peerText } from '../text/peer-text.js';
import type { HostKeyPolicy, HostSpec } from '../types.js';
import { displayTarget } from './ssh2-transport.js';
import { effectiveConnectOptions, type ConnectOptions, type RemoteProcess, type Session, type Transport } from './transport.js';
import { killGroup } from './process-group.js';

export const SSH_PROGRAM = 'ssh';

const STRICT: Record<HostKeyPolicy, string> = { strict: 'yes', 'accept-new': 'accept-new', off: 'no' };

/** Why a file name cannot reach ssh as written, or undefined. */
export function sshPathProblem(path: string): string | undefined {
  // ssh expands ${VAR} in file names (misc.c dollar_expand) and has no escape for it.
  if (path.includes('${')) return `${JSON.stringify(path)}: ssh would expand "\${...}" in it as an environment variable, and has no way to escape that; rename the file or use --transport ssh2`;
  return undefined;
}

/** ssh expands a leading ~ and %-tokens in file names; `./~x` is the same file as `~x`, and %% is %. */
function literalPath(path: string): string {
  const problem = sshPathProblem(path);
  if (problem) throw new ScanError('internal', 'connect', `cannot pass ${problem}`);
  return (path.startsWith('~') ? `./${path}` : path).replace(/%/g, '%%');
}

/** A file name for -i, which reaches ssh as one argument: only ~ and % need care. */
export function identityArg(path: string): string {
  return literalPath(path);
}

/**
 * A file name as an ssh_config value (-o Keyword=value): ssh also splits it
 * on blanks and takes quotes and backslashes as its own (misc.c argv_split),
 * so it goes in double quotes with " and \ escaped.
 */
export function configPath(path: string): string {
  return `"${literalPath(path).replace(/[\\"]/g, '\\$&')}"`;
}

/**
 * ssh's arguments for one host and one remote command (a fixed command of
 * privilege.ts). Only what the user typed (spec.typed: options and hosts-file
 * cells) goes on them: ssh reads its own ssh_config, Match exec included,
 * which we cannot evaluate, and a value we derived from it would override the
 * file (command-line values come first). So neither our reading of the file
 * nor our defaults (port 22, the local user, --host-key-policy strict) can
 * change a user, a port or a host-key setting the file gives.
 */
export function sshArgs(spec: HostSpec, opts: Pick<ConnectOptions, 'sshConfig'>, command: string): string[] {
  const t = spec.typed ?? { identities: [] };
  const args = [
    // The same ssh_config the run read (-F FILE or none); by default ssh reads its own.
    ...(opts.sshConfig ? ['-F', opts.sshConfig] : []),
    '-T',
    '-o', 'BatchMode=yes', // never a prompt: an unknown host key fails, as with StrictHostKeyChecking yes
    '-o', 'LogLevel=ERROR', // no banners or "Warning: Permanently added" in what we classify
  ];
  if (t.connectTimeoutMs !== undefined) args.push('-o', `ConnectTimeout=${Math.max(1, Math.ceil(t.connectTimeoutMs / 1000))}`);
  // --keepalive S means S seconds and 3 unanswered keepalives.
  if (t.keepaliveIntervalMs !== undefined) args.push('-o', `ServerAliveInterval=${Math.max(1, Math.round(t.keepaliveIntervalMs / 1000))}`, '-o', 'ServerAliveCountMax=3');
  if (t.hostKeyPolicy !== undefined) args.push('-o', `StrictHostKeyChecking=${STRICT[t.hostKeyPolicy]}`);
  // off: nothing verified and nothing recorded (as with the ssh2 transport).
  if (t.hostKeyPolicy === 'off') args.push('-o', 'UserKnownHostsFile=/dev/null');
  else if (t.knownHosts !== undefined) args.push('-o', `UserKnownHostsFile=${configPath(t.knownHosts)}`);
  if (t.port !== undefined) args.push('-p', String(t.port));
  if (t.user !== undefined) args.push('-l', t.user);
  for (const id of t.identities) args.push('-i', identityArg(id));
  // ssh checks every hop's host key with the same options; 'none' turns off a ProxyJump of the file.
  if (t.jump !== undefined) args.push('-J', t.jump);
  // `--` so that nothing after it is taken for an option; the command is ours, fixed words only.
  // The name as typed, so that ssh applies its own config (HostName, ProxyCommand, certificates, ...) to it.
  args.push('--', spec.alias ?? spec.host, command);
  return args;
}

/** What ssh's own message (exit 255) means, as the ssh2 transport would have classified it. */
export function classifySshFailure(where: string, host: string, stderr: string, connectSeconds: number): ScanError {
  const lines = stderr.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  const said = peerText(lines.slice(-3).join('; ') || 'ssh exited with status 255 and no message', 500);
  const has = (re: RegExp): boolean => re.test(stderr);
  // After login: the messages ssh prints for a session that was running.
  if (has(/not responding/i)) return new ScanError('timeout', 'stream', `${where}: keepalive deadline passed during stream (ssh: ${said})`);
  if (has(/client_loop|closed by remote host|Read from remote host|Write failed/i)) return protocolError(where, 'stream', `connection lost (ssh: ${said})`);
  if (has(/Could not resolve hostname/i)) {
    const temporary = has(/Temporary failure|try again/i);
    return dnsError(host, Object.assign(new Error(said), { code: temporary ? 'EAI_AGAIN' : 'ENOTFOUND' }));
  }
  if (has(/REMOTE HOST IDENTIFICATION HAS CHANGED|REVOKED HOST KEY|Host key for .* has changed/i)) {
    return new ScanError('hostkey-changed', 'handshake', `${where}: host key changed or revoked (ssh: ${said})`);
  }
  if (has(/Host key verification failed|No \S+ host key is known/i)) {
    return new ScanError('hostkey-unknown', 'handshake', `${where}: host key unknown (ssh: ${said})`);
  }
  if (has(/Permission denied \(|Too many authentication failures|no more authentication methods/i)) {
    return new ScanError('auth', 'auth', `${where}: authentication failed for the user; tried what ssh and its configuration offer (ssh: ${said})`);
  }
  if (has(/timed out during banner exchange/i)) return timeoutError(where, 'handshake', connectSeconds, 'connect');
  if (has(/Connection timed out|Operation timed out/i)) return timeoutError(where, 'connect', connectSeconds, 'connect');
  if (has(/Connection refused/i)) return new ScanError('unreachable', 'connect', `${where}: connection refused (ssh: ${said})`, true);
  if (has(/No route to host|Network is unreachable|Host is down|Cannot assign requested address/i)) {
    return new ScanError('unreachable', 'connect', `${where}: unreachable (ssh: ${said})`, true);
  }
  if (has(/Connection reset|Connection closed by|kex_exchange_identification/i)) {
    return new ScanError('unreachable', 'handshake', `${where}: connection closed before login (ssh: ${said})`, true);
  }
  return protocolError(where, 'handshake', `ssh failed: ${said}`);
}

const STDERR_TAIL = 16 * 1024;

export const opensshTransport: Transport = {
  name: 'openssh',
  async connect(spec: HostSpec, runOpts: ConnectOptions): Promise<Session> {
    const opts = effectiveConnectOptions(spec, runOpts);
    const where = displayTarget(spec);
    // ssh does name lookup, connect, key exchange and login in one go; it is all "connect" to us.
    opts.onPhase('connect');
    // Only when typed: otherwise whatever ssh_config says about host keys holds, and ssh checks it.
    if (spec.typed?.hostKeyPolicy === 'off') opts.warn(`WARNING: ${where}: host key not verified (--host-key-policy off)`);
    const groups = new Set<number>();
    let failure: ScanError | undefined;
    return {
      info: { transport: 'openssh', program: SSH_PROGRAM },
      async start(command: string): Promise<RemoteProcess> {
        // Its own process group: a deadline kills ssh and anything it started (ProxyCommand).
        const child = spawn(SSH_PROGRAM, sshArgs(spec, opts, command), { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
        if (child.pid) groups.add(child.pid);
        child.stdin.on('error', () => {});
        child.stdout.on('error', () => {});
        child.stderr.on('error', () => {});
        let tail = '';
        child.stderr.on('data', (c: Buffer) => {
          tail = (tail + c.toString('utf8')).slice(-STDERR_TAIL);
        });
        const exit = new Promise<{ code: number | null; signal?: string }>((resolve) => {
          child.on('close', (code, signal) => {
            if (child.pid) groups.delete(child.pid);
            // 255 is ssh's own failure; the script itself never exits with it.
            if (code === 255) failure ??= classifySshFailure(where, spec.host, tail, opts.connectTimeoutMs / 1000);
            resolve({ code, signal: signal ?? undefined });
          });
          child.on('error', (err) => {
            failure ??= new ScanError('internal', 'connect', `${where}: cannot run ${SSH_PROGRAM}: ${err.message}`);
            resolve({ code: null });
          });
        });
        const kill = (): void => killGroup(child.pid);
        return { stdin: child.stdin, stdout: child.stdout, stderr: child.stderr, exit, kill };
      },
      failure: () => failure,
      lostReason: () => failure?.message,
      close(): void {
        for (const pid of groups) killGroup(pid);
        groups.clear();
      },
    };
  },
};
