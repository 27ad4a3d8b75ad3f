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

/**
 * An ssh_config value on the command line: ssh expands %-tokens in file
 * names and splits unquoted values on blanks, so a path is escaped for both.
 */
export function configPath(path: string): string {
  if (path.includes('"')) throw new ScanError('internal', 'connect', `cannot pass a path holding a double quote to ssh: ${JSON.stringify(path)}`);
  const p = path.replace(/%/g, '%%');
  return /\s/.test(p) ? `"${p}"` : p;
}

/** ssh's arguments for one host and one remote command (a fixed command of privilege.ts). */
export function sshArgs(spec: HostSpec, opts: Pick<ConnectOptions, 'connectTimeoutMs' | 'keepaliveIntervalMs' | 'keepaliveCountMax' | 'knownHostsFiles' | 'hostKeyPolicy' | 'sshConfig'>, command: string): string[] {
  const args = [
    // The same ssh_config the run read (-F FILE or none); by default ssh reads its own.
    ...(opts.sshConfig ? ['-F', opts.sshConfig] : []),
    '-T',
    '-o', 'BatchMode=yes',
    '-o', `ConnectTimeout=${Math.max(1, Math.ceil(opts.connectTimeoutMs / 1000))}`,
    '-o', `ServerAliveInterval=${Math.max(1, Math.round(opts.keepaliveIntervalMs / 1000))}`,
    '-o', `ServerAliveCountMax=${opts.keepaliveCountMax}`,
    '-o', `StrictHostKeyChecking=${STRICT[opts.hostKeyPolicy]}`,
    // off: nothing verified and nothing recorded (as with the ssh2 transport).
    '-o', `UserKnownHostsFile=${opts.hostKeyPolicy === 'off' ? '/dev/null' : opts.knownHostsFiles.map(configPath).join(' ')}`,
    '-o', 'LogLevel=ERROR', // no banners or "Warning: Permanently added" in what we classify
    '-p', String(spec.port),
    '-l', spec.user,
  ];
  for (const id of spec.identities) args.push('-i', configPath(id));
  if (spec.identitiesOnly) args.push('-o', 'IdentitiesOnly=yes');
  // ssh checks every hop's host key with the same options, as the ssh2 transport does.
  if (spec.jump) args.push('-J', spec.jump);
  if (spec.identityAgent !== undefined) args.push('-o', `IdentityAgent=${spec.identityAgent === 'none' ? 'none' : configPath(spec.identityAgent)}`);
  // `--` so that nothing after it is taken for an option; the command is ours, fixed words only.
  // The name as typed, so that ssh applies its own config (ProxyCommand, certificates, ...) to it.
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
    if (opts.hostKeyPolicy === 'off') opts.warn(`WARNING: ${where}: host key not verified (--host-key-policy off)`);
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
