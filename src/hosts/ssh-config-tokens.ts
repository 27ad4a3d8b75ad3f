// The `%x` tokens ssh expands in IdentityFile, UserKnownHostsFile,
// IdentityAgent (ssh.c DEFAULT_CLIENT_PERCENT_EXPAND_ARGS, with ${VAR} where
// ssh does percent_dollar_expand), and the numeric host names ssh rewrites
// (ssh.c is_addr / resolve_addr: `1` is 0.0.0.1, `0x7f.1` is 127.0.0.1),
// all without a name lookup.
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { hostname as localHostname } from 'node:os';

export class TokenError extends Error {}

export interface TokenValues {
  /** %h: the host name connected to (after HostName). */
  h: string;
  /** %n: the name as given. */
  n: string;
  p: number;
  /** %r: the remote user. */
  r: string;
  /** %d: the local home folder (also what `~` means). */
  d: string;
  /** %u: the local user. */
  u: string;
  /** %i: the local uid. */
  i: number;
  /** HostKeyAlias, for %k (else the name as given). */
  hostKeyAlias?: string;
}

/** %C: sha1 of local host name, remote host, port and user, as ssh_connection_hash. */
export function connectionHash(t: TokenValues): string {
  return createHash('sha1').update(`${localHostname()}${t.h}${t.p}${t.r}`).digest('hex');
}

/**
 * misc.c percent_expand (and dollar expansion for the keywords that take it):
 * an unknown `%x`, a `%` at the end or an unset ${VAR} is an error, as in ssh.
 */
export function expandTokens(value: string, t: TokenValues, opts: { dollar?: boolean; tilde?: boolean } = {}): string {
  let v = value;
  if (opts.tilde !== false && (v === '~' || v.startsWith('~/'))) v = t.d + v.slice(1);
  const table: Record<string, () => string> = {
    '%': () => '%',
    C: () => connectionHash(t),
    L: () => localHostname().split('.')[0],
    i: () => String(t.i),
    k: () => t.hostKeyAlias ?? t.n,
    l: () => localHostname(),
    n: () => t.n,
    p: () => String(t.p),
    d: () => t.d,
    h: () => t.h,
    r: () => t.r,
    u: () => t.u,
  };
  let out = '';
  for (let i = 0; i < v.length; i++) {
    const c = v[i];
    if (opts.dollar && c === '$' && v[i + 1] === '{') {
      const end = v.indexOf('}', i + 2);
      if (end < 0) throw new TokenError(`"${value}": an unterminated \${`);
      const name = v.slice(i + 2, end);
      const env = process.env[name];
      if (env === undefined) throw new TokenError(`"${value}": environment variable ${name} is not set`);
      out += env;
      i = end;
    } else if (c === '%') {
      const k = v[i + 1];
      if (k === undefined) throw new TokenError(`"${value}": a "%" at the end`);
      const f = Object.hasOwn(table, k) ? table[k] : undefined;
      if (!f) throw new TokenError(`"${value}": unknown token %${k}`);
      out += f();
      i++;
    } else out += c;
  }
  return out;
}

/** inet_aton: 1 to 4 parts, each decimal, 0x hex or 0 octal, the last filling the remaining bytes. */
function inetAton(s: string): string | undefined {
  const parts = s.split('.');
  if (parts.length > 4) return undefined;
  const nums: number[] = [];
  for (const p of parts) {
    let n: number;
    if (/^0[xX][0-9a-fA-F]*$/.test(p)) n = p.length === 2 ? 0 : parseInt(p.slice(2), 16);
    else if (/^0[0-7]*$/.test(p)) n = parseInt(p, 8);
    else if (/^[1-9]\d*$/.test(p)) n = Number(p);
    else return undefined;
    nums.push(n);
  }
  const last = nums.pop()!;
  if (nums.some((n) => n > 255) || last >= 256 ** (4 - nums.length)) return undefined;
  let value = last;
  nums.forEach((n, i) => (value += n * 256 ** (3 - i)));
  return [24, 16, 8, 0].map((b) => Math.floor(value / 2 ** b) % 256).join('.');
}

/**
 * The name ssh connects to when it is an address: written out as
 * getnameinfo(NI_NUMERICHOST) does. Names are returned unchanged (ssh
 * lower-cases those, which the caller does).
 */
export function numericHost(name: string, family?: 4 | 6): string | undefined {
  const v4 = family === 6 ? undefined : inetAton(name);
  if (v4 !== undefined) return v4;
  if (family === 4) return undefined;
  const [addr, scope] = name.split('%', 2) as [string, string | undefined];
  if (isIP(addr) === 6) {
    try {
      const normal = new URL(`http://[${addr}]/`).hostname.slice(1, -1);
      return scope === undefined ? normal : `${normal}%${scope}`;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** ssh.c is_addr_fast: names that can only be addresses (ssh never lower-cases these). */
export function looksLikeAddress(name: string): boolean {
  return name.includes('%') || name.includes(':') || /^[0-9.]*$/.test(name);
}
