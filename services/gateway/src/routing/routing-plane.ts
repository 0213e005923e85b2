import { type Keys, type SessionJobData, SessionRecords, StreamReader, StreamWriter } from '@rtv/bus';
import type { Logger } from '@rtv/service-kit';
import { Queue } from 'bullmq';
import type { GatewayConfig } from '../config.js';
import type { GatewayMetrics } from '../metrics.js';
import type { GatewayRedis } from '../redis-connections.js';
import { closeClientSocket } from './client-session.js';
import { GatewayReplayBudget } from './replay-budget.js';
import { ClientSessionRegistry } from './session-registry.js';
import { SessionRouter } from './session-router.js';
import { SessionStore } from './session-store.js';

/** What every part of the gateway is built from. */
export interface GatewayWiring {
  id: string;
  keys: Keys;
  redis: GatewayRedis;
  metrics: GatewayMetrics;
  log: Logger;
}

/**
 * The routing plane: the session queue and records, the bus writer, the registry of this gateway's sessions,
 * the router between sockets and owners, and the reader of this gateway's out-stream.
 */
export async function startRoutingPlane(
  config: GatewayConfig,
  { id, keys, redis, metrics, log }: GatewayWiring,
) {
  const queue = new Queue<SessionJobData>(keys.queueName, {
    connection: redis.queue,
    prefix: keys.bullPrefix,
  });
  queue.on('error', redis.onError);
  const records = new SessionRecords(redis.commands, keys, { ttlMs: config.RTV_SESSION_TTL_MS });
  const writer = new StreamWriter(redis.commands, {
    maxLen: config.RTV_STREAM_MAXLEN,
    minFlushIntervalMs: config.RTV_BUS_FLUSH_MS,
    onFlush: () => metrics.busEntriesOut.inc(),
    onDrop: (stream, lines, err) => {
      metrics.busDropped.inc(lines);
      log.warn({ stream, lines, err: err.message }, 'bus write dropped');
    },
  });
  const registry = new ClientSessionRegistry();
  metrics.heldReplay.bytes = () => registry.unackedBytes();
  const replayBudget = new GatewayReplayBudget(registry, config.RTV_GATEWAY_REPLAY_MAX_BYTES);
  replayBudget.start();
  metrics.replayBudgetBytes.set(config.RTV_GATEWAY_REPLAY_MAX_BYTES);
  const router = new SessionRouter({
    gatewayId: id,
    keys,
    writer,
    registry,
    metrics,
    log,
    maxBackpressureBytes: config.RTV_MAX_BACKPRESSURE_BYTES,
    closeClient: closeClientSocket,
  });
  const reader = new StreamReader({
    stream: keys.gatewayOut(id),
    blocking: redis.blocking,
    commands: redis.commands,
    onBatch: (batch, entryId) => router.onBatch(batch, entryId),
    onError: (err) => log.warn({ err: err.message }, 'out-stream read failed'),
  });
  await reader.start();
  return { queue, store: new SessionStore(records, queue), writer, registry, replayBudget, router, reader };
}

export type RoutingPlane = Awaited<ReturnType<typeof startRoutingPlane>>;
