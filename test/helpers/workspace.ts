// A temporary folder per test file, removed after the file's tests; freshDir()
// hands out numbered sub-folders so tests never share an output folder.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after } from 'node:test';

export function workspace(prefix: string): (kind: string) => string {
  const root = mkdtempSync(path.join(os.tmpdir(), prefix));
  after(() => rmSync(root, { recursive: true, force: true }));
  let n = 0;
  return (kind: string): string => {
    const d = path.join(root, `${kind}-${++n}`);
    mkdirSync(d);
    return d;
  };
}
