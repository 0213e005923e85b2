// The whole product on a real Redis Cluster (three masters with a replica each, started here): the seed's
// JavaScript example and a spoken turn on the local engine, numbered frames over two gateways and two workers, resume on the other gateway, the status API's counts,
// keys spread over the shards, a worker SIGKILL, and a master killed mid-stream.
import { createKeys } from '@rtv/bus';
import {
  type RedisClusterHandle,
  type SpawnedService,
  startRedisCluster,
  WsTestClient,
  waitFor,
} from '@rtv/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { audioMessage, echoedFrames, numberedFrame, spawnWorker } from '../durability/helpers.js';
import { routeNumberedFrames } from './helpers/numbered-frames.js';
import { resume } from './helpers/resume.js';
import { runSeedJavaScriptExample, runSpokenTurn } from './helpers/seed-flow.js';
import { type Stack, startStack, topologyEnv } from './helpers/stack.js';

let cluster: RedisClusterHandle;

beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1 });
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
});

const FAST = { RTV_MAX_MESSAGES_PER_S: '100000', RTV_MAX_BYTES_PER_S: '100000000' };

describe('on a 3-master Redis Cluster: the seed protocol on the local engine', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ redisTopology: { mode: 'cluster', url: cluster.url } });
  }, 60_000);
  afterAll(async () => {
    await stack?.stop();
  });

  it("runs the seed's JavaScript example, then a spoken turn on the same session", async () => {
    const ws = await WsTestClient.connect(stack.wsUrl('cluster_user'));
    await runSeedJavaScriptExample(ws, 'cluster_user');
    await runSpokenTurn(ws);
    await ws.close();
  }, 30_000);
});

describe('on a 3-master Redis Cluster: two gateways, two workers', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      redisTopology: { mode: 'cluster', url: cluster.url },
      gateways: 2,
      workers: 2,
      engine: { mode: 'echo' },
      workerEnv: { RTV_WORKER_CAPACITY: '2' },
      gatewayEnv: FAST,
    });
  }, 60_000);
  afterAll(async () => {
    await stack?.stop();
  });

  it('routes numbered frames in order both ways; the status API counts both gateways and workers', async () => {
    const clients = await routeNumberedFrames(stack, {
      clients: 4,
      frames: 500,
      ready: () => stack.workers.every((w) => w.sessions() === 2),
    });
    type Status = { connections: number; gateways: unknown[]; workers: unknown[] };
    const status = () =>
      fetch(stack.httpUrl('/api/v1/streaming/realtime/status', 1)).then((r) => r.json() as Promise<Status>);
    // Connections come from the gateways' heartbeats (every 2 s).
    const counted = await waitFor(
      async () => {
        const read = await status();
        return read.connections === 4 ? read : undefined;
      },
      { message: 'four connections counted', intervalMs: 250 },
    );
    expect(counted.gateways).toHaveLength(2);
    expect(counted.workers).toHaveLength(2);
    await Promise.all(clients.map((c) => c.close()));
    await waitFor(() => stack.workers.every((w) => w.sessions() === 0), { message: 'sessions ended' });
  }, 60_000);

  it('spreads the keys: the streams and the session records live on more than one master', async () => {
    const keys = createKeys(stack.redis.prefix);
    const streams = [
      ...stack.gateways.map((g) => keys.gatewayOut(g.id)),
      ...stack.workers.map((w) => keys.workerIn(w.id)),
    ];
    const masters = new Set(await Promise.all(streams.map((k) => cluster.masterOf(k))));
    const sessionMasters = new Set(
      await Promise.all(
        ['sess_a', 'sess_b', 'sess_c', 'sess_d', 'sess_e'].map((s) => cluster.masterOf(keys.session(s))),
      ),
    );
    expect(masters.size).toBeGreaterThan(1);
    expect(sessionMasters.size).toBeGreaterThan(1);
  });

  it('resumes a session on the other gateway and keeps echoing on it', async () => {
    const first = await WsTestClient.connect(stack.wsUrl('resume-user', 0));
    const created = await first.nextOfType<{ session: { id: string; resume_token: string } }>(
      'session.created',
    );
    first.send(audioMessage(numberedFrame(1)));
    await waitFor(() => echoedFrames(first).includes(1), { message: 'first echo' });
    await first.terminate();
    const second = await resume(
      stack.wsUrl('resume-user', 1),
      created.session.id,
      created.session.resume_token,
    );
    second.send(audioMessage(numberedFrame(2)));
    await waitFor(() => echoedFrames(second).includes(2), { message: 'echo after resume' });
    await second.close();
  });
});

describe('on a Redis Cluster: failover', () => {
  let stack: Stack;
  const workers = new Map<string, SpawnedService>();
  beforeAll(async () => {
    stack = await startStack({
      redisTopology: { mode: 'cluster', url: cluster.url },
      workers: 0,
      engine: { mode: 'echo' },
      gatewayEnv: FAST,
    });
    const env = topologyEnv({ mode: 'cluster', url: cluster.url });
    workers.set('wk-a', await spawnWorker(stack, 'wk-a', env));
    workers.set('wk-b', await spawnWorker(stack, 'wk-b', env));
  }, 60_000);
  afterAll(async () => {
    for (const w of workers.values()) await w.stop('SIGKILL');
    await stack?.stop();
  });

  /** Streams `total` numbered 20 ms frames on a new session, calling `fault` after frame `at`. */
  async function streamThrough(
    user: string,
    total: number,
    at: number,
    fault: (sid: string) => Promise<void>,
  ) {
    const ws = await WsTestClient.connect(stack.wsUrl(user));
    const created = await ws.nextOfType<{ session: { id: string } }>('session.created');
    const sid = created.session.id;
    await waitFor(() => stack.redis.redis.hget(createKeys(stack.redis.prefix).session(sid), 'owner'), {
      message: 'session bound',
    });
    for (let n = 1; n <= total; n++) {
      ws.send(audioMessage(numberedFrame(n)));
      if (n === at) await fault(sid);
      await new Promise((r) => setTimeout(r, 20));
    }
    await waitFor(() => echoedFrames(ws).includes(total), {
      timeoutMs: 30_000,
      message: 'last frame echoed',
    });
    const echoed = new Set(echoedFrames(ws));
    const missing = Array.from({ length: total }, (_, i) => i + 1).filter((n) => !echoed.has(n));
    return { ws, sid, missing };
  }

  it('a worker SIGKILLed mid-stream: the session continues on the other worker with no frame lost', async () => {
    const keys = createKeys(stack.redis.prefix);
    const { ws, missing } = await streamThrough('cluster-worker-kill', 200, 50, async (sid) => {
      const owner = (await stack.redis.redis.hget(keys.session(sid), 'owner')) as string;
      workers.get(owner)!.child.kill('SIGKILL');
      workers.delete(owner);
    });
    expect(missing).toEqual([]);
    await ws.close();
    const id = 'wk-c';
    workers.set(id, await spawnWorker(stack, id, topologyEnv({ mode: 'cluster', url: cluster.url })));
  }, 60_000);

  it('the master of the worker in-stream killed mid-stream: a replica takes over and no accepted frame is lost', async () => {
    const keys = createKeys(stack.redis.prefix);
    let killed = 0;
    const { ws, missing } = await streamThrough('cluster-master-kill', 300, 60, async (sid) => {
      const owner = (await stack.redis.redis.hget(keys.session(sid), 'owner')) as string;
      killed = await cluster.killMaster({ forKey: keys.workerIn(owner) });
    });
    expect(killed).toBeGreaterThan(0);
    expect(missing).toEqual([]);
    await ws.close();
  }, 90_000);
});
