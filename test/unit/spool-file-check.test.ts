// Only our own archives leave the spool (issue 20): a regular file, opened
// without following links, owned by us, named <uuid>.scal/.scam, and a zip
// that keeps the archive contract. Real files, links and FIFOs.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chownSync, copyFileSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { spoolFileProblem } from '../../src/upload/spool-file-check.js';
import { waitingArchives } from '../../src/upload/spool.js';
import { writeContractArchive } from '../helpers/contract-archive.js';
import { workspace } from '../helpers/workspace.js';

const fresh = workspace('octoscan-spool-check-');
const asRoot = process.getuid?.() === 0;

describe('spool file check', () => {
  it('passes an archive of ours, .scal and .scam', async () => {
    const dir = fresh('ok');
    assert.equal(await spoolFileProblem(await writeContractArchive(dir, 'scal')), undefined);
    assert.equal(await spoolFileProblem(await writeContractArchive(dir, 'scam')), undefined);
  });

  it('refuses a symlink (even to a good archive), a text file, a directory, a FIFO and a foreign name', async () => {
    const dir = fresh('bad');
    const secret = join(fresh('secret'), 'only-mine.txt');
    writeFileSync(secret, 'the uploader\'s secret\n', { mode: 0o600 });
    const link = join(dir, `${randomUUID()}.scal`);
    symlinkSync(secret, link);
    assert.equal(await spoolFileProblem(link), 'a symbolic link');
    const good = await writeContractArchive(fresh('elsewhere'));
    const linkToGood = join(dir, `${randomUUID()}.scal`);
    symlinkSync(good, linkToGood);
    assert.equal(await spoolFileProblem(linkToGood), 'a symbolic link');
    const text = join(dir, `${randomUUID()}.scam`);
    writeFileSync(text, 'not a zip at all\n');
    assert.match((await spoolFileProblem(text))!, /^not an archive of ours: not a zip archive/);
    const folder = join(dir, `${randomUUID()}.scal`);
    mkdirSync(folder);
    assert.equal(await spoolFileProblem(folder), 'not a regular file');
    const fifo = join(dir, `${randomUUID()}.scal`);
    execFileSync('mkfifo', [fifo]);
    assert.equal(await spoolFileProblem(fifo), 'not a regular file');
    assert.equal(await spoolFileProblem(join(dir, 'report.csv')), 'not named <uuid>.scal or <uuid>.scam');
    // a real archive of ours under another uuid: its entries say otherwise
    const renamed = join(dir, `${randomUUID()}.scal`);
    copyFileSync(good, renamed);
    assert.match((await spoolFileProblem(renamed))!, /^not an archive of ours: entries are below .*, but the file name says/);
    // every one of them is listed for the check, links and folders included
    assert.equal((await waitingArchives(dir)).length, 6);
  });

  it('refuses an archive owned by another user', { skip: asRoot ? undefined : 'needs root to chown' }, async () => {
    const f = await writeContractArchive(fresh('foreign'));
    chownSync(f, 65534, 65534);
    assert.equal(await spoolFileProblem(f), `owned by uid 65534, not by the user running the upload (uid ${process.getuid!()})`);
  });
});
