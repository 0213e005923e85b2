import type { RedisClient } from '@rtv/bus';
import { createRedis, type RedisTopology, waitReady } from '@rtv/bus';
import type { Logger } from '@rtv/service-kit';

/** The gateway's three Redis connections, ready. */
export interface GatewayRedis {
  /** Commands: session records, bus writes, heartbeat, per-user counts. Its status is the gateway's view of Redis. */
  readonly commands: RedisClient;
  /** The out-stream's blocking XREAD (never shared; the reader disconnects it on stop). */
  readonly blocking: RedisClient;
  /** BullMQ's session queue. */
  readonly queue: RedisClient;
  /** Reports a connection error (logged; ioredis reconnects by itself). */
  readonly onError: (err: Error) => void;
}

/** Opens the gateway's connections and waits until all three are ready. */
export async function connectGatewayRedis(
  url: string,
  topology: RedisTopology,
  gatewayId: string,
  log: Logger,
): Promise<GatewayRedis> {
  const onError = (err: Error) => log.warn({ err: err.message }, 'redis connection error');
  const commands = createRedis(url, { name: `rtv-gateway-${gatewayId}`, onError, topology });
  const blocking = createRedis(url, { name: `rtv-gateway-${gatewayId}-read`, onError, topology });
  const queue = createRedis(url, { name: `rtv-gateway-${gatewayId}-queue`, onError, topology });
  await Promise.all([waitReady(commands), waitReady(blocking), waitReady(queue)]);
  return { commands, blocking, queue, onError };
}
