// docs/security.md states the per-connection rate limits twice (the limits table and the configuration
// table); both must say what the code does, or an operator sizes clients against numbers the gateway does
// not enforce.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { AUTH_ENV } from '@rtv/auth';
import { REPO_ROOT } from '@rtv/testing';
import { describe, expect, it } from 'vitest';
import { GATEWAY_ENV } from '../../services/gateway/src/config.js';
import { WORKER_ENV } from '../../services/session-worker/src/config.js';
import { STATUS_ENV } from '../../services/status-api/src/config.js';

const DOC = readFileSync(path.join(REPO_ROOT, 'docs/security.md'), 'utf8');

/** Cells of every table row. */
function tableRows(): string[][] {
  return DOC.split('\n')
    .filter((line) => line.startsWith('|'))
    .map((line) =>
      line
        .split('|')
        .slice(1, -1)
        .map((c) => c.trim()),
    );
}

/** Cells of every table row whose cell list contains `cell` exactly. */
function rowsWith(cell: string): string[][] {
  return tableRows().filter((cells) => cells.includes(cell));
}

/** The numbers in a cell, in order (`262,144 (burst 2× …)` → [262144, 2]). */
function numbers(cell: string): number[] {
  return [...cell.matchAll(/\d[\d,]*/g)].map((m) => Number(m[0].replaceAll(',', '')));
}

describe('docs/security.md matches the code', () => {
  const messagesPerS = AUTH_ENV.RTV_MAX_MESSAGES_PER_S.default;
  const bytesPerS = AUTH_ENV.RTV_MAX_BYTES_PER_S.default;

  it('the gateway reads the auth defaults documented here', () => {
    expect(GATEWAY_ENV.RTV_MAX_MESSAGES_PER_S.default).toBe(messagesPerS);
    expect(GATEWAY_ENV.RTV_MAX_BYTES_PER_S.default).toBe(bytesPerS);
  });

  it.each([
    ['RTV_MAX_MESSAGES_PER_S', messagesPerS],
    ['RTV_MAX_BYTES_PER_S', bytesPerS],
  ])('every table states the default of %s (%i)', (name, value) => {
    const rows = rowsWith(`\`${name}\``);
    // The limits table and the configuration table.
    expect(rows).toHaveLength(2);
    for (const row of rows) {
      const defaultCell = row[row.indexOf(`\`${name}\``) + 1]!;
      expect(numbers(defaultCell)[0], `${name} in: ${row.join(' | ')}`).toBe(value);
    }
  });

  it('the documented message burst is twice the rate, as authSettingsFromConfig sets it', () => {
    const [limitsRow] = rowsWith('`RTV_MAX_MESSAGES_PER_S`').filter((row) => row.join(' ').includes('burst'));
    expect(limitsRow).toBeDefined();
    const cell = limitsRow![limitsRow!.indexOf('`RTV_MAX_MESSAGES_PER_S`') + 1]!;
    expect(cell).toMatch(/burst/);
    expect(numbers(cell)).toEqual([messagesPerS, 2 * messagesPerS]);
  });

  it('no sentence states another per-connection message rate', () => {
    const stated = [...DOC.matchAll(/(\d[\d,]*)\s*(?:messages|frames)\s*(?:per second|\/\s*s)/gi)].map((m) =>
      Number(m[1]!.replaceAll(',', '')),
    );
    for (const n of stated) expect(n).toBe(messagesPerS);
  });

  it('every limit in the limits table states the default its service reads', () => {
    const schemas: Record<string, object>[] = [GATEWAY_ENV, WORKER_ENV, STATUS_ENV];
    const defaultOf = (name: string) => {
      const spec = schemas.find((schema) => name in schema)?.[name];
      return spec && 'default' in spec ? spec.default : undefined;
    };
    const limitRows = tableRows().filter((row) => row.length === 4 && /^`RTV_[A-Z_]+`$/.test(row[1]!));
    // The rows this round added (connection caps, proxies, byte budgets) are among them.
    expect(limitRows.length).toBeGreaterThanOrEqual(12);
    for (const [limit, variable, defaultCell] of limitRows) {
      const name = variable!.slice(1, -1);
      expect(defaultOf(name), `${name} (${limit}) is not a setting of any service`).toBeTypeOf('number');
      expect(numbers(defaultCell!)[0], `${name} in: ${limit}`).toBe(defaultOf(name));
    }
  });
});
