import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  CHART_README,
  currentChartReadme,
  documentedValues,
  normalizeTables,
  valueRows,
} from './chart-readme.js';

describe('chart README (scripts/chart-readme.ts)', () => {
  it('is current: the committed README is what the chart files generate (regenerate with the script)', () => {
    expect(normalizeTables(readFileSync(CHART_README, 'utf8'))).toBe(normalizeTables(currentChartReadme()));
  });

  it('lists the documented values of the chart with their schema types and defaults', () => {
    const readme = readFileSync(CHART_README, 'utf8');
    const row = (key: string) =>
      normalizeTables(readme)
        .split('\n')
        .find((l) => l.startsWith(`|\`${key}\`|`));
    expect(row('drain.timeoutSeconds')).toMatch(
      /^\|`drain\.timeoutSeconds`\|int\|`30`\|.*RTV_SHUTDOWN_TIMEOUT_S/,
    );
    expect(row('redis.exporter.enabled')).toMatch(/^\|`redis\.exporter\.enabled`\|bool or null\|`null`\|/);
    expect(row('worker.autoscaling.keda.enabled')).toMatch(/\|bool\|`false`\|/);
    expect(row('tests.enabled')).toMatch(/\|bool\|`true`\|.*helm test/);
  });

  it('reads `# --` comments with their continuation lines, nested keys, and skips list and block contents', () => {
    const text = [
      '# A header comment, not a description.',
      '',
      '# -- Top-level switch.',
      'enabled: true',
      'group:',
      '  # A plain note: not documented.',
      '  plain: 1',
      '  # -- Items of a list; the keys inside the items are values.',
      '  # It goes on here.',
      '  items:',
      '    - name: a',
      '      # -- not a key of the chart',
      '      value: 1',
      '  # -- After the list.',
      '  after: "x" # trailing comment',
      '  script: |',
      '    key: not-a-key',
      '  # -- Deeper.',
      '  nested:',
      '    # -- The leaf, with a | pipe.',
      '    leaf: null',
      '# -- A blank line drops it.',
      '',
      'undocumented: 2',
    ].join('\n');
    expect(documentedValues(text)).toEqual([
      { key: 'enabled', description: 'Top-level switch.' },
      {
        key: 'group.items',
        description: 'Items of a list; the keys inside the items are values. It goes on here.',
      },
      { key: 'group.after', description: 'After the list.' },
      { key: 'group.nested', description: 'Deeper.' },
      { key: 'group.nested.leaf', description: 'The leaf, with a | pipe.' },
    ]);
    const schema = {
      properties: {
        group: { $ref: '#/definitions/group' },
      },
      definitions: {
        group: { properties: { nested: { properties: { leaf: { type: ['integer', 'null'] } } } } },
      },
    };
    expect(valueRows(text, schema).map((r) => [r.key, r.type, r.default])).toEqual([
      ['enabled', 'bool', 'true'],
      ['group.items', 'list', '[{"name":"a","value":1}]'],
      ['group.after', 'string', '"x"'],
      ['group.nested', 'object', '{"leaf":null}'],
      ['group.nested.leaf', 'int or null', 'null'],
    ]);
  });

  it('refuses a documented key that the parsed values do not have', () => {
    expect(() => valueRows('# -- Documented.\n"odd key": 1\n', {})).not.toThrow();
    expect(() => valueRows('a:\n  # -- Documented.\n  b: 1\n', {})).not.toThrow();
    // A quoted scalar spanning lines, which the line reader takes for a key: caught, not printed wrong.
    expect(() => valueRows('a: "text\n  # -- Inside a string.\n  b: c"\n', {})).toThrow(
      'values.yaml: documented key a.b is not a value',
    );
  });
});
