// The deployable observability artifacts under deploy/: the Grafana dashboard and the Prometheus rules,
// read the way Grafana and Prometheus read them, plus the PromQL found in each.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '@rtv/testing';
import { parse } from 'yaml';

export const DASHBOARD_PATH = path.join(REPO_ROOT, 'deploy/grafana/dashboards/realtime-voice.json');
export const RULES_PATH = path.join(REPO_ROOT, 'deploy/prometheus/rules/realtime-voice.yml');
export const RULE_TESTS_PATH = path.join(REPO_ROOT, 'deploy/prometheus/tests/realtime-voice.test.yml');
export const RULE_TESTS_DIR = path.join(REPO_ROOT, 'deploy/prometheus/tests');
export const RUNBOOKS_PATH = path.join(REPO_ROOT, 'docs/runbooks.md');

/** Every promtool unit test file under deploy/prometheus/tests (`promtool test rules deploy/prometheus/tests/*.yml`). */
export function ruleTestFiles(): string[] {
  return readdirSync(RULE_TESTS_DIR)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((f) => path.join(RULE_TESTS_DIR, f));
}

export interface DashboardPanel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { type?: string; uid?: string };
  targets?: Array<{ expr?: string; datasource?: { type?: string; uid?: string }; refId?: string }>;
  panels?: DashboardPanel[];
}

export interface DashboardVariable {
  name: string;
  type: string;
  query?: unknown;
  includeAll?: boolean;
  allValue?: string;
  regex?: string;
}

export interface DashboardAnnotation {
  name: string;
  target?: { expr?: string };
  titleFormat?: string;
  tagKeys?: string;
}

export interface Dashboard {
  schemaVersion: number;
  uid?: string;
  title?: string;
  templating?: { list?: DashboardVariable[] };
  annotations?: { list?: DashboardAnnotation[] };
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

/** The PromQL of every panel target and of every annotation query. */
export function dashboardExpressions(dashboard = loadDashboard()): Expression[] {
  const panels = allPanels(dashboard).flatMap((p) =>
    (p.targets ?? []).filter((t) => t.expr).map((t) => ({ where: `panel "${p.title}"`, expr: t.expr! })),
  );
  const annotations = (dashboard.annotations?.list ?? []).flatMap((a) =>
    a.target?.expr ? [{ where: `annotation "${a.name}"`, expr: a.target.expr }] : [],
  );
  return [...panels, ...annotations];
}

export interface Rule {
  record?: string;
  alert?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface RuleFile {
  groups: Array<{ name: string; rules: Rule[] }>;
}

export function alertRules(rules = loadRules()): Rule[] {
  return rules.groups.flatMap((g) => g.rules.filter((r) => r.alert));
}

export function loadRules(file = RULES_PATH): RuleFile {
  return parse(readFileSync(file, 'utf8')) as RuleFile;
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
 * The project's series names used by a PromQL expression: the name of every `rtv_…` or `rtv:…` selector (label
 * names and values are not names, so `{rtv_scope="", code=~"rtv_x"}` names nothing).
 */
export function namesIn(expr: string): string[] {
  return [...new Set(selectorsIn(expr).map((s) => s.name))].filter((name) => /^rtv[_:]/.test(name));
}

/**
 * Series names of other software that the dashboard and the rules read: prom-client's default process metrics
 * (every service exports them), redis_exporter (oliver006/redis_exporter, Debian prometheus-redis-exporter) and
 * kube-state-metrics. A misspelt one would leave a silent, empty panel or an alert that never fires.
 */
export const EXTERNAL_METRICS = new Set([
  'process_cpu_seconds_total',
  'process_resident_memory_bytes',
  'nodejs_heap_size_used_bytes',
  'nodejs_eventloop_lag_p99_seconds',
  'redis_up',
  'redis_memory_used_bytes',
  'redis_memory_max_bytes',
  'redis_commands_processed_total',
  'redis_connected_clients',
  'redis_rejected_connections_total',
  'redis_commands_duration_seconds_total',
  'redis_commands_total',
  'kube_horizontalpodautoscaler_status_current_replicas',
  'kube_horizontalpodautoscaler_spec_max_replicas',
]);

/** Names of other software's series (`process_…`, `nodejs_…`, `redis_…`, `kube_…`) used by an expression. */
export function externalNamesIn(expr: string): string[] {
  return selectorsIn(expr)
    .map((s) => s.name)
    .filter((name) => /^(process|nodejs|redis|kube)_/.test(name));
}

export interface Selector {
  /** The metric (or recorded series) name. */
  name: string;
  /** What stands between its braces, `''` when it has none. */
  matchers: string;
}

const PROMQL_KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on', 'ignoring']);

/**
 * Every vector selector of a PromQL expression with a metric name: the name and its matchers. String literals,
 * range and offset durations and the label lists of `by`/`without`/`on`/`ignoring`/`group_*` are not names.
 */
export function selectorsIn(expr: string): Selector[] {
  const blank = (m: string) => ' '.repeat(m.length);
  // Same length as the expression, so positions in it point into the original.
  const masked = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, (m) => `"${'x'.repeat(m.length - 2)}"`)
    .replace(/\[[^\]]*\]/g, blank)
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, blank)
    .replace(/\{[^}]*\}/g, (m) => `{${'x'.repeat(m.length - 2)}}`);
  const selectors: Selector[] = [];
  for (const m of masked.matchAll(/(?<![A-Za-z0-9_:"$.])[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const name = m[0];
    const after = masked.slice(m.index + name.length);
    if (PROMQL_KEYWORDS.has(name) || /^\s*\(/.test(after) || /^x+$/.test(name)) continue;
    const brace = /^\{(x*)\}/.exec(after);
    const start = m.index + name.length + 1;
    selectors.push({ name, matchers: brace ? expr.slice(start, start + brace[1]!.length) : '' });
  }
  return selectors;
}

/** Grafana's variables replaced by fixed values, so the expression parses as plain PromQL. */
export function withGrafanaVariables(expr: string): string {
  return expr
    .replaceAll('$__rate_interval', '5m')
    .replaceAll('$__interval', '1m')
    .replaceAll('$__range', '1h')
    .replaceAll('$namespace', '.*')
    .replaceAll('$job', '.*')
    .replaceAll('$pod', '.*');
}

/** A Helm release of the chart, as the chart's metrics templates see it. */
export interface ChartRelease {
  name: string;
  namespace: string;
  /** metrics.prometheusRule.runbookBaseUrl, when set. */
  runbookBaseUrl?: string;
}

/** `rtv.fullname` for the default chart name. */
export function fullnameOf(release: ChartRelease): string {
  return release.name.includes('realtime-voice') ? release.name : `${release.name}-realtime-voice`;
}

/**
 * The rules of deploy/prometheus/rules as the chart's PrometheusRule must render them for a release (see the
 * rule file's header): placeholders replaced by the release's matchers, `rtv_release` on every alert,
 * runbook_url on the configured base. The one description of that mapping the chart tests compare with.
 */
export function scopedRules(release: ChartRelease): RuleFile {
  const fullname = fullnameOf(release);
  const scope = `namespace="${release.namespace}", job=~"${fullname}-.+"`;
  const hpaScope = `namespace="${release.namespace}", horizontalpodautoscaler=~"${fullname}-.+"`;
  const base = release.runbookBaseUrl ?? 'docs/runbooks.md';
  const rules = loadRules();
  for (const rule of rules.groups.flatMap((g) => g.rules)) {
    rule.expr = rule.expr.replaceAll('rtv_scope=""', scope).replaceAll('rtv_hpa_scope=""', hpaScope);
    if (!rule.alert) continue;
    rule.labels = { ...rule.labels, rtv_release: release.name };
    if (rule.annotations?.runbook_url?.startsWith('docs/runbooks.md#'))
      rule.annotations.runbook_url = rule.annotations.runbook_url.replace('docs/runbooks.md#', `${base}#`);
  }
  return rules;
}

/**
 * The dashboard of deploy/grafana as the chart's ConfigMap must carry it for a release: uid and title naming
 * the release, the namespace and release selectors starting on it.
 */
export function releaseDashboard(release: ChartRelease, file = 'realtime-voice.json'): Dashboard {
  const dashboard = JSON.parse(
    readFileSync(path.join(path.dirname(DASHBOARD_PATH), file), 'utf8'),
  ) as Dashboard;
  const fullname = fullnameOf(release);
  const hash = createHash('sha256').update(`${release.namespace}/${release.name}/${file}`).digest('hex');
  dashboard.uid = `rtv-${fullname.slice(0, 22).replace(/-+$/, '')}-${hash.slice(0, 12)}`;
  dashboard.title = `${dashboard.title} (${release.namespace} / ${release.name})`;
  const current = { namespace: release.namespace, job: fullname } as Record<string, string>;
  for (const variable of dashboard.templating?.list ?? []) {
    const value = current[variable.name];
    if (value !== undefined)
      (variable as { current?: unknown }).current = { selected: true, text: value, value };
  }
  return dashboard;
}
