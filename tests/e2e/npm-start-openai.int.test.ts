// `npm start` (the real launcher, no OPENAI_API_KEY) serves the OpenAI-compatible route: OpenAI's own SDKs,
// pointed at its gateway with any token that is not an OpenAI key, get a session from the local engine and a
// full text turn; an OpenAI key is refused; the demo page's OpenAI SDK mode is served.
import { RealtimeAgent } from '@openai/agents-realtime';
import { createTestRedis, type TestRedis } from '@rtv/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningLauncher, startLauncher } from './helpers/launcher.js';
import { connectAgent, connectNodeClient, refusedUpgrade } from './helpers/openai-clients.js';

describe('npm start serves /v1/realtime with no provider key', () => {
  let t: TestRedis;
  let launcher: RunningLauncher;

  beforeAll(async () => {
    t = await createTestRedis('npm-start-openai');
    launcher = await startLauncher(t);
  }, 120_000);

  afterAll(async () => {
    await launcher?.stop();
    await t?.cleanup();
  }, 40_000);

  it('openai-node OpenAIRealtimeWS: session.created first, then a text turn answered by the local engine', async () => {
    const client = await connectNodeClient(launcher.ports.gateway, 'any-app-token');
    try {
      const created = await client.log.next('session.created');
      expect(client.log.events[0]?.type).toBe('session.created');
      expect((created.session as { model?: string }).model).toBe('gpt-realtime');
      client.rt.send({
        type: 'conversation.item.create',
        item: { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Hello there' }] },
      });
      client.rt.send({ type: 'response.create' });
      const done = await client.log.next('response.done');
      expect((done.response as { status: string }).status).toBe('completed');
      expect(client.errors).toEqual([]);
    } finally {
      client.rt.close();
    }
  }, 60_000);

  it('@openai/agents-realtime RealtimeSession: a text message gets a reply', async () => {
    const client = await connectAgent(
      launcher.ports.gateway,
      new RealtimeAgent({ name: 'assistant' }),
      'tok',
    );
    try {
      client.session.sendMessage('Hello');
      await client.log.until(() => client.replies.length > 0, 'the reply (agent_end)', 30_000);
      expect(client.replies).toHaveLength(1);
      expect(client.replies[0]!.length).toBeGreaterThan(0);
      expect(client.errors).toEqual([]);
    } finally {
      client.session.close();
    }
  }, 60_000);

  it('refuses an OpenAI key sent by the client, and serves the demo page in OpenAI SDK mode', async () => {
    const refused = await refusedUpgrade(launcher.ports.gateway, 'sk-proj-abcdefghijklmnopqrstuvwxyz012345');
    expect(refused).toMatchObject({ status: 401, body: { error: { code: 'provider_key_refused' } } });
    const page = await fetch(`http://127.0.0.1:${launcher.ports.demo}/openai`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('/openai-sdk.js');
  });
});
