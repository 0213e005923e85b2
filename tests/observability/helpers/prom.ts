// Helpers for the observability suites: the metric families the services register, a reader for the
// Prometheus text format, and promtool.
import { spawnSync } from 'node:child_process';
import { createRegistry } from '@rtv/service-kit';
import { Registry } from 'prom-client';
import { createGatewayMetrics } from '../../../services/gateway/src/metrics.js';
import { createWorkerMetrics } from '../../../services/session-worker/src/metrics.js';
import { createClusterMetrics, createHttpMetrics } from '../../../services/status-api/src/plugins/metrics.js';

export interface Family {
  name: string;
  type: string;
  labelNames: string[];
  /** `service-kit` for the families every service registers through createRegistry (rtv_build_info). */
  service: 'gateway' | 'session-worker' | 'status-api' | 'service-kit';
}

/**
 * Every `rtv_*` family the services register, built with the same factories the services call at start, in
 * fresh registries (so no Redis is involved; prom-client's process metrics from createRegistry are left out).
 */
export function registeredFamilies(): Map<string, Family> {
  const out = new Map<string, Family>();
  const add = (service: Family['service'], fill: (r: Registry) => void, registry = new Registry()) => {
    fill(registry);
    for (const m of registry.getMetricsAsArray()) {
      if (!m.name.startsWith('rtv_')) continue;
      // labelNames is set on every prom-client metric but missing from its typings.
      const labelNames = [...((m as unknown as { labelNames?: string[] }).labelNames ?? [])];
      out.set(m.name, { name: m.name, type: String(m.type), labelNames, service });
    }
  };
  add('gateway', (r) => createGatewayMetrics(r));
  add('session-worker', (r) => createWorkerMetrics(r));
  add('status-api', (r) => {
    createClusterMetrics(r, async () => undefined);
    createHttpMetrics(r);
  });
  add('service-kit', () => undefined, createRegistry({ rtv_service: 'any' }, { env: {} }));
  return out;
}

/**
 * The series names a family can appear under in PromQL: histograms add `_bucket`, `_sum` and `_count`.
 */
export function seriesNames(families: Iterable<Family>): Set<string> {
  const names = new Set<string>();
  for (const f of families) {
    names.add(f.name);
    if (f.type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(f.name + s);
  }
  return names;
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Samples of a Prometheus text exposition (0.0.4); comments and blank lines are skipped. */
export function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(LABEL)) {
      labels[k!] = v!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    }
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

/** Sum of the samples of `name` whose labels include `match` (0 when there are none). */
export function total(samples: readonly Sample[], name: string, match: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v))
    .reduce((acc, s) => acc + s.value, 0);
}

export async function scrape(url: string): Promise<Sample[]> {
  return parseExposition(await scrapeText(url));
}

export async function scrapeText(url: string): Promise<string> {
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`GET ${url}: HTTP ${res.status}`);
  return res.text();
}

export interface ToolResult {
  code: number;
  output: string;
}

/** Runs promtool (from the `prometheus` package; `.ci/run` installs it) and returns its exit code and output. */
export function promtool(args: string[], input?: string): ToolResult {
  const res = spawnSync('promtool', args, { input, encoding: 'utf8', timeout: 60_000 });
  if (res.error) {
    throw new Error(`promtool is not runnable (${res.error.message}); install the prometheus package`);
  }
  return { code: res.status ?? -1, output: `${res.stdout}${res.stderr}` };
}

/**
 * `promtool check metrics` findings that come from prom-client's default process metrics, not from this
 * project: prom-client names three gauges with a `_total` suffix. Anything else fails the check.
 */
export const UPSTREAM_LINT_FINDINGS = [
  'nodejs_active_handles_total non-counter metrics should not have "_total" suffix',
  'nodejs_active_requests_total non-counter metrics should not have "_total" suffix',
  'nodejs_active_resources_total non-counter metrics should not have "_total" suffix',
];

/** Lines of `promtool check metrics` output that are not allowed findings. */
export function lintProblems(output: string): string[] {
  return output
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !UPSTREAM_LINT_FINDINGS.includes(l));
}
