// The Grafana dashboard: valid against Grafana's own dashboard schema, portable (datasource chosen by a
// variable, no datasource uid baked in), laid out in the rows SREs expect, each row showing what it promises.
import { createRequire } from 'node:module';
import path from 'node:path';
import { Ajv } from 'ajv';
import { createGenerator } from 'ts-json-schema-generator';
import { describe, expect, it } from 'vitest';
import { allPanels, type DashboardPanel, loadDashboard, namesIn } from './helpers/artifacts.js';

const dashboard = loadDashboard();

/** Grafana's reference to the `datasource` template variable (Grafana syntax, not a JS template). */
// biome-ignore lint/suspicious/noTemplateCurlyInString: this is Grafana's variable syntax
const DATASOURCE_UID = '${datasource}';

describe('Grafana dashboard', () => {
  it("validates against @grafana/schema's Dashboard type", () => {
    // The schema is generated from the TypeScript type Grafana publishes for the dashboard JSON model, so
    // the check follows Grafana releases. Objects are closed (no additional properties): a misspelt field
    // fails instead of being ignored by Grafana. Every type is inlined (`expose: 'none'`) because the
    // package declares two different types named DataSourceRef.
    const require = createRequire(import.meta.url);
    const schemaPackage = path.dirname(require.resolve('@grafana/schema/package.json'));
    const schema = createGenerator({
      path: path.join(schemaPackage, 'dist/types/veneer/dashboard.types.d.ts'),
      type: 'Dashboard',
      skipTypeCheck: true,
      expose: 'none',
      topRef: true,
      additionalProperties: false,
    }).createSchema('Dashboard');
    const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
    const valid = validate(dashboard);
    expect(validate.errors ?? [], 'schema errors').toEqual([]);
    expect(valid).toBe(true);
    // The same validator rejects a dashboard with a misspelt panel field, so the check has teeth.
    const broken = structuredClone(dashboard);
    (broken.panels[1] as unknown as Record<string, unknown>).gridPosition = { x: 0, y: 0, w: 1, h: 1 };
    expect(validate(broken)).toBe(false);
  }, 180_000);

  it('picks its Prometheus datasource through a variable and hard-codes no datasource uid', () => {
    const variable = dashboard.templating?.list?.find((v) => v.type === 'datasource');
    expect(variable).toMatchObject({ name: 'datasource', query: 'prometheus' });
    const refs: Array<{ where: string; ref: unknown }> = [];
    for (const p of allPanels(dashboard)) {
      if (p.type !== 'row') refs.push({ where: p.title, ref: p.datasource });
      for (const t of p.targets ?? []) refs.push({ where: `${p.title} ${t.refId}`, ref: t.datasource });
    }
    const expected = JSON.stringify({ type: 'prometheus', uid: DATASOURCE_UID });
    const wrong = refs.filter(({ ref }) => JSON.stringify(ref) !== expected);
    expect(wrong.map((w) => w.where)).toEqual([]);
    // No uid other than the variable anywhere in the document.
    const uids = [...JSON.stringify(dashboard).matchAll(/"uid":"([^"]*)"/g)].map((m) => m[1]);
    expect(uids.filter((u) => u !== DATASOURCE_UID && u !== dashboard.uid)).toEqual([]);
  });

  it('has unique panel ids and a grid without overlaps', () => {
    const panels = allPanels(dashboard);
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
    const cells = new Map<string, string>();
    const overlaps: string[] = [];
    for (const p of panels) {
      const { x, y, w, h } = p.gridPos;
      expect(x + w, p.title).toBeLessThanOrEqual(24);
      for (let dx = 0; dx < w; dx++) {
        for (let dy = 0; dy < h; dy++) {
          const key = `${x + dx},${y + dy}`;
          if (cells.has(key)) overlaps.push(`${p.title} / ${cells.get(key)}`);
          cells.set(key, p.title);
        }
      }
    }
    expect([...new Set(overlaps)]).toEqual([]);
  });

  describe('rows', () => {
    const rows = new Map<string, DashboardPanel[]>();
    let current: DashboardPanel[] | undefined;
    for (const p of dashboard.panels) {
      if (p.type === 'row') {
        current = [...(p.panels ?? [])];
        rows.set(p.title, current);
      } else current?.push(p);
    }
    const metricsOf = (row: string) =>
      new Set((rows.get(row) ?? []).flatMap((p) => (p.targets ?? []).flatMap((t) => namesIn(t.expr ?? ''))));
    const exprsOf = (row: string) =>
      (rows.get(row) ?? []).flatMap((p) => (p.targets ?? []).map((t) => t.expr));

    it('come in the order overview, voice quality, capacity, errors, cost', () => {
      expect([...rows.keys()]).toEqual(['Overview', 'Voice quality', 'Capacity', 'Errors', 'Cost']);
    });

    it.each([
      [
        'Overview',
        ['rtv_gateway_connections_active', 'rtv_worker_sessions_active', 'rtv_cluster_component_up'],
      ],
      [
        'Voice quality',
        [
          'rtv_worker_time_to_first_audio_seconds_bucket',
          'rtv_worker_frame_path_duration_seconds_bucket',
          'rtv_gateway_frame_path_duration_seconds_bucket',
          'rtv_worker_barge_ins_total',
        ],
      ],
      [
        'Capacity',
        [
          'rtv_cluster_gateway_connections',
          'rtv_cluster_worker_sessions',
          'rtv_cluster_queue_jobs',
          'rtv_cluster_stream_lag_seconds',
        ],
      ],
      [
        'Errors',
        [
          'rtv_gateway_disconnects_total',
          'rtv_gateway_limit_rejections_total',
          'rtv_worker_upstream_errors_total',
        ],
      ],
      ['Cost', ['rtv_worker_tokens_total']],
    ])('%s shows %j', (row, metrics) => {
      const used = metricsOf(row);
      expect(metrics.filter((m) => !used.has(m))).toEqual([]);
    });

    it('shows time to first audio as p50 and p95, and tokens by model', () => {
      const ttfa = exprsOf('Voice quality').filter((e) => e?.includes('time_to_first_audio_seconds_bucket'));
      expect(ttfa.some((e) => e?.startsWith('histogram_quantile(0.5,'))).toBe(true);
      expect(ttfa.some((e) => e?.startsWith('histogram_quantile(0.95,'))).toBe(true);
      expect(exprsOf('Cost').some((e) => /by \(model/.test(e ?? ''))).toBe(true);
    });
  });
});
