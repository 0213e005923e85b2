// A Sentinel client through the connection factory, on real redis-server and redis-sentinel processes, when
// the master dies while the sentinel the client asks first is stopped (SIGSTOP: it accepts connections and
// never answers, as a sentinel cut off or frozen does). The client must leave that sentinel after the sentinel
// command timeout and reach the replica the other two promote; without the timeout it waits on it forever.
import { createRedis, type RedisClient, waitReady } from '@rtv/bus';
import { type RedisSentinelHandle, startRedisSentinel, waitFor } from '@rtv/testing';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe('a Sentinel client whose first sentinel hangs when the master dies', () => {
  let group: RedisSentinelHandle;
  let client: RedisClient | undefined;
  let stoppedPid: number | undefined;
  beforeAll(async () => {
    group = await startRedisSentinel({ replicas: 1, sentinels: 3 });
  }, 60_000);
  afterAll(async () => {
    client?.disconnect();
    if (stoppedPid !== undefined) process.kill(stoppedPid, 'SIGCONT');
    await group?.stop();
  });

  it('leaves the hung sentinel and reaches the promoted replica', async () => {
    const topology = { mode: 'sentinel' as const, sentinelMaster: group.masterName };
    client = createRedis(group.url, { name: 'sentinel-reconnect-test', role: 'producer', topology });
    await waitReady(client, 10_000);
    await client.set('sentinel-reconnect:before', 'kept');
    expect(await (client as Redis).wait(1, 5000)).toBe(1);
    const firstMaster = await group.masterPort();

    // The sentinel of the first URL answered first, so the client asks it first again when it reconnects.
    const firstSentinelPort = Number(new URL(group.sentinelUrls[0]!).port);
    const firstSentinel = group.processes.find((p) => p.kind === 'sentinel' && p.port === firstSentinelPort);
    stoppedPid = firstSentinel!.pid;
    process.kill(stoppedPid, 'SIGSTOP');
    expect(await group.killMaster()).toBe(firstMaster);

    // Each attempt is bounded, so a client stuck on the hung sentinel fails here by name, not by test timeout.
    const written = () =>
      Promise.race([
        client!.set('sentinel-reconnect:after', 'written').then(
          () => true,
          () => false,
        ),
        sleep(3000).then(() => false),
      ]);
    await waitFor(written, {
      timeoutMs: 30_000,
      intervalMs: 250,
      message: 'a write to the promoted replica',
    });
    expect((client as Redis).stream.remotePort).not.toBe(firstMaster);
    expect(await client.get('sentinel-reconnect:before')).toBe('kept');
  }, 60_000);
});
