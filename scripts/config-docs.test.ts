import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { normalizeTables, README, renderReadme } from './config-docs.js';

describe('README configuration tables', () => {
  it('match the env schemas the services validate (regenerate with scripts/config-docs.ts)', () => {
    const text = readFileSync(README, 'utf8');
    expect(normalizeTables(renderReadme(text))).toBe(normalizeTables(text));
    for (const name of [
      'REDIS_URL',
      'RTV_GATEWAY_PORT',
      'RTV_RESUME_GRACE_MS',
      'OPENAI_API_KEY',
      'RTV_STATUS_PORT',
    ]) {
      expect(text).toMatch(new RegExp(`\\| \`${name}\` +\\|`));
    }
  });
});
