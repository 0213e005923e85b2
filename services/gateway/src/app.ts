import { createKeys, Heartbeat, randomId, redisTopologyOf } from '@rtv/bus';
import { CloseCode } from '@rtv/protocol';
import { createRegistry, type Logger, startAdminServer } from '@rtv/service-kit';
import type { GatewayConfig } from './config.js';
import { createGatewayMetrics } from './metrics.js';
import { GatewayReadiness } from './readiness.js';
import { connectGatewayRedis } from './redis-connections.js';
import { startRoutingPlane } from './routing/routing-plane.js';
import { GatewayShutdown } from './shutdown.js';
import { createClientSide } from './ws/client-side.js';
import { listenRealtime } from './ws/realtime-server.js';

export const GATEWAY_VERSION = '0.1.0';

export interface Gateway {
  readonly id: string;
  readonly port: number;
  readonly adminPort: number;
  connections(): number;
  /** Stops accepting, closes every client with `code`, releases Redis state. Idempotent. */
  stop(code?: number): Promise<void>;
}

/**
 * Composition root: config → Redis, the routing plane (queue, records, bus, registry, router), the client
 * side (resume tokens, admission, lifecycle, frame intake), the uWS server, heartbeat, admin server. It only
 * constructs and wires; the behaviour lives in the classes it connects.
 */
export async function startGateway(config: GatewayConfig, log: Logger): Promise<Gateway> {
  const id = config.RTV_GATEWAY_ID ?? randomId('gw-', 12);
  const keys = createKeys(config.RTV_REDIS_PREFIX);
  const metricsRegistry = createRegistry(
    { rtv_service: 'gateway' },
    { packageJson: new URL('../package.json', import.meta.url) },
  );
  const metrics = createGatewayMetrics(metricsRegistry);
  const redis = await connectGatewayRedis(config.REDIS_URL, redisTopologyOf(config), id, log);
  const readiness = new GatewayReadiness(redis.commands);
  const routing = await startRoutingPlane(config, { id, keys, redis, metrics, log });
  const clients = await createClientSide(config, { id, keys, redis, metrics, log, readiness, routing });

  const server = await listenRealtime({
    host: config.RTV_GATEWAY_HOST,
    port: config.RTV_GATEWAY_PORT,
    sockets: {
      lifecycle: clients.lifecycle,
      intake: clients.intake,
      upgrade: clients.admission.upgrade,
      maxFrameBytes: config.RTV_MAX_FRAME_BYTES,
      idleTimeoutS: config.RTV_IDLE_TIMEOUT_S,
      maxBackpressureBytes: config.RTV_MAX_BACKPRESSURE_BYTES,
    },
    openai: clients.openai,
    statusUrl: config.RTV_STATUS_URL,
    statusRatePerS: config.RTV_STATUS_RATE_PER_S,
    log,
  });
  const { registry, reader } = routing;
  const heartbeat = new Heartbeat({
    redis: redis.commands,
    hashKey: keys.gateway(id),
    registryKey: keys.gateways(),
    id,
    fields: () => ({
      connections: registry.count(),
      draining: readiness.draining ? 1 : 0,
      version: GATEWAY_VERSION,
      port: server.port,
      read_id: reader.lastDeliveredId,
    }),
    extra: () => reader.maintain(),
    onError: redis.onError,
  });
  await heartbeat.start();
  const admin = await startAdminServer({
    host: config.RTV_ADMIN_HOST,
    port: config.RTV_GATEWAY_ADMIN_PORT,
    registry: metricsRegistry,
    ready: () => readiness.accepting(),
    details: () => ({ id, connections: registry.count(), redis: redis.commands.status }),
  });
  log.info({ id, port: server.port, adminPort: admin.port }, 'gateway listening');

  const shutdown = new GatewayShutdown({
    ...routing,
    readiness,
    server,
    lifecycle: clients.lifecycle,
    recovery: clients.recovery,
    userLimiter: clients.admission.upgrade.userLimiter,
    overload: clients.admission.overload,
    heartbeat,
    admin,
    redis,
    drainGraceMs: config.RTV_DRAIN_GRACE_MS,
  });
  return {
    id,
    port: server.port,
    adminPort: admin.port,
    connections: () => registry.count(),
    stop: (code = CloseCode.ServiceRestart) => shutdown.stop(code),
  };
}
