import {
  createTestRedis,
  freePort,
  runServiceToExit,
  type SpawnedService,
  spawnService,
  type TestRedis,
  WsTestClient,
} from '@rtv/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

describe('service processes', () => {
  it.each([
    [
      'services/gateway/src/main.ts',
      { RTV_GATEWAY_PORT: 'eighty' },
      'RTV_GATEWAY_PORT="eighty": expected an integer',
    ],
    [
      'services/session-worker/src/main.ts',
      { RTV_WORKER_CAPACITY: '0' },
      'RTV_WORKER_CAPACITY="0": must be >= 1',
    ],
    [
      'services/session-worker/src/main.ts',
      { OPENAI_REALTIME_URL: 'http://x' },
      'OPENAI_REALTIME_URL="http://x": scheme',
    ],
    ['services/status-api/src/main.ts', { REDIS_URL: 'not a url' }, 'REDIS_URL="not a url": not a valid URL'],
  ])('%s refuses a bad variable and names it', async (entry, env, expected) => {
    const { code, output } = await runServiceToExit(entry, env);
    expect(code).toBe(2);
    expect(output).toContain(expected);
  });

  describe('the three services together', () => {
    let t: TestRedis;
    const services: SpawnedService[] = [];
    let gatewayPort: number;
    beforeAll(async () => {
      t = await createTestRedis('procs');
      const [statusPort, workerAdmin, gwPort, gwAdmin] = await Promise.all([
        freePort(),
        freePort(),
        freePort(),
        freePort(),
      ]);
      gatewayPort = gwPort;
      const common = {
        REDIS_URL: t.url,
        RTV_REDIS_PREFIX: t.prefix,
        RTV_LOG_LEVEL: 'warn',
        OPENAI_API_KEY: '',
      };
      services.push(
        await spawnService(
          'services/status-api/src/main.ts',
          { ...common, RTV_STATUS_PORT: String(statusPort) },
          {
            readyUrl: `http://127.0.0.1:${statusPort}/readyz`,
          },
        ),
      );
      services.push(
        await spawnService(
          'services/session-worker/src/main.ts',
          { ...common, RTV_WORKER_ADMIN_PORT: String(workerAdmin) },
          { readyUrl: `http://127.0.0.1:${workerAdmin}/readyz` },
        ),
      );
      services.push(
        await spawnService(
          'services/gateway/src/main.ts',
          {
            ...common,
            RTV_GATEWAY_PORT: String(gwPort),
            RTV_GATEWAY_ADMIN_PORT: String(gwAdmin),
            RTV_STATUS_URL: `http://127.0.0.1:${statusPort}`,
          },
          { readyUrl: `http://127.0.0.1:${gwAdmin}/readyz` },
        ),
      );
    }, 60_000);
    afterAll(async () => {
      for (const s of services.reverse()) await s.stop('SIGKILL');
      await t?.cleanup();
    });

    it('hold a text conversation with the local engine, then each exits 0 on SIGTERM', async () => {
      const ws = await WsTestClient.connect(
        `ws://127.0.0.1:${gatewayPort}/api/v1/streaming/realtime/proc_user`,
      );
      await ws.nextOfType('session.created');
      ws.send({
        type: 'conversation.item.input',
        conversation_item_input: { type: 'input_text', text: 'Hello, how are you?' },
      });
      await ws.nextOfType('response.delta', 15_000);
      await ws.nextOfType('response.audio', 15_000);
      await ws.nextOfType('response.done', 30_000);
      await ws.close();
      const health = await fetch(`http://127.0.0.1:${gatewayPort}/api/v1/streaming/realtime/health`);
      expect(health.status).toBe(200);
      for (const s of [...services].reverse()) {
        expect(await s.stop('SIGTERM', 15_000)).toBe(0);
      }
    }, 60_000);
  });
});
