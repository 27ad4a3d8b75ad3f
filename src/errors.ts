// Every way a host can fail, classified and worded in one place. Stages throw
// ScanError; anything else that escapes is a bug and is reported as internal.
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

export function authError(where: string, user: string, tried: string[]): ScanError {
  const methods = tried.length ? tried.join(', ') : 'no usable method (no agent, no identity file)';
  return new ScanError('auth', 'auth', `${where}: authentication failed for user ${user}; tried ${methods}`);
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

const OUTPUT_FOLDER_CODES = new Set(['ENOSPC', 'EDQUOT', 'EROFS', 'EACCES', 'EPERM', 'EIO', 'EMFILE', 'ENFILE']);

/** Anything thrown during a scan, as a ScanError. */
export function asScanError(err: unknown, where: string, phase: Phase): ScanError {
  if (err instanceof ScanError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code && OUTPUT_FOLDER_CODES.has(code)) {
    // Not the target's fault and not a bug: the controller's own disk or limits.
    return new ScanError('internal', phase, `${where}: cannot write the archive: ${(err as Error).message}; nothing was kept`);
  }
  return internalError(where, phase, err);
}

export function formatSeconds(s: number): string {
  return Number.isInteger(s) ? `${s} s` : `${s.toFixed(1)} s`;
}
