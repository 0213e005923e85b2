// The product on Redis with Sentinel (one master, one replica, three sentinels, all real processes started
// here): a live session streams numbered frames while the master is killed; the sentinels promote the replica,
// every service reconnects to it on its own, and the session continues on the same socket.
import { createKeys } from '@rtv/bus';
import {
  type RedisSentinelHandle,
  type SpawnedService,
  startRedisSentinel,
  WsTestClient,
  waitFor,
} from '@rtv/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { audioMessage, echoedFrames, numberedFrame, spawnWorker } from '../durability/helpers.js';
import { type Stack, startStack, topologyEnv } from './helpers/stack.js';

describe('on Redis with Sentinel', () => {
  let sentinel: RedisSentinelHandle;
  let stack: Stack;
  let worker: SpawnedService;
  beforeAll(async () => {
    sentinel = await startRedisSentinel({ replicas: 1, sentinels: 3 });
    const topology = { mode: 'sentinel' as const, url: sentinel.url, sentinelMaster: sentinel.masterName };
    stack = await startStack({ redisTopology: topology, workers: 0, engine: { mode: 'echo' } });
    worker = await spawnWorker(stack, 'wk-sentinel', topologyEnv(topology));
  }, 60_000);
  afterAll(async () => {
    await worker?.stop('SIGKILL');
    await stack?.stop();
    await sentinel?.stop();
  });

  it('the master killed mid-stream: the replica is promoted and the session goes on, no accepted frame lost', async () => {
    const ws = await WsTestClient.connect(stack.wsUrl('sentinel-user'));
    const created = await ws.nextOfType<{ session: { id: string } }>('session.created');
    await waitFor(
      () => stack.redis.redis.hget(createKeys(stack.redis.prefix).session(created.session.id), 'owner'),
      {
        message: 'session bound',
      },
    );
    const total = 300;
    let oldMaster = 0;
    for (let n = 1; n <= total; n++) {
      ws.send(audioMessage(numberedFrame(n)));
      if (n === 60) oldMaster = await sentinel.killMaster();
      await new Promise((r) => setTimeout(r, 20));
    }
    const newMaster = await sentinel.waitForFailover(oldMaster);
    expect(newMaster).not.toBe(oldMaster);
    await waitFor(() => echoedFrames(ws).includes(total), {
      timeoutMs: 30_000,
      message: 'last frame echoed',
    });
    const echoed = new Set(echoedFrames(ws));
    const missing = Array.from({ length: total }, (_, i) => i + 1).filter((n) => !echoed.has(n));
    expect(missing).toEqual([]);
    // The same socket, and a new turn of frames still works after the failover.
    ws.send(audioMessage(numberedFrame(total + 1)));
    await waitFor(() => echoedFrames(ws).includes(total + 1), { message: 'echo after the failover' });
    await ws.close();
  }, 90_000);
});
