import { httpError } from '@rtv/protocol';
import type { FastifyInstance } from 'fastify';
import { evaluateHealth } from '../cluster/health.js';
import type { ClusterSnapshot } from '../cluster/read-cluster.js';
import type { SnapshotCache } from '../cluster/snapshot-cache.js';
import { SEED_BASE } from '../paths.js';
import { RateLimitedSchema, StatusSchema, UnavailableSchema } from '../schemas.js';

const CLUSTER_UNREADABLE = httpError(
  'service_unavailable',
  'Cluster state is unavailable (Redis unreachable)',
);

export interface StatusRoutesOptions {
  snapshots: SnapshotCache<ClusterSnapshot>;
}

/**
 * `GET …/status`: the seed's service status and connection count, aggregated over every live gateway and
 * worker, with the per-member breakdown, stale members, the session queue and each member's stream lag.
 */
export async function statusRoutes(app: FastifyInstance, opts: StatusRoutesOptions): Promise<void> {
  app.get(
    `${SEED_BASE}/status`,
    {
      schema: {
        summary: 'Cluster status (seed)',
        description:
          'Service status and connection count (the seed endpoint), aggregated across every live gateway and ' +
          'session worker from their Redis heartbeats. Members whose heartbeat expired are listed under ' +
          '`stale` and excluded from the counts.',
        tags: ['seed'],
        response: { 200: StatusSchema, 429: RateLimitedSchema, 503: UnavailableSchema },
      },
    },
    async (req, reply) => {
      let snapshot: ClusterSnapshot;
      try {
        snapshot = await opts.snapshots.get();
      } catch (err) {
        req.log.warn({ err: (err as Error).message }, 'cluster state unavailable');
        reply.code(CLUSTER_UNREADABLE.status);
        return {
          status: 'unavailable',
          connections: 0,
          timestamp: Date.now() / 1000,
          ...CLUSTER_UNREADABLE.payload,
        };
      }
      const { failing } = evaluateHealth(snapshot);
      return {
        status: failing.length === 0 ? 'running' : 'degraded',
        service: 'realtime-voice',
        timestamp: Date.now() / 1000,
        connections: snapshot.connections,
        sessions: snapshot.sessions,
        capacity: snapshot.capacity,
        free_capacity: snapshot.free_capacity,
        gateways: snapshot.gateways,
        workers: snapshot.workers,
        stale: snapshot.stale,
        queue: snapshot.queue,
        failing,
      };
    },
  );
}
