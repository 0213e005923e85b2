// A gateway whose event loop runs late refuses new connections (503, retry-after) so the calls it carries keep
// their turn, lets a live session's resume in, and takes new connections again once it has caught up. The
// overload is real: the gateway runs in this process and its event loop is held by a busy loop.
import { rawUpgrade, WsTestClient, waitFor } from '@rtv/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { audioMessage, echoedFrames, numberedFrame } from '../durability/helpers.js';
import { resume } from '../e2e/helpers/resume.js';
import { type Stack, startStack } from '../e2e/helpers/stack.js';

const REALTIME = '/api/v1/streaming/realtime';

/** Keeps this process's event loop busy for `ms`, as a burst of synchronous work on the gateway would. */
function holdEventLoop(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // busy
  }
}

/**
 * Keeps this process's event loop late: held for `ms` now and again every `ms + 50` until the returned function is
 * called, so every measuring window of the gateway's lag guard sees it however long the next steps take on a busy
 * machine (one hold alone is forgotten after two windows).
 */
function keepEventLoopLate(ms: number): () => void {
  holdEventLoop(ms);
  const timer = setInterval(() => holdEventLoop(ms), ms + 50);
  return () => clearInterval(timer);
}

async function metricValue(adminPort: number, name: string, kind: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(`kind="${kind}"`));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

describe('a gateway whose event loop runs late (RTV_GATEWAY_MAX_LAG_MS)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ engine: { mode: 'echo' }, gatewayEnv: { RTV_GATEWAY_MAX_LAG_MS: '300' } });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('refuses new connections with 503 and retry-after, keeps the live call and its resume, then recovers', async () => {
    const { port, adminPort } = stack.gateways[0]!;
    const live = await WsTestClient.connect(stack.wsUrl('caller'));
    const created = await live.nextOfType<{ session: { id: string; resume_token: string } }>(
      'session.created',
    );
    live.send(audioMessage(numberedFrame(1)));
    await waitFor(() => echoedFrames(live).includes(1), { timeoutMs: 15_000, message: 'first echo' });

    const stopLagging = keepEventLoopLate(400);
    const refused = await rawUpgrade(port, { path: `${REALTIME}/newcomer` }).finally(stopLagging);
    expect(refused.status).toBe(503);
    expect((JSON.parse(refused.body) as { error: { code: string } }).error.code).toBe('service_unavailable');
    expect(refused.headers['retry-after']).toBe('2');
    expect(await metricValue(adminPort, 'rtv_gateway_limit_rejections_total', 'gateway_overloaded')).toBe(1);

    // The call already here goes on.
    live.send(audioMessage(numberedFrame(2)));
    await waitFor(() => echoedFrames(live).includes(2), {
      timeoutMs: 15_000,
      message: 'echo during the overload',
    });

    // A live session coming back is one of the calls this gateway carries: its resume is let in. (The gateway
    // has recorded the drop first; a resume before that is told session_in_use, and the helper tries again.)
    await live.terminate();
    await waitFor(() => stack.gateways[0]!.connections() === 0, { message: 'the drop recorded' });
    const stopLaggingAgain = keepEventLoopLate(400);
    const back = await resume(
      stack.wsUrl('caller'),
      created.session.id,
      created.session.resume_token,
    ).finally(stopLaggingAgain);
    back.send(audioMessage(numberedFrame(3)));
    await waitFor(() => echoedFrames(back).includes(3), {
      timeoutMs: 15_000,
      message: 'echo after the resume',
    });

    // Once the loop has run freely for a window or two, new connections are taken again.
    const newcomer = await waitFor(
      async () => {
        const reply = await rawUpgrade(port, { path: `${REALTIME}/newcomer` });
        return reply.status === 101 ? reply : undefined;
      },
      { timeoutMs: 15_000, intervalMs: 100, message: 'a new connection accepted after the overload' },
    );
    expect(newcomer.status).toBe(101);
    await back.close();
  }, 60_000);
});
