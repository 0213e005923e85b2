// What the connection factory hands ioredis for rediss:// in each mode. Cluster nodes and the master a
// sentinel names are reached by host and port, not through the URL, so without TLS options of their own they
// would be reached over plain TCP even though the operator asked for TLS.
import { createRedis, type RedisClient, redisTarget } from '@rtv/bus';
import type { Cluster, Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';

const CA = '-----BEGIN CERTIFICATE-----\nnot-checked-before-a-handshake\n-----END CERTIFICATE-----\n';
// Nothing listens on port 1: the clients below are only inspected, then closed.
const NOWHERE = 'rediss://127.0.0.1:1';

const clients: RedisClient[] = [];
afterEach(() => {
  for (const client of clients.splice(0)) client.disconnect();
});
function inspect<T extends RedisClient>(client: RedisClient): T {
  clients.push(client);
  return client as T;
}

describe('TLS options for rediss://', () => {
  it('rediss:// gives TLS options with or without a private CA; redis:// gives none', () => {
    expect(redisTarget(NOWHERE, {}).tls).toEqual({});
    expect(redisTarget(NOWHERE, { tlsCa: CA }).tls).toEqual({ ca: CA });
    expect(redisTarget('redis://127.0.0.1:1', {}).tls).toBeUndefined();
  });

  it('cluster: every node connection gets TLS (and the CA), even from public roots', () => {
    const topology = { mode: 'cluster' as const };
    const publicRoots = inspect<Cluster>(createRedis(NOWHERE, { name: 't', topology, credentials: {} }));
    expect(publicRoots.options.redisOptions?.tls).toEqual({});
    const privateCa = inspect<Cluster>(
      createRedis(NOWHERE, { name: 't', topology, credentials: { tlsCa: CA } }),
    );
    expect(privateCa.options.redisOptions?.tls).toEqual({ ca: CA });
  });

  it('sentinel: the sentinels and the master they name both get TLS with the same CA', () => {
    const topology = { mode: 'sentinel' as const, sentinelMaster: 'rtv-master' };
    for (const credentials of [{}, { tlsCa: CA }]) {
      const expected = 'tlsCa' in credentials ? { ca: CA } : {};
      const client = inspect<Redis>(createRedis(NOWHERE, { name: 't', topology, credentials }));
      expect(client.options.enableTLSForSentinelMode).toBe(true);
      expect(client.options.tls).toEqual(expected);
      expect(client.options.sentinelTLS).toEqual(expected);
    }
    const plain = inspect<Redis>(
      createRedis('redis://127.0.0.1:1', { name: 't', topology, credentials: {} }),
    );
    expect(plain.options.enableTLSForSentinelMode).toBeFalsy();
    expect(plain.options.tls).toBeUndefined();
  });
});
