import type { RedisClient } from '@rtv/bus';
import type { FastifyInstance } from 'fastify';
import { evaluateHealth } from '../cluster/health.js';
import type { ClusterSnapshot } from '../cluster/read-cluster.js';
import type { SnapshotCache } from '../cluster/snapshot-cache.js';
import { SEED_BASE } from '../paths.js';
import { HealthSchema, ProbeSchema, RateLimitedSchema } from '../schemas.js';

export interface HealthRoutesOptions {
  snapshots: SnapshotCache<ClusterSnapshot>;
  redis: RedisClient;
}

/**
 * `GET …/health` judges the cluster (can it take a session?); `/healthz` and `/readyz` judge this process
 * (alive; able to read Redis), for its own liveness and readiness probes.
 */
export async function healthRoutes(app: FastifyInstance, opts: HealthRoutesOptions): Promise<void> {
  // Logged on change only: probes poll this every few seconds.
  let lastFailing = '';

  app.get(
    `${SEED_BASE}/health`,
    {
      schema: {
        summary: 'Cluster health (seed)',
        description:
          '200 when the cluster can take a new session; 503 with the failing components otherwise: redis, ' +
          'gateway (no live, non-draining gateway), session_worker (likewise), capacity (no free session ' +
          'slot), provider (no ready worker reaches the speech provider, where workers report it; ' +
          '`provider_errors` then names why: model_unavailable, auth_failed, shape_unsupported or unavailable).',
        tags: ['seed'],
        response: { 200: HealthSchema, 429: RateLimitedSchema, 503: HealthSchema },
      },
    },
    async (req, reply) => {
      const health = evaluateHealth(await opts.snapshots.getOrUndefined());
      const failing = health.failing.join(',');
      if (failing !== lastFailing) {
        if (failing)
          req.log.warn(
            { failing: health.failing, provider_errors: health.provider_errors },
            'cluster unhealthy',
          );
        else req.log.info('cluster healthy again');
        lastFailing = failing;
      }
      if (!health.healthy) reply.code(503);
      return {
        status: health.healthy ? 'healthy' : 'unhealthy',
        failing: health.failing,
        components: health.components,
        ...(health.provider_errors ? { provider_errors: health.provider_errors } : {}),
        timestamp: Date.now() / 1000,
      };
    },
  );

  app.get(
    '/healthz',
    {
      schema: {
        summary: 'Liveness of this status API process',
        tags: ['probes'],
        response: { 200: ProbeSchema },
      },
    },
    async () => ({ status: 'ok' }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        summary: 'Readiness of this status API process (its Redis connection is ready)',
        tags: ['probes'],
        response: { 200: ProbeSchema, 503: ProbeSchema },
      },
    },
    async (_req, reply) => {
      const ready = opts.redis.status === 'ready';
      if (!ready) reply.code(503);
      return { status: ready ? 'ok' : 'unavailable', redis: opts.redis.status };
    },
  );
}
