// The connection factory in each mode, against real servers: a single Redis, a 3-master Cluster (started here)
// and a Sentinel group (started here). Settings that cannot work are refused before any connection.
import {
  createKeys,
  createRedis,
  isCluster,
  newSessionId,
  RedisSettingsError,
  redisTopologyFromEnv,
  SessionRecords,
  waitReady,
} from '@rtv/bus';
import { DEFAULT_SESSION_CONFIG } from '@rtv/protocol';
import { startRedisCluster, startRedisSentinel, testRedisUrl } from '@rtv/testing';
import { describe, expect, it } from 'vitest';

describe('redisTopologyFromEnv', () => {
  it('reads the mode and the sentinel settings, single by default', () => {
    expect(redisTopologyFromEnv({})).toEqual({ mode: 'single' });
    expect(
      redisTopologyFromEnv({
        RTV_REDIS_MODE: 'sentinel',
        RTV_REDIS_SENTINEL_MASTER: 'rtv-master',
        RTV_REDIS_SENTINEL_PASSWORD: 's3cret',
      }),
    ).toEqual({ mode: 'sentinel', sentinelMaster: 'rtv-master', sentinelPassword: 's3cret' });
    expect(() => redisTopologyFromEnv({ RTV_REDIS_MODE: 'replicas' })).toThrow(RedisSettingsError);
  });
});

describe('createRedis', () => {
  it('refuses a list of URLs in single mode, and sentinel mode without the master name', () => {
    const list = 'redis://127.0.0.1:1,redis://127.0.0.1:2';
    expect(() => createRedis(list, { name: 't', topology: { mode: 'single' } })).toThrow(
      /RTV_REDIS_MODE=cluster or sentinel/,
    );
    expect(() => createRedis(list, { name: 't', topology: { mode: 'sentinel' } })).toThrow(
      /RTV_REDIS_SENTINEL_MASTER/,
    );
  });

  it('single: one endpoint', async () => {
    const client = createRedis(testRedisUrl(), { name: 't', role: 'producer', topology: { mode: 'single' } });
    try {
      await waitReady(client);
      expect(isCluster(client)).toBe(false);
      expect(await client.ping()).toBe('PONG');
    } finally {
      client.disconnect();
    }
  });

  it('cluster: seed nodes; keys of every slot reachable through one client, MOVED handled by it', async () => {
    const cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 0, password: 'cluster-pass' });
    const client = createRedis(cluster.seedUrls.slice(0, 1).join(','), {
      name: 't',
      role: 'producer',
      topology: { mode: 'cluster' },
      credentials: { password: 'cluster-pass' },
    });
    try {
      await waitReady(client, 10_000);
      expect(isCluster(client)).toBe(true);
      const keys = Array.from({ length: 30 }, (_, i) => `topology-test:${i}`);
      await Promise.all(keys.map((k, i) => client.set(k, String(i))));
      expect(await Promise.all(keys.map((k) => client.get(k)))).toEqual(keys.map((_, i) => String(i)));
      const masters = new Set(await Promise.all(keys.map((k) => cluster.masterOf(k))));
      expect(masters.size).toBe(3);

      // A progress tick over sessions of every master: one script call per session's slot, no CROSSSLOT.
      const sessionKeys = createKeys('topology-test');
      const records = new SessionRecords(client, sessionKeys);
      const entries = [];
      for (let i = 0; i < 12; i++) {
        const sid = newSessionId();
        await records.create(
          { sid, userId: 'u', gatewayId: 'gw', createdMs: Date.now() },
          { ...DEFAULT_SESSION_CONFIG },
        );
        entries.push({ state: (await records.claim(sid, 'wk-a'))!, seq: i + 1, workerId: 'wk-a' });
      }
      await records.claim(entries[0]!.state.sid, 'wk-b');
      await client.del(sessionKeys.session(entries[1]!.state.sid));
      expect(await records.saveProgress(entries)).toEqual([entries[0]!.state.sid]);
      expect(await client.hget(sessionKeys.session(entries[1]!.state.sid), 'seq')).toBe('2');
      expect(await client.hget(sessionKeys.session(entries[11]!.state.sid), 'seq')).toBe('12');
    } finally {
      client.disconnect();
      await cluster.stop();
    }
  }, 60_000);

  it('sentinel: the master the sentinels name, followed across a failover', async () => {
    const group = await startRedisSentinel({ replicas: 1, sentinels: 3 });
    const client = createRedis(group.url, {
      name: 't',
      role: 'producer',
      topology: { mode: 'sentinel', sentinelMaster: group.masterName },
    });
    try {
      await waitReady(client, 10_000);
      await client.set('topology-test', 'before');
      const old = await group.killMaster();
      await group.waitForFailover(old);
      const written = await (async () => {
        for (let i = 0; i < 100; i++) {
          try {
            return await client.set('topology-test', 'after');
          } catch {
            await new Promise((r) => setTimeout(r, 200));
          }
        }
        return undefined;
      })();
      expect(written).toBe('OK');
      expect(await client.get('topology-test')).toBe('after');
    } finally {
      client.disconnect();
      await group.stop();
    }
  }, 60_000);

  it('sentinel with a password on the data nodes: REDIS_PASSWORD reaches the master the sentinels name', async () => {
    const group = await startRedisSentinel({ replicas: 1, sentinels: 3, password: 'sentinel-data-pass' });
    const topology = { mode: 'sentinel' as const, sentinelMaster: group.masterName };
    const client = createRedis(group.url, {
      name: 't',
      role: 'producer',
      topology,
      credentials: { password: 'sentinel-data-pass' },
    });
    const wrong = createRedis(group.url, {
      name: 't',
      role: 'producer',
      topology,
      credentials: { password: 'not-the-password' },
    });
    try {
      await waitReady(client, 10_000);
      expect(await client.set('topology-auth', 'ok')).toBe('OK');
      await expect(waitReady(wrong, 3000)).rejects.toThrow(/WRONGPASS|NOAUTH|invalid|not ready/i);
    } finally {
      client.disconnect();
      wrong.disconnect();
      await group.stop();
    }
  }, 60_000);
});
