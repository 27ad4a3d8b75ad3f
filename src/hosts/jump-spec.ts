// A ProxyJump chain as ssh -J takes it: `[user@]host[:port][,...]`, IPv6 as
// [addr]:port; `none` means no bastion. Each hop is checked like a target.
import { HostsError } from './errors.js';
import { parseHostArg } from './host-arg.js';

export interface JumpHop {
  host: string;
  /** 0 when the hop names no port (ssh_config or 22 decide). */
  port: number;
  /** '' when the hop names no user. */
  user: string;
}

/** The hops of a chain, first hop first; [] for `none`. Throws the reason a hop is malformed. */
export function parseJumpChain(text: string): JumpHop[] {
  if (text.trim().toLowerCase() === 'none') return [];
  const hops = text.split(',');
  if (hops.some((h) => h.trim() === '')) throw new Error('a jump chain is [user@]host[:port] hops separated by ","; one hop is empty');
  return hops.map((h) => {
    try {
      const s = parseHostArg(h.trim(), { port: 0, user: '' });
      return { host: s.host, port: s.port, user: s.user };
    } catch (err) {
      const reason = err instanceof HostsError ? err.reason : (err as Error).message;
      throw new Error(hops.length > 1 ? `hop ${JSON.stringify(h)}: ${reason}` : reason);
    }
  });
}
