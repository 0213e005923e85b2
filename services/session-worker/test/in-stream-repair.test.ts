// The worker's in-stream comes back as soon as its Redis connection is ready again after a drop, not at the next
// heartbeat (none runs here): gateways write with NOMKSTREAM, so until then every client frame would be dropped.
import { EventEmitter } from 'node:events';
import type { RedisClient } from '@rtv/bus';
import { createRedis, StreamReader, waitReady } from '@rtv/bus';
import { BUS_ENVELOPE_VERSION, encodeBatch, encodeClientFrameLine, FrameKind } from '@rtv/protocol';
import { createLogger } from '@rtv/service-kit';
import { createTestRedis, type TestRedis, waitFor } from '@rtv/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { InStreamRepair } from '../src/in-stream-repair.js';

let t: TestRedis | undefined;
let reader: StreamReader | undefined;
const connections: RedisClient[] = [];

afterEach(async () => {
  await reader?.stop(true);
  for (const c of connections.splice(0)) c.disconnect();
  await t?.cleanup();
});

describe('InStreamRepair', () => {
  it('re-creates a lost in-stream when the command connection is ready again, and frames flow', async () => {
    t = await createTestRedis('in-stream-repair');
    const commands = createRedis(t.url, { name: 'in-stream-repair-commands' });
    const blocking = createRedis(t.url, { name: 'in-stream-repair-read' });
    connections.push(commands, blocking);
    await Promise.all([waitReady(commands), waitReady(blocking)]);
    const stream = `${t.prefix}:wk:wk-1:in`;
    const batches: string[] = [];
    reader = new StreamReader({
      stream,
      blocking,
      commands,
      onBatch: (batch) => batches.push(batch.toString('utf8')),
      blockMs: 200,
    });
    await reader.start();
    new InStreamRepair({ redis: commands, reader, log: createLogger('test', 'silent') }).start();

    // Redis lost its data (the stream is gone) and the worker's connection dropped and came back.
    await t.redis.del(stream);
    commands.disconnect(true);
    await waitFor(async () => (await t!.redis.exists(stream)) === 1, {
      message: 'the in-stream re-created',
    });

    // A gateway's write (which never creates a stream) reaches the reader again.
    const line = encodeClientFrameLine('sess_repair', 1, FrameKind.Audio, 'AAAA');
    const added = await t.redis.xadd(
      stream,
      'NOMKSTREAM',
      '*',
      BUS_ENVELOPE_VERSION,
      Buffer.from(encodeBatch([line])),
    );
    expect(added).not.toBeNull();
    await waitFor(() => batches.length === 1, { message: 'the frame delivered' });
    expect(batches[0]).toContain('sess_repair');
  });

  it('says Redis just came back while it is down and for the given time after, so gateways get time to beat again', () => {
    const redis = new EventEmitter();
    const repair = new InStreamRepair({
      redis,
      reader: { maintain: async () => undefined },
      log: createLogger('test', 'silent'),
    });
    repair.start();
    expect(repair.recentlyBack(10_000)).toBe(false);
    redis.emit('close');
    expect(repair.recentlyBack(10_000)).toBe(true);
    redis.emit('ready');
    expect(repair.recentlyBack(10_000)).toBe(true);
    expect(repair.recentlyBack(0)).toBe(false);
  });
});
