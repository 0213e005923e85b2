// A real Prometheus scrapes the running in-process stack (two gateways, a worker, the status API) and
// PromQL over its HTTP API returns the live connection count, from the gateways and from the cluster view.
import { WsTestClient, waitFor } from '@rtv/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from '../e2e/helpers/stack.js';
import { type PrometheusServer, startPrometheus } from './helpers/prometheus-server.js';

describe('Prometheus scraping the stack', () => {
  let stack: Stack;
  let prometheus: PrometheusServer;

  beforeAll(async () => {
    stack = await startStack({ gateways: 2, workers: 1 });
    prometheus = await startPrometheus([
      { job: 'gateway', targets: stack.gateways.map((g) => `127.0.0.1:${g.adminPort}`) },
      { job: 'session-worker', targets: stack.workers.map((w) => `127.0.0.1:${w.adminPort}`) },
      { job: 'status-api', targets: [new URL(stack.statusUrl).host] },
    ]);
  }, 60_000);
  afterAll(async () => {
    await prometheus?.stop();
    await stack?.stop();
  });

  /** The single value of an instant query, or undefined when it returns nothing. */
  const scalar = async (promql: string) => {
    const result = await prometheus.query(promql);
    return result.length === 1 ? Number(result[0]!.value[1]) : undefined;
  };
  const until = (promql: string, want: number) =>
    waitFor(async () => (await scalar(promql)) === want, {
      timeoutMs: 20_000,
      intervalMs: 250,
      message: `${promql} == ${want}`,
    });

  it('scrapes every service', async () => {
    await until('count(up == 1)', 4);
    const jobs = (await prometheus.query('count by (job) (up == 1)')).map((r) => r.metric.job).sort();
    expect(jobs).toEqual(['gateway', 'session-worker', 'status-api']);
  });

  it('returns the live connection count', async () => {
    const clients = await Promise.all([
      WsTestClient.connect(stack.wsUrl('prom_a', 0)),
      WsTestClient.connect(stack.wsUrl('prom_b', 0)),
      WsTestClient.connect(stack.wsUrl('prom_c', 1)),
    ]);
    try {
      await Promise.all(clients.map((c) => c.nextOfType('session.created')));
      await until('sum(rtv_gateway_connections_active)', 3);
      const perGateway = await prometheus.query('sum by (instance) (rtv_gateway_connections_active)');
      expect(perGateway.map((r) => Number(r.value[1])).sort()).toEqual([1, 2]);
      // The status API's view comes from Redis heartbeats, so it follows a beat later.
      await until('max(rtv_cluster_connections)', 3);
      await until('sum(max by (member) (rtv_cluster_gateway_connections))', 3);

      await clients.pop()!.close();
      await until('sum(rtv_gateway_connections_active)', 2);
      await until('max(rtv_cluster_connections)', 2);
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
  }, 60_000);
});
