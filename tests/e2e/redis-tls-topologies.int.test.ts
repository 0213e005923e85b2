// Redis Cluster and Redis with Sentinel over TLS with a private CA and a password, as a deployment runs them:
// real redis-server and redis-sentinel processes on TLS ports only (no plain port), with replication, the
// cluster bus and the sentinels' links on TLS too, certificates from the real openssl, the project's connection
// factory, and real gateway and worker processes on the cluster.
import { TLSSocket } from 'node:tls';
import {
  createRedis,
  type RedisClient,
  type RedisCredentials,
  type RedisTopology,
  redisCredentialsFromEnv,
  waitReady,
} from '@rtv/bus';
import {
  freePort,
  makeTlsCertificates,
  type RedisClusterHandle,
  type RedisSentinelHandle,
  type SpawnedService,
  spawnService,
  startRedisCluster,
  startRedisSentinel,
  type TlsCertificates,
  WsTestClient,
  waitFor,
} from '@rtv/testing';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { audioMessage, echoedFrames, numberedFrame, spawnWorker } from '../durability/helpers.js';
import { type Stack, startStack, topologyEnv } from './helpers/stack.js';

const PASSWORD = 'tls-topology-password-never-printed';

/** A CA of its own that signed none of the servers' certificates: trusting only it must fail. */
let foreignCa: TlsCertificates;
beforeAll(() => {
  foreignCa = makeTlsCertificates(undefined, 'rtv-foreign');
});
afterAll(() => foreignCa?.remove());

/** REDIS_PASSWORD and RTV_REDIS_TLS_CA_FILE as a service reads them. */
function credentialsWith(caFile: string): RedisCredentials {
  return redisCredentialsFromEnv({ REDIS_PASSWORD: PASSWORD, RTV_REDIS_TLS_CA_FILE: caFile });
}

const clients: RedisClient[] = [];
function connect(url: string, topology: RedisTopology, credentials: RedisCredentials): RedisClient {
  const client = createRedis(url, {
    name: 'redis-tls-topologies-test',
    role: 'producer',
    topology,
    credentials,
  });
  clients.push(client);
  return client;
}
afterEach(() => {
  for (const client of clients.splice(0)) client.disconnect();
});

describe('a Redis Cluster (3 masters, a replica each) on TLS only, with a password', () => {
  let cluster: RedisClusterHandle;
  const topology: RedisTopology = { mode: 'cluster' };
  beforeAll(async () => {
    cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1, password: PASSWORD, tls: true });
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  it('the factory connects with rediss:// and the CA file: keys over every shard written and read back', async () => {
    expect(cluster.url.split(',').every((url) => url.startsWith('rediss://127.0.0.1:'))).toBe(true);
    const credentials = credentialsWith(cluster.tlsCaFile!);
    const client = connect(cluster.url, topology, credentials);
    await waitReady(client, 10_000);
    const keys = Array.from({ length: 12 }, (_, i) => `tls-cluster-key-${i}`);
    await Promise.all(keys.map((key, i) => client.set(key, `value-${i}`, 'EX', 60)));
    expect(await Promise.all(keys.map((key) => client.get(key)))).toEqual(keys.map((_, i) => `value-${i}`));
    const masters = new Set(await Promise.all(keys.map((key) => cluster.masterOf(key))));
    expect(masters.size).toBe(3);
    // The masters, through the factory's own connections: no plain port, cluster bus and replication on TLS.
    const masterConnections = (client as Exclude<RedisClient, Redis>).nodes('master');
    expect(masterConnections).toHaveLength(3);
    for (const node of masterConnections) {
      expect(node.stream).toBeInstanceOf(TLSSocket);
      expect(await tlsSettings(node)).toEqual({ port: '0', 'tls-cluster': 'yes', 'tls-replication': 'yes' });
    }
    // The replicas, each on its own: synced with their master, which only replication over TLS can do.
    const replicas = (await cluster.refreshRoles()).filter((node) => node.role === 'replica');
    expect(replicas).toHaveLength(3);
    for (const replica of replicas) {
      const direct = connect(`rediss://127.0.0.1:${replica.port}`, { mode: 'single' }, credentials);
      expect(await tlsSettings(direct as Redis)).toEqual({
        port: '0',
        'tls-cluster': 'yes',
        'tls-replication': 'yes',
      });
      const role = (await direct.call('ROLE')) as unknown[];
      expect([role[0], role[2], role[3]]).toEqual(['slave', replica.masterPort, 'connected']);
    }
  });

  it('refuses the nodes when trusting another CA, naming the certificate failure', async () => {
    const client = connect(cluster.url, topology, credentialsWith(foreignCa.caFile));
    await expect(waitReady(client, 3000)).rejects.toThrow(
      /last error: .*TLS to cluster node 127\.0\.0\.1:\d+ failed: .*certificate/i,
    );
  });

  describe('a gateway and a worker process on it', () => {
    let stack: Stack;
    let gatewayPort: number;
    let credentialsEnv: Record<string, string> = {};
    const services: SpawnedService[] = [];
    beforeAll(async () => {
      credentialsEnv = { REDIS_PASSWORD: PASSWORD, RTV_REDIS_TLS_CA_FILE: cluster.tlsCaFile! };
      // The stack's own client and status API read the credentials from this process's environment.
      Object.assign(process.env, credentialsEnv);
      const redisTopology = { mode: 'cluster' as const, url: cluster.url };
      stack = await startStack({ redisTopology, gateways: 0, workers: 0, engine: { mode: 'echo' } });
      const env = { ...topologyEnv(redisTopology), ...credentialsEnv };
      services.push(await spawnWorker(stack, 'wk-tls', env));
      const gateway = await spawnGateway(stack, env);
      services.push(gateway.service);
      gatewayPort = gateway.port;
    }, 60_000);
    afterAll(async () => {
      for (const service of services.reverse()) await service.stop('SIGKILL');
      await stack?.stop();
      for (const name of Object.keys(credentialsEnv)) delete process.env[name];
    });

    it('a seed-protocol session echoes numbered audio frames in order across the TLS cluster', async () => {
      const ws = await WsTestClient.connect(
        `ws://127.0.0.1:${gatewayPort}/api/v1/streaming/realtime/tls-user`,
      );
      await ws.nextOfType('session.created');
      const total = 20;
      for (let n = 1; n <= total; n++) ws.send(audioMessage(numberedFrame(n)));
      await waitFor(() => echoedFrames(ws).length >= total, { timeoutMs: 20_000, message: 'frames echoed' });
      expect(echoedFrames(ws)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
      await ws.close();
      for (const service of services) expect(service.output()).not.toContain(PASSWORD);
    }, 40_000);
  });
});

describe('Redis with Sentinel (1 master, 1 replica, 3 sentinels) on TLS only, with a password', () => {
  let sentinel: RedisSentinelHandle;
  let topology: RedisTopology;
  beforeAll(async () => {
    sentinel = await startRedisSentinel({ replicas: 1, sentinels: 3, password: PASSWORD, tls: true });
    topology = { mode: 'sentinel', sentinelMaster: sentinel.masterName };
  }, 60_000);
  afterAll(async () => {
    await sentinel?.stop();
  });

  it('refuses the sentinels when trusting another CA, naming the certificate failure', async () => {
    const client = connect(sentinel.url, topology, credentialsWith(foreignCa.caFile));
    await expect(waitReady(client, 3000)).rejects.toThrow(
      /last error: .*TLS to sentinel 127\.0\.0\.1:\d+ failed: .*certificate/i,
    );
  });

  it('the factory reaches the master over TLS, and after the master is killed the promoted replica', async () => {
    expect(sentinel.url.split(',').every((url) => url.startsWith('rediss://127.0.0.1:'))).toBe(true);
    const client = connect(sentinel.url, topology, credentialsWith(sentinel.tlsCaFile!)) as Redis;
    await waitReady(client, 10_000);
    const firstMaster = await sentinel.masterPort();
    expect(client.stream).toBeInstanceOf(TLSSocket);
    expect(client.stream.remotePort).toBe(firstMaster);
    expect(await tlsSettings(client)).toMatchObject({ port: '0', 'tls-replication': 'yes' });
    await client.set('tls-sentinel-before', 'kept', 'EX', 60);
    // Replicated before the kill, so the promoted replica must have it.
    expect(await client.wait(1, 5000)).toBe(1);

    const killed = await sentinel.killMaster();
    expect(killed).toBe(firstMaster);
    const promoted = await sentinel.waitForFailover(killed);
    await waitFor(
      () =>
        client.set('tls-sentinel-after', 'written', 'EX', 60).then(
          () => true,
          () => false,
        ),
      { timeoutMs: 20_000, intervalMs: 200, message: 'a write to succeed after the failover' },
    );
    expect(client.stream).toBeInstanceOf(TLSSocket);
    expect(client.stream.remotePort).toBe(promoted);
    expect(await client.get('tls-sentinel-before')).toBe('kept');
    expect(await client.get('tls-sentinel-after')).toBe('written');
  }, 45_000);
});

/** What a server says of its plain port and of TLS for the cluster bus and replication (CONFIG GET). */
async function tlsSettings(server: Redis): Promise<Record<string, string>> {
  const flat = (await server.config('GET', 'port', 'tls-cluster', 'tls-replication')) as string[];
  const settings: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) settings[flat[i]!] = flat[i + 1]!;
  return settings;
}

/** A gateway as a real process on the stack's prefix, with `env` (the topology and its credentials) added. */
async function spawnGateway(
  stack: Stack,
  env: Record<string, string>,
): Promise<{ service: SpawnedService; port: number }> {
  const [port, admin] = await Promise.all([freePort(), freePort()]);
  const service = await spawnService(
    'services/gateway/src/main.ts',
    {
      REDIS_URL: stack.redis.url,
      RTV_REDIS_PREFIX: stack.redis.prefix,
      RTV_LOG_LEVEL: 'warn',
      RTV_GATEWAY_ID: 'gw-tls',
      RTV_GATEWAY_PORT: String(port),
      RTV_GATEWAY_ADMIN_PORT: String(admin),
      ...env,
    },
    { readyUrl: `http://127.0.0.1:${admin}/readyz`, timeoutMs: 30_000 },
  );
  return { service, port };
}
