// The OpenAI-compatible route: per-class session length and event rate, API key scopes, and Azure OpenAI behind it.
import { hashApiKey } from '@rtv/auth';
import { freePort, WsTestClient, waitFor } from '@rtv/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { gatewayToken } from './helpers/openai-clients.js';
import { type Stack, startStack } from './helpers/stack.js';

type Event = { type: string; error?: { code?: string }; [k: string]: unknown };

const POLICY = JSON.stringify({
  classes: {
    default: {},
    short: { maxSessionS: 1 },
    slow: { rate: { eventsPerS: 2, burst: 2 } },
  },
});

let stack: Stack | undefined;
afterEach(async () => {
  await stack?.stop();
  stack = undefined;
});

/** A plain WebSocket client on /v1/realtime with a gateway JWT of `user` in class `userClass`. */
async function connect(
  s: Stack,
  user: string,
  userClass?: string,
  model = 'gpt-realtime',
): Promise<WsTestClient> {
  const token = await gatewayToken(user, userClass ? { rtv_class: userClass } : {});
  const url = `ws://127.0.0.1:${s.gateways[0]!.port}/v1/realtime?model=${model}`;
  return WsTestClient.connect(url, {
    protocols: ['realtime'],
    headers: { authorization: `Bearer ${token}` },
  });
}

function askText(ws: WsTestClient, text: string): void {
  ws.send({
    type: 'conversation.item.create',
    item: { type: 'message', role: 'user', content: [{ type: 'input_text', text }] },
  });
  ws.send({ type: 'response.create' });
}

describe('OpenAI-compatible policy limits', () => {
  it('maxSessionS of the class ends the session: session_expired, close 4408; the default class is not cut', async () => {
    stack = await startStack({ gatewayEnv: { RTV_OPENAI_POLICY: POLICY } });
    const short = await connect(stack, 'limits-short', 'short');
    const other = await connect(stack, 'limits-default');
    await short.nextOfType('session.created');
    const closed = await short.closed;
    expect(closed.code).toBe(4408);
    const errors = short.all().filter((m) => (m as Event).type === 'error') as Event[];
    expect(errors.map((e) => e.error?.code)).toEqual(['session_expired']);
    askText(other, 'Hello there');
    await other.nextOfType('response.done', 10_000);
    expect(other.all().some((m) => (m as Event).type === 'error')).toBe(false);
    await other.close();
  });

  it('rate of the class: events over eventsPerS and burst get rate_limited; the default class is not limited', async () => {
    stack = await startStack({ gatewayEnv: { RTV_OPENAI_POLICY: POLICY } });
    const slow = await connect(stack, 'limits-slow', 'slow');
    const other = await connect(stack, 'limits-fast');
    await slow.nextOfType('session.created');
    await other.nextOfType('session.created');
    for (let i = 0; i < 6; i++) {
      slow.send({ type: 'input_audio_buffer.clear' });
      other.send({ type: 'input_audio_buffer.clear' });
    }
    await waitFor(
      () =>
        slow.all().some((m) => (m as Event).type === 'error' && (m as Event).error?.code === 'rate_limited'),
      { message: 'rate_limited on the slow class' },
    );
    // The default class takes the same burst: the six clears come back as six cleared events.
    await waitFor(
      () => other.all().filter((m) => (m as Event).type === 'input_audio_buffer.cleared').length === 6,
      { message: 'six cleared on the default class' },
    );
    expect(other.all().some((m) => (m as Event).type === 'error')).toBe(false);
    await slow.close();
    await other.close();
  });
});

describe('API key scopes on /v1/realtime', () => {
  it('a key with sessions:connect opens a session; a history-only key gets 403 at the upgrade', async () => {
    const connectKey = 'rtv_compat_connect_key_0123456789';
    const historyKey = 'rtv_compat_history_key_0123456789';
    stack = await startStack({
      gatewayEnv: {
        RTV_AUTH_API_KEYS: `app:${hashApiKey(connectKey)},ops:${hashApiKey(historyKey)}:history:read`,
      },
    });
    const url = `ws://127.0.0.1:${stack.gateways[0]!.port}/v1/realtime?model=gpt-realtime`;
    const ok = await WsTestClient.connect(url, { headers: { authorization: `Bearer ${connectKey}` } });
    await ok.nextOfType('session.created');
    await ok.close();
    await expect(
      WsTestClient.connect(url, { headers: { authorization: `Bearer ${historyKey}` } }),
    ).rejects.toThrow(/HTTP 403/);
  });
});

describe('Azure OpenAI behind /v1/realtime', () => {
  it("serves the worker's Azure deployment whatever model name the client's SDK asks for", async () => {
    const port = await freePort();
    stack = await startStack({
      engine: { port },
      workerEnv: {
        RTV_PROVIDER: 'azure',
        AZURE_OPENAI_ENDPOINT: `http://127.0.0.1:${port}`,
        AZURE_OPENAI_DEPLOYMENT: 'voice-prod',
        AZURE_OPENAI_API_KEY: 'test-provider-key',
      },
    });
    const handshakes: Array<Record<string, unknown>> = [];
    stack.engine.events.on('handshake', (_id: string, info: Record<string, unknown>) =>
      handshakes.push(info),
    );
    const ws = await connect(stack, 'azure-compat');
    await ws.nextOfType('session.created');
    askText(ws, 'Hello over Azure');
    const done = (await ws.nextOfType('response.done', 10_000)) as { response: { status: string } };
    expect(done.response.status).toBe('completed');
    expect(handshakes[0]).toMatchObject({
      path: '/openai/v1/realtime',
      model: 'voice-prod',
      headers: { authorization: false, 'api-key': true },
      refused: null,
    });
    await ws.close();
  });
});
