// Two gateways and two workers in one process: clients on both gateways, sessions spread over both workers,
// and every frame reaches the provider in order, once, and comes back to the right socket.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routeNumberedFrames } from './helpers/numbered-frames.js';
import { type Stack, startStack } from './helpers/stack.js';

const FRAMES = 1000;

describe('two gateways, two workers', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      gateways: 2,
      workers: 2,
      engine: { mode: 'echo' },
      // Capacity 2 each, four sessions: both workers must take some.
      workerEnv: { RTV_WORKER_CAPACITY: '2' },
      // Every frame is sent at once here (a routing test, not a rate test).
      gatewayEnv: { RTV_MAX_MESSAGES_PER_S: '100000', RTV_MAX_BYTES_PER_S: '100000000' },
    });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('routes 1,000 numbered frames per session upstream in order and back to the right socket', async () => {
    const clients = await routeNumberedFrames(stack, {
      clients: 4,
      frames: FRAMES,
      ready: () => stack.workers.every((w) => w.sessions() === 2),
    });

    const status = (await (await fetch(stack.httpUrl('/api/v1/streaming/realtime/status', 1))).json()) as {
      connections: number;
      gateways: unknown[];
      workers: unknown[];
    };
    expect(status.gateways).toHaveLength(2);
    expect(status.workers).toHaveLength(2);
    await Promise.all(clients.map((c) => c.close()));
  }, 60_000);
});
