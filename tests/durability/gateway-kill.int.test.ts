// A gateway killed with SIGKILL (no drain): its clients resume on another gateway; a session whose client
// never comes back ends after the resume grace instead of holding its provider connection forever.
import { createKeys } from '@rtv/bus';
import { freePort, type SpawnedService, spawnService, WsTestClient, waitFor } from '@rtv/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resume } from '../e2e/helpers/resume.js';
import { type Stack, startStack } from '../e2e/helpers/stack.js';

type Created = { session: { id: string; resume_token: string } };
const text = (t: string) => ({
  type: 'conversation.item.input',
  conversation_item_input: { type: 'input_text', text: t },
});

describe('gateway SIGKILL', () => {
  let stack: Stack;
  let doomed: SpawnedService;
  let port: number;
  beforeAll(async () => {
    stack = await startStack({ workerEnv: { RTV_RESUME_GRACE_MS: '1500' } });
    port = await freePort();
    const admin = await freePort();
    doomed = await spawnService(
      'services/gateway/src/main.ts',
      {
        REDIS_URL: stack.redis.url,
        RTV_REDIS_PREFIX: stack.redis.prefix,
        RTV_LOG_LEVEL: 'warn',
        RTV_GATEWAY_PORT: String(port),
        RTV_GATEWAY_ADMIN_PORT: String(admin),
        RTV_STATUS_URL: stack.statusUrl,
      },
      { readyUrl: `http://127.0.0.1:${admin}/readyz` },
    );
  }, 60_000);
  afterAll(async () => {
    await doomed?.stop('SIGKILL');
    await stack?.stop();
  });

  it('lets one client resume elsewhere and ends the abandoned session after the grace period', async () => {
    const url = (user: string) => `ws://127.0.0.1:${port}/api/v1/streaming/realtime/${user}`;
    const survivor = await WsTestClient.connect(url('survivor'));
    const kept = await survivor.nextOfType<Created>('session.created');
    const abandoned = await WsTestClient.connect(url('abandoned'));
    const lost = await abandoned.nextOfType<Created>('session.created');
    for (const ws of [survivor, abandoned]) {
      ws.send(text('Hello'));
      await ws.nextOfType('response.done', 10_000);
    }
    const connectionsBefore = stack.engine.connections();
    doomed.child.kill('SIGKILL');
    expect((await survivor.closed).code).toBe(1006);

    // The dead gateway could not record the drop: the resume is refused with session_in_use (1013) until the
    // worker sees the gateway's heartbeat expire and marks the session detached.
    const resumed = await resume(stack.wsUrl('survivor'), kept.session.id, kept.session.resume_token);
    await resumed.nextOfType('session.created');
    resumed.send(text('Still here?'));
    await resumed.nextOfType('response.done', 10_000);

    const lostKey = createKeys(stack.redis.prefix).session(lost.session.id);
    await waitFor(async () => (await stack.redis.redis.exists(lostKey)) === 0, {
      timeoutMs: 20_000,
      message: 'the abandoned session ended after the grace period',
    });
    await waitFor(() => stack.engine.connections() === connectionsBefore - 1, {
      message: 'its provider connection closed',
    });
    expect(await stack.redis.redis.exists(createKeys(stack.redis.prefix).session(kept.session.id))).toBe(1);
    await resumed.close();
  }, 60_000);
});
