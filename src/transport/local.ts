// --local: the same script through this machine's /bin/sh, no SSH. Used for
// scanning the controller itself and as the reference the SSH path is tested
// against.
import { spawn } from 'node:child_process';
import type { RemoteProcess, Session, Transport } from './transport.js';
import { killGroup } from './process-group.js';

export const localTransport: Transport = {
  name: 'local',
  async connect(): Promise<Session> {
    const children = new Set<number>();
    return {
      info: { transport: 'local' },
      async start(command: string): Promise<RemoteProcess> {
        // The fixed commands are plain words (see Session.start): no shell needed to split them.
        const [file, ...args] = command.split(' ');
        // Its own process group, so closing the session kills every probe command with it.
        const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
        if (child.pid) children.add(child.pid);
        child.stdin.on('error', () => {}); // the shell may exit before reading all of it
        const exit = new Promise<{ code: number | null; signal?: string }>((resolve) => {
          child.on('close', (code, signal) => {
            if (child.pid) children.delete(child.pid);
            resolve({ code, signal: signal ?? undefined });
          });
          child.on('error', () => resolve({ code: null }));
        });
        const kill = (): void => killGroup(child.pid);
        return { stdin: child.stdin, stdout: child.stdout, stderr: child.stderr, exit, kill };
      },
      close(): void {
        for (const pid of children) killGroup(pid);
        children.clear();
      },
    };
  },
};
