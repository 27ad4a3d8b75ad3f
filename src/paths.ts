// Where the package's own files are, whether run from src/ (tsx) or dist/ (built).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;
export function packageRoot(): string {
  if (root) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) || !existsSync(join(dir, 'targets'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the octoscan-remote package root');
    dir = up;
  }
  root = dir;
  return root;
}
