// A URL's .pathname keeps percent-encoding: a checkout under a path with a space
// (CI runs the suite from one, issue 25) then names a file that does not exist.
// Paths from module URLs go through fileURLToPath; this keeps it so.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PATTERN = /import\.meta\.url\)?\s*\)?\s*\.pathname|new URL\([^)]*import\.meta\.url\)\.pathname/;

function* sources(dir: string): Generator<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* sources(p);
    else if (/\.(ts|mjs|js)$/.test(e.name)) yield p;
  }
}

test('the pattern finds what it is for', () => {
  assert.match("const f = new URL('../helpers/x.c', import.meta.url).pathname;", PATTERN);
  assert.doesNotMatch("const f = fileURLToPath(new URL('../helpers/x.c', import.meta.url));", PATTERN);
});

test('no path is taken from a module URL by .pathname (src, test, bench, bin)', () => {
  const found: string[] = [];
  for (const top of ['src', 'test', 'bench', 'bin']) {
    for (const file of sources(join(ROOT, top))) {
      readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
        if (PATTERN.test(line) && !line.includes('PATTERN') && !line.includes('assert.')) found.push(`${relative(ROOT, file)}:${i + 1}: ${line.trim()}`);
      });
    }
  }
  assert.deepEqual(found, [], 'use fileURLToPath(new URL(..., import.meta.url))');
});
