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
  RULES_PATH,
  ruleExpressions,
  ruleTestFiles,
  selectorsIn,
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
    const files = ruleTestFiles();
    expect(files.length).toBeGreaterThanOrEqual(2);
    const res = promtool(['test', 'rules', ...files]);
    expect(res.code, res.output).toBe(0);
    expect(res.output.match(/SUCCESS/g)?.length, res.output).toBe(files.length);
  }, 300_000);

  it('have a unit test for every alert', () => {
    const alerts = loadRules().groups.flatMap((g) => g.rules.flatMap((r) => (r.alert ? [r.alert] : [])));
    const cases = ruleTestFiles().flatMap((file) => {
      const tests = parse(readFileSync(file, 'utf8')) as {
        tests: Array<{ alert_rule_test?: Array<{ alertname: string; exp_alerts: unknown[] }> }>;
      };
      return tests.tests.flatMap((t) => t.alert_rule_test ?? []);
    });
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

  it('scope every selector with a release placeholder the chart replaces', () => {
    // A selector without one would read every release's series once the chart renders the rules.
    const unscoped = ruleExpressions().flatMap(({ where, expr }) =>
      selectorsIn(expr)
        .filter((s) => !/(^|, )rtv_(hpa_)?scope=""(,|$)/.test(s.matchers))
        .map((s) => `${where}: ${s.name}{${s.matchers}}`),
    );
    expect(unscoped).toEqual([]);
    // HPA series come from kube-state-metrics (job kube-state-metrics), so only they take the HPA scope.
    const hpa = ruleExpressions().flatMap(({ expr }) =>
      selectorsIn(expr).filter((s) => s.matchers.includes('rtv_hpa_scope')),
    );
    expect(hpa.length).toBeGreaterThan(0);
    expect(hpa.filter((s) => !s.name.startsWith('kube_horizontalpodautoscaler_'))).toEqual([]);
  });

  it('give every alert a severity, a summary and a runbook_url into docs/runbooks.md', () => {
    const problems = loadRules().groups.flatMap((g) =>
      g.rules
        .filter((r) => r.alert)
        .flatMap((r) => [
          ...(['critical', 'warning'].includes(r.labels?.severity ?? '') ? [] : [`${r.alert}: severity`]),
          ...(r.annotations?.summary ? [] : [`${r.alert}: summary`]),
          ...(r.annotations?.runbook_url === `docs/runbooks.md#${r.alert!.toLowerCase()}`
            ? []
            : [`${r.alert}: runbook_url`]),
        ]),
    );
    expect(problems).toEqual([]);
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
