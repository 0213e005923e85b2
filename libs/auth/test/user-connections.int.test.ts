// The per-user cap on the real Redis: two limiters on two connections stand in for two gateways. The last
// suite runs the same operations on a real 3-master Redis Cluster, where users' keys live on different nodes.

import { createKeys } from '@rtv/bus';
import {
  createTestRedis,
  deleteKeysWithPrefix,
  type RedisClusterHandle,
  startRedisCluster,
  type TestRedis,
  uniquePrefix,
  waitFor,
} from '@rtv/testing';
import { Cluster, Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { UserConnectionLimiter } from '../src/index.js';

describe('UserConnectionLimiter on a real Redis', () => {
  let t: TestRedis;
  let clients: Redis[];
  let limiters: UserConnectionLimiter[];

  beforeEach(async () => {
    t = await createTestRedis('auth');
    clients = [];
    limiters = [];
  });
  afterEach(async () => {
    for (const l of limiters) await l.stop();
    for (const c of clients) c.disconnect();
    await t.cleanup();
  });

  const gateway = (opts: {
    maxPerUser: number;
    leaseMs?: number;
    renewEveryMs?: number;
    onLost?: () => void;
  }) => {
    const redis = new Redis(t.url, { maxRetriesPerRequest: 1 });
    redis.on('error', () => {});
    clients.push(redis);
    const limiter = new UserConnectionLimiter({ redis, keys: createKeys(t.prefix), ...opts });
    limiters.push(limiter);
    return limiter;
  };

  it('enforces the cap across two independent gateways', async () => {
    const a = gateway({ maxPerUser: 3 });
    const b = gateway({ maxPerUser: 3 });
    const callers = [a, b, a, b, a];
    const results = await Promise.all(callers.map((gw) => gw.acquire('alice')));
    expect(results.filter((r) => r.ok)).toHaveLength(3);
    expect(results.filter((r) => !r.ok)).toEqual([
      { ok: false, count: 3, limit: 3 },
      { ok: false, count: 3, limit: 3 },
    ]);
    expect(await a.count('alice')).toBe(3);
    expect(a.heldCount + b.heldCount).toBe(3);
    // Another user has a cap of their own.
    expect((await b.acquire('bob')).ok).toBe(true);

    // A release on one gateway frees a slot for the other; releasing twice is harmless.
    const i = results.findIndex((r) => r.ok);
    const granted = results[i]!;
    if (!granted.ok) throw new Error('unreachable');
    expect(await callers[i]!.release('alice', granted.leaseId)).toBe(true);
    expect(await callers[i]!.release('alice', granted.leaseId)).toBe(false);
    const other = callers[i] === a ? b : a;
    expect((await other.acquire('alice')).ok).toBe(true);
    expect((await callers[i]!.acquire('alice')).ok).toBe(false);
  });

  it('frees the slots of a gateway that died without releasing, once its leases lapse', async () => {
    const crashed = gateway({ maxPerUser: 2, leaseMs: 300, renewEveryMs: 100 });
    expect((await crashed.acquire('carol')).ok).toBe(true);
    expect((await crashed.acquire('carol')).ok).toBe(true);
    // The crashed gateway never renews (start() was not called) and never releases.
    const survivor = gateway({ maxPerUser: 2, leaseMs: 300, renewEveryMs: 100 });
    expect((await survivor.acquire('carol')).ok).toBe(false);
    await waitFor(async () => (await survivor.acquire('carol')).ok, { message: 'lapsed leases swept' });
    // Once the last lease lapses too (nobody renews here), the key itself expires: nothing is left behind.
    await waitFor(async () => (await t.redis.exists(createKeys(t.prefix).userConnections('carol'))) === 0, {
      message: 'user key expired',
    });
  });

  it('keeps renewed leases alive well past their lifetime', async () => {
    const live = gateway({ maxPerUser: 1, leaseMs: 300, renewEveryMs: 50 });
    const other = gateway({ maxPerUser: 1, leaseMs: 300 });
    expect((await live.acquire('dave')).ok).toBe(true);
    live.start();
    const key = createKeys(t.prefix).userConnections('dave');
    const firstExpiry = Number((await t.redis.zrange(key, 0, 0, 'WITHSCORES'))[1]);
    // Observe renewals (the lease's expiry moving forward) rather than timing anything.
    await waitFor(
      async () => Number((await t.redis.zrange(key, 0, 0, 'WITHSCORES'))[1]) > firstExpiry + 600,
      {
        message: 'lease renewed repeatedly',
      },
    );
    expect((await other.acquire('dave')).ok).toBe(false);
    expect(await other.count('dave')).toBe(1);
  });

  it('reports a lease that lapsed and was taken by another connection meanwhile', async () => {
    const lost: string[] = [];
    const a = gateway({ maxPerUser: 1, leaseMs: 200, renewEveryMs: 50, onLost: () => lost.push('lost') });
    const b = gateway({ maxPerUser: 1, leaseMs: 200 });
    const first = await a.acquire('erin');
    expect(first.ok).toBe(true);
    await waitFor(async () => (await b.acquire('erin')).ok, { message: 'lapsed lease re-taken' });
    expect(await a.renewAll()).toEqual({ renewed: 0, lost: 1 });
    expect(lost).toEqual(['lost']);
    expect(a.heldCount).toBe(0);
  });

  it('takes a lapsed lease back on renewal when the user still has room', async () => {
    const a = gateway({ maxPerUser: 2, leaseMs: 200, renewEveryMs: 50 });
    const got = await a.acquire('frank');
    if (!got.ok) throw new Error('expected a lease');
    await t.redis.zrem(createKeys(t.prefix).userConnections('frank'), got.leaseId); // as if it had lapsed
    expect(await a.renewAll()).toEqual({ renewed: 1, lost: 0 });
    expect(await a.count('frank')).toBe(1);
  });

  it('releases everything it holds on shutdown', async () => {
    const a = gateway({ maxPerUser: 5 });
    for (const user of ['g1', 'g1', 'g2']) expect((await a.acquire(user)).ok).toBe(true);
    await a.releaseAll();
    expect(await a.count('g1')).toBe(0);
    expect(await a.count('g2')).toBe(0);
    expect(a.heldCount).toBe(0);
  });

  it('counts an anonymous caller (anon:alice, up to 133 characters) apart from the verified alice', async () => {
    const a = gateway({ maxPerUser: 1 });
    expect((await a.acquire('anon:alice')).ok).toBe(true);
    expect((await a.acquire('anon:alice')).ok).toBe(false);
    expect((await a.acquire('alice')).ok).toBe(true);
    expect((await a.acquire(`anon:${'x'.repeat(128)}`)).ok).toBe(true);
    await expect(a.acquire(`anon:${'x'.repeat(129)}`)).rejects.toThrow(/invalid user id/);
    await expect(a.acquire('anon:{tag}')).rejects.toThrow(/invalid user id/);
  });

  it('refuses invalid user ids and options before touching Redis', async () => {
    const a = gateway({ maxPerUser: 1 });
    await expect(a.acquire('has space')).rejects.toThrow(/invalid user id/);
    await expect(a.acquire('{tag}')).rejects.toThrow(/invalid user id/);
    expect(() => gateway({ maxPerUser: 0 })).toThrow(/maxPerUser/);
    expect(() => gateway({ maxPerUser: 1, leaseMs: 100, renewEveryMs: 100 })).toThrow(/renewEveryMs/);
  });
});

describe('UserConnectionLimiter on a real 3-master Redis Cluster', () => {
  let cluster: RedisClusterHandle;
  let prefix: string;
  let clients: Cluster[];
  let limiters: UserConnectionLimiter[];

  beforeAll(async () => {
    cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 0 });
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  });
  beforeEach(() => {
    prefix = uniquePrefix('auth-cluster');
    clients = [];
    limiters = [];
  });
  afterEach(async () => {
    for (const l of limiters) await l.stop();
    if (clients[0]) await deleteKeysWithPrefix(clients[0], prefix);
    for (const c of clients) c.disconnect();
  });

  /** A gateway's limiter on a Cluster client of its own, seeded with every node as REDIS_URL would list them. */
  const gateway = async (opts: {
    maxPerUser: number;
    leaseMs?: number;
    onLost?: (userId: string) => void;
  }) => {
    const redis = new Cluster(
      cluster.nodes.map(({ port }) => ({ host: '127.0.0.1', port })),
      { redisOptions: { maxRetriesPerRequest: 1 } },
    );
    redis.on('error', () => {});
    clients.push(redis);
    await new Promise<void>((resolve, reject) => {
      redis.once('ready', resolve);
      redis.once('end', () => reject(new Error('cluster client ended before ready')));
    });
    const limiter = new UserConnectionLimiter({ redis, keys: createKeys(prefix), ...opts });
    limiters.push(limiter);
    return limiter;
  };

  it('acquires, renews, releases and counts leases of users whose keys sit on different masters', async () => {
    const keys = createKeys(prefix);
    const users = Array.from({ length: 9 }, (_, i) => `user-${i}`);
    const masters = new Set(await Promise.all(users.map((u) => cluster.masterOf(keys.userConnections(u)))));
    // The batched calls below only prove anything if their keys span nodes (one node would take a pipeline).
    expect(masters.size).toBeGreaterThanOrEqual(2);

    const lost: string[] = [];
    const a = await gateway({ maxPerUser: 2, leaseMs: 5000, onLost: (user) => lost.push(user) });
    const b = await gateway({ maxPerUser: 2, leaseMs: 5000 });
    const leasesOfA = new Map<string, string>();
    for (const user of users) {
      const got = await a.acquire(user);
      if (!got.ok) throw new Error(`expected a lease for ${user}`);
      leasesOfA.set(user, got.leaseId);
      expect((await b.acquire(user)).ok).toBe(true);
      // The cap holds across gateways on a cluster too.
      expect(await a.acquire(user)).toEqual({ ok: false, count: 2, limit: 2 });
    }
    expect(await Promise.all(users.map((u) => b.count(u)))).toEqual(users.map(() => 2));

    // Renewal pushes the expiry of every lease of A forward, on every node.
    const redis = clients[0]!;
    const expiryOfA = (user: string) => redis.zscore(keys.userConnections(user), leasesOfA.get(user)!);
    const before = (await Promise.all(users.map(expiryOfA))).map(Number);
    await waitFor(async () => (await redisNowMs(redis)) > Math.max(...before) - 5000, {
      message: "Redis's clock moves past the last acquire",
    });
    expect(await a.renewAll()).toEqual({ renewed: users.length, lost: 0 });
    const after = (await Promise.all(users.map(expiryOfA))).map(Number);
    for (const [i, expiry] of after.entries()) expect(expiry).toBeGreaterThan(before[i]!);

    // A lapsed lease is taken back when the user has room, and reported lost when the cap filled meanwhile.
    const [roomy, full] = [users[0]!, users[1]!];
    await redis.zrem(keys.userConnections(roomy), leasesOfA.get(roomy)!);
    await redis.zrem(keys.userConnections(full), leasesOfA.get(full)!);
    expect((await b.acquire(full)).ok).toBe(true);
    expect(await a.renewAll()).toEqual({ renewed: users.length - 1, lost: 1 });
    expect(lost).toEqual([full]);
    expect(await a.count(roomy)).toBe(2);
    expect(await a.count(full)).toBe(2);

    // Shutdown gives back every lease this gateway holds, on every node, and only those.
    await a.releaseAll();
    expect(a.heldCount).toBe(0);
    expect(await Promise.all(users.map((u) => b.count(u)))).toEqual(users.map((u) => (u === full ? 2 : 1)));
    await b.releaseAll();
    expect(await Promise.all(users.map((u) => a.count(u)))).toEqual(users.map(() => 0));
  });
});

/** Redis's own clock in ms, as the lease scripts read it. */
async function redisNowMs(redis: Cluster): Promise<number> {
  const [seconds, micros] = await redis.time();
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
}
