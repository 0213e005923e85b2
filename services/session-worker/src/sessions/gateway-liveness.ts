import type { Keys, RedisClient } from '@rtv/bus';

/**
 * Whether each gateway still beats, in the order asked: false when its heartbeat hash (`keys.gateway(gid)`,
 * which expires when the gateway stops refreshing it) is gone.
 */
export type GatewaysAlive = (gatewayIds: readonly string[]) => Promise<boolean[]>;

/**
 * {@link GatewaysAlive} against Redis: one pipelined EXISTS per gateway. Rejects when any of them fails, so a
 * gateway is never taken for dead on an error.
 */
export function gatewayLiveness(redis: RedisClient, keys: Keys): GatewaysAlive {
  return async (gatewayIds) => {
    if (gatewayIds.length === 0) return [];
    const pipeline = redis.pipeline();
    for (const gid of gatewayIds) pipeline.exists(keys.gateway(gid));
    const results = (await pipeline.exec()) ?? [];
    return gatewayIds.map((_gid, i) => {
      const [err, exists] = results[i] ?? [new Error('no reply')];
      if (err) throw err;
      return exists !== 0;
    });
  };
}
