// `npm run bench -- --update-docs` writes its summary into docs/benchmarks.md laid out as the project's formatter
// lays it out, so the page passes npm test's lint without a manual format.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { alignTables, DOCS_END, DOCS_START, updateDocs } from '../report/docs.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'rtv-bench-docs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('updateDocs', () => {
  it('pads every table to its column widths, separators with dashes, and leaves other lines alone', () => {
    const summary = [
      '# Benchmark',
      '',
      '|  | stack | baseline |',
      '| --- | --- | --- |',
      '| server CPU µs/frame | 191.6 | 96.6 |',
      '| p99 ≤ 50 ms | — | 200 |',
      '',
      'A line | with a pipe, not a table.',
    ].join('\n');
    expect(alignTables(summary)).toBe(
      [
        '# Benchmark',
        '',
        '|                     | stack | baseline |',
        '| ------------------- | ----- | -------- |',
        '| server CPU µs/frame | 191.6 | 96.6     |',
        '| p99 ≤ 50 ms         | —     | 200      |',
        '',
        'A line | with a pipe, not a table.',
      ].join('\n'),
    );
  });

  it('replaces only the section between the markers, headings one level down, tables aligned', () => {
    const file = path.join(dir, 'benchmarks.md');
    writeFileSync(file, `# Benchmarks\n\nHand-written.\n\n${DOCS_START}\nold\n${DOCS_END}\n\nAfter.\n`);
    updateDocs(file, '# Run\n\n| a | bb |\n| --- | --- |\n| 1 | 2 |\n', 'bench-results/x');
    const text = readFileSync(file, 'utf8');
    expect(text).toContain('Hand-written.');
    expect(text).toContain('After.');
    expect(text).not.toContain('\nold\n');
    expect(text).toContain('## Run');
    expect(text).toContain('| a   | bb  |\n| --- | --- |\n| 1   | 2   |');
  });
});
