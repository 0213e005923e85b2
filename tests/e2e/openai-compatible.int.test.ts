// The OpenAI-compatible route `/v1/realtime` end to end with OpenAI's own SDKs (openai-node's OpenAIRealtimeWS
// and @openai/agents-realtime's RealtimeSession) and plain `ws` sockets: gateways → Redis streams → worker →
// local engine and back, on a real Redis. Text, spoken (server VAD) and tool turns, interruption with truncate,
// authentication, the deployment's policy (models, forbidden fields, tool allowlist, instructions prefix,
// token budget), bad client events, and a resume on another gateway.

import { OpenAIRealtimeWebSocket, RealtimeAgent, RealtimeSession, tool } from '@openai/agents-realtime';
import { hashApiKey } from '@rtv/auth';
import { type HandshakeInfo, replyToFunctionOutput, replyToText } from '@rtv/local-engine';
import { rawUpgrade, WsTestClient } from '@rtv/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  type AgentClient,
  audioChunks,
  connectAgent,
  connectNodeClient,
  EventLog,
  gatewayToken,
  type NodeRealtimeClient,
  PCM_BYTES_PER_MS,
  refusedUpgrade,
  type ServerEvent,
  spokenTurn,
} from './helpers/openai-clients.js';
import { resume } from './helpers/resume.js';
import { type Stack, startStack, TEST_API_KEY } from './helpers/stack.js';

const PREFIX = 'You are the support assistant of Example Inc.';
/**
 * `default` (API keys, JWTs without a class): no rules. `strict`: one model, `tracing` forbidden, one tool,
 * an instructions prefix and a pinned voice. `metered`: a budget of one token per hour.
 */
const POLICY = {
  classes: {
    default: {},
    strict: {
      models: ['gpt-realtime'],
      forbid: ['tracing'],
      tools: { allow: ['get_weather'] },
      instructionsPrefix: PREFIX,
      pin: { 'audio.output.voice': 'marin' },
    },
    metered: { budget: { tokens: 1, windowS: 3600 } },
  },
};
/** The gateways accept {@link TEST_API_KEY} (as user `app`) and JWTs signed with the test secret. */
const GATEWAY_ENV = {
  RTV_OPENAI_POLICY: JSON.stringify(POLICY),
  RTV_AUTH_API_KEYS: `app:${hashApiKey(TEST_API_KEY)}`,
};
const WEATHER = 'Sunny, 21 C in Paris';
const LONG_REQUEST = 'Please tell me a long story about a dragon who lived in a castle by the sea.';

let stack: Stack;
/** A second stack whose engine streams replies at playback speed, so a reply can be interrupted midway. */
let paced: Stack;
/** Everything a test opened, closed after it. */
const cleanups: (() => unknown)[] = [];

beforeAll(async () => {
  [stack, paced] = await Promise.all([
    startStack({ gateways: 2, gatewayEnv: GATEWAY_ENV }),
    startStack({ engine: { pace: true }, gatewayEnv: GATEWAY_ENV }),
  ]);
});
afterAll(async () => {
  await Promise.all([stack?.stop(), paced?.stop()]);
});
afterEach(async (context) => {
  // A rare failure here saw the server close a fresh connection before any event; what the gateways counted
  // (close codes, errors sent, set-up failures, refusals) says which side closed it and why.
  if (context.task.result?.state === 'fail') console.error(await gatewayCounters());
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** The gateways' close, error, set-up failure and refusal counters that are not zero, for a failure report. */
async function gatewayCounters(): Promise<string> {
  const wanted = /^rtv_gateway_(disconnects|client_errors|session_setup_failures|limit_rejections)_total\{/;
  const lines: string[] = [];
  for (const [name, s] of [
    ['stack', stack],
    ['paced', paced],
  ] as const) {
    for (const [i, gateway] of (s?.gateways ?? []).entries()) {
      const text = await fetch(`http://127.0.0.1:${gateway.adminPort}/metrics`).then(
        (r) => r.text(),
        (err: Error) => `unreadable: ${err.message}`,
      );
      for (const line of text.split('\n')) {
        if (wanted.test(line) && !line.endsWith(' 0')) lines.push(`${name} gateway ${i}: ${line}`);
      }
    }
  }
  return `gateway counters after the failure:\n${lines.join('\n') || '(none)'}`;
}

const port = (s: Stack = stack, gateway = 0) => s.gateways[gateway]!.port;

async function nodeClient(apiKey: string, s: Stack = stack, model?: string): Promise<NodeRealtimeClient> {
  const client = await connectNodeClient(port(s), apiKey, model);
  cleanups.push(() => client.isOpen() && client.rt.close());
  return client;
}

async function agentClient(agent: RealtimeAgent, apiKey: string, s: Stack = stack): Promise<AgentClient> {
  const client = await connectAgent(port(s), agent, apiKey);
  cleanups.push(() => client.session.close());
  return client;
}

function userText(text: string, id?: string) {
  return {
    type: 'conversation.item.create' as const,
    item: {
      ...(id ? { id } : {}),
      type: 'message' as const,
      role: 'user' as const,
      content: [{ type: 'input_text' as const, text }],
    },
  };
}

/** Says `text` as a user message, asks for a response, and resolves with its `response.done`. */
async function textTurn(client: NodeRealtimeClient, text: string): Promise<ServerEvent> {
  client.rt.send(userText(text));
  client.rt.send({ type: 'response.create' });
  return client.log.next('response.done');
}

const responseOf = (done: ServerEvent) =>
  done.response as {
    id: string;
    status: string;
    status_details: { type: string; reason?: string } | null;
    output: Array<{ id: string; type: string; name?: string; call_id?: string; arguments?: string }>;
    usage: { total_tokens: number } | null;
  };

const errorOf = (event: ServerEvent | undefined) =>
  event?.error as { type: string; code: string; param: string | null; event_id: string | null };

/** The transcripts of the assistant's finished audio replies, in order. */
const transcripts = (log: EventLog) =>
  log.of('response.output_audio_transcript.done').map((e) => String(e.transcript));

/** Every client event the engine received, per provider connection (the id `session.created` shows). */
function recordProviderEvents(s: Stack): Map<string, ServerEvent[]> {
  const byConnection = new Map<string, ServerEvent[]>();
  const listener = (connId: string, event: ServerEvent) => {
    byConnection.set(connId, [...(byConnection.get(connId) ?? []), event]);
  };
  s.engine.events.on('client-event', listener);
  cleanups.push(() => s.engine.events.off('client-event', listener));
  return byConnection;
}

const weatherTool = {
  type: 'function' as const,
  name: 'get_weather',
  description: 'Current weather for a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

describe('openai-node OpenAIRealtimeWS through the gateway', () => {
  it('connects to /v1/realtime?model=, gets session.created first and runs a text turn', async () => {
    const client = await nodeClient(TEST_API_KEY);
    expect(client.rt.url.pathname).toBe('/v1/realtime');
    expect(client.rt.url.searchParams.get('model')).toBe('gpt-realtime');
    const done = responseOf(await textTurn(client, 'Tell me about the sea.'));

    expect(client.log.events[0]?.type).toBe('session.created');
    expect(client.log.of('session.created')).toHaveLength(1);
    expect(done.status).toBe('completed');
    expect(done.usage?.total_tokens).toBeGreaterThan(0);
    expect(transcripts(client.log)).toEqual([replyToText('Tell me about the sea.')]);
    expect(client.log.audioBytes()).toBeGreaterThan(500 * PCM_BYTES_PER_MS);
    expect(client.errors).toEqual([]);
  });

  it('answers speech appended as PCM16 chunks, detected by server VAD, with spoken audio', async () => {
    const client = await nodeClient(TEST_API_KEY);
    await client.log.next('session.created');
    for (const chunk of audioChunks(await spokenTurn())) {
      client.rt.send({ type: 'input_audio_buffer.append', audio: chunk.toString('base64') });
    }
    const started = await client.log.next('input_audio_buffer.speech_started');
    await client.log.next('input_audio_buffer.speech_stopped');
    const committed = await client.log.next('input_audio_buffer.committed');
    expect(committed.item_id).toBe(started.item_id);
    const done = responseOf(await client.log.next('response.done'));

    expect(done.status).toBe('completed');
    expect(transcripts(client.log)).toEqual([expect.stringMatching(/^I heard \d+\.\d seconds of audio\.$/)]);
    expect(client.log.audioBytes()).toBeGreaterThan(500 * PCM_BYTES_PER_MS);
    expect(client.errors).toEqual([]);
  });

  it('runs a function call: the model calls the tool, the client answers, the reply quotes the result', async () => {
    const client = await nodeClient(TEST_API_KEY);
    client.rt.send({ type: 'session.update', session: { type: 'realtime', tools: [weatherTool] } });
    await client.log.next('session.updated');
    const call = responseOf(await textTurn(client, 'Please call get_weather Paris.')).output[0];
    expect(call).toMatchObject({ type: 'function_call', name: 'get_weather', arguments: '{"city":"Paris"}' });

    client.rt.send({
      type: 'conversation.item.create',
      item: { type: 'function_call_output', call_id: String(call?.call_id), output: WEATHER },
    });
    client.rt.send({ type: 'response.create' });
    const answer = responseOf(await client.log.next('response.done'));
    expect(answer.status).toBe('completed');
    expect(transcripts(client.log)).toEqual([replyToFunctionOutput('get_weather', WEATHER)]);
    expect(client.errors).toEqual([]);
  });

  it('interrupts a reply midway: response.cancel and conversation.item.truncate are acknowledged', async () => {
    const provider = recordProviderEvents(paced);
    const client = await nodeClient(TEST_API_KEY, paced);
    client.rt.send(userText(LONG_REQUEST));
    client.rt.send({ type: 'response.create' });
    const added = await client.log.next('response.output_item.added');
    await client.log.until(() => client.log.audioBytes() >= 500 * PCM_BYTES_PER_MS, '500 ms of reply audio');
    const itemId = (added.item as { id: string }).id;
    client.rt.send({ type: 'response.cancel' });
    client.rt.send({
      type: 'conversation.item.truncate',
      item_id: itemId,
      content_index: 0,
      audio_end_ms: 400,
    });

    const done = responseOf(await client.log.next('response.done'));
    expect(done.status).toBe('cancelled');
    expect(done.status_details).toEqual({ type: 'cancelled', reason: 'client_cancelled' });
    const truncated = await client.log.next('conversation.item.truncated');
    expect(truncated).toMatchObject({ item_id: itemId, content_index: 0, audio_end_ms: 400 });
    const sent = [...provider.values()].flat().map((e) => e.type);
    expect(sent.filter((t) => t === 'response.cancel' || t === 'conversation.item.truncate')).toEqual([
      'response.cancel',
      'conversation.item.truncate',
    ]);
    expect(client.errors).toEqual([]);
  });

  it('answers an unknown event type and a malformed frame with provider errors; the socket stays usable', async () => {
    const client = await nodeClient(TEST_API_KEY);
    await client.log.next('session.created');
    client.rt.socket.send(JSON.stringify({ type: 'conversation.item.explode', event_id: 'evt_unknown_1' }));
    const unknown = errorOf(await client.log.next('error'));
    expect(unknown).toMatchObject({
      type: 'invalid_request_error',
      code: 'invalid_value',
      param: 'type',
      event_id: 'evt_unknown_1',
    });
    client.rt.socket.send('{"type": "response.create"');
    expect(errorOf(await client.log.next('error'))).toMatchObject({ code: 'invalid_json' });

    const done = responseOf(await textTurn(client, 'Still there?'));
    expect(done.status).toBe('completed');
    expect(transcripts(client.log)).toEqual([replyToText('Still there?')]);
    expect(client.isOpen()).toBe(true);
    expect(client.errors.map((e) => e.error?.code)).toEqual(['invalid_value', 'invalid_json']);
  });
});

describe('@openai/agents-realtime RealtimeSession through the gateway', () => {
  const agent = (tools: RealtimeAgent['tools'] = []) =>
    new RealtimeAgent({ name: 'assistant', instructions: 'Be brief.', tools });

  it('runs a text turn; the first server event is session.created', async () => {
    const client = await agentClient(agent(), await gatewayToken('agents-text'));
    client.session.sendMessage('Hello there');
    await client.log.until(() => client.replies.length === 1, 'agent_end');

    expect(client.log.events[0]?.type).toBe('session.created');
    expect(client.replies).toEqual([replyToText('Hello there')]);
    expect(client.session.usage.totalTokens).toBeGreaterThan(0);
    expect(client.errors).toEqual([]);
  });

  it('answers speech sent with sendAudio (the SDK turns on semantic VAD), with the transcript in its history', async () => {
    const client = await agentClient(agent(), TEST_API_KEY);
    let audioBytes = 0;
    client.session.on('audio', (event) => {
      audioBytes += event.data.byteLength;
    });
    for (const chunk of audioChunks(await spokenTurn()))
      client.session.sendAudio(new Uint8Array(chunk).buffer);
    await client.log.until(() => client.replies.length === 1, 'agent_end');

    const started = await client.log.next('input_audio_buffer.speech_started');
    expect(await client.log.next('input_audio_buffer.committed')).toMatchObject({ item_id: started.item_id });
    expect(client.replies).toEqual([expect.stringMatching(/^I heard \d+\.\d seconds of audio\.$/)]);
    const applied = client.log.of('session.updated').at(-1)?.session;
    expect(applied).toMatchObject({ audio: { input: { turn_detection: { type: 'semantic_vad' } } } });
    expect(audioBytes).toBeGreaterThan(500 * PCM_BYTES_PER_MS);
    expect(client.session.history[0]).toMatchObject({ itemId: started.item_id, role: 'user' });
    expect(client.errors).toEqual([]);
  });

  it('runs a tool() the model calls and speaks the answer quoting its result', async () => {
    const calls: string[] = [];
    const getWeather = tool({
      name: 'get_weather',
      description: 'Current weather for a city',
      parameters: z.object({ city: z.string() }),
      execute: async ({ city }) => {
        calls.push(city);
        return `Sunny, 21 C in ${city}`;
      },
    });
    const client = await agentClient(agent([getWeather]), await gatewayToken('agents-tool'));
    client.session.sendMessage('Please call get_weather Paris.');
    await client.log.until(() => client.replies.length === 2, 'the answer after the tool');

    expect(calls).toEqual(['Paris']);
    expect(client.replies).toEqual(['', replyToFunctionOutput('get_weather', WEATHER)]);
    expect(client.session.history.map((item) => item.type)).toEqual(['message', 'function_call', 'message']);
    expect(client.errors).toEqual([]);
  });

  it('interrupt() during a reply cancels it and truncates the item at the audio played', async () => {
    const client = await agentClient(agent(), TEST_API_KEY, paced);
    let interrupted = 0;
    client.session.on('audio_interrupted', () => interrupted++);
    client.session.sendMessage(LONG_REQUEST);
    await client.log.until(() => client.log.audioBytes() >= 500 * PCM_BYTES_PER_MS, '500 ms of reply audio');
    client.session.interrupt();

    const done = responseOf(await client.log.next('response.done'));
    expect(done.status_details).toEqual({ type: 'cancelled', reason: 'client_cancelled' });
    const truncated = await client.log.next('conversation.item.truncated');
    expect(truncated).toMatchObject({ item_id: done.output[0]?.id, content_index: 0 });
    expect(Number(truncated.audio_end_ms)).toBeGreaterThan(0);
    expect(interrupted).toBe(1);
    expect(client.errors).toEqual([]);
  });
});

describe('authentication on /v1/realtime', () => {
  it('refuses an upgrade without a credential, or with a wrong one: HTTP 401 unauthorized', async () => {
    const none = await rawUpgrade(port(), { path: '/v1/realtime?model=gpt-realtime' });
    expect(none.status).toBe(401);
    expect(JSON.parse(none.body)).toMatchObject({ error: { code: 'unauthorized' } });
    const wrong = await refusedUpgrade(port(), 'rtv_not_a_key_of_this_gateway_0000');
    expect(wrong).toMatchObject({ status: 401, body: { error: { code: 'unauthorized' } } });
  });

  it('refuses an OpenAI key given as the SDK apiKey: HTTP 401 provider_key_refused', async () => {
    for (const key of ['sk-proj-abcdefghijklmnopqrstuvwxyz012345', 'ek_68af0123456789abcdef']) {
      const refused = await refusedUpgrade(port(), key);
      expect(refused.url).toBe(`wss://127.0.0.1:${port()}/v1/realtime?model=gpt-realtime`);
      expect(refused).toMatchObject({ status: 401, body: { error: { code: 'provider_key_refused' } } });
    }
    // The agents SDK gives up its connect on the same refusal.
    const agent = new RealtimeAgent({ name: 'assistant' });
    await expect(connectAgent(port(), agent, 'sk-proj-abcdefghijklmnopqrstuvwxyz012345')).rejects.toThrow(
      /401/,
    );
  });

  it('upgrades within the upgrade handler: session.created follows the 101 even for a request saying Connection: close', async () => {
    // uWS can close a socket upgraded later, inside a cork, right after its 101 (uWebSockets #1928/#1929);
    // an API key is checked at once, so its upgrade never takes that path.
    for (const connection of ['Upgrade', 'close']) {
      const reply = await rawUpgrade(port(), {
        path: '/v1/realtime?model=gpt-realtime',
        headers: { authorization: `Bearer ${TEST_API_KEY}` },
        connection,
        readFirstFrame: true,
      });
      expect(reply.status).toBe(101);
      expect(JSON.parse(reply.firstFrame ?? '{}')).toMatchObject({ type: 'session.created' });
    }
  });

  it('accepts the browser form: subprotocols realtime + openai-insecure-api-key.<credential>', async () => {
    const ws = await WsTestClient.connect(`ws://127.0.0.1:${port()}/v1/realtime?model=gpt-realtime`, {
      protocols: ['realtime', `openai-insecure-api-key.${TEST_API_KEY}`],
    });
    cleanups.push(() => ws.close());
    // The gateway answers `realtime`, never the entry holding the credential.
    expect(ws.protocol).toBe('realtime');
    expect(await ws.next()).toMatchObject({ type: 'session.created' });
  });
});

describe('the policy (RTV_OPENAI_POLICY)', () => {
  it('refuses a model outside the class list: model_not_allowed, then close 4403', async () => {
    const token = await gatewayToken('strict-model', { rtv_class: 'strict' });
    const client = await nodeClient(token, stack, 'gpt-realtime-mini');
    const closed = await client.closed;
    expect(closed.code).toBe(4403);
    expect(client.log.summary()).toEqual(['error']);
    expect(errorOf(client.log.events[0])).toMatchObject({ code: 'model_not_allowed' });
    // The default class has no list: the same model is served, and the worker asks the provider for it.
    const models: string[] = [];
    const onHandshake = (_id: string, info: HandshakeInfo) => models.push(String(info.model));
    stack.engine.events.on('handshake', onHandshake);
    cleanups.push(() => stack.engine.events.off('handshake', onHandshake));
    const open = await nodeClient(TEST_API_KEY, stack, 'gpt-realtime-mini');
    await open.log.next('session.created');
    expect(models).toEqual(['gpt-realtime-mini']);
  });

  it('ends the session after the response that spends the budget, and refuses the user at open', async () => {
    const token = await gatewayToken('metered-user', { rtv_class: 'metered' });
    const client = await nodeClient(token);
    const done = responseOf(await textTurn(client, 'Hello'));
    expect(done.status).toBe('completed');
    const closed = await client.closed;
    expect(closed.code).toBe(4000);
    // Nothing of a response after the one that spent the budget: the error (the provider's rate_limits.updated
    // may come between) and the close.
    const events = client.log.summary();
    expect(events.filter((t) => t.startsWith('response.')).at(-1)).toBe('response.done');
    expect(events.at(-1)).toBe('error');
    expect(events.filter((t) => t === 'response.done')).toHaveLength(1);
    expect(errorOf(client.log.of('error')[0])).toMatchObject({ code: 'budget_exhausted' });

    const again = await nodeClient(token);
    expect((await again.closed).code).toBe(4000);
    expect(again.log.summary()).toEqual(['error']);
    expect(errorOf(again.log.events[0])).toMatchObject({ code: 'budget_exhausted' });
  });

  it('refuses a forbidden session field and a tool outside the allowlist with setting_forbidden; the socket stays open', async () => {
    const provider = recordProviderEvents(stack);
    const client = await nodeClient(await gatewayToken('strict-settings', { rtv_class: 'strict' }));
    const created = await client.log.next('session.created');
    client.rt.send({
      type: 'session.update',
      event_id: 'evt_tracing',
      session: { type: 'realtime', tracing: 'auto' },
    });
    expect(errorOf(await client.log.next('error'))).toMatchObject({
      code: 'setting_forbidden',
      param: 'session.tracing',
      event_id: 'evt_tracing',
    });
    const lookup = { ...weatherTool, name: 'lookup_order' };
    client.rt.send({ type: 'session.update', session: { type: 'realtime', tools: [weatherTool, lookup] } });
    expect(errorOf(await client.log.next('error'))).toMatchObject({
      code: 'setting_forbidden',
      param: 'session.tools[1].name',
    });
    client.rt.send({ type: 'response.create', response: { tools: [lookup] } });
    expect(errorOf(await client.log.next('error'))).toMatchObject({
      code: 'setting_forbidden',
      param: 'response.tools[0].name',
    });
    // An allowed tool still goes through, and the next turn is answered.
    client.rt.send({ type: 'session.update', session: { type: 'realtime', tools: [weatherTool] } });
    await client.log.next('session.updated');
    expect(responseOf(await textTurn(client, 'Thanks.')).status).toBe('completed');

    expect(client.isOpen()).toBe(true);
    const sent = provider.get(String((created.session as { id: string }).id)) ?? [];
    const updates = sent.filter((e) => e.type === 'session.update').map((e) => e.session);
    expect(JSON.stringify(updates)).not.toContain('tracing');
    expect(JSON.stringify(updates)).not.toContain('lookup_order');
  });

  it('puts the instructions prefix first and pins the voice, as the provider receives them', async () => {
    const provider = recordProviderEvents(stack);
    const client = await nodeClient(await gatewayToken('strict-prefix', { rtv_class: 'strict' }));
    const created = await client.log.next('session.created');
    client.rt.send({
      type: 'session.update',
      session: { type: 'realtime', instructions: 'Be brief.', audio: { output: { voice: 'alloy' } } },
    });
    const briefed = () =>
      client.log
        .of('session.updated')
        .map((e) => e.session as { instructions?: string })
        .find((session) => session.instructions?.endsWith('Be brief.'));
    await client.log.until(() => briefed() !== undefined, "session.updated with the client's instructions");
    expect(briefed()).toMatchObject({
      instructions: `${PREFIX}\n\nBe brief.`,
      audio: { output: { voice: 'marin' } },
    });

    const sent = provider.get(String((created.session as { id: string }).id)) ?? [];
    const updates = sent
      .filter((e) => e.type === 'session.update')
      .map((e) => e.session as { instructions?: string; audio?: { output?: { voice?: string } } });
    // The worker's own first update holds the prefix and the pin before the client said anything.
    expect(updates[0]).toMatchObject({ instructions: PREFIX, audio: { output: { voice: 'marin' } } });
    expect(updates.at(-1)).toMatchObject({
      instructions: `${PREFIX}\n\nBe brief.`,
      audio: { output: { voice: 'marin' } },
    });
  });

  it("refuses the agents SDK's automatic tracing update in the strict class, and still runs its turns", async () => {
    const client = await connectAgent(
      port(),
      new RealtimeAgent({ name: 'assistant', instructions: 'Be brief.' }),
      await gatewayToken('strict-agents', { rtv_class: 'strict' }),
    );
    cleanups.push(() => client.session.close());
    client.session.sendMessage('Hello there');
    await client.log.until(() => client.replies.length === 1, 'agent_end');
    expect(client.replies).toEqual([replyToText('Hello there')]);
    expect(client.errors).toEqual(['setting_forbidden']);
    const applied = client.log.of('session.updated').at(-1)?.session as { instructions?: string };
    expect(applied.instructions).toBe(`${PREFIX}\n\nBe brief.`);
  });
});

describe('the SDK default model', () => {
  it("replaces a session.model other than the connected one instead of refusing the agents SDK's whole configuration", async () => {
    const provider = recordProviderEvents(stack);
    const token = await gatewayToken('strict-default-model', { rtv_class: 'strict' });
    // No `model` option: agents-realtime then puts its own default model in its first session.update.
    const transport = new OpenAIRealtimeWebSocket({
      url: `ws://127.0.0.1:${port()}/v1/realtime?model=gpt-realtime`,
    });
    const session = new RealtimeSession(new RealtimeAgent({ name: 'assistant', instructions: 'Be brief.' }), {
      transport,
    });
    const log = new EventLog();
    transport.on('*', log.push);
    // The strict class forbids tracing, which the SDK sets by itself: that error is expected here.
    session.on('error', () => undefined);
    await session.connect({ apiKey: token });
    cleanups.push(() => session.close());
    await log.until(
      () =>
        log
          .of('session.updated')
          .some((e) => (e.session as { instructions?: string }).instructions?.endsWith('Be brief.')),
      "session.updated with the agent's instructions",
    );
    const sent = [...provider.values()].flat().filter((e) => e.type === 'session.update');
    const models = sent.map((e) => (e.session as { model?: string }).model).filter((m) => m !== undefined);
    expect(new Set(models)).toEqual(new Set(['gpt-realtime']));
    expect(log.of('error').map((e) => (e.error as { param?: string }).param)).not.toContain('session.model');
  });
});

describe('resume on another gateway (?rtv_events=1)', () => {
  it('gets rtv.session first, drops the socket, resumes on gateway 1 and continues the conversation', async () => {
    const token = await gatewayToken('resumer');
    const headers = { authorization: `Bearer ${token}` };
    const base = (g: number) => `ws://127.0.0.1:${port(stack, g)}/v1/realtime`;
    const first = await WsTestClient.connect(`${base(0)}?model=gpt-realtime&rtv_events=1`, {
      headers,
      protocols: ['realtime'],
    });
    cleanups.push(() => first.close());
    const opened = await first.next<{
      type: string;
      session_id: string;
      resume_token: string;
      model: string;
    }>();
    expect(opened).toMatchObject({ type: 'rtv.session', model: 'gpt-realtime' });
    expect(opened.session_id).toMatch(/^sess_/);
    await first.nextOfType('session.created');
    first.send(userText('My name is Ada.', 'item_resume_turn_1'));
    first.send({ type: 'response.create' });
    await first.nextOfType('response.done', 10_000);
    await first.terminate();

    const second = await resume(base(1), opened.session_id, opened.resume_token, {
      headers,
      protocols: ['realtime'],
      query: { model: 'gpt-realtime', rtv_events: '1' },
    });
    cleanups.push(() => second.close());
    const reopened = await second.next<{ type: string; session_id: string; resume_token: string }>();
    expect(reopened).toMatchObject({ type: 'rtv.session', session_id: opened.session_id });
    expect(reopened.resume_token).not.toBe(opened.resume_token);
    second.send(userText('What did I say earlier?'));
    second.send({ type: 'response.create' });
    const done = await second.nextOfType<ServerEvent>('response.done', 10_000);
    expect(responseOf(done).status).toBe('completed');

    const received = second.all() as ServerEvent[];
    expect(received).toContainEqual(expect.objectContaining({ type: 'rtv.notice', code: 'session_resumed' }));
    const transcript = received.find((e) => e.type === 'response.output_audio_transcript.done');
    expect(transcript?.transcript).toBe('Earlier you said: "My name is Ada."');
    expect(received.filter((e) => e.type === 'session.created')).toEqual([]);
    expect(received.filter((e) => e.type === 'error')).toEqual([]);
  });
});
