// docs/metrics.md must describe exactly the metrics the services register: same names, types and labels.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '@rtv/testing';
import { describe, expect, it } from 'vitest';
import { type Family, registeredFamilies } from './helpers/prom.js';

interface DocRow {
  name: string;
  type: string;
  labelNames: string[];
  meaning: string;
}

/** Rows of the metric tables: `| \`name\` | type | \`label\`, … or — | meaning |`. */
function documentedMetrics(): Map<string, DocRow> {
  const text = readFileSync(path.join(REPO_ROOT, 'docs/metrics.md'), 'utf8');
  const rows = new Map<string, DocRow>();
  for (const line of text.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    const name = /^`(rtv_[a-z0-9_]+)`$/.exec(cells[1] ?? '')?.[1];
    if (!name || cells.length < 6) continue;
    if (rows.has(name)) throw new Error(`docs/metrics.md lists ${name} twice`);
    const labelNames = cells[3] === '—' ? [] : cells[3]!.split(',').map((l) => l.trim().replace(/`/g, ''));
    rows.set(name, { name, type: cells[2]!, labelNames, meaning: cells[4]! });
  }
  return rows;
}

describe('docs/metrics.md', () => {
  const registered = registeredFamilies();
  const documented = documentedMetrics();

  it('documents every registered metric with its type and labels', () => {
    const mismatches: string[] = [];
    for (const family of registered.values()) {
      const row = documented.get(family.name);
      if (!row) {
        mismatches.push(`${family.name} (${family.service}) is not documented`);
        continue;
      }
      if (row.type !== family.type)
        mismatches.push(`${family.name}: documented as ${row.type}, is ${family.type}`);
      const want = [...family.labelNames].sort().join(',');
      const got = [...row.labelNames].sort().join(',');
      if (want !== got) mismatches.push(`${family.name}: documented labels [${got}], registered [${want}]`);
      if (row.meaning.length < 10) mismatches.push(`${family.name}: the meaning column is empty`);
    }
    expect(mismatches).toEqual([]);
  });

  it('documents no metric that is not registered', () => {
    const extra = [...documented.keys()].filter((name) => !registered.has(name));
    expect(extra).toEqual([]);
  });

  it('finds every subsystem, so the table parser cannot silently match nothing', () => {
    const services = new Set([...documented.keys()].map((n) => (registered.get(n) as Family).service));
    expect([...services].sort()).toEqual(['gateway', 'service-kit', 'session-worker', 'status-api']);
    expect(documented.size).toBe(registered.size);
  });
});

describe('metric names', () => {
  it('follow rtv_<subsystem>_<name>_<unit>[_total] with base units', () => {
    const problems: string[] = [];
    for (const f of registeredFamilies().values()) {
      // rtv_build_info follows the `<namespace>_build_info` convention of Prometheus itself.
      if (!/^rtv_(gateway|worker|status|cluster)_[a-z0-9_]+$/.test(f.name) && f.name !== 'rtv_build_info')
        problems.push(`${f.name}: prefix`);
      if ((f.type === 'counter') !== f.name.endsWith('_total'))
        problems.push(`${f.name}: _total iff counter`);
      if (f.type === 'histogram' && !f.name.endsWith('_seconds'))
        problems.push(`${f.name}: histograms are timings`);
      if (/_(ms|milliseconds|kb|mb)(_|$)/.test(f.name)) problems.push(`${f.name}: not a base unit`);
      // A session or user id as a label would give every session its own series.
      for (const l of f.labelNames) if (/session|user|sid/.test(l)) problems.push(`${f.name}: label ${l}`);
    }
    expect(problems).toEqual([]);
  });
});
