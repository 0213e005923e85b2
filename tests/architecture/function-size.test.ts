// Behaviour lives in named classes and small functions (docs/architecture.md, "Where things live"): no function in a
// service is over 80 lines, except the declarative metric tables, which list one metric after another.
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { type SourceFile, sourcesUnder } from './sources.js';

const MAX_LINES = 80;
/** Functions that are tables, not logic: each `create*Metrics` declares the service's metrics one by one. */
const TABLES = /^create\w*Metrics$/;

function longFunctions(file: SourceFile): string[] {
  const src = ts.createSourceFile(file.path, file.text, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const first = src.getLineAndCharacterOfPosition(node.getStart(src)).line;
      const last = src.getLineAndCharacterOfPosition(node.getEnd()).line;
      const name = nameOf(node);
      if (last - first + 1 > MAX_LINES && !TABLES.test(name)) {
        found.push(`${file.path}:${first + 1} ${name} (${last - first + 1} lines)`);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(src);
  return found;
}

function nameOf(node: ts.Node): string {
  const named = node as { name?: ts.Node };
  if (named.name) return named.name.getText();
  const parent = node.parent;
  if (parent && (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent)))
    return parent.name.getText();
  return '<anonymous>';
}

describe('function size', () => {
  it(`no function in services/ is over ${MAX_LINES} lines, metric tables excepted`, () => {
    const files = sourcesUnder('services');
    expect(files.length).toBeGreaterThan(20);
    expect(files.flatMap(longFunctions)).toEqual([]);
  });

  it('the check sees a long function', () => {
    const body = Array.from({ length: MAX_LINES }, (_, i) => `  const v${i} = ${i};`).join('\n');
    const file = { path: 'x.ts', text: `export function tooLong(): void {\n${body}\n}\n` };
    expect(longFunctions(file)).toEqual([`x.ts:1 tooLong (${MAX_LINES + 2} lines)`]);
  });
});
