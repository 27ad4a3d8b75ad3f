// Sudo rules for the test users, as a drop-in in /etc/sudoers.d.
//
// The test users have fixed names (oct17-podman, oct11b-sudo...), so a rule
// left behind by a killed run still applies to them in the next one. sudo
// reads the drop-ins in lexical order and the last `Defaults:user` wins: a
// stale secure_path pointing at a deleted shim folder once made a later run's
// container listing come back empty, one run in three, depending on how the
// random file names sorted. So each test file owns one fixed file name, which
// a new run overwrites, and any other octoscan test drop-in that names one of
// the same users is removed first.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export const SUDOERS_D = '/etc/sudoers.d';
const PREFIX = 'octoscan-test-';

export interface SudoRules {
  path: string;
  remove(): void;
}

function mentions(text: string, users: string[]): boolean {
  return users.some((u) => new RegExp(`(^|[\\s:,])${u.replace(/[^a-z0-9_-]/gi, '')}(\\s|,|$)`, 'm').test(text));
}

/**
 * Installs `rules` (checked by visudo first) as /etc/sudoers.d/octoscan-test-<name>,
 * after removing every other octoscan test drop-in that names one of `users`.
 */
export function installSudoRules(name: string, users: string[], rules: string[]): SudoRules {
  if (!/^[a-z0-9-]+$/.test(name)) throw new Error(`installSudoRules: ${name}: letters, digits and '-' only (sudo skips names with a dot)`);
  const file = path.join(SUDOERS_D, PREFIX + name);
  for (const other of readdirSync(SUDOERS_D)) {
    if (!other.startsWith(PREFIX) || other === PREFIX + name) continue;
    const p = path.join(SUDOERS_D, other);
    let text = '';
    try {
      text = readFileSync(p, 'utf8');
    } catch {
      continue;
    }
    if (mentions(text, users)) rmSync(p, { force: true });
  }
  const text = `${rules.join('\n')}\n`;
  // sudo ignores names holding a dot, so the candidate is never read half-written; rename is atomic.
  const candidate = path.join(SUDOERS_D, `.${PREFIX}${name}.${randomBytes(4).toString('hex')}`);
  writeFileSync(candidate, text, { mode: 0o440 });
  try {
    execFileSync('visudo', ['-cf', candidate], { stdio: 'pipe' });
    renameSync(candidate, file);
  } finally {
    rmSync(candidate, { force: true });
  }
  return { path: file, remove: () => rmSync(file, { force: true }) };
}
