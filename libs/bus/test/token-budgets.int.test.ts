// Per-user token budgets on a real Redis: spends add up within a fixed window, the budget reads as exhausted once
// used up, a new window starts from zero, and each window's counter expires shortly after the window ends. On a
// Redis Cluster, two workers' clients share each user's counter wherever its slot lives.
import { setTimeout as sleep } from 'node:timers/promises';
import { createKeys, createRedis, type Keys, type RedisClient, TokenBudgets, waitReady } from '@rtv/bus';
import {
  createTestRedis,
  type RedisClusterHandle,
  startRedisCluster,
  type TestRedis,
  uniquePrefix,
} from '@rtv/testing';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

describe('token budgets on a real Redis', () => {
  let t: TestRedis;
  let keys: Keys;

  beforeEach(async () => {
    t = await createTestRedis('budget');
    keys = createKeys(t.prefix);
  });
  afterEach(async () => {
    await t.cleanup();
  });

  const hour = { tokens: 1000, windowS: 3600 };

  it('adds spends up within a window and reads as exhausted once the budget is used up', async () => {
    const budgets = new TokenBudgets(t.redis, keys);
    expect(await budgets.remaining('alice', hour)).toBe(1000);
    expect(await budgets.spend('alice', 320, hour)).toEqual({ spent: 320, remaining: 680, exhausted: false });
    expect(await budgets.spend('alice', 600, hour)).toEqual({ spent: 920, remaining: 80, exhausted: false });
    expect(await budgets.remaining('alice', hour)).toBe(80);
    // The last response goes over: the overshoot is counted, remaining does not go negative.
    expect(await budgets.spend('alice', 200, hour)).toEqual({ spent: 1120, remaining: 0, exhausted: true });
    expect(await budgets.remaining('alice', hour)).toBe(0);
    // Exactly at the budget counts as used up too.
    expect(await budgets.spend('bob', 1000, hour)).toEqual({ spent: 1000, remaining: 0, exhausted: true });
  });

  it('keeps users apart, each in its own hash-tagged key', async () => {
    const budgets = new TokenBudgets(t.redis, keys, { now: () => 7_200_500 });
    await budgets.spend('alice', 900, hour);
    expect(await budgets.remaining('carol', hour)).toBe(1000);
    expect(await t.redis.get(`${t.prefix}:budget:{alice}:2`)).toBe('900');
    expect(keys.budget('alice', 2)).toBe(`${t.prefix}:budget:{alice}:2`);
  });

  it('starts the next window from zero', async () => {
    const budgets = new TokenBudgets(t.redis, keys);
    const second = { tokens: 100, windowS: 1 };
    // Start early in a window so both spends below land in the same one.
    await sleep(1000 - (Date.now() % 1000) + 20);
    expect((await budgets.spend('alice', 150, second)).exhausted).toBe(true);
    expect(await budgets.remaining('alice', second)).toBe(0);
    await sleep(1000 - (Date.now() % 1000) + 20);
    expect(await budgets.remaining('alice', second)).toBe(100);
    expect(await budgets.spend('alice', 30, second)).toEqual({ spent: 30, remaining: 70, exhausted: false });
  });

  it('sets a TTL of the rest of the window plus the grace on every spend', async () => {
    let now = 3_600_000 * 5 + 600_000; // 10 minutes into window 5 of an hour budget
    const budgets = new TokenBudgets(t.redis, keys, { now: () => now, graceMs: 5000 });
    await budgets.spend('alice', 10, hour);
    const key = keys.budget('alice', 5);
    const ttl = await t.redis.pttl(key);
    expect(ttl).toBeGreaterThan(3_000_000 + 5000 - 1000);
    expect(ttl).toBeLessThanOrEqual(3_000_000 + 5000);
    // Later in the same window, the TTL follows the window's end.
    now += 2_400_000;
    expect((await budgets.spend('alice', 10, hour)).spent).toBe(20);
    const later = await t.redis.pttl(key);
    expect(later).toBeGreaterThan(600_000 + 5000 - 1000);
    expect(later).toBeLessThanOrEqual(600_000 + 5000);
  });

  it('lets a window counter expire in Redis once its window (and the grace) is over', async () => {
    const budgets = new TokenBudgets(t.redis, keys, { graceMs: 0 });
    const second = { tokens: 100, windowS: 1 };
    await sleep(1000 - (Date.now() % 1000) + 20);
    const key = keys.budget('alice', Math.floor(Date.now() / 1000));
    await budgets.spend('alice', 5, second);
    expect(await t.redis.get(key)).toBe('5');
    await sleep(1000 - (Date.now() % 1000) + 50);
    expect(await t.redis.exists(key)).toBe(0);
  });

  it('refuses spends and budgets that cannot be counted', async () => {
    const budgets = new TokenBudgets(t.redis, keys);
    await expect(budgets.spend('alice', -1, hour)).rejects.toThrow(/tokens/);
    await expect(budgets.spend('alice', 1.5, hour)).rejects.toThrow(/tokens/);
    await expect(budgets.spend('alice', 1, { tokens: 0, windowS: 1 })).rejects.toThrow(/budget\.tokens/);
    await expect(budgets.remaining('alice', { tokens: 1, windowS: 0 })).rejects.toThrow(/budget\.windowS/);
    await expect(budgets.spend('', 1, hour)).rejects.toThrow(/userId/);
    expect(() => new TokenBudgets(t.redis, keys, { graceMs: -1 })).toThrow(/graceMs/);
  });
});

describe('token budgets on a real 3-master Redis Cluster', () => {
  let cluster: RedisClusterHandle;
  const clients: RedisClient[] = [];
  const prefix = uniquePrefix('budget-cluster');

  beforeAll(async () => {
    cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 0 });
  }, 60_000);
  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await cluster?.stop();
  });

  /** One worker's view: its own cluster client through the services' factory. */
  async function worker(): Promise<TokenBudgets> {
    const redis = createRedis(cluster.url, {
      name: 'budget-test',
      role: 'producer',
      topology: { mode: 'cluster' },
      credentials: {},
    });
    clients.push(redis);
    await waitReady(redis);
    return new TokenBudgets(redis, createKeys(prefix));
  }

  it('counts each user once across workers, for users whose budgets sit on different masters', async () => {
    const keys = createKeys(prefix);
    const users = Array.from({ length: 9 }, (_, i) => `user-${i}`);
    const masters = new Set(await Promise.all(users.map((u) => cluster.masterOf(keys.budget(u, 0)))));
    expect(masters.size).toBeGreaterThanOrEqual(2);
    const [a, b] = [await worker(), await worker()];
    const hour = { tokens: 1000, windowS: 3600 };
    for (const user of users) {
      expect(await a.spend(user, 600, hour)).toMatchObject({ spent: 600, exhausted: false });
      // The other worker sees the same counter and the budget runs out across both.
      expect(await b.spend(user, 500, hour)).toEqual({ spent: 1100, remaining: 0, exhausted: true });
      expect(await a.remaining(user, hour)).toBe(0);
    }
  });
});
