// The Grafana dashboard: valid against Grafana's own dashboard schema, portable (datasource chosen by a
// variable, no datasource uid baked in), laid out in the rows SREs expect, each row showing what it promises.
import { createRequire } from 'node:module';
import path from 'node:path';
import { Ajv } from 'ajv';
import { createGenerator } from 'ts-json-schema-generator';
import { describe, expect, it } from 'vitest';
import {
  allPanels,
  type DashboardPanel,
  dashboardExpressions,
  externalNamesIn,
  loadDashboard,
  namesIn,
  selectorsIn,
} from './helpers/artifacts.js';

const dashboard = loadDashboard();

type SchemaNode = { properties?: Record<string, SchemaNode>; additionalProperties?: unknown };

/** Opens every annotation query type (and its target) of a JSON Schema; returns how many it found. */
function openAnnotationQueries(node: unknown): number {
  if (node === null || typeof node !== 'object') return 0;
  let found = 0;
  const schema = node as SchemaNode;
  const props = schema.properties;
  if (props?.iconColor && props.enable && props.name && props.target) {
    schema.additionalProperties = true;
    props.target.additionalProperties = true;
    found++;
  }
  for (const child of Object.values(node)) found += openAnnotationQueries(child);
  return found;
}

/** Matchers every selector carries: the namespace and the release (the `job` prefix of its Services). */
const RELEASE_MATCHERS = ['namespace=~"$namespace"', 'job=~"$job(-.+)?"'];
const POD_MATCHER = 'pod=~"$pod"';

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
    // Annotation queries are the one place the schema is open by design: Grafana types their target as the
    // base DataQuery and keeps each datasource's own fields (Prometheus: expr, titleFormat, tagKeys) beside it.
    const opened = openAnnotationQueries(schema);
    expect(opened, 'annotation query types found in the schema').toBeGreaterThan(0);
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
      new Set(
        (rows.get(row) ?? []).flatMap((p) =>
          (p.targets ?? []).flatMap((t) => [...namesIn(t.expr ?? ''), ...externalNamesIn(t.expr ?? '')]),
        ),
      );
    const exprsOf = (row: string) =>
      (rows.get(row) ?? []).flatMap((p) => (p.targets ?? []).map((t) => t.expr));

    it('come in the order overview, voice quality, capacity, saturation, redis, errors, cost', () => {
      expect([...rows.keys()]).toEqual([
        'Overview',
        'Voice quality',
        'Capacity',
        'Saturation',
        'Redis',
        'Errors',
        'Cost',
      ]);
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
      [
        'Saturation',
        [
          'process_cpu_seconds_total',
          'nodejs_heap_size_used_bytes',
          'nodejs_eventloop_lag_p99_seconds',
          'rtv_gateway_replay_bytes',
          'rtv_worker_uncommitted_turn_bytes',
        ],
      ],
      [
        'Redis',
        [
          'redis_memory_used_bytes',
          'redis_memory_max_bytes',
          'redis_commands_processed_total',
          'rtv_gateway_frames_received_total',
          'redis_commands_duration_seconds_total',
          'redis_commands_total',
          'redis_connected_clients',
          'redis_rejected_connections_total',
        ],
      ],
      ['Cost', ['rtv_worker_tokens_total']],
    ])('%s shows %j', (row, metrics) => {
      const used = metricsOf(row);
      expect(metrics.filter((m) => !used.has(m))).toEqual([]);
    });

    it('shows saturation per pod and Redis commands per client frame', () => {
      for (const expr of exprsOf('Saturation')) expect(expr).toMatch(/by \(job, pod\)/);
      expect(
        exprsOf('Redis').some((e) =>
          /redis_commands_processed_total.*\/.*rtv_gateway_frames_received_total/.test(e ?? ''),
        ),
      ).toBe(true);
    });

    it('shows time to first audio as p50 and p95, and tokens by model', () => {
      const ttfa = exprsOf('Voice quality').filter((e) => e?.includes('time_to_first_audio_seconds_bucket'));
      expect(ttfa.some((e) => e?.startsWith('histogram_quantile(0.5,'))).toBe(true);
      expect(ttfa.some((e) => e?.startsWith('histogram_quantile(0.95,'))).toBe(true);
      expect(exprsOf('Cost').some((e) => /by \(model/.test(e ?? ''))).toBe(true);
    });
  });

  describe('for many releases in one Prometheus', () => {
    const variables = new Map((dashboard.templating?.list ?? []).map((v) => [v.name, v]));

    it('has namespace, release (job) and pod selectors, each with an All that matches every series', () => {
      for (const name of ['namespace', 'job', 'pod']) {
        expect(variables.get(name), name).toMatchObject({ type: 'query', includeAll: true, allValue: '.*' });
      }
      // The release is the part of a ServiceMonitor job (the Service name) before the component.
      const regex = variables.get('job')!.regex!.replace(/^\/|\/$/g, '');
      expect('prod-realtime-voice-gateway-admin'.replace(new RegExp(regex), '$1')).toBe(
        'prod-realtime-voice',
      );
      expect('prod-realtime-voice-worker'.replace(new RegExp(regex), '$1')).toBe('prod-realtime-voice');
      expect(new RegExp(regex).test('gateway')).toBe(false);
    });

    it('scopes every selector of every query by $namespace and $job, and per-process series by $pod', () => {
      const problems = dashboardExpressions().flatMap(({ where, expr }) =>
        selectorsIn(expr).flatMap((s) => {
          const missing = RELEASE_MATCHERS.filter((m) => !s.matchers.includes(m));
          // Cluster-wide series (the status API's view, Redis) describe no single pod.
          const perProcess = !/^(rtv_cluster_|redis_)/.test(s.name) && !where.startsWith('annotation');
          const commandsPerFrame = where === 'panel "Redis commands per client frame"';
          if (perProcess && !commandsPerFrame && !s.matchers.includes(POD_MATCHER)) missing.push(POD_MATCHER);
          return missing.map((m) => `${where}: ${s.name} lacks ${m}`);
        }),
      );
      expect(problems).toEqual([]);
      expect(dashboardExpressions().length).toBeGreaterThan(60);
    });

    it('marks deploys: a new rtv_build_info version per job', () => {
      const deploys = dashboard.annotations?.list?.find((a) => a.name === 'Deploys');
      expect(deploys?.target?.expr).toMatch(/rtv_build_info\{[^}]*\}\)\s*unless count by \(job, version\)/);
      expect(deploys?.titleFormat).toContain('{{version}}');
      expect(deploys?.tagKeys).toBe('job,version');
    });
  });
});
