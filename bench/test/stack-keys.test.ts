// A stack's keys after the bench stops it: its own and BullMQ's, on a real Redis with a real queue.
import { createKeys, createRedis, type RedisClient } from '@rtv/bus';
import { Queue } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { removeStackKeys } from '../lib/targets.js';

const clients: RedisClient[] = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.disconnect();
});

describe('removeStackKeys', () => {
  it("deletes every key a stack made, BullMQ's hash-tagged ones included, and no other stack's", async () => {
    const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
    const redis = createRedis(url, { name: 'bench-stack-keys-test', role: 'producer' });
    clients.push(redis);
    const suffix = `${process.pid}${Date.now().toString(36)}`;
    const [mine, other] = [`rtvbenchtest:a${suffix}`, `rtvbenchtest:b${suffix}`];
    for (const prefix of [mine, other]) {
      const keys = createKeys(prefix);
      await redis.hset(keys.session('sess_1'), 'owner', 'wk-1');
      await redis.set(keys.gateway('gw-1'), '1');
      const connection = createRedis(url, { name: 'bench-stack-keys-queue', role: 'producer' });
      clients.push(connection);
      const queue = new Queue(keys.queueName, { connection, prefix: keys.bullPrefix });
      await queue.add('session', { sid: 'sess_1' }, { jobId: 'sess_1' });
      await queue.close();
    }
    const keysOf = async (prefix: string) => [
      ...(await redis.keys(`${prefix}:*`)),
      ...(await redis.keys(`{${prefix}:bull}*`)),
    ];
    expect((await keysOf(mine)).some((k) => k.startsWith('{'))).toBe(true);

    expect(await removeStackKeys(redis, mine)).toBeGreaterThan(3);
    expect(await keysOf(mine)).toEqual([]);
    expect((await keysOf(other)).length).toBeGreaterThan(3);
    await removeStackKeys(redis, other);
    expect(await keysOf(other)).toEqual([]);
  });
});
