// The launcher's last check, `scripts/redis-ready.ts`, is the services' own connection: against a real
// Sentinel deployment whose data servers need a password it catches what the launcher's dependency-free probes
// cannot see (they only ask the sentinels), and it passes for a Redis Cluster and for one plain Redis.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type RedisClusterHandle,
  type RedisSentinelHandle,
  startRedisCluster,
  startRedisSentinel,
} from '@rtv/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { confirmRedisForServices } from './lib/redis-ready.mjs';
import { resolveRedis } from './redis.mjs';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const base = { PATH: process.env.PATH, HOME: process.env.HOME };

describe('the check through the services’ Redis client', () => {
  let sentinel: RedisSentinelHandle;
  let cluster: RedisClusterHandle;

  beforeAll(async () => {
    [sentinel, cluster] = await Promise.all([
      startRedisSentinel({ replicas: 0, sentinels: 1, masterName: 'rtv-ready', password: 'right-password' }),
      startRedisCluster({ masters: 3, replicasPerMaster: 0 }),
    ]);
  }, 60_000);
  afterAll(async () => {
    await Promise.all([sentinel?.stop(), cluster?.stop()]);
  });

  const sentinelEnv = (password: string) => ({
    ...base,
    RTV_REDIS_MODE: 'sentinel',
    REDIS_URL: sentinel.url,
    RTV_REDIS_SENTINEL_MASTER: 'rtv-ready',
    REDIS_PASSWORD: password,
  });

  it('refuses a sentinel-watched master the services could not log in to, which the probes let through', async () => {
    const env = sentinelEnv('wrong-password');
    // The sentinel knows the master, so the dependency-free probe is satisfied...
    await expect(resolveRedis({ env })).resolves.toMatchObject({ source: 'env' });
    // ...but a service's connection is refused by the master itself.
    const err = await confirmRedisForServices(repoRoot, env).then(
      () => new Error('confirmed'),
      (e: Error) => e,
    );
    expect(err.message).toMatch(
      /^the services cannot use REDIS_URL=redis:\/\/127\.0\.0\.1:\d+ \(RTV_REDIS_MODE=sentinel\): /,
    );
    expect(err.message).toMatch(/WRONGPASS|invalid password|invalid username-password/i);
    expect(err.message).not.toContain('wrong-password');
    expect(err.message).not.toContain('\n');
  }, 30_000);

  it('passes with the right password, for a Redis Cluster, and for one plain Redis', async () => {
    await expect(confirmRedisForServices(repoRoot, sentinelEnv('right-password'))).resolves.toBeUndefined();
    await expect(
      confirmRedisForServices(repoRoot, { ...base, RTV_REDIS_MODE: 'cluster', REDIS_URL: cluster.url }),
    ).resolves.toBeUndefined();
    await expect(
      confirmRedisForServices(repoRoot, {
        ...base,
        REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      }),
    ).resolves.toBeUndefined();
  }, 30_000);
});
