// The status API against a real 3-master Redis Cluster (RTV_REDIS_MODE=cluster, REDIS_URL listing the nodes):
// heartbeats written by the real Heartbeat class, bus streams that land on different masters, a real BullMQ
// queue with a stalled session. The snapshot must read all of it although its keys span slots and nodes.
import { createKeys, createRedis, Heartbeat, type Keys, type RedisClient, waitReady } from '@rtv/bus';
import { createLogger } from '@rtv/service-kit';
import {
  deleteKeysWithPrefix,
  type RedisClusterHandle,
  startRedisCluster,
  uniquePrefix,
  waitFor,
} from '@rtv/testing';
import { Queue, Worker } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildStatusApi } from '../src/app.js';

const STATUS = '/api/v1/streaming/realtime/status';

interface StreamBody {
  length: number;
  last_entry_id: string | null;
  read_id: string | null;
  lag_entries: number | null;
  lag_seconds: number | null;
}

interface StatusBody {
  status: string;
  connections: number;
  sessions: number;
  capacity: number;
  gateways: Array<{ id: string; connections: number; stream: StreamBody | null }>;
  workers: Array<{ id: string; sessions: number; stream: StreamBody | null }>;
  queue: Record<string, number>;
}

describe('status API on a real Redis Cluster', () => {
  let cluster: RedisClusterHandle;
  let savedMode: string | undefined;
  let prefix: string;
  let keys: Keys;
  let redis: RedisClient;
  let app: FastifyInstance;
  const extra: Array<() => Promise<unknown>> = [];

  /** A cluster connection as the services make one (createRedis with RTV_REDIS_MODE=cluster). */
  const connect = async (name: string, role: 'blocking' | 'producer') => {
    const client = createRedis(cluster.url, { name, role, credentials: {}, topology: { mode: 'cluster' } });
    await waitReady(client, 10_000);
    return client;
  };

  beforeAll(async () => {
    cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 0 });
    // buildStatusApi connects as the service does: the deployment shape comes from the environment.
    savedMode = process.env.RTV_REDIS_MODE;
    process.env.RTV_REDIS_MODE = 'cluster';
  }, 60_000);
  afterAll(async () => {
    if (savedMode === undefined) delete process.env.RTV_REDIS_MODE;
    else process.env.RTV_REDIS_MODE = savedMode;
    await cluster?.stop();
  });
  beforeEach(async () => {
    prefix = uniquePrefix('status-cluster');
    keys = createKeys(prefix);
    redis = await connect('status-cluster-test', 'producer');
    app = await buildStatusApi({
      redisUrl: cluster.url,
      prefix,
      log: createLogger('status-api', 'silent'),
      snapshotMaxAgeMs: 0,
    });
  });
  afterEach(async () => {
    for (const close of extra.splice(0).reverse()) await close();
    await app.close();
    await deleteKeysWithPrefix(redis, prefix);
    redis.disconnect();
  });

  const beat = (role: 'gateway' | 'worker', id: string, fields: Record<string, string | number>) =>
    new Heartbeat({
      redis,
      hashKey: role === 'gateway' ? keys.gateway(id) : keys.worker(id),
      registryKey: role === 'gateway' ? keys.gateways() : keys.workers(),
      id,
      fields: () => fields,
      ttlMs: 30_000,
    }).beat();
  const status = async () => {
    const res = await app.inject({ url: STATUS });
    expect(res.statusCode).toBe(200);
    return res.json() as StatusBody;
  };

  it('builds the snapshot from streams on several masters and a queue with a stalled session', async () => {
    const gatewayIds = ['gw-0', 'gw-1', 'gw-2'];
    const workerIds = ['wk-0', 'wk-1', 'wk-2', 'wk-3', 'wk-4', 'wk-5'];
    const streams = [...gatewayIds.map(keys.gatewayOut), ...workerIds.map(keys.workerIn)];
    const masters = new Set(await Promise.all(streams.map((key) => cluster.masterOf(key))));
    // The point of the test: one pipeline over these streams is refused by the cluster.
    expect(masters.size).toBeGreaterThanOrEqual(2);

    // Worker i has 2 + i entries in its stream and delivered the first one; gateways report no position.
    const t0 = Date.now() - 3000;
    for (const [i, id] of workerIds.entries()) {
      for (let n = 0; n < 2 + i; n++) await redis.xadd(keys.workerIn(id), `${t0 + n}-0`, 'v1', `F\ts\t${n}`);
      await beat('worker', id, { sessions: i, capacity: 8, draining: 0, read_id: `${t0}-0` });
    }
    for (const [i, id] of gatewayIds.entries()) {
      await redis.xadd(keys.gatewayOut(id), '*', 'v1', 'A\ts\t1\t1');
      await beat('gateway', id, { connections: 10 + i, draining: 0 });
    }

    // Three sessions queued; a worker takes one and stops renewing its lease, as a killed process would.
    const queue = new Queue(keys.queueName, { connection: redis, prefix: keys.bullPrefix });
    extra.push(() => queue.close());
    for (const sid of ['s1', 's2', 's3']) await queue.add('session', { sid }, { jobId: sid });
    const workerConn = await connect('status-cluster-worker', 'blocking');
    const worker = new Worker(keys.queueName, null, {
      connection: workerConn,
      prefix: keys.bullPrefix,
      autorun: false,
      lockDuration: 300,
    });
    extra.push(async () => {
      await worker.close(true);
      workerConn.disconnect();
    });
    expect((await worker.getNextJob('lease-token'))?.id).toBe('s1');

    const body = await status();
    expect(body).toMatchObject({ connections: 33, sessions: 15, capacity: 48 });
    expect(body.gateways.map((g) => g.id).sort()).toEqual(gatewayIds);
    expect(body.workers.map((w) => w.id).sort()).toEqual(workerIds);
    for (const [i, id] of workerIds.entries()) {
      const stream = body.workers.find((w) => w.id === id)!.stream;
      expect(stream).toMatchObject({
        length: 2 + i,
        last_entry_id: `${t0 + 1 + i}-0`,
        read_id: `${t0}-0`,
        lag_entries: 1 + i,
      });
      expect(stream!.lag_seconds).toBeGreaterThan(2);
    }
    for (const gateway of body.gateways) {
      expect(gateway.stream).toMatchObject({ length: 1, read_id: null, lag_entries: null });
    }
    expect(body.queue).toMatchObject({ waiting: 2, active: 1, stalled: 0 });

    // The lease lapses: the stalled count reads the lock keys in the queue's own slot.
    const stalled = await waitFor(
      async () => {
        const { queue: q } = await status();
        return q.stalled === 1 ? q : undefined;
      },
      { message: 'the lease expired' },
    );
    expect(stalled).toMatchObject({ waiting: 2, active: 1, stalled: 1 });
    const metrics = (await app.inject({ url: '/metrics' })).body;
    expect(metrics).toMatch(/^rtv_cluster_redis_up(\{[^}]*\})? 1$/m);
  });
});
