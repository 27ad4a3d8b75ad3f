// Every way a host can fail, classified and worded in one place. Stages throw
// ScanError; anything else that escapes is a bug and is reported as internal.
import { peerText } from './text/peer-text.js';
import type { OutcomeClass, Phase } from './types.js';

export class ScanError extends Error {
  constructor(
    readonly cls: Exclude<OutcomeClass, 'ok'>,
    readonly phase: Phase,
    message: string,
    /** Worth another attempt: nothing was authenticated yet and the cause may pass. */
    readonly transient = false,
  ) {
    super(message);
    this.name = 'ScanError';
  }
}

const NET_UNREACHABLE = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN', 'EADDRNOTAVAIL']);
const NET_RESET = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);
const DNS_PERMANENT = new Set(['ENOTFOUND', 'ENODATA', 'EAI_NONAME', 'EAI_NODATA']);
const DNS_TRANSIENT = new Set(['EAI_AGAIN', 'ESERVFAIL', 'ETIMEOUT', 'ECONNREFUSED_DNS']);

/** Name resolution failures. */
export function dnsError(host: string, err: NodeJS.ErrnoException): ScanError {
  const code = err.code ?? '';
  if (DNS_PERMANENT.has(code)) return new ScanError('dns', 'resolve', `cannot resolve ${host}: no such host (${code})`);
  return new ScanError('dns', 'resolve', `cannot resolve ${host}: ${code || err.message} (temporary failure)`, DNS_TRANSIENT.has(code) || !code);
}

/** TCP-level failures while connecting or later. */
export function socketError(where: string, phase: Phase, err: NodeJS.ErrnoException): ScanError {
  const code = err.code ?? '';
  if (NET_UNREACHABLE.has(code)) {
    const what = code === 'ECONNREFUSED' ? 'connection refused' : `unreachable (${code})`;
    return new ScanError('unreachable', phase, `${where}: ${what}`, true);
  }
  if (NET_RESET.has(code)) {
    // Reset before authentication: a firewall, MaxStartups, a restarting sshd; worth a retry.
    const early = phase === 'connect' || phase === 'handshake';
    return new ScanError(early ? 'unreachable' : 'protocol', phase, `${where}: connection reset by peer (${code}) during ${phase}`, early);
  }
  return new ScanError('unreachable', phase, `${where}: ${err.message}`, phase === 'connect');
}

export function timeoutError(where: string, phase: Phase, seconds: number, what: string): ScanError {
  // Timeouts before authentication are retried: a host that is slow to accept is often just busy.
  const early = phase === 'resolve' || phase === 'connect' || phase === 'handshake';
  return new ScanError('timeout', phase, `${where}: ${what} deadline of ${formatSeconds(seconds)} passed during ${phase}`, early);
}

/** `tried`: the methods in the order they were tried; `notes`: why others were not (unusable key files, what the server offers). */
export function authError(where: string, user: string, tried: string[], notes: string[] = []): ScanError {
  const methods = tried.length ? tried.join(', ') : 'no usable method (no agent, no identity file, no password)';
  return new ScanError('auth', 'auth', `${where}: authentication failed for user ${user}; tried ${[methods, ...notes].join('; ')}`);
}

/**
 * sudo refused to run the script as root. The host still has an archive (the
 * scan user's view), so this is the outcome's class and message, not a throw.
 */
export function sudoMessage(where: string, user: string, sudoSays: string): string {
  return `${where}: sudo refused for user ${user}: ${sudoSays}; scanned without root (what ${user} can read)`;
}

/** ssh_config asks for something the ssh2 transport cannot do (resolve.ts names it). */
export function unsupportedConfigError(where: string, reason: string): ScanError {
  return new ScanError('unsupported', 'resolve', `${where}: ${reason}`);
}

/** A bastion (ProxyJump hop) failed: every host behind it gets this, once, in phase jump. */
export function jumpError(e: ScanError): ScanError {
  return new ScanError(e.cls, 'jump', `bastion ${e.message}`);
}

/** The bastion would not open a direct-tcpip channel to the target (refused, unknown name, prohibited). */
export function channelOpenError(where: string, bastion: string, host: string, port: number, err: Error & { reason?: number | string }): ScanError {
  const detail = peerText(err.message.replace(/^\(SSH\) Channel open failure: /, ''), 300);
  const target = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  if (err.reason === 1) {
    return new ScanError('unreachable', 'jump', `${where}: bastion ${bastion} refuses to forward to ${target} (administratively prohibited: is AllowTcpForwarding off there?)`);
  }
  if (/not known|no address|nodename|name resolution|resolve/i.test(detail)) {
    return new ScanError('dns', 'resolve', `${where}: bastion ${bastion} cannot resolve ${host}: ${detail}`);
  }
  // Refused, no route, timed out at the bastion: as for a direct connection, worth a retry.
  return new ScanError('unreachable', 'connect', `${where}: bastion ${bastion} cannot connect to ${target}: ${detail}`, true);
}

/** A credential of this host's own that cannot be used: found before connecting, so nothing is tried. */
export function credentialError(where: string, what: string, problem: string): ScanError {
  return new ScanError('auth', 'auth', `${where}: ${what}: ${problem}; not connected`);
}

export function protocolError(where: string, phase: Phase, detail: string): ScanError {
  return new ScanError('protocol', phase, `${where}: ${detail}`);
}

export function interruptedError(where: string, phase: Phase): ScanError {
  return new ScanError('interrupted', phase, `${where}: interrupted during ${phase}`);
}

export function internalError(where: string, phase: Phase, err: unknown): ScanError {
  const detail = err instanceof Error ? err.message : String(err);
  return new ScanError('internal', phase, `${where}: internal error: ${detail}`);
}

/** The output folder failed (full, read-only, out of descriptors): the controller's fault, not the host's. */
export class OutputFolderError extends ScanError {
  constructor(phase: Phase, message: string, readonly detail: string) {
    super('internal', phase, message);
  }
}

const OUTPUT_FOLDER_CODES = new Set(['ENOSPC', 'EDQUOT', 'EROFS', 'EACCES', 'EPERM', 'EIO', 'EMFILE', 'ENFILE']);

/** Anything thrown during a scan, as a ScanError. */
export function asScanError(err: unknown, where: string, phase: Phase): ScanError {
  if (err instanceof ScanError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code && OUTPUT_FOLDER_CODES.has(code)) {
    // Not the target's fault and not a bug: the controller's own disk or limits.
    return new OutputFolderError(phase, `${where}: cannot write the archive: ${(err as Error).message}; nothing was kept`, (err as Error).message);
  }
  return internalError(where, phase, err);
}

export function formatSeconds(s: number): string {
  return Number.isInteger(s) ? `${s} s` : `${s.toFixed(1)} s`;
}

// Upload to octo-collect. The collector's answer is peer text: escaped and cut.
const TLS_TRUST_CODES = new Set(['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_HAS_EXPIRED', 'ERR_TLS_CERT_ALTNAME_INVALID']);

export function collectorAnswerError(collector: string, status: number, body: string): string {
  const text = body.trim() ? `: ${peerText(body.trim(), 200)}` : '';
  const hint = status === 401 || status === 403 ? ' (credentials: --upload-auth-file or OCTOSCAN_UPLOAD_AUTH)' : '';
  return `collector ${collector} answered ${status}${text}${hint}`;
}

export function collectorNetworkError(collector: string, err: unknown): string {
  // fetch reports every network failure as TypeError('fetch failed'); the cause says what happened.
  const cause = (err as { cause?: unknown })?.cause ?? err;
  const code = (cause as NodeJS.ErrnoException | undefined)?.code ?? '';
  const detail = peerText(cause instanceof Error ? cause.message : String(cause), 300);
  if (TLS_TRUST_CODES.has(code)) return `collector ${collector}: certificate not trusted (${code}: ${detail}); give its CA with --ca FILE`;
  if ((err as Error)?.name === 'TimeoutError') return `collector ${collector}: no answer within the upload deadline`;
  return `collector ${collector}: ${code ? `${code}: ` : ''}${detail}`;
}

/**
 * The peer closed the connection without sending a byte. sshd does this when
 * it sheds load (MaxStartups), so it is worth a retry; a peer that answered
 * with something other than SSH is `protocol` instead.
 */
export function closedBeforeBanner(where: string, reason?: string): ScanError {
  return new ScanError('unreachable', 'handshake', `${where}: the server closed the connection before the SSH banner${reason ? ` (${reason})` : ''}`, true);
}
