// The guard against this very process's event loop: blocked for real, then left idle.
import { waitFor } from '@rtv/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { EventLoopLagGuard } from '../src/event-loop-lag.js';

const guards: EventLoopLagGuard[] = [];
afterEach(() => {
  for (const g of guards.splice(0)) g.stop();
});

function start(maxLagMs: number): EventLoopLagGuard {
  const guard = new EventLoopLagGuard({ maxLagMs, windowMs: 200 });
  guards.push(guard);
  guard.start();
  return guard;
}

/** Keeps the event loop busy for `ms`, as a burst of synchronous work does. */
function block(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // busy
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('EventLoopLagGuard', () => {
  it('is overloaded after the loop was held longer than the bound, and recovers once it runs freely', async () => {
    const guard = start(150);
    await sleep(50);
    block(400);
    await sleep(20);
    expect(guard.lagMs).toBeGreaterThanOrEqual(350);
    expect(guard.overloaded()).toBe(true);
    // Two quiet windows (200 ms each) later the delay has left both the current and the previous window.
    const blockedUntil = performance.now();
    await waitFor(() => !guard.overloaded(), { timeoutMs: 3000, message: 'overload over' });
    expect(performance.now() - blockedUntil).toBeGreaterThanOrEqual(150);
  });

  it('never reports overload with a bound of 0', async () => {
    const guard = start(0);
    await sleep(0);
    block(200);
    await sleep(20);
    expect(guard.overloaded()).toBe(false);
  });
});
