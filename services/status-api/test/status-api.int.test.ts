// The status API against a real Redis: heartbeats written by the real Heartbeat class, real bus streams,
// a real BullMQ queue. Every test gets its own key prefix.
import { createKeys, Heartbeat, type Keys } from '@rtv/bus';
import { createLogger } from '@rtv/service-kit';
import { createTestRedis, freePort, type TestRedis, waitFor } from '@rtv/testing';
import { Queue, Worker } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildStatusApi } from '../src/app.js';
import { ClusterReader } from '../src/cluster/read-cluster.js';

const STATUS = '/api/v1/streaming/realtime/status';
const HEALTH = '/api/v1/streaming/realtime/health';

interface StatusBody {
  status: string;
  connections: number;
  sessions: number;
  capacity: number;
  free_capacity: number;
  failing: string[];
  gateways: Array<Record<string, unknown> & { id: string; stream: Record<string, unknown> | null }>;
  workers: Array<Record<string, unknown> & { id: string; stream: Record<string, unknown> | null }>;
  stale: { gateways: Array<{ id: string }>; workers: Array<{ id: string }> };
  queue: Record<string, number>;
}

/** The value of one sample of a text exposition, or undefined when the series is absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`)))
      return Number(line.split(' ').pop());
  }
  return undefined;
}

describe('status API (real Redis)', () => {
  let redis: TestRedis;
  let keys: Keys;
  let app: FastifyInstance;
  const extra: Array<() => Promise<unknown>> = [];

  beforeEach(async () => {
    redis = await createTestRedis('status');
    keys = createKeys(redis.prefix);
    app = await buildStatusApi({
      redisUrl: redis.url,
      prefix: redis.prefix,
      log: createLogger('status-api', 'silent'),
      snapshotMaxAgeMs: 0,
    });
  });
  afterEach(async () => {
    for (const close of extra.splice(0).reverse()) await close();
    await app.close();
    await redis.cleanup();
  });

  /** One heartbeat as a gateway or worker writes it (hash with TTL + registry entry). */
  const beat = (
    role: 'gateway' | 'worker',
    id: string,
    fields: Record<string, string | number>,
    ttlMs = 30_000,
  ) => {
    const hb = new Heartbeat({
      redis: redis.redis,
      hashKey: role === 'gateway' ? keys.gateway(id) : keys.worker(id),
      registryKey: role === 'gateway' ? keys.gateways() : keys.workers(),
      id,
      fields: () => fields,
      ttlMs,
    });
    return hb.beat().then(() => hb);
  };
  const get = async <T>(url: string) => {
    const res = await app.inject({ url });
    const json = String(res.headers['content-type']).startsWith('application/json');
    return { code: res.statusCode, body: (json ? res.json() : undefined) as T, text: res.body };
  };

  it('aggregates live members with a per-gateway and per-worker breakdown', async () => {
    await beat('gateway', 'gw-a', { connections: 3, draining: 0, version: '0.1.0', port: 8000 });
    await beat('gateway', 'gw-b', { connections: 2, draining: 0, version: '0.1.0', port: 8001 });
    await beat('worker', 'wk-a', {
      sessions: 1,
      capacity: 4,
      draining: 0,
      version: '0.1.0',
      provider: 'openai',
    });
    await beat('worker', 'wk-b', {
      sessions: 2,
      capacity: 2,
      draining: 1,
      version: '0.1.0',
      provider: 'openai',
    });

    const { code, body } = await get<StatusBody>(STATUS);
    expect(code).toBe(200);
    expect(body).toMatchObject({ status: 'running', connections: 5, sessions: 3, capacity: 6, failing: [] });
    // wk-b is draining: its slots do not count as free.
    expect(body.free_capacity).toBe(3);
    expect(body.gateways.map((g) => g.id).sort()).toEqual(['gw-a', 'gw-b']);
    expect(body.gateways.find((g) => g.id === 'gw-a')).toMatchObject({
      connections: 3,
      draining: false,
      port: 8000,
      version: '0.1.0',
    });
    expect(body.workers.find((w) => w.id === 'wk-b')).toMatchObject({
      sessions: 2,
      capacity: 2,
      draining: true,
      provider: 'openai',
      provider_ok: null,
    });
    for (const m of [...body.gateways, ...body.workers]) {
      expect(m.heartbeat_age_seconds as number).toBeLessThan(5);
    }
  });

  it('excludes members whose heartbeat expired and lists them as stale', async () => {
    await beat('gateway', 'gw-live', { connections: 1, draining: 0 });
    await beat('gateway', 'gw-gone', { connections: 50, draining: 0 }, 150);
    await beat('worker', 'wk-gone', { sessions: 9, capacity: 9, draining: 0 }, 150);
    await waitFor(
      async () => (await redis.redis.exists(keys.gateway('gw-gone'), keys.worker('wk-gone'))) === 0,
      {
        message: 'the short-lived heartbeats expired',
      },
    );

    const { body } = await get<StatusBody>(STATUS);
    expect(body.gateways.map((g) => g.id)).toEqual(['gw-live']);
    expect(body.connections).toBe(1);
    expect(body.workers).toEqual([]);
    expect(body.sessions).toBe(0);
    expect(body.stale.gateways.map((g) => g.id)).toEqual(['gw-gone']);
    expect(body.stale.workers.map((w) => w.id)).toEqual(['wk-gone']);
    const metrics = (await get<unknown>('/metrics')).text;
    expect(sample(metrics, 'rtv_cluster_members', { role: 'gateway', state: 'stale' })).toBe(1);
    expect(sample(metrics, 'rtv_cluster_members', { role: 'gateway', state: 'ready' })).toBe(1);
  });

  it("reports each member's stream length and its reader's lag", async () => {
    const t0 = Date.now() - 5000;
    const ids = [0, 1, 2, 3, 4].map((i) => `${t0 + i}-0`);
    for (const id of ids) await redis.redis.xadd(keys.workerIn('wk-a'), id, 'v1', `F\tsess\t1\ta\tAAAA`);
    for (const id of ids.slice(0, 2))
      await redis.redis.xadd(keys.gatewayOut('gw-a'), id, 'v1', 'A\tsess\t1\t1');
    // wk-a delivered the first two entries; gw-a does not report its position; wk-b has no stream.
    await beat('worker', 'wk-a', { sessions: 1, capacity: 4, draining: 0, read_id: ids[1]! });
    await beat('worker', 'wk-b', { sessions: 0, capacity: 4, draining: 0, read_id: '0-0' });
    await beat('gateway', 'gw-a', { connections: 1, draining: 0 });

    const { body } = await get<StatusBody>(STATUS);
    const wkA = body.workers.find((w) => w.id === 'wk-a')!.stream!;
    expect(wkA).toMatchObject({
      length: 5,
      last_entry_id: ids[4],
      read_id: ids[1],
      lag_entries: 3,
      lag_capped: false,
    });
    // The oldest undelivered entry was written ~5 s ago (its id carries the time).
    expect(wkA.lag_seconds as number).toBeGreaterThan(4.5);
    expect(wkA.lag_seconds as number).toBeLessThan(60);
    expect(body.gateways[0]!.stream).toMatchObject({
      length: 2,
      read_id: null,
      lag_entries: null,
      lag_seconds: null,
    });
    expect(body.workers.find((w) => w.id === 'wk-b')!.stream).toBeNull();

    const metrics = (await get<unknown>('/metrics')).text;
    expect(sample(metrics, 'rtv_cluster_stream_length_entries', { role: 'worker', member: 'wk-a' })).toBe(5);
    expect(sample(metrics, 'rtv_cluster_stream_lag_entries', { role: 'worker', member: 'wk-a' })).toBe(3);
    expect(
      sample(metrics, 'rtv_cluster_stream_lag_seconds', { role: 'worker', member: 'wk-a' }),
    ).toBeGreaterThan(4.5);
    expect(sample(metrics, 'rtv_cluster_stream_length_entries', { role: 'gateway', member: 'gw-a' })).toBe(2);
    // No reader position, no lag series (rather than a made-up zero).
    expect(
      sample(metrics, 'rtv_cluster_stream_lag_seconds', { role: 'gateway', member: 'gw-a' }),
    ).toBeUndefined();

    // Caught up: nothing after the read id.
    await beat('worker', 'wk-a', { sessions: 1, capacity: 4, draining: 0, read_id: ids[4]! });
    const caughtUp = (await get<StatusBody>(STATUS)).body.workers.find((w) => w.id === 'wk-a')!.stream;
    expect(caughtUp).toMatchObject({ lag_entries: 0, lag_seconds: 0 });
  });

  it('caps the unread count and says so', async () => {
    for (let i = 1; i <= 5; i++) await redis.redis.xadd(keys.workerIn('wk-a'), `${i}-0`, 'v1', 'x');
    await beat('worker', 'wk-a', { sessions: 0, capacity: 1, draining: 0, read_id: '0-0' });
    const queue = new Queue(keys.queueName, { connection: redis.redis, prefix: keys.bullPrefix });
    extra.push(() => queue.close());
    const reader = new ClusterReader({ redis: redis.redis, keys, queue, lagCountCap: 2 });
    const { workers } = await reader.read();
    expect(workers[0]!.stream).toMatchObject({ length: 5, lag_entries: 2, lag_capped: true });
  });

  it('counts queue depth, stalled sessions included', async () => {
    const queue = new Queue(keys.queueName, { connection: redis.redis, prefix: keys.bullPrefix });
    extra.push(() => queue.close());
    for (const sid of ['s1', 's2', 's3']) await queue.add('session', { sid }, { jobId: sid });
    // A worker takes one session and then stops renewing its lease, as a killed process would.
    const workerConn = new Redis(redis.url, { maxRetriesPerRequest: null });
    const worker = new Worker(keys.queueName, null, {
      connection: workerConn,
      prefix: keys.bullPrefix,
      autorun: false,
      lockDuration: 300,
    });
    extra.push(async () => {
      await worker.close(true);
      workerConn.disconnect();
    });
    const job = await worker.getNextJob('lease-token');
    expect(job?.id).toBe('s1');

    const held = (await get<StatusBody>(STATUS)).body.queue;
    expect(held).toMatchObject({ waiting: 2, active: 1, stalled: 0 });
    const stalled = await waitFor(
      async () => {
        const q = (await get<StatusBody>(STATUS)).body.queue;
        return q.stalled === 1 ? q : undefined;
      },
      { message: 'the lease expired' },
    );
    expect(stalled).toMatchObject({ waiting: 2, active: 1, stalled: 1 });
    const metrics = (await get<unknown>('/metrics')).text;
    expect(sample(metrics, 'rtv_cluster_queue_jobs', { state: 'waiting' })).toBe(2);
    expect(sample(metrics, 'rtv_cluster_queue_jobs', { state: 'stalled' })).toBe(1);
  });

  it('answers health with 200, or 503 naming the failing component', async () => {
    const empty = await get<{ status: string; failing: string[] }>(HEALTH);
    expect(empty.code).toBe(503);
    expect(empty.body).toMatchObject({ status: 'unhealthy', failing: ['gateway', 'session_worker'] });
    expect((await get<StatusBody>(STATUS)).body).toMatchObject({ status: 'degraded' });

    await beat('gateway', 'gw-a', { connections: 0, draining: 0 });
    await beat('worker', 'wk-a', { sessions: 2, capacity: 2, draining: 0, provider_ok: 1 });
    const full = await get<{ failing: string[]; components: Record<string, { message: string }> }>(HEALTH);
    expect(full.code).toBe(503);
    expect(full.body.failing).toEqual(['capacity']);
    expect(full.body.components.capacity!.message).toContain('2 session slots');

    await beat('worker', 'wk-a', { sessions: 1, capacity: 2, draining: 0, provider_ok: 0 });
    expect((await get<{ failing: string[] }>(HEALTH)).body.failing).toEqual(['provider']);

    await beat('worker', 'wk-a', { sessions: 1, capacity: 2, draining: 0, provider_ok: 1 });
    const ok = await get<{ status: string; failing: string[] }>(HEALTH);
    expect(ok.body).toMatchObject({ status: 'healthy', failing: [] });
    expect(ok.code).toBe(200);
    expect((await get<StatusBody>(STATUS)).body.status).toBe('running');
  });

  it('serves cluster gauges computed from Redis at scrape time', async () => {
    const gwAFields = { connections: 3, draining: 0 };
    const gwA = await beat('gateway', 'gw-a', gwAFields);
    const gwB = await beat('gateway', 'gw-b', { connections: 2, draining: 0 });
    await beat('worker', 'wk-a', { sessions: 1, capacity: 4, draining: 0 });
    const res = await app.inject({ url: '/metrics' });
    expect(res.headers['content-type']).toContain('text/plain');
    expect(sample(res.body, 'rtv_cluster_redis_up')).toBe(1);
    expect(sample(res.body, 'rtv_cluster_connections')).toBe(5);
    expect(sample(res.body, 'rtv_cluster_gateway_connections', { member: 'gw-a' })).toBe(3);
    expect(sample(res.body, 'rtv_cluster_worker_sessions', { member: 'wk-a' })).toBe(1);
    expect(sample(res.body, 'rtv_cluster_worker_capacity_sessions', { member: 'wk-a' })).toBe(4);
    expect(sample(res.body, 'rtv_cluster_free_capacity_sessions')).toBe(3);
    expect(sample(res.body, 'rtv_cluster_component_up', { component: 'gateway' })).toBe(1);
    expect(sample(res.body, 'rtv_cluster_component_up', { component: 'provider' })).toBeUndefined();
    expect(sample(res.body, 'rtv_cluster_connections', { rtv_service: 'status-api' })).toBe(5);

    // The next scrape sees the next heartbeats: a member that left is gone, not frozen at its last value.
    gwAFields.connections = 7;
    await gwA.beat();
    await gwB.stop();
    const next = (await app.inject({ url: '/metrics' })).body;
    expect(sample(next, 'rtv_cluster_gateway_connections', { member: 'gw-a' })).toBe(7);
    expect(sample(next, 'rtv_cluster_gateway_connections', { member: 'gw-b' })).toBeUndefined();
    expect(sample(next, 'rtv_cluster_connections')).toBe(7);
    expect(
      sample(next, 'rtv_status_http_requests_total', { route: '/metrics', method: 'GET', code: '200' }),
    ).toBeGreaterThanOrEqual(1);
  });

  it('answers an unknown route with the error table’s not_found', async () => {
    const res = await app.inject({ url: '/api/v1/nope' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ error: { code: 'not_found', message: 'No such route' } });
  });

  it('logs health changes as JSON lines with the service name', async () => {
    const lines: string[] = [];
    const logged = await buildStatusApi({
      redisUrl: redis.url,
      prefix: redis.prefix,
      log: createLogger('status-api', 'info', { write: (line: string) => void lines.push(line) }),
      snapshotMaxAgeMs: 0,
    });
    extra.push(() => logged.close());
    await logged.inject({ url: HEALTH });
    await logged.inject({ url: HEALTH });
    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const unhealthy = records.filter((r) => r.msg === 'cluster unhealthy');
    // Logged once per change, not once per probe.
    expect(unhealthy).toHaveLength(1);
    expect(unhealthy[0]).toMatchObject({
      service: 'status-api',
      level: 40,
      failing: ['gateway', 'session_worker'],
    });
  });
});

describe('status API without Redis', () => {
  it('reports redis as the failing component and stays up', async () => {
    const app = await buildStatusApi({
      redisUrl: `redis://127.0.0.1:${await freePort()}`,
      prefix: 'rtv-unreachable',
      log: createLogger('status-api', 'silent'),
      readTimeoutMs: 500,
    });
    try {
      const health = await app.inject({ url: HEALTH });
      expect(health.statusCode).toBe(503);
      expect(health.json()).toMatchObject({ status: 'unhealthy', failing: ['redis'] });
      const status = await app.inject({ url: STATUS });
      expect(status.statusCode).toBe(503);
      expect(status.json()).toMatchObject({
        status: 'unavailable',
        connections: 0,
        error: { code: 'service_unavailable' },
      });
      expect((await app.inject({ url: '/readyz' })).statusCode).toBe(503);
      expect((await app.inject({ url: '/healthz' })).statusCode).toBe(200);
      const metrics = await app.inject({ url: '/metrics' });
      expect(metrics.statusCode).toBe(200);
      expect(sample(metrics.body, 'rtv_cluster_redis_up')).toBe(0);
      expect(sample(metrics.body, 'rtv_cluster_component_up', { component: 'redis' })).toBe(0);
      // Nothing is known, so no cluster gauge claims a value.
      expect(sample(metrics.body, 'rtv_cluster_connections')).toBeUndefined();
      expect(sample(metrics.body, 'rtv_cluster_members', { role: 'worker' })).toBeUndefined();
    } finally {
      await app.close();
    }
  });
});
