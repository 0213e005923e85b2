// The deployable observability artifacts under deploy/: the Grafana dashboard and the Prometheus rules,
// read the way Grafana and Prometheus read them, plus the PromQL found in each.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '@rtv/testing';
import { parse } from 'yaml';

export const DASHBOARD_PATH = path.join(REPO_ROOT, 'deploy/grafana/dashboards/realtime-voice.json');
export const RULES_PATH = path.join(REPO_ROOT, 'deploy/prometheus/rules/realtime-voice.yml');
export const RULE_TESTS_PATH = path.join(REPO_ROOT, 'deploy/prometheus/tests/realtime-voice.test.yml');

export interface DashboardPanel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { type?: string; uid?: string };
  targets?: Array<{ expr?: string; datasource?: { type?: string; uid?: string }; refId?: string }>;
  panels?: DashboardPanel[];
}

export interface Dashboard {
  schemaVersion: number;
  uid?: string;
  templating?: { list?: Array<{ name: string; type: string; query?: unknown }> };
  panels: DashboardPanel[];
  [key: string]: unknown;
}

export function loadDashboard(): Dashboard {
  return JSON.parse(readFileSync(DASHBOARD_PATH, 'utf8')) as Dashboard;
}

/** Every panel, those nested in collapsed rows included. */
export function allPanels(dashboard: Dashboard): DashboardPanel[] {
  return dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
}

export interface Expression {
  /** Where it comes from: `panel "<title>"` or `rule <name>`. */
  where: string;
  expr: string;
}

export function dashboardExpressions(dashboard = loadDashboard()): Expression[] {
  return allPanels(dashboard).flatMap((p) =>
    (p.targets ?? []).filter((t) => t.expr).map((t) => ({ where: `panel "${p.title}"`, expr: t.expr! })),
  );
}

export interface RuleFile {
  groups: Array<{ name: string; rules: Array<{ record?: string; alert?: string; expr: string }> }>;
}

export function loadRules(): RuleFile {
  return parse(readFileSync(RULES_PATH, 'utf8')) as RuleFile;
}

export function ruleExpressions(rules = loadRules()): Expression[] {
  return rules.groups.flatMap((g) =>
    g.rules.map((r) => ({ where: `rule ${r.alert ?? r.record}`, expr: r.expr })),
  );
}

/** Recording rule names (`rtv:…`), which PromQL elsewhere may use like metrics. */
export function recordedNames(rules = loadRules()): Set<string> {
  return new Set(rules.groups.flatMap((g) => g.rules.flatMap((r) => (r.record ? [r.record] : []))));
}

/**
 * The project's series names used by a PromQL expression: every `rtv_…` or `rtv:…` identifier outside string
 * literals (label values and regexes are strings, so `{code=~"rtv_x"}` names nothing).
 */
export function namesIn(expr: string): string[] {
  const code = expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""');
  return [...new Set([...code.matchAll(/(?<![A-Za-z0-9_:])rtv[_:][A-Za-z0-9_:]*/g)].map((m) => m[0]))];
}

/** Grafana's interval variables replaced by fixed durations, so the expression parses as plain PromQL. */
export function withGrafanaVariables(expr: string): string {
  return expr
    .replaceAll('$__rate_interval', '5m')
    .replaceAll('$__interval', '1m')
    .replaceAll('$__range', '1h');
}
