// The alert rules and the dashboard queries are checked by Prometheus's own tooling: promtool parses every
// expression, lints the rule file and runs the unit tests that make each alert fire (and stay quiet).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import {
  dashboardExpressions,
  loadRules,
  RULE_TESTS_PATH,
  RULES_PATH,
  withGrafanaVariables,
} from './helpers/artifacts.js';
import { promtool } from './helpers/prom.js';

describe('Prometheus rules (promtool)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'rtv-rules-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('pass promtool check rules', () => {
    const res = promtool(['check', 'rules', RULES_PATH]);
    expect(res.output).toContain('SUCCESS');
    expect(res.code, res.output).toBe(0);
  });

  it('pass their unit tests (promtool test rules)', () => {
    const res = promtool(['test', 'rules', RULE_TESTS_PATH]);
    expect(res.code, res.output).toBe(0);
    expect(res.output).toContain('SUCCESS');
  });

  it('have a unit test for every alert', () => {
    const tests = parse(readFileSync(RULE_TESTS_PATH, 'utf8')) as {
      tests: Array<{ alert_rule_test?: Array<{ alertname: string; exp_alerts: unknown[] }> }>;
    };
    const alerts = loadRules().groups.flatMap((g) => g.rules.flatMap((r) => (r.alert ? [r.alert] : [])));
    const cases = tests.tests.flatMap((t) => t.alert_rule_test ?? []);
    const firing = new Set(cases.filter((c) => c.exp_alerts.length > 0).map((c) => c.alertname));
    const quiet = new Set(cases.filter((c) => c.exp_alerts.length === 0).map((c) => c.alertname));
    expect(
      alerts.filter((a) => !firing.has(a)),
      'alerts without a firing case',
    ).toEqual([]);
    expect(
      alerts.filter((a) => !quiet.has(a)),
      'alerts without a quiet case',
    ).toEqual([]);
  });

  it('parse every dashboard query as PromQL', () => {
    // promtool parses rule expressions with the real PromQL parser: each query becomes a recording rule.
    const expressions = dashboardExpressions();
    const file = path.join(dir, 'dashboard-queries.yml');
    writeFileSync(
      file,
      stringify({
        groups: [
          {
            name: 'dashboard',
            rules: expressions.map((e, i) => ({
              record: `dashboard:query_${i}`,
              expr: withGrafanaVariables(e.expr),
            })),
          },
        ],
      }),
    );
    const res = promtool(['check', 'rules', file]);
    expect(res.code, res.output).toBe(0);
    expect(res.output).toContain(`SUCCESS: ${expressions.length} rules found`);
  });

  it('reject a broken query (the parse check can fail)', () => {
    const file = path.join(dir, 'broken.yml');
    writeFileSync(
      file,
      stringify({ groups: [{ name: 'x', rules: [{ record: 'x:y', expr: 'sum(rate(x[5m])' }] }] }),
    );
    expect(promtool(['check', 'rules', file]).code).not.toBe(0);
  });
});
