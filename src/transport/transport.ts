// What the scan needs from a transport: run one script, hand back its output
// streams and exit status. Everything after this interface (collector,
// archive) is the same for SSH and for --local, so both give the same archive.
import type { Readable, Writable } from 'node:stream';
import type { ScanError } from '../errors.js';
import type { HostKeyPolicy, HostSpec, Phase } from '../types.js';

export interface RemoteProcess {
  /** The command's standard input: the script, and for sudo -S the password first. */
  stdin: Writable;
  stdout: Readable;
  stderr: Readable;
  /** code is null when the channel closed without an exit status (killed, dropped). */
  exit: Promise<{ code: number | null; signal?: string }>;
  /**
   * Ends this one command and leaves the session open (a container's shell
   * that overran its deadline, while the host's other containers go on).
   */
  kill(): void;
}

export interface Session {
  /**
   * Starts one of the fixed commands of src/scan/privilege.ts (`/bin/sh -s` or a
   * sudo form of it; words of [A-Za-z0-9/_.:-] only, never user input); the
   * caller writes its standard input. A session may start more than one (sudo
   * refused: the plain shell follows).
   */
  start(command: string): Promise<RemoteProcess>;
  /**
   * A connection failure learnt only once a command ended (the openssh
   * transport: ssh exits 255), classified like the ssh2 transport's.
   */
  failure?(): ScanError | undefined;
  /** Why the connection went away, in the peer's words (escaped), when it did. */
  lostReason?(): string | undefined;
  /** Tears everything down at once; safe to call more than once. */
  close(): void;
  /** What the transport learnt about the peer (server version, algorithms), for scan.json. */
  readonly info: Record<string, string>;
}

export interface ConnectOptions {
  connectTimeoutMs: number;
  authTimeoutMs: number;
  keepaliveIntervalMs: number;
  keepaliveCountMax: number;
  knownHostsFiles: string[];
  /** Where accept-new records new keys: the first known_hosts file. */
  knownHostsWriteFile: string;
  hostKeyPolicy: HostKeyPolicy;
  /** SSH agent socket, normally $SSH_AUTH_SOCK. */
  agent?: string;
  /** Passphrase for encrypted identity files, from a file or the environment, never from argv. */
  passphrase?: string;
  /** -F as given (a file or 'none'), for the openssh transport: ssh reads the same config the run did. */
  sshConfig?: string;
  /** Channels open at once through one bastion (--jump-channels). */
  jumpChannels?: number;
  /** Login password (password and keyboard-interactive), from a file, the environment or the terminal. */
  password?: string;
  /** Aborted when the host deadline passes or the run is interrupted. */
  signal: AbortSignal;
  /** Called as the connection moves on, so a deadline can name the phase. */
  onPhase: (phase: Phase) => void;
  /** Diagnostics for standard error (host-key warnings under --host-key-policy off). */
  warn: (message: string) => void;
}

export interface Transport {
  readonly name: 'ssh2' | 'openssh' | 'local';
  connect(spec: HostSpec, opts: ConnectOptions): Promise<Session>;
}

/**
 * The run's connect options with what ssh_config resolved for this host on top
 * (src/hosts/resolve.ts already applied the precedence: a value typed on the
 * command line is never overridden here). Both transports use it.
 */
export function effectiveConnectOptions(spec: HostSpec, opts: ConnectOptions): ConnectOptions {
  return {
    ...opts,
    connectTimeoutMs: spec.connectTimeoutMs ?? opts.connectTimeoutMs,
    keepaliveIntervalMs: spec.keepaliveIntervalMs ?? opts.keepaliveIntervalMs,
    keepaliveCountMax: spec.keepaliveCountMax ?? opts.keepaliveCountMax,
    knownHostsFiles: spec.knownHostsFiles ?? opts.knownHostsFiles,
    knownHostsWriteFile: spec.knownHostsWriteFile ?? opts.knownHostsWriteFile,
    hostKeyPolicy: spec.hostKeyPolicy ?? opts.hostKeyPolicy,
  };
}
