// A TCP proxy that holds every chunk `delayMs` in each direction (tc netem is
// not available here), so a connection through it sees 2 × delayMs of
// round-trip time. TCP's own handshake with the proxy is not delayed (it is
// on loopback): a real link adds one more round trip there, the same for
// every contender. Each chunk's direction, size and arrival time (epoch ms,
// before it is held) is logged, for counting round trips.
import net from 'node:net';

export interface Chunk {
  /** 'up': client to server; 'down': server to client. */
  dir: 'up' | 'down';
  bytes: number;
  /** Epoch milliseconds the proxy received it (performance.timeOrigin + performance.now()). */
  at: number;
}

export interface DelayProxy {
  port: number;
  /** Each connection accepted so far, in order: when (epoch ms) and its chunks. */
  connections: { acceptedAt: number; chunks: Chunk[] }[];
  close: () => void;
}

const now = (): number => performance.timeOrigin + performance.now();

export async function delayProxy(target: { host: string; port: number }, delayMs: number): Promise<DelayProxy> {
  const socks = new Set<net.Socket>();
  const connections: DelayProxy['connections'] = [];
  const server = net.createServer((a) => {
    const log: Chunk[] = [];
    connections.push({ acceptedAt: now(), chunks: log });
    const b = net.connect(target.port, target.host);
    socks.add(a).add(b);
    const pipe = (from: net.Socket, to: net.Socket, dir: Chunk['dir']): void => {
      from.on('data', (d: Buffer) => {
        log.push({ dir, bytes: d.length, at: now() });
        setTimeout(() => to.destroyed || to.write(d), delayMs);
      });
      from.on('end', () => setTimeout(() => to.destroyed || to.end(), delayMs));
    };
    pipe(a, b, 'up');
    pipe(b, a, 'down');
    for (const s of [a, b]) s.on('error', () => (a.destroy(), b.destroy())).on('close', () => (a.destroy(), b.destroy(), socks.delete(s)));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    connections,
    close: () => (server.close(), socks.forEach((s) => s.destroy())),
  };
}

export interface Flight {
  /** Epoch ms the proxy received the flight's first chunk. */
  at: number;
  /**
   * How long the client took to send it after the server's last chunk reached
   * it (received by the proxy, plus the delay): the controller's own time
   * between hearing and answering. Undefined for a flight that waited for nothing.
   */
  thinkMs?: number;
}

/**
 * The client's "flights": each time it sent after having received something
 * since it last sent (or sent for the first time). A client that sends
 * several messages without waiting for an answer makes one flight; each
 * flight after the first waited for the server, so at a given RTT the flights
 * are what the round trips cost.
 */
export function clientFlights(log: Chunk[], delayMs: number): Flight[] {
  const flights: Flight[] = [];
  let lastDown: number | undefined;
  let heard = true;
  for (const c of log) {
    if (c.dir === 'down') {
      heard = true;
      lastDown = c.at;
    } else if (heard) {
      flights.push({ at: c.at, thinkMs: lastDown === undefined ? undefined : Math.max(0, c.at - (lastDown + delayMs)) });
      heard = false;
    }
  }
  return flights;
}

/** The flights that started in [from, to): how many, and the controller's own time before them. */
export function flightsBetween(flights: Flight[], from: number, to: number): { flights: number; thinkMs: number } {
  const inside = flights.filter((f) => f.at >= from && f.at < to);
  return { flights: inside.length, thinkMs: inside.reduce((a, f) => a + (f.thinkMs ?? 0), 0) };
}
