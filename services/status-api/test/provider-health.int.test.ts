// `GET …/health` names the provider problem the workers report (`provider_error` in their heartbeat), on a
// real Redis with heartbeats written by the real Heartbeat class; the replies match the OpenAPI document.
import { createKeys, Heartbeat, type Keys } from '@rtv/bus';
import { createLogger } from '@rtv/service-kit';
import { createTestRedis, type TestRedis } from '@rtv/testing';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildStatusApi, OPENAPI_PATH } from '../src/app.js';

const STATUS = '/api/v1/streaming/realtime/status';
const HEALTH = '/api/v1/streaming/realtime/health';

interface HealthBody {
  status: string;
  failing: string[];
  components: Record<string, { status: string; message: string }>;
  provider_errors?: string[];
}

describe('cluster health names the provider failure', () => {
  let redis: TestRedis;
  let keys: Keys;
  let app: FastifyInstance;

  beforeEach(async () => {
    redis = await createTestRedis('status-provider');
    keys = createKeys(redis.prefix);
    app = await buildStatusApi({
      redisUrl: redis.url,
      prefix: redis.prefix,
      log: createLogger('status-api', 'silent'),
      snapshotMaxAgeMs: 0,
    });
    await beat('gateway', 'gw-a', { connections: 0, draining: 0 });
  });
  afterEach(async () => {
    await app.close();
    await redis.cleanup();
  });

  const beat = (role: 'gateway' | 'worker', id: string, fields: Record<string, string | number>) =>
    new Heartbeat({
      redis: redis.redis,
      hashKey: role === 'gateway' ? keys.gateway(id) : keys.worker(id),
      registryKey: role === 'gateway' ? keys.gateways() : keys.workers(),
      id,
      fields: () => fields,
      ttlMs: 30_000,
    }).beat();
  /** A worker heartbeat as `startWorkerHeartbeat` writes it. */
  const worker = (id: string, ok: boolean, error = '', provider = 'openai') =>
    beat('worker', id, {
      sessions: 0,
      capacity: 4,
      draining: 0,
      version: '0.1.0',
      provider,
      model: provider === 'azure' ? 'my-realtime-deployment' : 'gpt-realtime',
      provider_ok: ok ? 1 : 0,
      provider_error: error,
    });
  const get = async <T>(url: string) => {
    const res = await app.inject({ url });
    return { code: res.statusCode, body: res.json() as T };
  };

  it('reports the failure kinds of the workers when none reaches the provider', async () => {
    await worker('wk-a', false, 'model_unavailable');
    await worker('wk-b', false, 'model_unavailable', 'azure');
    const { code, body } = await get<HealthBody>(HEALTH);
    expect(code).toBe(503);
    expect(body).toMatchObject({
      status: 'unhealthy',
      failing: ['provider'],
      provider_errors: ['model_unavailable'],
    });
    expect(body.components.provider).toEqual({
      status: 'failing',
      message: 'no ready worker can reach the speech provider (model_unavailable)',
    });
    // The seed fields are all still there.
    expect(Object.keys(body).sort()).toEqual([
      'components',
      'failing',
      'provider_errors',
      'status',
      'timestamp',
    ]);

    const status = await get<{
      failing: string[];
      workers: Array<{ id: string; provider_error: string | null; model: string | null }>;
    }>(STATUS);
    expect(status.body.failing).toEqual(['provider']);
    // /status names the model each worker opens provider sessions with (the deployment on Azure).
    expect(status.body.workers.map((w) => [w.id, w.model]).sort()).toEqual([
      ['wk-a', 'gpt-realtime'],
      ['wk-b', 'my-realtime-deployment'],
    ]);
    expect(status.body.workers.map((w) => [w.id, w.provider_error]).sort()).toEqual([
      ['wk-a', 'model_unavailable'],
      ['wk-b', 'model_unavailable'],
    ]);

    // Different workers, different problems: all named, sorted.
    await worker('wk-b', false, 'auth_failed', 'azure');
    expect((await get<HealthBody>(HEALTH)).body.provider_errors).toEqual([
      'auth_failed',
      'model_unavailable',
    ]);
  });

  it('leaves provider_errors out when the provider is reachable, or when workers name no reason', async () => {
    await worker('wk-a', false, 'auth_failed');
    await worker('wk-b', true);
    const healthy = await get<HealthBody>(HEALTH);
    expect(healthy.code).toBe(200);
    expect(healthy.body.status).toBe('healthy');
    expect(healthy.body).not.toHaveProperty('provider_errors');
    const status = await get<{ workers: Array<{ id: string; provider_error: string | null }> }>(STATUS);
    expect(status.body.workers.find((w) => w.id === 'wk-b')!.provider_error).toBeNull();

    // An older worker reports provider_ok without provider_error.
    await redis.redis.del(keys.worker('wk-a'), keys.worker('wk-b'));
    await beat('worker', 'wk-old', { sessions: 0, capacity: 4, draining: 0, provider_ok: 0 });
    const old = await get<HealthBody>(HEALTH);
    expect(old.body.failing).toEqual(['provider']);
    expect(old.body).not.toHaveProperty('provider_errors');
    expect(old.body.components.provider!.message).toBe('no ready worker can reach the speech provider');
  });

  it('matches the documented health and status schemas', async () => {
    await worker('wk-a', false, 'shape_unsupported');
    const doc = (await app.inject({ url: OPENAPI_PATH })).json() as {
      paths: Record<
        string,
        { get: { responses: Record<string, { content: Record<string, { schema: object }> }> } }
      >;
    };
    const ajv = new Ajv2020({ allErrors: true, strict: false });
    for (const [path, code] of [
      [HEALTH, 503],
      [STATUS, 200],
    ] as const) {
      const res = await app.inject({ url: path });
      expect(res.statusCode).toBe(code);
      const schema = doc.paths[path]!.get.responses[String(code)]!.content['application/json']!.schema;
      const validate = ajv.compile(schema);
      expect(validate(res.json()) ? [] : validate.errors, path).toEqual([]);
    }
    const schema = doc.paths[HEALTH]!.get.responses['503']!.content['application/json']!.schema as {
      properties: Record<string, unknown>;
    };
    expect(schema.properties).toHaveProperty('provider_errors');
  });
});
