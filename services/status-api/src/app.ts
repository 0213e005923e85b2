import { createKeys, createRedis, type Keys } from '@rtv/bus';
import { createRegistry, type Logger } from '@rtv/service-kit';
import { Queue } from 'bullmq';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import { readClusterView } from './cluster-view.js';

export interface StatusApiOptions {
  redisUrl: string;
  prefix: string;
  log: Logger;
}

declare module 'fastify' {
  interface FastifyInstance {
    redis: Redis;
    keys: Keys;
    sessionsQueue: Queue;
    registry: Registry;
  }
}

export const SEED_BASE = '/api/v1/streaming/realtime';

/** Builds the app without listening (tests call `inject` or `listen` themselves). */
export async function buildStatusApi(opts: StatusApiOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: opts.log as FastifyBaseLogger,
    // Probes and scrapes would flood the log at info level; errors are still logged by our handlers.
    logController: new LogController({ disableRequestLogging: true }),
  });
  const redis = createRedis(opts.redisUrl, {
    name: 'rtv-status-api',
    role: 'producer',
    onError: (err) => opts.log.warn({ err: err.message }, 'redis connection error'),
  });
  const keys = createKeys(opts.prefix);
  const queue = new Queue(keys.queueName, { connection: redis, prefix: keys.bullPrefix });
  queue.on('error', () => undefined);
  app.decorate('redis', redis);
  app.decorate('keys', keys);
  app.decorate('sessionsQueue', queue);
  app.decorate('registry', createRegistry({ service: 'status-api' }));
  app.addHook('onClose', async () => {
    await queue.close();
    await redis.quit().catch(() => undefined);
  });

  app.get(`${SEED_BASE}/status`, async (_req, reply) => {
    try {
      const view = await readClusterView(redis, keys, queue);
      const status = view.gateways.length > 0 && view.workers.length > 0 ? 'running' : 'degraded';
      return { status, service: 'realtime-voice', timestamp: Date.now() / 1000, ...view };
    } catch {
      reply.code(503);
      return {
        status: 'unavailable',
        connections: 0,
        error: { code: 'service_unavailable', message: 'Cluster state is unavailable (Redis unreachable)' },
      };
    }
  });

  app.get(`${SEED_BASE}/health`, async (_req, reply) => {
    const failing: string[] = [];
    try {
      const view = await readClusterView(redis, keys, queue);
      if (view.gateways.length === 0) failing.push('gateway');
      if (view.workers.length === 0) failing.push('session_worker');
    } catch {
      failing.push('redis');
    }
    if (failing.length > 0) reply.code(503);
    return { status: failing.length === 0 ? 'healthy' : 'unhealthy', failing, timestamp: Date.now() / 1000 };
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const ready = redis.status === 'ready';
    if (!ready) reply.code(503);
    return { status: ready ? 'ok' : 'unavailable', redis: redis.status };
  });
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', app.registry.contentType);
    return app.registry.metrics();
  });
  return app;
}
