// The OpenAPI document at /openapi.json: it lists exactly the routes the app serves, its schemas are valid
// JSON Schema 2020-12 (the OpenAPI 3.1 dialect), and real replies of every route validate against it.
import { createKeys, Heartbeat } from '@rtv/bus';
import { createLogger } from '@rtv/service-kit';
import { createTestRedis, freePort, type TestRedis } from '@rtv/testing';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildStatusApi, OPENAPI_PATH } from '../src/app.js';

interface Operation {
  operationId: string;
  summary?: string;
  responses: Record<string, { description: string; content: Record<string, { schema: object }> }>;
}
interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Record<string, Operation>>;
}

const ROUTES = [
  '/api/v1/streaming/realtime/status',
  '/api/v1/streaming/realtime/health',
  '/metrics',
  OPENAPI_PATH,
  '/healthz',
  '/readyz',
  '/api/v1/streaming/realtime/sessions/{id}',
];

describe('OpenAPI document', () => {
  let redis: TestRedis;
  let app: FastifyInstance;
  let down: FastifyInstance;
  let doc: OpenApiDocument;
  const ajv = new Ajv2020({ allErrors: true, strict: false });

  beforeAll(async () => {
    redis = await createTestRedis('openapi');
    const keys = createKeys(redis.prefix);
    const log = createLogger('status-api', 'silent');
    app = await buildStatusApi({ redisUrl: redis.url, prefix: redis.prefix, log, snapshotMaxAgeMs: 0 });
    down = await buildStatusApi({
      redisUrl: `redis://127.0.0.1:${await freePort()}`,
      prefix: 'rtv-unreachable',
      log,
      readTimeoutMs: 300,
    });
    // A populated cluster, so member objects, streams and stale entries are all exercised.
    const beat = (
      hashKey: string,
      registryKey: string,
      id: string,
      fields: Record<string, string | number>,
      ttlMs = 30_000,
    ) => new Heartbeat({ redis: redis.redis, hashKey, registryKey, id, fields: () => fields, ttlMs }).beat();
    await redis.redis.xadd(keys.workerIn('wk-a'), '*', 'v1', 'x');
    await beat(keys.gateway('gw-a'), keys.gateways(), 'gw-a', {
      connections: 1,
      draining: 0,
      version: '0.1.0',
      port: 1,
    });
    await beat(keys.worker('wk-a'), keys.workers(), 'wk-a', {
      sessions: 0,
      capacity: 2,
      draining: 0,
      read_id: '0-0',
      provider_ok: 1,
    });
    await redis.redis.zadd(keys.workers(), Date.now() - 60_000, 'wk-stale');
    const res = await app.inject({ url: OPENAPI_PATH });
    expect(res.statusCode).toBe(200);
    doc = res.json() as OpenApiDocument;
  });
  afterAll(async () => {
    await app?.close();
    await down?.close();
    await redis?.cleanup();
  });

  it('is an OpenAPI 3.1 document listing exactly the routes the app serves', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info.title).toContain('status API');
    expect(Object.keys(doc.paths).sort()).toEqual([...ROUTES].sort());
    for (const [path, ops] of Object.entries(doc.paths)) {
      expect(Object.keys(ops), path).toEqual(['get']);
      expect(app.hasRoute({ method: 'GET', url: path.replace(/\{(\w+)\}/g, ':$1') }), path).toBe(true);
      expect(ops.get!.summary, path).toBeTruthy();
      expect(Object.keys(ops.get!.responses).length, path).toBeGreaterThan(0);
    }
    expect(new Set(Object.values(doc.paths).map((o) => o.get!.operationId)).size).toBe(ROUTES.length);
  });

  it('describes replies with valid JSON Schema 2020-12', () => {
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [status, response] of Object.entries(ops.get!.responses)) {
        expect(response.description, `${path} ${status}`).toBeTruthy();
        for (const { schema } of Object.values(response.content)) {
          expect(ajv.validateSchema(schema), `${path} ${status}: ${ajv.errorsText()}`).toBe(true);
        }
      }
    }
  });

  /** Validates a real reply against the schema the document gives for its status and content type. */
  async function expectDocumented(instance: FastifyInstance, path: string, status: number): Promise<void> {
    const res = await instance.inject({ url: path });
    expect(res.statusCode, path).toBe(status);
    const response = doc.paths[path]!.get!.responses[String(status)];
    expect(response, `${path} documents ${status}`).toBeDefined();
    const type = String(res.headers['content-type']).split(';')[0]!;
    const media = response!.content[type];
    expect(media, `${path} ${status} documents ${type}`).toBeDefined();
    const body = type === 'application/json' ? res.json() : res.body;
    const validate = ajv.compile(media!.schema);
    expect(validate(body) ? [] : validate.errors, `${path} ${status}`).toEqual([]);
  }

  it('matches every reply of a working status API', async () => {
    await expectDocumented(app, '/api/v1/streaming/realtime/status', 200);
    await expectDocumented(app, '/api/v1/streaming/realtime/health', 200);
    await expectDocumented(app, '/metrics', 200);
    await expectDocumented(app, OPENAPI_PATH, 200);
    await expectDocumented(app, '/healthz', 200);
    await expectDocumented(app, '/readyz', 200);
  });

  it('matches the replies of a status API that cannot reach Redis', async () => {
    await expectDocumented(down, '/api/v1/streaming/realtime/status', 503);
    await expectDocumented(down, '/api/v1/streaming/realtime/health', 503);
    await expectDocumented(down, '/readyz', 503);
  });

  it('rejects a reply that breaks the documented shape (the check has teeth)', () => {
    const schema =
      doc.paths['/api/v1/streaming/realtime/status']!.get!.responses['200']!.content['application/json']!
        .schema;
    expect(ajv.compile(schema)({ status: 'running', connections: -1 })).toBe(false);
  });
});
