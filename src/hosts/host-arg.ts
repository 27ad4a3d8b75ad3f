// Command-line targets: [user@]host[:port], with IPv6 written as [addr] or
// [addr]:port, or bare (addr, no port possible then).
import { isIP } from 'node:net';
import type { HostSpec } from '../types.js';
import { HostsError, quoteValue } from './errors.js';
import { checkHost, checkUser, parsePort, REASON } from './validate.js';

export const ARGS_FILE = '<args>';

export const ARG_REASON = {
  unclosedBracket: '"[" must be closed by "]" around an IPv6 address',
  bracketNotIPv6: 'only an IPv6 address may be written in "[...]"',
  afterBracket: 'only ":port" may follow "]"',
  colonNotIPv6: 'a host with ":" must be an IPv6 address; write [address]:port to give a port',
  pattern: 'an argument is one host, not a pattern; to pick hosts from a list by name, glob or group, give the list (--hosts FILE or --inventory INVENTORY) and --limit PATTERN',
} as const;

/** Glob characters (web-*, db0?, web[1:3]): a pattern, which only --limit takes. */
const GLOB = /[*?]|^[^[]+\[/;

export interface HostArgDefaults {
  port: number;
  user: string;
  /** Private key files for the host; [] when not given. */
  identities?: string[];
}

/**
 * Parse one command-line target. Throws HostsError with the message
 * `<args>: "<arg>": <reason>`, e.g. `<args>: "db01:99999": port must be an integer from 1 to 65535`.
 */
export function parseHostArg(arg: string, defaults: HostArgDefaults): HostSpec {
  const fail = (column: string, reason: string): never => {
    throw new HostsError(
      { file: ARGS_FILE, line: 0, column, value: arg, reason },
      `${ARGS_FILE}: ${quoteValue(arg)}: ${reason}`,
    );
  };

  let user = defaults.user;
  let rest = arg;
  const at = arg.lastIndexOf('@');
  if (at !== -1) {
    user = arg.slice(0, at);
    rest = arg.slice(at + 1);
    const bad = checkUser(user);
    if (bad) fail('user', bad);
  }

  if (GLOB.test(rest)) fail('host', ARG_REASON.pattern);

  let host: string;
  let portText: string | undefined;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close === -1) fail('host', ARG_REASON.unclosedBracket);
    host = rest.slice(1, close);
    const after = rest.slice(close + 1);
    if (host === '') fail('host', REASON.hostEmpty);
    if (isIP(host) !== 6) fail('host', checkHost(host) ?? ARG_REASON.bracketNotIPv6);
    if (after !== '') {
      if (!after.startsWith(':')) fail('host', ARG_REASON.afterBracket);
      portText = after.slice(1);
    }
  } else {
    const first = rest.indexOf(':');
    if (first === -1) {
      host = rest;
    } else if (rest.indexOf(':', first + 1) === -1) {
      host = rest.slice(0, first);
      portText = rest.slice(first + 1);
    } else {
      host = rest;
      if (isIP(host) !== 6) fail('host', checkHost(host.replace(/:/g, '')) ?? ARG_REASON.colonNotIPv6);
    }
  }

  const badHost = checkHost(host);
  if (badHost) fail('host', badHost);

  let port = defaults.port;
  if (portText !== undefined) {
    const p = parsePort(portText);
    if (p === undefined) fail('port', REASON.port);
    port = p as number;
  }

  return {
    host,
    port,
    user,
    identities: [...(defaults.identities ?? [])],
    tag: '',
    origin: { file: ARGS_FILE, line: 0 },
  };
}
