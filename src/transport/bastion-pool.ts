// Bastions (ProxyJump) shared by every host behind them: one SSH connection
// per bastion for the whole run, each target reached through a direct-tcpip
// channel on it, with at most `maxChannels` channels open at once per bastion
// (a 1,000-host sweep must not open 1,000 logins, nor 1,000 channels at once,
// on one jump host). A bastion that fails is tried once: every host behind it
// gets that one failure, with phase `jump`, naming the bastion.
import type { Duplex } from 'node:stream';
import { channelOpenError, interruptedError, jumpError, ScanError, timeoutError } from '../errors.js';
import type { HostSpec } from '../types.js';

/** An authenticated connection to one bastion, as the pool needs it. */
export interface BastionLink {
  /** A direct-tcpip channel to host:port; the callback gets the server's refusal as an Error. */
  forward(host: string, port: number, cb: (err: Error | undefined, stream?: Duplex) => void): void;
  /** Called once, when the connection is gone (closed by either side). */
  onClose(fn: () => void): void;
  close(): void;
}

/** Logs in to a bastion, directly (via undefined) or over a stream through the previous hop. */
export type HopConnector = (hop: HostSpec, via: Duplex | undefined, signal: AbortSignal) => Promise<BastionLink>;

/** How long a bastion with no channel left open is kept for hosts that may still come. */
const IDLE_CLOSE_MS = 5000;

interface Entry {
  name: string;
  link: Promise<BastionLink>;
  live?: BastionLink;
  failure?: ScanError;
  open: number;
  waiting: Array<() => void>;
  idle?: NodeJS.Timeout;
  /** Releases the slot this bastion holds on the hop before it, when it closes. */
  releaseVia?: () => void;
}

export function hopName(chain: HostSpec[], i: number): string {
  return chain.slice(0, i + 1).map((h) => `${h.user}@${h.host.includes(':') ? `[${h.host}]` : h.host}:${h.port}`).join(',');
}

export class BastionPool {
  private readonly entries = new Map<string, Entry>();
  private readonly stop = new AbortController();

  constructor(
    private readonly connectHop: HopConnector,
    private readonly maxChannels: number,
    /** For the channel to the next hop; a target's own comes with its request. */
    private readonly openTimeoutMs: number,
  ) {}

  /**
   * A stream to host:port through the chain (first hop first). It holds one
   * channel slot of the last bastion until it closes; `signal` is the host's
   * own (deadline, interrupt), which never ends a shared bastion.
   */
  async open(chain: HostSpec[], host: string, port: number, signal: AbortSignal, where: string, openTimeoutMs: number): Promise<Duplex> {
    const entry = this.bastion(chain, chain.length - 1);
    const link = await raceAbort(entry.link, signal, where);
    return this.channel(entry, link, host, port, signal, where, openTimeoutMs);
  }

  /** Ends every bastion connection (the end of the run). */
  closeAll(): void {
    this.stop.abort();
    for (const e of this.entries.values()) {
      clearTimeout(e.idle);
      e.live?.close();
    }
    this.entries.clear();
  }

  private bastion(chain: HostSpec[], i: number): Entry {
    const name = hopName(chain, i);
    const have = this.entries.get(name);
    if (have) return have;
    const hop = chain[i];
    const entry: Entry = { name, open: 0, waiting: [], link: undefined as unknown as Promise<BastionLink> };
    entry.link = (async () => {
      let via: Duplex | undefined;
      if (i > 0) {
        const prev = this.bastion(chain, i - 1);
        const prevLink = await prev.link;
        via = await this.channel(prev, prevLink, hop.host, hop.port, this.stop.signal, hopName(chain, i), hop.connectTimeoutMs ?? this.openTimeoutMs, (release) => (entry.releaseVia = release));
      }
      try {
        return await this.connectHop(hop, via, this.stop.signal);
      } catch (err) {
        entry.releaseVia?.();
        throw err;
      }
    })().then(
      (link) => {
        entry.live = link;
        link.onClose(() => {
          // Gone (idle close, keepalive, the bastion restarted): a later host logs in again.
          if (this.entries.get(name) === entry) this.entries.delete(name);
          entry.releaseVia?.();
        });
        this.armIdle(entry);
        return link;
      },
      (err: unknown) => {
        // Kept: every host behind this bastion gets this one failure, none tries again.
        const e = err instanceof ScanError ? err : new ScanError('internal', 'jump', `bastion ${name}: ${(err as Error).message}`);
        entry.failure = e.phase === 'jump' ? e : jumpError(e);
        throw entry.failure;
      },
    );
    entry.link.catch(() => {});
    this.entries.set(name, entry);
    return entry;
  }

  private armIdle(entry: Entry): void {
    clearTimeout(entry.idle);
    if (entry.open > 0) return;
    entry.idle = setTimeout(() => {
      if (entry.open === 0) entry.live?.close();
    }, IDLE_CLOSE_MS);
    entry.idle.unref();
  }

  /** Waits for a free slot on the bastion, then opens the channel; the slot is freed when it closes. */
  private async channel(entry: Entry, link: BastionLink, host: string, port: number, signal: AbortSignal, where: string, openTimeoutMs: number, keepRelease?: (release: () => void) => void): Promise<Duplex> {
    await this.slot(entry, signal, where);
    clearTimeout(entry.idle);
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      const next = entry.waiting.shift();
      // Handed straight to the next host waiting, so no newcomer slips in between.
      if (next) return next();
      entry.open--;
      this.armIdle(entry);
    };
    return new Promise<Duplex>((resolve, reject) => {
      let settled = false;
      const giveUp = (e: ScanError): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        // The channel may still open later; it is closed then (below), and the slot freed.
        reject(e);
      };
      const onAbort = (): void => giveUp(signal.reason instanceof ScanError ? signal.reason : interruptedError(where, 'connect'));
      if (signal.aborted) {
        release();
        return reject(signal.reason instanceof ScanError ? signal.reason : interruptedError(where, 'connect'));
      }
      // The bastion answers when its own TCP connect to the target ends, which can take minutes.
      const timer = setTimeout(() => giveUp(timeoutError(where, 'connect', openTimeoutMs / 1000, 'connect')), openTimeoutMs);
      signal.addEventListener('abort', onAbort, { once: true });
      try {
        link.forward(host, port, (err, stream) => {
          clearTimeout(timer);
          signal.removeEventListener('abort', onAbort);
          if (err || !stream) {
            release();
            if (!settled) reject(channelOpenError(where, entry.name, host, port, err ?? new Error('no channel')));
            settled = true;
            return;
          }
          // For the channel's whole life: an 'error' with no listener ends the process.
          stream.on('error', () => {});
          stream.on('close', release);
          if (settled) {
            stream.destroy();
            return;
          }
          settled = true;
          keepRelease?.(release);
          resolve(stream);
        });
      } catch (err) {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        release();
        settled = true;
        reject(channelOpenError(where, entry.name, host, port, err as Error));
      }
    });
  }

  /** Takes one of the bastion's channel slots, waiting in line when all are taken. */
  private slot(entry: Entry, signal: AbortSignal, where: string): Promise<void> {
    if (entry.open < this.maxChannels) {
      entry.open++;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const go = (): void => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = (): void => {
        const i = entry.waiting.indexOf(go);
        if (i >= 0) entry.waiting.splice(i, 1);
        reject(signal.reason instanceof ScanError ? signal.reason : interruptedError(where, 'jump'));
      };
      entry.waiting.push(go);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}

function raceAbort<T>(p: Promise<T>, signal: AbortSignal, where: string): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason instanceof ScanError ? signal.reason : interruptedError(where, 'jump'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason instanceof ScanError ? signal.reason : interruptedError(where, 'jump'));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
