// No array is spread into a call anywhere in src/: `f(...xs)`, `Math.max(...xs)`,
// `push(...xs)` and `f.apply(this, xs)` put every element on the stack, and past
// about 120,000 elements V8 throws "Maximum call stack size exceeded". Lists in
// this program come from hosts, archives, reports and files of any size (a
// known_hosts of 200,000 lines failed every host), so the pattern is refused
// everywhere rather than judged case by case. Array literals (`[...a, ...b]`)
// are fine: they do not use the stack.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

const root = join(import.meta.dirname, '..', '..');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = join(dir, d.name);
    return d.isDirectory() ? sources(p) : /\.ts$/.test(d.name) && !d.name.endsWith('.d.ts') ? [p] : [];
  });
}

/** `file:line: text` for every spread into a call or `new`, and every `.apply(` with an argument list. */
function unboundedSpreads(file: string, text: string): string[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found: string[] = [];
  const at = (n: ts.Node): string => `${file}:${sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1}: ${n.getText(sf).slice(0, 100)}`;
  const visit = (n: ts.Node): void => {
    if (ts.isSpreadElement(n) && (ts.isCallExpression(n.parent) || ts.isNewExpression(n.parent))) found.push(at(n.parent));
    if (ts.isCallExpression(n) && ts.isPropertyAccessExpression(n.expression) && n.expression.name.text === 'apply' && n.arguments.length === 2) found.push(at(n));
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return found;
}

describe('no unbounded spread into calls', () => {
  it('the scan finds each form it refuses, and not array literals or object spreads', () => {
    const sample = [
      'rows.push(...more);',
      'const m = Math.max(...sizes);',
      'f(a, ...rest);',
      'new Set(...lists);',
      'String.fromCharCode.apply(null, codes);',
      'const ok = [...a, ...b];',
      'const o = { ...x, y: 1 };',
      'g(a, b);',
    ].join('\n');
    const hits = unboundedSpreads('sample.ts', sample);
    assert.deepEqual(
      hits.map((h) => h.split(':')[1]),
      ['1', '2', '3', '4', '5'],
    );
  });

  it('src/ holds none', () => {
    const files = sources(join(root, 'src'));
    assert.ok(files.length > 50, `only ${files.length} source files found`);
    const hits = files.flatMap((f) => unboundedSpreads(relative(root, f), readFileSync(f, 'utf8')));
    assert.deepEqual(hits, [], `spread into a call (use a loop, or reduce):\n${hits.join('\n')}`);
  });
});
