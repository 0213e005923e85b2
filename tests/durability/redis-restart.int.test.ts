// Redis goes away for five seconds and comes back empty (no persistence): no service crashes, new sockets are
// refused with 1013 meanwhile, open clients hear about it, and new sessions work again afterwards.
import {
  freePort,
  PrivateRedis,
  type SpawnedService,
  spawnService,
  WsTestClient,
  waitFor,
} from '@rtv/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

describe('Redis restart', () => {
  let redis: PrivateRedis;
  const services: SpawnedService[] = [];
  let gatewayPort: number;
  let gatewayAdmin: number;
  let statusPort: number;

  beforeAll(async () => {
    redis = new PrivateRedis(await freePort(), false);
    await redis.start();
    const url = redis.url;
    [statusPort, gatewayPort, gatewayAdmin] = await Promise.all([freePort(), freePort(), freePort()]);
    const workerAdmin = await freePort();
    const common = { REDIS_URL: url, RTV_LOG_LEVEL: 'warn', OPENAI_API_KEY: '', RTV_BIND_TIMEOUT_MS: '8000' };
    services.push(
      await spawnService(
        'services/status-api/src/main.ts',
        { ...common, RTV_STATUS_PORT: String(statusPort) },
        {
          readyUrl: `http://127.0.0.1:${statusPort}/readyz`,
        },
      ),
      await spawnService(
        'services/session-worker/src/main.ts',
        { ...common, RTV_WORKER_ADMIN_PORT: String(workerAdmin) },
        {
          readyUrl: `http://127.0.0.1:${workerAdmin}/readyz`,
        },
      ),
      await spawnService(
        'services/gateway/src/main.ts',
        {
          ...common,
          RTV_GATEWAY_PORT: String(gatewayPort),
          RTV_GATEWAY_ADMIN_PORT: String(gatewayAdmin),
          RTV_STATUS_URL: `http://127.0.0.1:${statusPort}`,
        },
        { readyUrl: `http://127.0.0.1:${gatewayAdmin}/readyz` },
      ),
    );
  }, 60_000);

  afterAll(async () => {
    for (const s of services) await s.stop('SIGKILL');
    await redis?.stop();
  });

  const wsUrl = (user: string) => `ws://127.0.0.1:${gatewayPort}/api/v1/streaming/realtime/${user}`;
  const text = (t: string) => ({
    type: 'conversation.item.input',
    conversation_item_input: { type: 'input_text', text: t },
  });

  it('survives a 5 s outage: 1013 during it, an error notice to open clients, full recovery after', async () => {
    const open = await WsTestClient.connect(wsUrl('steady'));
    await open.nextOfType('session.created');
    open.send(text('Before the outage'));
    await open.nextOfType('response.done', 20_000);

    await redis.kill();
    const notice = await open.nextOfType<{ error: { code: string } }>('error', 10_000);
    expect(notice.error.code).toBe('service_unavailable');
    const refused = await WsTestClient.connect(wsUrl('during'));
    expect((await refused.closed).code).toBe(1013);
    const ready = await fetch(`http://127.0.0.1:${gatewayAdmin}/readyz`);
    expect(ready.status).toBe(503);
    const health = await fetch(`http://127.0.0.1:${statusPort}/api/v1/streaming/realtime/health`);
    expect(health.status).toBe(503);

    await new Promise((r) => setTimeout(r, 5000));
    await redis.start();
    await waitFor(async () => (await fetch(`http://127.0.0.1:${gatewayAdmin}/readyz`)).status === 200, {
      timeoutMs: 20_000,
      message: 'gateway ready again',
    });
    for (const s of services) expect(s.child.exitCode).toBeNull();

    await waitFor(
      async () => {
        const ws = await WsTestClient.connect(wsUrl('after'));
        try {
          await ws.nextOfType('session.created');
          ws.send(text('After the outage'));
          await ws.nextOfType('response.done', 15_000);
          return true;
        } finally {
          await ws.close();
        }
      },
      { timeoutMs: 40_000, intervalMs: 500, message: 'a new session works after Redis came back' },
    );
    for (const s of services) expect(s.child.exitCode).toBeNull();
    await open.close();
  }, 90_000);
});
