// Every PromQL expression shipped in the dashboard and the alert rules must name series the services really
// export (or recording rules defined next to them): a renamed metric must not leave a silent, empty panel.
import { describe, expect, it } from 'vitest';
import {
  dashboardExpressions,
  type Expression,
  namesIn,
  recordedNames,
  ruleExpressions,
} from './helpers/artifacts.js';
import { registeredFamilies, seriesNames } from './helpers/prom.js';

const known = new Set([...seriesNames(registeredFamilies().values()), ...recordedNames()]);

function unknownNames(expressions: Expression[]): string[] {
  return expressions.flatMap(({ where, expr }) =>
    namesIn(expr)
      .filter((name) => !known.has(name))
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

  it('uses every expression to say something: each names at least one project metric', () => {
    const empty = [...dashboardExpressions(), ...ruleExpressions()].filter(
      (e) => namesIn(e.expr).length === 0,
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
});
