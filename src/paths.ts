// Where the package's own files are, whether run from src/ (tsx) or dist/ (built).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;
export function packageRoot(): string {
  if (root) return root;
  const start = dirname(fileURLToPath(import.meta.url));
  let dir = start;
  while (!existsSync(join(dir, 'package.json')) || !existsSync(join(dir, 'targets'))) {
    const up = dirname(dir);
    // Naming the start folder shows at once when the package was there at
    // start-up but is hidden now (moved, unmounted, another mount over it).
    if (up === dir) throw new Error(`cannot find the octoscan-remote package root: no package.json with targets/ in ${start} or above`);
    dir = up;
  }
  root = dir;
  return root;
}
