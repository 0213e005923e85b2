// Every PromQL expression shipped in the dashboard and the alert rules must name series the services really
// export (or recording rules defined next to them, or the listed series of redis_exporter, kube-state-metrics
// and prom-client): a renamed metric must not leave a silent, empty panel.
import { describe, expect, it } from 'vitest';
import {
  dashboardExpressions,
  EXTERNAL_METRICS,
  type Expression,
  externalNamesIn,
  namesIn,
  recordedNames,
  ruleExpressions,
  selectorsIn,
} from './helpers/artifacts.js';
import { registeredFamilies, seriesNames } from './helpers/prom.js';

const known = new Set([...seriesNames(registeredFamilies().values()), ...recordedNames()]);

function unknownNames(expressions: Expression[]): string[] {
  return expressions.flatMap(({ where, expr }) =>
    [...namesIn(expr), ...externalNamesIn(expr)]
      .filter((name) => !known.has(name) && !EXTERNAL_METRICS.has(name))
      .map((name) => `${where}: ${name}`),
  );
}

/** Selectors whose name is neither ours nor a listed external series (e.g. a misspelt `redis_uptime`). */
function strangeSelectors(expressions: Expression[]): string[] {
  return expressions.flatMap(({ where, expr }) =>
    selectorsIn(expr)
      .map((s) => s.name)
      .filter((name) => !/^rtv[_:]/.test(name) && !EXTERNAL_METRICS.has(name))
      .map((name) => `${where}: ${name}`),
  );
}

describe('PromQL in deploy/', () => {
  it('names only exported metrics in the dashboard', () => {
    const expressions = dashboardExpressions();
    expect(expressions.length).toBeGreaterThan(30);
    expect(unknownNames(expressions)).toEqual([]);
  });

  it('names only exported metrics and defined recording rules in the rules', () => {
    const expressions = ruleExpressions();
    expect(expressions.length).toBeGreaterThan(10);
    expect(unknownNames(expressions)).toEqual([]);
  });

  it('names no series outside the project and the listed external ones', () => {
    expect(strangeSelectors([...dashboardExpressions(), ...ruleExpressions()])).toEqual([]);
    expect(strangeSelectors([{ where: 'probe', expr: 'sum(rate(redis_comands_total[5m]))' }])).toEqual([
      'probe: redis_comands_total',
    ]);
  });

  it('uses every expression to say something: each names at least one known metric', () => {
    const empty = [...dashboardExpressions(), ...ruleExpressions()].filter(
      (e) => namesIn(e.expr).length === 0 && externalNamesIn(e.expr).length === 0,
    );
    expect(empty.map((e) => e.where)).toEqual([]);
  });

  it('reads names the way PromQL does (strings are not names)', () => {
    expect(namesIn('sum by (code) (rate(rtv_gateway_disconnects_total{code=~"rtv_fake"}[5m]))')).toEqual([
      'rtv_gateway_disconnects_total',
    ]);
    expect(namesIn('rtv:turns:rate5m / clamp_min(rtv_worker_turns_total, 1)')).toEqual([
      'rtv:turns:rate5m',
      'rtv_worker_turns_total',
    ]);
    expect(unknownNames([{ where: 'probe', expr: 'rate(rtv_gateway_frames_recieved_total[5m])' }])).toEqual([
      'probe: rtv_gateway_frames_recieved_total',
    ]);
  });

  it('finds every selector with its matchers, and nothing else', () => {
    const expr =
      'sum by (namespace, job) (rate(rtv_x_total{rtv_scope="", code=~"a|b"}[5m])) / on (namespace) ' +
      'clamp_min(rtv:y:rate5m, 0.01) > 0.05 and on (namespace) count(redis_up{job="by (x)"} offset 5m)';
    expect(selectorsIn(expr)).toEqual([
      { name: 'rtv_x_total', matchers: 'rtv_scope="", code=~"a|b"' },
      { name: 'rtv:y:rate5m', matchers: '' },
      { name: 'redis_up', matchers: 'job="by (x)"' },
    ]);
  });
});
