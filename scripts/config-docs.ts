// Writes the README's configuration tables from the services' env schemas, so the documented variables,
// defaults and meanings are the ones the code validates. `--check` exits 1 when README.md is out of date
// (the test suite runs the same comparison).
//
//   node --conditions=source --import tsx scripts/config-docs.ts [--check]
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeConfig, type EnvSchema } from '@rtv/service-kit';
import { GATEWAY_ENV } from '../services/gateway/src/config.js';
import { WORKER_ENV } from '../services/session-worker/src/config.js';
import { STATUS_ENV } from '../services/status-api/src/config.js';

export const README = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'README.md');

const SECTIONS: Record<string, EnvSchema> = {
  gateway: GATEWAY_ENV,
  'session-worker': WORKER_ENV,
  'status-api': STATUS_ENV,
};

function table(schema: EnvSchema): string {
  return ['| variable | default | meaning |', '| --- | --- | --- |', ...describeConfig(schema)].join('\n');
}

/** README text with every `<!-- config:NAME -->` … `<!-- /config:NAME -->` block regenerated. */
export function renderReadme(text: string): string {
  let out = text;
  for (const [name, schema] of Object.entries(SECTIONS)) {
    const open = `<!-- config:${name} -->`;
    const close = `<!-- /config:${name} -->`;
    const start = out.indexOf(open);
    const end = out.indexOf(close);
    if (start === -1 || end === -1 || end < start)
      throw new Error(`README.md lacks the ${open} … ${close} block`);
    out = `${out.slice(0, start + open.length)}\n${table(schema)}\n${out.slice(end)}`;
  }
  return out;
}

/** Table cells trimmed and separator rows reduced, so a formatter's column alignment does not count as drift. */
export function normalizeTables(text: string): string {
  return text
    .split('\n')
    .map((line) => {
      if (!line.startsWith('|')) return line;
      const cells = line
        .split('|')
        .slice(1, -1)
        .map((c) => c.trim());
      return `|${cells.map((c) => (/^-+$/.test(c) ? '---' : c)).join('|')}|`;
    })
    .join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const current = readFileSync(README, 'utf8');
  const next = renderReadme(current);
  if (process.argv.includes('--check')) {
    if (normalizeTables(next) !== normalizeTables(current)) {
      console.error(
        'README.md configuration tables are out of date: run node --conditions=source --import tsx scripts/config-docs.ts',
      );
      process.exit(1);
    }
  } else if (normalizeTables(next) !== normalizeTables(current)) {
    writeFileSync(README, next);
    // Align the columns the way the formatter does, so `biome check` stays clean.
    spawnSync('npx', ['biome', 'format', '--write', README], { stdio: 'inherit' });
    console.log('README.md configuration tables updated');
  }
}
