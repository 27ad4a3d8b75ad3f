// Loaded into the real CLI with `node --import` (bench/latency-breakdown.ts
// transpiles it to plain JavaScript first, so no TypeScript loader adds to the
// start-up it measures). It records when one scan passes each point of its
// way, in epoch milliseconds, and writes them as JSON to
// $OCTOSCAN_PHASE_MARKS when the process exits. Nothing in the CLI changes:
// it wraps net.Socket#connect, ssh2's Client#emit and Client#exec and
// fs/promises rename, and passes every call through.
//
// Marks (the first of each):
//   hookStart, hookEnd    this module (the first user code node runs)
//   tcpConnectCall        the CLI asks for the TCP connection (start-up is over)
//   tcpConnected          the socket is connected
//   sshHandshake          ssh2 'handshake': version exchange and key exchange done
//   sshReady              ssh2 'ready': authenticated
//   execCall              client.exec (channel open, then the exec request)
//   execReady             its callback: the channel is open and sshd started the command
//   firstStdout           the first byte of the command's output
//   stdoutEnd             its end
//   channelClose          the channel closed (exit status in)
//   archiveRenamed        the archive got its final name (<uuid>.scal or .scam)
//   exit                  process 'exit'
import { writeFileSync } from 'node:fs';
import fsp from 'node:fs/promises';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import net from 'node:net';

const now = (): number => performance.timeOrigin + performance.now();
const marks: Record<string, number> = {};
const mark = (name: string): void => {
  marks[name] ??= now();
};
mark('hookStart');

const out = process.env.OCTOSCAN_PHASE_MARKS;

// ssh2 is patched at the first TCP connect: by then the CLI has loaded it, so the
// hook adds nothing to start-up. It is resolved as the CLI resolves it.
let ssh2Patched = false;
function patchSsh2(): void {
  if (ssh2Patched) return;
  ssh2Patched = true;
  const require = createRequire(process.argv[1] ?? `${process.cwd()}/`);
  const { Client } = require('ssh2') as { Client: { prototype: Record<string, (...a: unknown[]) => unknown> } };
  const emit = Client.prototype.emit;
  Client.prototype.emit = function (this: unknown, event: unknown, ...rest: unknown[]) {
    if (event === 'handshake') mark('sshHandshake');
    if (event === 'ready') mark('sshReady');
    return emit.call(this, event, ...rest);
  };
  const exec = Client.prototype.exec;
  Client.prototype.exec = function (this: unknown, ...args: unknown[]) {
    mark('execCall');
    const i = args.findIndex((a) => typeof a === 'function');
    if (i >= 0) {
      const cb = args[i] as (err: unknown, ch: NodeJS.EventEmitter) => void;
      args[i] = (err: unknown, ch: NodeJS.EventEmitter): void => {
        mark('execReady');
        if (!err && ch) {
          ch.once('data', () => mark('firstStdout'));
          ch.once('end', () => mark('stdoutEnd'));
          ch.once('close', () => mark('channelClose'));
        }
        cb(err, ch);
      };
    }
    return exec.apply(this, args);
  };
}

const connect = net.Socket.prototype.connect as (...a: unknown[]) => net.Socket;
net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]) {
  mark('tcpConnectCall');
  patchSsh2();
  this.once('connect', () => mark('tcpConnected'));
  return connect.apply(this, args);
} as typeof net.Socket.prototype.connect;

const rename = fsp.rename;
fsp.rename = async (from, to) => {
  const r = await rename(from, to);
  if (/\.sca[lm]$/.test(String(to))) mark('archiveRenamed');
  return r;
};
// The CLI's `import { rename } from 'node:fs/promises'` sees the wrapper.
syncBuiltinESMExports();

process.on('exit', () => {
  mark('exit');
  if (out) writeFileSync(out, JSON.stringify({ timeOrigin: performance.timeOrigin, marks }));
});
mark('hookEnd');
