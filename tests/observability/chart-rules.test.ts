// The chart's PrometheusRule and Grafana dashboard for several releases in one Prometheus and one Grafana,
// rendered by the real helm: every rule reads only its own release's series (the placeholders of
// deploy/prometheus/rules replaced by the release's matchers), and promtool runs the rules of three releases
// side by side over one TSDB (tests/observability/fixtures/releases.test.yml): each records its own series and
// alerts fire only for the faulty release.
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import { CHART_DIR, helm } from '../deploy/support/helm.js';
import {
  type ChartRelease,
  type Dashboard,
  type RuleFile,
  releaseDashboard,
  scopedRules,
  selectorsIn,
} from './helpers/artifacts.js';
import { promtool } from './helpers/prom.js';

const FIXTURE = path.join(import.meta.dirname, 'fixtures/releases.test.yml');
const PRODUCTION_RUNBOOKS = 'https://runbooks.example.com/rtv/runbooks.md';

interface Release extends ChartRelease {
  set?: Record<string, string>;
}

const RELEASES: Release[] = [
  { name: 'staging', namespace: 'voice-staging' },
  {
    name: 'production',
    namespace: 'voice-production',
    runbookBaseUrl: PRODUCTION_RUNBOOKS,
    set: { 'metrics.prometheusRule.runbookBaseUrl': PRODUCTION_RUNBOOKS },
  },
  // A second release in production's namespace: only the job prefix tells their series apart.
  { name: 'canary', namespace: 'voice-production' },
];

interface Rendered {
  rules: RuleFile;
  dashboard: Dashboard;
}

/** `helm template` of the PrometheusRule and the dashboards ConfigMap for one release. */
function renderRelease(release: Release): Rendered {
  const args = ['template', release.name, CHART_DIR, '--namespace', release.namespace];
  const set = {
    'metrics.prometheusRule.enabled': 'true',
    'metrics.grafanaDashboard.enabled': 'true',
    ...release.set,
  };
  for (const [key, value] of Object.entries(set)) args.push('--set', `${key}=${value}`);
  args.push(
    '--show-only',
    'templates/prometheusrule.yaml',
    '--show-only',
    'templates/grafana-dashboards.yaml',
  );
  const res = helm(args);
  if (res.status !== 0) throw new Error(`helm template ${release.name} failed: ${res.stderr}`);
  const objects = parseAllDocuments(res.stdout).map((d) => d.toJS() as Record<string, unknown> | null);
  const rule = objects.find((o) => o?.kind === 'PrometheusRule') as { spec: RuleFile } | undefined;
  const configMap = objects.find((o) => o?.kind === 'ConfigMap') as
    | { data: Record<string, string> }
    | undefined;
  if (!rule || !configMap) throw new Error(`helm template ${release.name}: no PrometheusRule or ConfigMap`);
  return { rules: rule.spec, dashboard: JSON.parse(configMap.data['realtime-voice.json']!) as Dashboard };
}

describe('the chart for several releases in one Prometheus and one Grafana', () => {
  const rendered = new Map<string, Rendered>();
  const dir = mkdtempSync(path.join(tmpdir(), 'rtv-chart-rules-'));

  beforeAll(() => {
    for (const release of RELEASES) rendered.set(release.name, renderRelease(release));
  }, 300_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each(RELEASES)('renders the source rules scoped to release $name', (release) => {
    const { rules } = rendered.get(release.name)!;
    expect(rules).toEqual(scopedRules(release));
    // Every selector of every rule names the release's namespace and its own Services (or HPAs).
    const fullname = `${release.name}-realtime-voice`;
    const unscoped = rules.groups
      .flatMap((g) => g.rules)
      .flatMap((r) =>
        selectorsIn(r.expr)
          .filter(
            (s) =>
              !s.matchers.startsWith(`namespace="${release.namespace}", job=~"${fullname}-.+"`) &&
              !s.matchers.startsWith(
                `namespace="${release.namespace}", horizontalpodautoscaler=~"${fullname}-.+"`,
              ),
          )
          .map((s) => `${r.alert ?? r.record}: ${s.name}{${s.matchers}}`),
      );
    expect(unscoped).toEqual([]);
    expect(JSON.stringify(rules)).not.toMatch(/rtv_(hpa_)?scope/);
  });

  it('points runbook_url at metrics.prometheusRule.runbookBaseUrl', () => {
    const urls = (name: string) =>
      rendered
        .get(name)!
        .rules.groups.flatMap((g) => g.rules)
        .filter((r) => r.alert)
        .map((r) => r.annotations?.runbook_url ?? '');
    expect(urls('production').every((u) => u.startsWith(`${PRODUCTION_RUNBOOKS}#realtimevoice`))).toBe(true);
    expect(urls('staging').every((u) => u.startsWith('docs/runbooks.md#realtimevoice'))).toBe(true);
    const bad = helm([
      'template',
      'x',
      CHART_DIR,
      '--set',
      'metrics.prometheusRule.enabled=true',
      '--set',
      'metrics.prometheusRule.runbookBaseUrl=https://x.example/runbooks.md#top',
    ]);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain('runbookBaseUrl');
  });

  it('gives promtool rules that select disjoint series and fire only for the faulty release', () => {
    for (const [name, { rules }] of rendered) {
      const file = path.join(dir, `${name}.rules.yml`);
      writeFileSync(file, stringify(rules, { lineWidth: 0 }));
      const check = promtool(['check', 'rules', file]);
      expect(check.code, check.output).toBe(0);
    }
    copyFileSync(FIXTURE, path.join(dir, 'releases.test.yml'));
    const res = promtool(['test', 'rules', path.join(dir, 'releases.test.yml')]);
    expect(res.code, res.output).toBe(0);
    expect(res.output).toContain('SUCCESS');
  }, 120_000);

  it('fails the same promtool test when a release reads another release’s series', () => {
    // canary rendered without its job matcher: its rules also read production's series in the namespace.
    const leaky = scopedRules({ name: 'canary', namespace: 'voice-production' });
    for (const rule of leaky.groups.flatMap((g) => g.rules)) {
      rule.expr = rule.expr.replaceAll(', job=~"canary-realtime-voice-.+"', '');
    }
    for (const [name, { rules }] of rendered) {
      writeFileSync(path.join(dir, `${name}.rules.yml`), stringify(name === 'canary' ? leaky : rules));
    }
    copyFileSync(FIXTURE, path.join(dir, 'releases.test.yml'));
    const res = promtool(['test', 'rules', path.join(dir, 'releases.test.yml')]);
    expect(res.code).not.toBe(0);
    expect(res.output).toContain('FAILED');
  }, 120_000);

  it('gives each release its own dashboard: uid, title and selectors starting on the release', () => {
    const uids = new Set<string>();
    for (const release of RELEASES) {
      const { dashboard } = rendered.get(release.name)!;
      expect(dashboard.uid!.length).toBeLessThanOrEqual(40);
      uids.add(dashboard.uid!);
      expect(dashboard.title).toContain(`${release.namespace} / ${release.name}`);
      const current = (name: string) =>
        (dashboard.templating?.list?.find((v) => v.name === name) as { current?: { value?: string } })
          ?.current?.value;
      expect(current('namespace')).toBe(release.namespace);
      expect(current('job')).toBe(`${release.name}-realtime-voice`);
      // Everything else is the dashboard of deploy/grafana as it is.
      expect(dashboard).toEqual(releaseDashboard(release));
    }
    expect(uids.size).toBe(RELEASES.length);
  });
});
