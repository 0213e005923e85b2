import { STATUS_RATE_ENV, type TokenVerifier, TrustedProxies } from '@rtv/auth';
import type { RedisClient } from '@rtv/bus';
import { createKeys, createRedis, type Keys, type RedisTopology, SessionRecords } from '@rtv/bus';
import { httpError } from '@rtv/protocol';
import { createRegistry, type Logger } from '@rtv/service-kit';
import { Queue } from 'bullmq';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Registry } from 'prom-client';
import { ClusterReader, type ClusterSnapshot } from './cluster/read-cluster.js';
import { SnapshotCache } from './cluster/snapshot-cache.js';
import { SEED_BASE } from './paths.js';
import { healthRoutes } from './plugins/health.js';
import {
  createClusterMetrics,
  createHttpMetrics,
  instrumentRequests,
  metricsRoutes,
} from './plugins/metrics.js';
import { collectRoutes, openApiRoutes } from './plugins/openapi.js';
import { limitPublicRoutes } from './plugins/rate-limit.js';
import { sessionRoutes } from './plugins/sessions.js';
import { statusRoutes } from './plugins/status.js';

export { OPENAPI_PATH, SEED_BASE } from './paths.js';

export interface StatusApiOptions {
  redisUrl: string;
  prefix: string;
  log: Logger;
  /** Verifies callers of the session history route; without one that route refuses everybody. */
  verifier?: TokenVerifier;
  /**
   * A cluster read is reused for this long by every route and scrape. Heartbeats are seconds apart, so a
   * second of reuse loses nothing and keeps Redis load flat under many pollers. @defaultValue 1000
   */
  snapshotMaxAgeMs?: number;
  /** A cluster read that takes longer counts as Redis being unreachable. @defaultValue 2000 */
  readTimeoutMs?: number;
  /** Unread entries counted per stream before the lag reads as "at least this". @defaultValue 1000 */
  lagCountCap?: number;
  /**
   * Requests per second per client address to the public status and health routes (bursts of twice that).
   * @defaultValue 10 (`RTV_STATUS_RATE_PER_S`)
   */
  statusRatePerS?: number;
  /** Proxies whose `X-Forwarded-For` names the client (`RTV_TRUSTED_PROXIES`). @defaultValue none */
  trustedProxies?: TrustedProxies;
  /** Single Redis, Cluster or Sentinel. @defaultValue this process's `RTV_REDIS_MODE` and sentinel settings */
  redisTopology?: RedisTopology;
}

declare module 'fastify' {
  interface FastifyInstance {
    redis: RedisClient;
    keys: Keys;
    sessionsQueue: Queue;
    registry: Registry;
    /** The shared, coalesced cluster read every route and the metrics use. */
    clusterState: SnapshotCache<ClusterSnapshot>;
  }
}

/**
 * Composition root of the status API. Builds the app without listening (tests call `inject` or `listen`
 * themselves): one Redis connection, the session queue handle, a coalescing cluster reader, one plugin per
 * concern (status, health, metrics, OpenAPI).
 */
export async function buildStatusApi(opts: StatusApiOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: opts.log as FastifyBaseLogger,
    // Probes and scrapes would flood the log at info level: requests are logged at debug by the metrics hook.
    logController: new LogController({ disableRequestLogging: true }),
  });
  const redis = createRedis(opts.redisUrl, {
    name: 'rtv-status-api',
    role: 'producer',
    ...(opts.redisTopology ? { topology: opts.redisTopology } : {}),
    onError: (err) => opts.log.warn({ err: err.message }, 'redis connection error'),
  });
  const keys = createKeys(opts.prefix);
  const queue = new Queue(keys.queueName, { connection: redis, prefix: keys.bullPrefix });
  // Queue errors are connection errors, already reported by the connection's own listener.
  queue.on('error', () => undefined);
  const reader = new ClusterReader({ redis, keys, queue, lagCountCap: opts.lagCountCap });
  const clusterState = new SnapshotCache({
    read: () => reader.read(),
    maxAgeMs: opts.snapshotMaxAgeMs,
    timeoutMs: opts.readTimeoutMs,
  });
  const registry = createRegistry(
    { rtv_service: 'status-api' },
    { packageJson: new URL('../package.json', import.meta.url) },
  );
  createClusterMetrics(registry, () => clusterState.getOrUndefined());

  app.decorate<RedisClient, 'redis'>('redis', redis);
  app.decorate('keys', keys);
  app.decorate('sessionsQueue', queue);
  app.decorate('registry', registry);
  app.decorate('clusterState', clusterState);
  app.addHook('onClose', async () => {
    await queue.close();
    // QUIT needs a live connection; a client still retrying an unreachable Redis is stopped outright.
    if (redis.status === 'ready') await redis.quit().catch(() => redis.disconnect());
    else redis.disconnect();
  });

  // Both hooks must exist before the first route: they see every route and every request.
  const routes = collectRoutes(app);
  instrumentRequests(app, createHttpMetrics(registry));
  limitPublicRoutes(app, {
    ratePerS: opts.statusRatePerS ?? STATUS_RATE_ENV.RTV_STATUS_RATE_PER_S.default,
    trustedProxies: opts.trustedProxies ?? TrustedProxies.none(),
    paths: [`${SEED_BASE}/status`, `${SEED_BASE}/health`],
  });

  await app.register(statusRoutes, { snapshots: clusterState });
  await app.register(healthRoutes, { snapshots: clusterState, redis });
  await app.register(metricsRoutes, { registry });
  await app.register(sessionRoutes, { records: new SessionRecords(redis, keys), verifier: opts.verifier });
  await app.register(openApiRoutes, { routes });
  // Unknown routes answer like every other refusal: the error table's code and status.
  const notFound = httpError('not_found');
  app.setNotFoundHandler((_req, reply) => reply.code(notFound.status).send(notFound.payload));
  return app;
}
