// ServiceSupervisor's decisions, with a fast policy: the backoff doubles per quick exit up to its cap,
// starts again after a healthy run, and nothing restarts once stop() ran. The launcher tests show the same
// class driving real processes with the default policy.
import { describe, expect, it } from 'vitest';
import type { ServiceSpec } from './lib/services.mjs';
import { DEFAULT_RESTART_POLICY, ServiceSupervisor } from './lib/supervisor.mjs';

const spec: ServiceSpec = {
  name: 'session-worker',
  tag: 'worker-1',
  entry: 'services/session-worker/src/main.ts',
  env: {},
  readyUrl: 'http://127.0.0.1:1/readyz',
};

const policy = {
  firstDelayMs: 20,
  maxDelayMs: 80,
  healthyMs: 1000,
  crashLoopExits: 100,
  crashLoopWindowMs: 60_000,
};

function supervised() {
  const messages: string[] = [];
  let restarts = 0;
  const supervisor = new ServiceSupervisor(
    {
      restart: async () => {
        restarts += 1;
        return true;
      },
      warn: (m) => messages.push(m),
      note: (m) => messages.push(m),
      crashLoop: () => messages.push('crash loop'),
    },
    policy,
  );
  supervisor.watch(spec);
  return { supervisor, messages, restarts: () => restarts };
}

const exit = (ranMs: number) => ({ code: 1, signal: null, ranMs, lastLines: [] });

async function until(condition: () => boolean) {
  while (!condition()) await new Promise((r) => setTimeout(r, 5));
}

describe('ServiceSupervisor', () => {
  it('doubles the wait per quick exit up to the cap, and starts over after a healthy run', async () => {
    const { supervisor, messages, restarts } = supervised();
    for (let n = 1; n <= 4; n++) {
      supervisor.handleExit(spec, exit(10));
      await until(() => messages.includes(`worker-1 is back (restart ${n})`));
    }
    supervisor.handleExit(spec, exit(policy.healthyMs));
    await until(() => messages.includes('worker-1 is back (restart 5)'));
    expect(messages.filter((m) => m.includes('exited'))).toEqual([
      'worker-1 exited (code 1); restart 1 in 0.02 s',
      'worker-1 exited (code 1); restart 2 in 0.04 s',
      'worker-1 exited (code 1); restart 3 in 0.08 s',
      'worker-1 exited (code 1); restart 4 in 0.08 s',
      'worker-1 exited (code 1); restart 5 in 0.02 s',
    ]);
    expect(restarts()).toBe(5);
  });

  it('restarts nothing after stop(), not even a restart already waiting', async () => {
    const { supervisor, messages, restarts } = supervised();
    supervisor.handleExit(spec, exit(10));
    supervisor.stop();
    await new Promise((r) => setTimeout(r, policy.firstDelayMs * 5));
    expect(restarts()).toBe(0);
    expect(supervisor.handleExit(spec, exit(10))).toBe(false);
    expect(messages).toEqual(['worker-1 exited (code 1); restart 1 in 0.02 s']);
  });

  it('leaves a service that was never ready to the launcher', () => {
    const { supervisor } = supervised();
    expect(supervisor.handleExit({ ...spec, tag: 'gateway' }, exit(10))).toBe(false);
  });

  it('defaults: 0.5 s doubling to 10 s, reset after a minute up, 5 exits within 60 s is a crash loop', () => {
    expect(DEFAULT_RESTART_POLICY).toEqual({
      firstDelayMs: 500,
      maxDelayMs: 10_000,
      healthyMs: 60_000,
      crashLoopExits: 5,
      crashLoopWindowMs: 60_000,
    });
  });
});
