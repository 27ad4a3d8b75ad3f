// Checks shared by command-line targets and hosts files. Each check returns
// undefined when the value is good, else the reason that ends the message.
import { isIP } from 'node:net';

export const REASON = {
  hostEmpty: 'host must not be empty',
  hostSpace: 'host must not contain whitespace or control characters',
  hostDash: 'host must not start with "-"',
  hostChars: 'host must be a name of letters, digits, ".", "_" and "-", or an IPv4 or IPv6 address',
  hostIPv4: 'host looks like an IPv4 address but is not a valid one',
  hostLong: 'host must be at most 253 characters long',
  hostWithPort: 'host must not include a port; put it in the "port" column',
  hostWithUser: 'host must not include a user; put it in the "user" column',
  port: 'port must be an integer from 1 to 65535',
  userEmpty: 'user must not be empty',
  userSpace: 'user must not contain whitespace or control characters',
  userColon: 'user must not contain ":"',
  userDash: 'user must not start with "-"',
  identityChars: 'identity must not contain control characters',
  tagChars: 'tag must not contain control characters other than tab',
} as const;

/**
 * What a shell would interpret, on top of whitespace and control characters.
 * With --transport openssh, ssh puts a ProxyJump hop's user and host into a
 * command line for /bin/sh, and a ProxyCommand's %r and %h too: none of these
 * may ever reach a user, host or jump part, from any source and for both
 * transports (one rule, checked before any connection).
 */
export const SHELL_CHARS = '$`\\"\';&|<>(){}*?[]~!#';

/** The reason naming the first character of `value` a shell would interpret, or undefined. */
function shellChar(what: 'host' | 'user', value: string): string | undefined {
  for (const ch of value) {
    if (SHELL_CHARS.includes(ch)) return `${what} must not contain ${JSON.stringify(ch)}: a shell would interpret it (characters refused: ${SHELL_CHARS}, whitespace, control characters)`;
  }
  return undefined;
}

/** The reason is shellChar's ("[" of "[::1]:22" too, where a hint about the port says more). */
export function isShellCharReason(reason: string): boolean {
  return reason.includes(': a shell would interpret it');
}

// Whitespace (including Unicode spaces) and C0/C1 control characters.
const SPACE_OR_CONTROL = /[\s\x00-\x1f\x7f-\x9f]/;
const CONTROL = /[\x00-\x1f\x7f-\x9f]/;
const CONTROL_BUT_TAB = /[\x00-\x08\x0a-\x1f\x7f-\x9f]/;
const NAME = /^[A-Za-z0-9._-]+$/;
const DOTTED_NUMBERS = /^[0-9.]+$/;
const DIGITS = /^[0-9]+$/;

/** Reason why `host` (without brackets) is not a valid host name or address, or undefined. */
export function checkHost(host: string): string | undefined {
  if (host === '') return REASON.hostEmpty;
  if (NAME.test(host)) {
    // the common case first: no whitespace, control characters or ':' here
    if (host.charCodeAt(0) === 0x2d) return REASON.hostDash;
    if (DOTTED_NUMBERS.test(host)) return isIP(host) === 4 ? undefined : REASON.hostIPv4;
    return host.length > 253 ? REASON.hostLong : undefined;
  }
  if (SPACE_OR_CONTROL.test(host)) return REASON.hostSpace;
  if (host.startsWith('-')) return REASON.hostDash;
  if (isIP(host) === 6) return undefined;
  return shellChar('host', host) ?? REASON.hostChars;
}

/** The port as a number when `s` is an integer from 1 to 65535 (digits only), else undefined. */
export function parsePort(s: string): number | undefined {
  if (!DIGITS.test(s)) return undefined;
  const n = Number(s);
  return n >= 1 && n <= 65535 ? n : undefined;
}

/**
 * Reason why `user` is not a valid user name, or undefined. "@" and "." are
 * fine: directory accounts such as jdoe@corp.example.com log in as that.
 */
export function checkUser(user: string): string | undefined {
  if (user === '') return REASON.userEmpty;
  if (SPACE_OR_CONTROL.test(user)) return REASON.userSpace;
  if (user.startsWith('-')) return REASON.userDash;
  return shellChar('user', user) ?? (user.includes(':') ? REASON.userColon : undefined);
}

export function hasControl(s: string): boolean {
  return CONTROL.test(s);
}

export function hasControlButTab(s: string): boolean {
  return CONTROL_BUT_TAB.test(s);
}

/**
 * A key that is equal for two targets that reach the same account: host names
 * compared case-insensitively, IPv6 addresses in canonical form.
 */
export function hostKey(spec: { host: string; port: number; user: string }): string {
  return `${canonicalHost(spec.host)}\0${spec.port}\0${spec.user}`;
}

function canonicalHost(host: string): string {
  if (host.includes(':') && isIP(host) === 6) {
    try {
      return new URL(`ssh://[${host}]`).hostname;
    } catch {
      // zone ids (fe80::1%eth0) are not accepted by URL; fall through
    }
  }
  return host.toLowerCase();
}
