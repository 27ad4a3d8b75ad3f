// Central value types handed from one stage to the next. Every stage takes and
// returns plain values; a host that fails is a HostOutcome, never an exception.
import type { Completeness } from './scan/completeness.js';

export type HostKeyPolicy = 'strict' | 'accept-new' | 'off';

/** Where a host came from, so an error can name file, line and column. */
export interface HostOrigin {
  file: string; // '<args>' for command-line hosts, '-' for standard input
  line: number; // 1-based; 0 for command-line hosts
}

/** Where and how to connect to one host. */
export interface HostSpec {
  host: string; // name, IPv4 or IPv6 (without brackets)
  port: number;
  user: string;
  identities: string[]; // private key files, tried in order after the agent
  /** The ProxyJump chain as given (`[user@]host[:port],...`), kept for the retry file. */
  jump?: string;
  /** The bastions to go through, first hop first, each resolved like a target. */
  jumpHosts?: HostSpec[];
  /** The name given, when ssh_config's HostName replaced it in `host`. */
  alias?: string;
  /**
   * The host's name where it is not what was typed as the address: the
   * inventory name (ansible_host is `host`), or the hosts-file column `name`.
   * The report's `host`, the log lines and the summary show hostName(spec).
   */
  name?: string;
  /** Hosts-file columns the program does not know, as read: carried into the report as columns. */
  labels?: Record<string, string>;
  /** The transport for this host (hosts-file column `transport`); else --transport. */
  transport?: 'ssh2' | 'openssh';
  /** What was typed for this host (set by resolve.ts): all that --transport openssh passes to ssh. */
  typed?: TypedSettings;
  // From ssh_config (the transports read no configuration themselves).
  identityAgent?: string; // agent socket; 'none' means no agent
  identitiesOnly?: boolean;
  passwordAuthentication?: boolean;
  kbdInteractiveAuthentication?: boolean;
  knownHostsFiles?: string[];
  /** Where accept-new records a new key: the first user known_hosts file. */
  knownHostsWriteFile?: string;
  /** ssh_config HashKnownHosts yes: accept-new writes the host name hashed, as ssh does. */
  hashKnownHosts?: boolean;
  hostKeyPolicy?: HostKeyPolicy;
  connectTimeoutMs?: number;
  keepaliveIntervalMs?: number;
  keepaliveCountMax?: number;
  /** Algorithm lists offered, already resolved (defaults, legacy opt-in, ssh_config +/-/^). */
  algorithms?: Algorithms;
  /** AddressFamily inet / inet6: the address family looked up. */
  addressFamily?: 4 | 6;
  /** Why the ssh2 transport must not connect (an ssh_config keyword it cannot honour). */
  unsupported?: string;
  /** Run the probe script as root through sudo (--sudo, hosts-file column `sudo`). */
  sudo?: boolean;
  tag: string; // free text copied into octoscan.xml configuration/tag
  /** octoscan.xml configuration values (spec section 2), only when given: hosts-file columns or options. */
  config?: HostConfig;
  /** After the host, scan each running container (--containers, hosts-file column `containers`). */
  containers?: boolean;
  origin: HostOrigin;
  /** The input row as read, for the retry file (column name -> raw value). */
  row?: Record<string, string>;
}

/**
 * The settings of one host that the user typed (command-line options,
 * hosts-file cells), as opposed to those ssh_config gave. The system ssh
 * reads its own configuration (Match exec included), so --transport openssh
 * hands it these and nothing we derived.
 */
export interface TypedSettings {
  user?: string;
  port?: number;
  /** -i files, or the row's identity cell. */
  identities: string[];
  /** -J or the jump cell ('none' included). */
  jump?: string;
  hostKeyPolicy?: HostKeyPolicy;
  knownHosts?: string;
  connectTimeoutMs?: number;
  keepaliveIntervalMs?: number;
}

export interface Algorithms {
  serverHostKey: string[];
  kex: string[];
  cipher: string[];
  hmac: string[];
  /** Signature algorithms accepted for user keys (PubkeyAcceptedAlgorithms). */
  pubkey: string[];
}

/** The optional configuration values of octoscan.xml, in the spec's order (section 2). */
export interface HostConfig {
  machine?: string;
  host?: string;
  cluster?: string;
  virt?: string;
}

/** A running container found on a host (engine listing), scanned over the host's connection. */
export interface ContainerInfo {
  engine: 'docker' | 'podman' | 'crictl';
  id: string; // lowercase hex, checked before it reaches a command
  name: string; // peer text
  image: string; // peer text
  /** Kubernetes pod name (CRI label io.kubernetes.pod.name), when the engine says. */
  pod?: string;
  /** The engine's state when not running (paused, restarting, exited...): such a container is not entered. */
  state?: string;
}

/** What the report keeps of an archive's contents. */
export interface ArchiveFacts {
  /** linux or macos */
  osFamily: string;
  /** Distribution name (Debian GNU/Linux, Alpine Linux, macOS) */
  osName: string;
  osVersion: string;
  /** Java homes: `home (version, vendor)`. */
  java: string[];
}

/** Each host ends in exactly one of these. */
export type OutcomeClass =
  | 'ok'
  | 'unreachable'
  | 'dns'
  | 'hostkey-unknown'
  | 'hostkey-changed'
  | 'auth'
  | 'sudo'
  | 'timeout'
  | 'protocol'
  | 'unsupported'
  | 'no-shell' // a container without /bin/sh (distroless, scratch): nothing to run the script with
  | 'engine' // a container engine is present but would not list its containers (no access)
  | 'needs-root' // an engine that lists only as root, in a run without sudo: a note, not a failure
  | 'not-running' // a container listed paused, restarting or exited: not entered, not a failure
  | 'skipped' // a container not scanned because --max-containers or --containers-timeout cut: not a failure
  | 'interrupted'
  | 'not-scanned' // never started: the controller could not keep what it scanned (--out full or failing)
  | 'internal';

/** The phase a host was in when it ended, for timeouts and errors. */
export type Phase = 'resolve' | 'jump' | 'connect' | 'handshake' | 'auth' | 'exec' | 'stream' | 'archive' | 'done';

export interface HostOutcome {
  spec: HostSpec;
  class: OutcomeClass;
  phase: Phase;
  message: string; // empty when ok
  archive?: string; // final archive path when ok
  os?: 'linux' | 'darwin';
  startedAt: Date;
  durationMs: number;
  bytes: number; // archive size
  warnings: number; // warning elements recorded in octoscan.xml
  attempts: number;
  /** Time the probe script ran on the target (ok hosts). */
  onTargetMs?: number;
  /** What the archive holds (ok hosts). */
  completeness?: Completeness;
  /** sha256 of the script as `octoscan-remote script` prints it for the run's options (hosts the script ran on). */
  scriptSha256?: string;
  /** A failure before authentication that may pass: the sweep retries these. */
  transient?: boolean;
  /** With --upload, for ok hosts: where the archive is (the collector has it, or it waits in --out). */
  upload?: 'uploaded' | 'waiting';
  /** Why the archive is still waiting. */
  uploadMessage?: string;
  /**
   * The controller's own side failed (the output folder full or failing), not
   * the host: `--out DIR: <error>`. The sweep starts no new host after one.
   */
  controllerFault?: string;
  /** Read back from the archive before it may be uploaded, for the report (and so the morning page needs no archive). */
  archiveFacts?: ArchiveFacts;
  /** Set on a container's outcome (its spec is the host's). */
  container?: ContainerInfo;
  /** --containers: the outcomes of the host's containers (and of engines that would not list them). */
  containers?: HostOutcome[];
}
