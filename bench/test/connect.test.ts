// How the load generator names a connect that failed, and how a remote step's connects are spread in time.
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONNECTS_PER_S } from '../lib/options.js';
import { ConnectFailure, connect, rampDelay } from '../load/connect.js';
import { rampSeconds } from '../scenarios/remote.js';

/** A port nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('connect failures', () => {
  it('counts a refused TCP connect by its error code', async () => {
    const port = await closedPort();
    const err = await connect(`ws://127.0.0.1:${port}/api/v1/streaming/realtime`, { timeoutMs: 5000 }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConnectFailure);
    expect((err as ConnectFailure).reason).toBe('ECONNREFUSED');
  });
});

describe('the remote ramp', () => {
  it('spreads connects evenly over the ramp, and defaults to 15 connects per second', () => {
    expect([0, 1, 2, 3].map((i) => rampDelay(i, 4, 2000))).toEqual([0, 500, 1000, 1500]);
    expect(rampDelay(3, 4, 0)).toBe(0);
    const remote = { url: 'ws://x/api/v1/streaming/realtime', tokens: ['t'], tokenSource: 'token' as const };
    expect(DEFAULT_CONNECTS_PER_S).toBe(15);
    expect(rampSeconds(remote, 100)).toBe(7);
    expect(rampSeconds({ ...remote, rampS: 20 }, 100)).toBe(20);
  });
});
