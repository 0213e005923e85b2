// The provider configuration end to end, with the local engine as the provider: a worker configured with the
// seed's retired model makes one provider connection per session, its heartbeat names the failure and the
// status API's /health reports it; a worker configured for Azure OpenAI reaches the engine's Azure GA path
// with the api-key header and runs a turn.
import { CloseCode } from '@rtv/protocol';
import { freePort, WsTestClient, waitFor } from '@rtv/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { type Stack, startStack } from './helpers/stack.js';

type Handshake = {
  path: string;
  model: string | null;
  headers: Record<string, boolean>;
  refused: string | null;
};

/** Every upgrade the engine saw, in order. */
function recordHandshakes(stack: Stack): Handshake[] {
  const seen: Handshake[] = [];
  stack.engine.events.on('handshake', (_id: string, info: Handshake) => seen.push(info));
  return seen;
}

describe('provider configuration (end to end)', () => {
  let stack: Stack | undefined;
  afterEach(async () => {
    await stack?.stop();
    stack = undefined;
  });

  it("the seed's retired model: one provider connection per session, and /health names model_unavailable", async () => {
    stack = await startStack({ workerEnv: { OPENAI_REALTIME_MODEL: 'gpt-4o-realtime-preview-2024-10-01' } });
    const handshakes = recordHandshakes(stack);
    const health = () =>
      fetch(`${stack!.statusUrl}/api/v1/streaming/realtime/health`).then(
        async (r) =>
          [r.status, await r.json()] as [number, { failing: string[]; provider_errors?: string[] }],
      );
    const [before] = await health();
    expect(before).toBe(200);

    for (const user of ['retired_a', 'retired_b']) {
      const ws = await WsTestClient.connect(stack.wsUrl(user));
      // The session runner turns the fatal failure into its specific code, then a "do not reconnect" close.
      const err = await ws.nextOfType<{ error: { code: string } }>('error', 10_000);
      expect(err.error.code).toBe('upstream_model_unavailable');
      expect((await ws.closed).code).toBe(CloseCode.UpstreamMisconfigured);
    }
    await waitFor(() => handshakes.length >= 2, { message: 'two provider connects' });
    // Let a retry show up if there were one (the worker's backoff starts at 200 ms).
    await new Promise((r) => setTimeout(r, 800));
    expect(handshakes.map((h) => [h.model, h.refused])).toEqual([
      ['gpt-4o-realtime-preview-2024-10-01', 'invalid_model'],
      ['gpt-4o-realtime-preview-2024-10-01', 'invalid_model'],
    ]);

    const [code, body] = await waitFor(
      async () => {
        const reply = await health();
        return reply[1].provider_errors ? reply : undefined;
      },
      { timeoutMs: 8000, message: '/health names the provider error' },
    );
    expect(code).toBe(503);
    expect(body).toMatchObject({ failing: ['provider'], provider_errors: ['model_unavailable'] });
  });

  it('Azure OpenAI with an api-key: the GA path, the deployment as model=, the key in api-key', async () => {
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
    const handshakes = recordHandshakes(stack);
    const ws = await WsTestClient.connect(stack.wsUrl('azure_user'));
    await ws.nextOfType('session.created');
    ws.send({
      type: 'conversation.item.input',
      conversation_item_input: { type: 'input_text', text: 'Hello over Azure' },
    });
    await ws.nextOfType('response.done', 10_000);
    await ws.close();
    expect(handshakes[0]).toMatchObject({
      path: '/openai/v1/realtime',
      model: 'voice-prod',
      headers: { authorization: false, 'api-key': true, 'openai-beta': false },
      refused: null,
    });
  });
});
