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
  jump?: string; // [user@]host[:port] of a bastion, for later
  tag: string; // free text copied into octoscan.xml configuration/tag
  origin: HostOrigin;
  /** The input row as read, for the retry file (column name -> raw value). */
  row?: Record<string, string>;
}

/** Each host ends in exactly one of these. */
export type OutcomeClass =
  | 'ok'
  | 'unreachable'
  | 'dns'
  | 'hostkey-unknown'
  | 'hostkey-changed'
  | 'auth'
  | 'timeout'
  | 'protocol'
  | 'unsupported'
  | 'interrupted'
  | 'internal';

/** The phase a host was in when it ended, for timeouts and errors. */
export type Phase = 'resolve' | 'connect' | 'handshake' | 'auth' | 'exec' | 'stream' | 'archive' | 'done';

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
  /** A failure before authentication that may pass: the sweep retries these. */
  transient?: boolean;
}
