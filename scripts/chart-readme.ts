// Writes deploy/helm/realtime-voice/README.md from the chart itself: the description and versions from
// Chart.yaml, install commands, and a table of the values documented with `# --` comments in values.yaml
// (the helm-docs convention: a comment starting with `# --` directly above a key describes it; the lines
// after it continue it), with each value's type from values.schema.json and its default from values.yaml.
// `--check` exits 1 when the committed README is out of date (the test suite runs the same comparison).
//
//   node --conditions=source --import tsx scripts/chart-readme.ts [--check]
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

export const CHART_DIR = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  'deploy/helm/realtime-voice',
);
export const CHART_README = path.join(CHART_DIR, 'README.md');

/** One documented value: its dotted path and the text of its `# --` comment. */
export interface DocumentedValue {
  key: string;
  description: string;
}

/** One row of the values table. */
export interface ValueRow extends DocumentedValue {
  type: string;
  default: string;
}

const KEY_LINE = /^( *)([A-Za-z0-9_.-]+|"[^"]+"):(?: +(.*))?$/;
const LIST_ITEM = /^( *)- /;

const indentOf = (line: string) => line.length - line.trimStart().length;

/**
 * The `# --` comments of a values file and the keys they describe, in file order. Reads the text line by
 * line: keys nest by indentation; the contents of lists and block scalars are values, not keys, and are
 * skipped; a blank line or a key without `# --` drops a pending comment.
 */
export function documentedValues(text: string): DocumentedValue[] {
  const lines = text.split('\n');
  const out: DocumentedValue[] = [];
  const path: { indent: number; key: string }[] = [];
  let pending: string[] | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const trimmed = line.trim();
    if (trimmed === '') {
      pending = undefined;
      continue;
    }
    if (trimmed.startsWith('#')) {
      const body = trimmed.replace(/^#+ ?/, '');
      if (body.startsWith('-- ') || body === '--') pending = [body.slice(2).trim()];
      else if (pending) pending.push(body.trim());
      continue;
    }
    const match = KEY_LINE.exec(line);
    if (!match || LIST_ITEM.test(line)) {
      pending = undefined;
      continue;
    }
    const indent = match[1]!.length;
    const key = match[2]!.replace(/^"|"$/g, '');
    while (path.length > 0 && path.at(-1)!.indent >= indent) path.pop();
    path.push({ indent, key });
    if (pending) out.push({ key: path.map((p) => p.key).join('.'), description: pending.join(' ').trim() });
    pending = undefined;
    const value = (match[3] ?? '').replace(/\s+#.*$/, '').trim();
    // A block list or scalar under this key holds values, not keys: skip to the next line at its indent.
    if (value === '' || /^[|>][-+]?$/.test(value)) {
      let j = i + 1;
      while (j < lines.length && (lines[j]!.trim() === '' || lines[j]!.trim().startsWith('#'))) j++;
      const next = lines[j];
      const isList = next !== undefined && LIST_ITEM.test(next) && indentOf(next) >= indent;
      if (isList || value !== '') {
        while (
          j < lines.length &&
          (lines[j]!.trim() === '' ||
            indentOf(lines[j]!) > indent ||
            (isList && indentOf(lines[j]!) === indent && LIST_ITEM.test(lines[j]!)))
        )
          j++;
        i = j - 1;
      }
    }
  }
  return out;
}

type Schema = {
  type?: string | string[];
  enum?: unknown[];
  $ref?: string;
  properties?: Record<string, Schema>;
};

/** The schema of `key` (dotted) in the values schema, following local `$ref`s; undefined when it has none. */
function schemaAt(root: Schema & { definitions?: Record<string, Schema> }, key: string): Schema | undefined {
  const resolve = (s: Schema | undefined): Schema | undefined =>
    s?.$ref ? resolve(root.definitions?.[s.$ref.replace('#/definitions/', '')]) : s;
  let node: Schema | undefined = root;
  for (const part of key.split('.')) node = resolve(resolve(node)?.properties?.[part]);
  return node;
}

const SCHEMA_TYPES: Record<string, string> = { boolean: 'bool', integer: 'int', array: 'list' };

/** The type shown for a value: the schema's, else the default's. */
function typeOf(schema: Schema | undefined, value: unknown): string {
  const declared = schema?.type ?? (schema?.enum ? 'string' : undefined);
  if (declared !== undefined) {
    return [declared]
      .flat()
      .map((t) => SCHEMA_TYPES[t] ?? t)
      .join(' or ');
  }
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'list';
  if (typeof value === 'boolean') return 'bool';
  if (typeof value === 'number') return Number.isInteger(value) ? 'int' : 'float';
  return typeof value;
}

function valueAt(values: unknown, key: string): { found: boolean; value: unknown } {
  let node = values;
  for (const part of key.split('.')) {
    if (node === null || typeof node !== 'object' || !(part in node))
      return { found: false, value: undefined };
    node = (node as Record<string, unknown>)[part];
  }
  return { found: true, value: node };
}

/** The rows of the values table; throws when a documented key is not in the parsed values (a parser slip). */
export function valueRows(valuesText: string, schema: Schema): ValueRow[] {
  const values = parse(valuesText) as unknown;
  return documentedValues(valuesText).map(({ key, description }) => {
    const { found, value } = valueAt(values, key);
    if (!found) throw new Error(`values.yaml: documented key ${key} is not a value`);
    return { key, description, type: typeOf(schemaAt(schema, key), value), default: JSON.stringify(value) };
  });
}

const cell = (text: string) => text.replaceAll('|', '\\|');

interface ChartMeta {
  name: string;
  description: string;
  version: string;
  appVersion: string;
  kubeVersion?: string;
  home?: string;
}

/** The whole README text. */
export function renderChartReadme(chartYaml: string, valuesText: string, schemaText: string): string {
  const chart = parse(chartYaml) as ChartMeta;
  const rows = valueRows(valuesText, JSON.parse(schemaText) as Schema);
  return `<!-- Generated by scripts/chart-readme.ts from Chart.yaml, values.yaml and values.schema.json: edit those, then run
node --conditions=source --import tsx scripts/chart-readme.ts -->

# ${chart.name}

${chart.description.trim()}

Chart version ${chart.version}, app version ${chart.appVersion}${chart.kubeVersion ? `, Kubernetes ${chart.kubeVersion}` : ''}.${chart.home ? ` Home: ${chart.home}` : ''}

## Install

From a checkout of the repository, with the images in your registry (\`docs/deploy.md\`, "From image build to
helm test"):

\`\`\`bash
helm install voice deploy/helm/realtime-voice -n voice --create-namespace --set image.registry=registry.example.com/voice
helm test voice -n voice
\`\`\`

For production, layer \`values-production.yaml\` (external Redis Cluster over TLS, Secrets created beforehand,
Ingress, autoscaling, monitoring):

\`\`\`bash
helm upgrade --install voice deploy/helm/realtime-voice -n voice \\
  -f deploy/helm/realtime-voice/values-production.yaml --set image.registry=registry.example.com/voice
\`\`\`

\`docs/deploy.md\` explains each choice; \`values.schema.json\` refuses unknown or malformed values.

## Values

| Key | Type | Default | Description |
| --- | --- | --- | --- |
${rows.map((r) => `| \`${r.key}\` | ${r.type} | \`${cell(r.default)}\` | ${cell(r.description)} |`).join('\n')}
`;
}

/** Table cells trimmed and separator rows reduced, so the formatter's column alignment does not count. */
export function normalizeTables(text: string): string {
  return text
    .split('\n')
    .map((line) => {
      if (!line.startsWith('|')) return line;
      const cells = line
        .split(/(?<!\\)\|/)
        .slice(1, -1)
        .map((c) => c.trim());
      return `|${cells.map((c) => (/^:?-+:?$/.test(c) ? '---' : c)).join('|')}|`;
    })
    .join('\n');
}

/** The README as generated from the chart's files now. */
export function currentChartReadme(): string {
  const read = (file: string) => readFileSync(path.join(CHART_DIR, file), 'utf8');
  return renderChartReadme(read('Chart.yaml'), read('values.yaml'), read('values.schema.json'));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const next = currentChartReadme();
  let committed = '';
  try {
    committed = readFileSync(CHART_README, 'utf8');
  } catch {
    // First run: nothing committed yet.
  }
  const current = normalizeTables(next) === normalizeTables(committed);
  if (process.argv.includes('--check')) {
    if (!current) {
      console.error(
        `${path.relative(process.cwd(), CHART_README)} is out of date: run node --conditions=source --import tsx scripts/chart-readme.ts`,
      );
      process.exit(1);
    }
  } else if (!current) {
    writeFileSync(CHART_README, next);
    // Align the columns the way the formatter does, so `biome check` stays clean.
    spawnSync('npx', ['biome', 'format', '--write', CHART_README], { stdio: 'inherit' });
    console.log(`${path.relative(process.cwd(), CHART_README)} updated`);
  }
}
