// README's option list is the scan's real option list: every option --help
// shows is in the table, and every option of the table exists.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildCommand } from '../../src/cli/options.js';

const readme = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');

describe('README', () => {
  it("the option table lists exactly the scan's options", () => {
    const section = readme.slice(readme.indexOf('## Options'), readme.indexOf('\n## ', readme.indexOf('## Options') + 5));
    const documented = new Set([...section.matchAll(/^\| (`[^|]*?) \|/gm)].flatMap((m) => [...m[1].matchAll(/--[a-z][a-z-]*/g)].map((x) => x[0])));
    const real = new Set(buildCommand().options.map((o) => o.long!).filter(Boolean).map((l) => l.replace(/^--no-/, '--no-')));
    real.add('--help');
    assert.deepEqual([...real].filter((o) => !documented.has(o)).sort(), [], 'options missing from README');
    assert.deepEqual([...documented].filter((o) => !real.has(o)).sort(), [], 'README options that do not exist');
  });

  it('has a section on each subcommand', () => {
    for (const c of ['octoscan-remote script', 'octoscan-remote inspect', 'octoscan-remote summary', '--summary']) assert.ok(readme.includes(c), c);
  });
});
