// The install the README gives: `npm pack`, then `npm install -g` of the
// tarball into a prefix. It must be a copy (not a link into the checkout, as
// `npm install -g .` makes), and the installed command must run for another
// user, as systemd's User=octoscan would: --version, upload --help, and a
// local scan that writes an archive. Needs root (to create that user) and the
// npm registry or cache for the dependencies.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, describe, test } from 'node:test';
import { readZip } from '../helpers/zip.js';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const USER = 'octoscan-inst-test';
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string };

const skip =
  process.getuid?.() !== 0 ? 'needs root (creates a system user)'
  : !existsSync(path.join(ROOT, 'dist', 'src', 'cli', 'main.js')) ? 'dist/ missing: run npm run build first'
  : undefined;
if (skip) console.error(`\n*** SKIPPING install test: ${skip} ***\n`);

describe('install from the packed tarball', { skip }, () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'octoscan-install-'));
  let userMade = false;
  after(async () => {
    // userdel fails while another test holds the passwd lock (exit 10): try again a while.
    for (let i = 0; userMade && i < 50; i++) {
      try {
        await run('userdel', [USER]);
        userMade = false;
      } catch (e) {
        if (i === 49) console.error(`*** install test: could not remove user ${USER}: ${(e as Error).message} ***`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    rmSync(tmp, { recursive: true, force: true });
  });

  test('a copy in the prefix, runnable by another user after the clone it was packed from is gone', { timeout: 600_000 }, async () => {
    chmodSync(tmp, 0o755);
    // Packed from a throw-away clone (what npm pack reads: package.json and the "files"),
    // which is deleted before the installed command runs: the install must not need it.
    const clone = path.join(tmp, 'clone');
    mkdirSync(clone);
    for (const f of ['package.json', 'package-lock.json', 'README.md', 'LICENSE', 'bin', 'dist', 'targets']) cpSync(path.join(ROOT, f), path.join(clone, f), { recursive: true });
    const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', tmp], { cwd: clone, maxBuffer: 16 << 20 });
    const tarball = path.join(tmp, (JSON.parse(stdout) as { filename: string }[])[0].filename);
    const prefix = path.join(tmp, 'prefix');
    await run('npm', ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', '--prefer-offline', tarball], { cwd: tmp, maxBuffer: 16 << 20 });
    rmSync(clone, { recursive: true });
    rmSync(tarball);

    const installed = path.join(prefix, 'lib', 'node_modules', pkg.name);
    assert.ok(lstatSync(installed).isDirectory() && !lstatSync(installed).isSymbolicLink(), `${installed} is a real folder, not a link`);
    const bin = path.join(prefix, 'bin', 'octoscan-remote');
    assert.ok(realpathSync(bin).startsWith(realpathSync(installed) + path.sep), `${bin} points into the install, not the checkout`);

    await run('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', USER]).catch((e: { code?: number }) => {
      if (e.code !== 9) throw e; // 9: exists (a run that was killed)
    });
    userMade = true;
    const home = path.join(tmp, 'home');
    const out = path.join(tmp, 'out');
    for (const d of [home, out]) {
      mkdirSync(d);
      const { stdout: ids } = await run('id', ['-u', USER]);
      chownSync(d, Number(ids.trim()), 0);
    }
    const as = (args: string[]) => run('/usr/sbin/runuser', ['-u', USER, '--', bin, ...args], { cwd: tmp, env: { PATH: '/usr/bin:/bin', HOME: home }, maxBuffer: 16 << 20 });
    assert.equal((await as(['--version'])).stdout.trim(), pkg.version);
    assert.match((await as(['upload', '--help'])).stdout, /--from <dir>/);
    const scan = await as(['--local', '--out', out, '--no-progress']);
    const archives = readdirSync(out).filter((n) => /^[0-9a-f-]{36}\.scal$/.test(n));
    assert.equal(archives.length, 1, `stdout ${scan.stdout}\nstderr ${scan.stderr}`);
    assert.equal(scan.stdout.trim(), path.join(out, archives[0]));
    const entries = [...(await readZip(path.join(out, archives[0]))).keys()];
    assert.ok(entries.some((e) => e.endsWith('/octoscan.xml')), entries.join(', '));
  });
});
