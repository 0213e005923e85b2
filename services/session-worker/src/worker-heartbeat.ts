import type { RedisClient } from '@rtv/bus';
import { Heartbeat, type Keys, type StreamReader } from '@rtv/bus';
import type { WorkerConfig } from './config.js';
import type { InStreamRepair } from './in-stream-repair.js';
import type { SessionHost } from './sessions/session-host.js';
import type { ProviderHealth } from './upstream/provider-health.js';
import type { ResolvedProvider } from './upstream/resolve-provider.js';

export const WORKER_VERSION = '0.1.0';

/** What the worker's composition root changes while it runs, published on every beat. */
export interface WorkerStatus {
  /** Draining: taking no new sessions. */
  stopping: boolean;
}

export interface WorkerHeartbeatSources {
  id: string;
  keys: Keys;
  redis: RedisClient;
  host: SessionHost;
  reader: StreamReader;
  provider: ResolvedProvider;
  /** The outcome of the sessions' provider connects (the cluster health check reads it). */
  providerHealth: ProviderHealth;
  status: WorkerStatus;
  /** Tells whether Redis just came back (gateway heartbeats may not be written again yet). */
  redisReturn: Pick<InStreamRepair, 'recentlyBack'>;
  onError: (err: Error) => void;
}

/**
 * After a Redis outage, gateways are not taken for dead until they had this long to beat again (their
 * heartbeat's own TTL with its default interval, plus slack for their reconnect backoff).
 */
const GATEWAY_REBEAT_MS = 10_000;

/**
 * The worker's liveness hash (sessions and capacity for placement, draining, provider health with the kind of
 * provider failure when there is one, in-stream position). Each beat also keeps the in-stream alive and starts
 * the resume grace of sessions whose gateway died (see `SessionHost.detachFromDeadGateways`).
 */
export async function startWorkerHeartbeat(
  config: WorkerConfig,
  s: WorkerHeartbeatSources,
): Promise<Heartbeat> {
  const heartbeat = new Heartbeat({
    redis: s.redis,
    hashKey: s.keys.worker(s.id),
    registryKey: s.keys.workers(),
    id: s.id,
    fields: () => ({
      sessions: s.host.count(),
      capacity: config.RTV_WORKER_CAPACITY,
      draining: s.status.stopping ? 1 : 0,
      version: WORKER_VERSION,
      provider: s.provider.kind,
      model: s.provider.model,
      provider_ok: s.providerHealth.ok ? 1 : 0,
      // The failure kind (model_unavailable, auth_failed, shape_unsupported, unavailable); empty when ok.
      provider_error: s.providerHealth.error,
      read_id: s.reader.lastDeliveredId,
    }),
    extra: async () => {
      await s.reader.maintain();
      if (!s.redisReturn.recentlyBack(GATEWAY_REBEAT_MS)) await s.host.detachFromDeadGateways();
    },
    onError: s.onError,
  });
  await heartbeat.start();
  return heartbeat;
}
