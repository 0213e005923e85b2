// A production voice app on the seed protocol, end to end through the stack (gateway → Redis → worker → the
// local engine): the GA defaults, function tools, user transcripts, text during a reply, precise provider errors,
// and tools and transcripts surviving a worker SIGKILL (real worker processes).
import { createKeys } from '@rtv/bus';
import { parseSpeechTranscript } from '@rtv/local-engine';
import { makeSyntheticSpeech, pcmFrames, type SpawnedService, WsTestClient, waitFor } from '@rtv/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnWorker } from '../durability/helpers.js';
import { type Stack, startStack, TEST_API_KEY } from './helpers/stack.js';

type Msg = { type: string; [k: string]: unknown };
type FunctionCall = { response: { call_id: string; name: string; arguments: string } };
type Transcript = {
  conversation_item_transcript: { item_id: string; role: string; text: string; final: boolean };
};

const WEATHER_TOOL = {
  type: 'function',
  name: 'get_weather',
  description: 'Current weather for a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

const text = (t: string, extra: Record<string, unknown> = {}) => ({
  type: 'conversation.item.input',
  conversation_item_input: { type: 'input_text', text: t, ...extra },
});

const toolOutput = (callId: string, output: string) => ({
  type: 'conversation.item.input',
  conversation_item_input: { type: 'function_call_output', call_id: callId, output },
});

/** 20 ms frames of a synthetic utterance followed by silence, as seed audio messages. */
function speechMessages(speechMs: number, silenceMs = 1000): object[] {
  const pcm = Buffer.concat([makeSyntheticSpeech(speechMs).pcm, Buffer.alloc(48 * silenceMs)]);
  return pcmFrames(pcm, 20).map((frame) => ({
    type: 'conversation.item.input',
    conversation_item_input: { type: 'input_audio_buffer', audio: frame.toString('base64') },
  }));
}

/** The reply text of the `n`-th response (0-based) a client received: its deltas up to its `response.done`. */
function replies(ws: WsTestClient): string[] {
  const out: string[] = [''];
  for (const m of ws.all() as Msg[]) {
    if (m.type === 'response.delta') {
      const r = m.response as { delta: { content: string } };
      out[out.length - 1] += r.delta.content;
    } else if (m.type === 'response.done') out.push('');
  }
  return out.slice(0, -1);
}

const ofType = (ws: WsTestClient, type: string) => (ws.all() as Msg[]).filter((m) => m.type === type);

async function history(stack: Stack, sid: string): Promise<Array<{ role: string; text: string }>> {
  const res = await fetch(`${stack.statusUrl}/api/v1/streaming/realtime/sessions/${sid}`, {
    headers: { authorization: `Bearer ${TEST_API_KEY}` },
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { history: Array<{ role: string; text: string }> }).history;
}

async function withTools(ws: WsTestClient): Promise<void> {
  ws.send({ type: 'session.update', session_update: { tools: [WEATHER_TOOL], tool_choice: 'auto' } });
  await ws.nextOfType('session.update', 10_000);
}

describe('a voice app on the seed protocol (GA defaults, local engine)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  }, 60_000);
  afterAll(async () => {
    await stack?.stop();
  });

  it('runs the seed text turn and an audio turn on the defaults, and /status names the GA model', async () => {
    const ws = await WsTestClient.connect(stack.wsUrl('defaults_user'));
    const created = await ws.nextOfType<{ session: { id: string } }>('session.created');
    ws.send(text('Hello, how are you?'));
    const done = await ws.nextOfType<{ response: { usage: { input_tokens: number } } }>(
      'response.done',
      10_000,
    );
    expect(done.response.usage.input_tokens).toBeGreaterThan(0);
    expect(replies(ws)[0]!.length).toBeGreaterThan(0);

    for (const m of speechMessages(1500)) ws.send(m);
    const final = await ws.next<Transcript>(
      (m) =>
        (m as Transcript & Msg).type === 'conversation.item.transcript' &&
        (m as Transcript).conversation_item_transcript.final,
      15_000,
    );
    expect(final.conversation_item_transcript.role).toBe('user');
    // The stand-in transcript states how much speech the provider heard (1.5 s plus VAD padding).
    const heardMs = parseSpeechTranscript(final.conversation_item_transcript.text);
    expect(heardMs).toBeGreaterThanOrEqual(1500);
    await ws.nextOfType('response.done', 15_000);
    // Deltas came before the final transcript, each with the same item id.
    const pieces = (ofType(ws, 'conversation.item.transcript') as unknown as Transcript[]).map(
      (m) => m.conversation_item_transcript,
    );
    expect(pieces.at(-1)!.final).toBe(true);
    expect(pieces.some((p) => !p.final)).toBe(true);
    expect(new Set(pieces.map((p) => p.item_id)).size).toBe(1);

    await waitFor(
      async () =>
        (await history(stack, created.session.id)).some(
          (i) => i.role === 'user' && i.text === final.conversation_item_transcript.text,
        ),
      { message: 'the user transcript is in the session history' },
    );
    const status = (await (await fetch(`${stack.statusUrl}/api/v1/streaming/realtime/status`)).json()) as {
      workers: Array<{ model: string | null }>;
    };
    expect(status.workers.map((w) => w.model)).toEqual(['gpt-realtime']);
    expect(ofType(ws, 'error')).toEqual([]);
    await ws.close();
  }, 60_000);

  it('announces a function call once and answers with the tool output the client sends', async () => {
    const ws = await WsTestClient.connect(stack.wsUrl('tools_user'));
    await ws.nextOfType('session.created');
    await withTools(ws);
    ws.send(text('Call get_weather Paris'));
    const call = await ws.nextOfType<FunctionCall>('response.function_call', 10_000);
    expect(call.response.name).toBe('get_weather');
    expect(JSON.parse(call.response.arguments)).toEqual({ city: 'Paris' });
    await ws.nextOfType('response.done', 10_000);

    ws.send(toolOutput(call.response.call_id, '{"sky":"sunny","temp_c":21}'));
    await ws.nextOfType('response.done', 10_000);
    expect(replies(ws).at(-1)).toContain('{"sky":"sunny","temp_c":21}');
    expect(ofType(ws, 'response.function_call')).toHaveLength(1);
    expect(ofType(ws, 'error')).toEqual([]);
    await ws.close();
  }, 30_000);

  it('maps each provider error class to its own code', async () => {
    const ws = await WsTestClient.connect(stack.wsUrl('errors_user'));
    await ws.nextOfType('session.created');
    const cases = [
      [
        { type: 'rate_limit_error', code: 'rate_limit_exceeded', message: 'slow down' },
        'upstream_rate_limited',
      ],
      [{ type: 'server_error', code: 'server_error', message: 'oops' }, 'upstream_server_error'],
      [{ type: 'invalid_request_error', code: 'invalid_value', message: 'bad' }, 'upstream_invalid_request'],
    ] as const;
    for (const [injected, code] of cases) {
      stack.engine.failNextResponse({ ...injected });
      ws.send(text('Hello'));
      const err = await ws.nextOfType<{ error: { code: string; message: string } }>('error', 10_000);
      expect(err.error.code).toBe(code);
      expect(err.error.message).not.toContain(injected.message);
      await ws.nextOfType('response.done', 10_000);
    }
    await ws.close();
  }, 30_000);
});

describe('text during a reply (paced provider audio)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ engine: { pace: true } });
  }, 60_000);
  afterAll(async () => {
    await stack?.stop();
  });

  it('answers a text typed during a reply after that reply, with no error and one reply per bubble', async () => {
    const ws = await WsTestClient.connect(stack.wsUrl('busy_user'));
    await ws.nextOfType('session.created');
    ws.send(text('Tell me something long.'));
    await ws.nextOfType('response.audio', 10_000);
    ws.send(text('And a second thing.'));
    await ws.nextOfType('response.done', 20_000);
    await ws.nextOfType('response.done', 20_000);
    expect(ofType(ws, 'error')).toEqual([]);
    const [first, second] = replies(ws);
    // Each reply is whole: the second one answers the second text and starts after the first ended.
    expect(first!.length).toBeGreaterThan(0);
    expect(second!.length).toBeGreaterThan(0);
    const dones = (ofType(ws, 'response.done') as unknown as Array<{ response: { status?: string } }>).map(
      (m) => m.response.status,
    );
    expect(dones).toEqual(['completed', 'completed']);
    await ws.close();
  }, 60_000);

  it('with "interrupt": true, cancels the reply in progress and answers the new text at once', async () => {
    const ws = await WsTestClient.connect(stack.wsUrl('interrupt_user'));
    await ws.nextOfType('session.created');
    ws.send(text('Tell me something long.'));
    await ws.nextOfType('response.audio', 10_000);
    ws.send(text('Stop, answer this instead.', { interrupt: true }));
    const first = await ws.nextOfType<{ response: { status?: string } }>('response.done', 20_000);
    expect(first.response.status).toBe('cancelled');
    const second = await ws.nextOfType<{ response: { status?: string } }>('response.done', 20_000);
    expect(second.response.status).toBe('completed');
    expect(ofType(ws, 'error')).toEqual([]);
    await ws.close();
  }, 60_000);
});

describe('tools and transcripts across a worker SIGKILL (real worker processes)', () => {
  let stack: Stack;
  const workers = new Map<string, SpawnedService>();
  beforeAll(async () => {
    stack = await startStack({ workers: 0 });
    workers.set('wk-a', await spawnWorker(stack, 'wk-a', { RTV_LOG_LEVEL: 'info' }));
    workers.set('wk-b', await spawnWorker(stack, 'wk-b'));
  }, 60_000);
  afterAll(async () => {
    for (const w of workers.values()) await w.stop('SIGKILL');
    await stack?.stop();
  });

  /** Every client event the engine received, per provider connection, in order. */
  function recordClientEvents(): Map<string, Array<Record<string, unknown>>> {
    const perConnection = new Map<string, Array<Record<string, unknown>>>();
    stack.engine.events.on('client-event', (conn: string, event: Record<string, unknown>) => {
      const list = perConnection.get(conn) ?? [];
      list.push(event);
      perConnection.set(conn, list);
    });
    return perConnection;
  }

  async function ownerOf(sid: string): Promise<string> {
    const key = createKeys(stack.redis.prefix).session(sid);
    return waitFor(() => stack.redis.redis.hget(key, 'owner'), { message: 'session bound' });
  }

  async function killOwner(sid: string): Promise<void> {
    const owner = await ownerOf(sid);
    workers.get(owner)!.child.kill('SIGKILL');
    workers.delete(owner);
  }

  it("the worker's log names the GA model and shape it opens provider sessions with", () => {
    const configured = workers
      .get('wk-a')!
      .output()
      .split('\n')
      .filter((line) => line.includes('provider configured'))
      .map((line) => JSON.parse(line) as { model: string; shape: string });
    expect(configured).toEqual([expect.objectContaining({ model: 'gpt-realtime', shape: 'ga' })]);
  });

  it('a call announced before the kill is not announced again, and an output sent during the pause is applied once', async () => {
    const events = recordClientEvents();
    const ws = await WsTestClient.connect(stack.wsUrl('failover_tools'));
    const created = await ws.nextOfType<{ session: { id: string } }>('session.created');
    await withTools(ws);
    ws.send(text('Call get_weather Oslo'));
    const call = await ws.nextOfType<FunctionCall>('response.function_call', 10_000);
    await ws.nextOfType('response.done', 10_000);

    await killOwner(created.session.id);
    // Sent while no worker owns the session: the gateway holds it and replays it to the next owner.
    ws.send(toolOutput(call.response.call_id, 'rain, 7 degrees'));
    await ws.next((m) => (m as Msg).type === 'session.notice', 20_000);
    await ws.nextOfType('response.done', 20_000);
    expect(replies(ws).at(-1)).toContain('rain, 7 degrees');
    expect(ofType(ws, 'response.function_call')).toHaveLength(1);

    const outputs = [...events.values()]
      .flat()
      .filter(
        (e) =>
          e.type === 'conversation.item.create' &&
          (e.item as { type?: string; call_id?: string }).type === 'function_call_output' &&
          (e.item as { call_id?: string }).call_id === call.response.call_id,
      );
    expect(outputs).toHaveLength(1);
    // The restored provider session holds the call itself, so the output has something to answer.
    const restoredCalls = [...events.values()]
      .flat()
      .filter(
        (e) =>
          e.type === 'conversation.item.create' &&
          (e.item as { type?: string; call_id?: string }).type === 'function_call' &&
          (e.item as { call_id?: string }).call_id === call.response.call_id,
      );
    expect(restoredCalls).toHaveLength(1);
    await ws.close();
    workers.set('wk-c', await spawnWorker(stack, 'wk-c'));
  }, 60_000);

  it("after a worker kill, the restored provider session holds the user's earlier spoken turn", async () => {
    const events = recordClientEvents();
    const ws = await WsTestClient.connect(stack.wsUrl('failover_transcripts'));
    const created = await ws.nextOfType<{ session: { id: string } }>('session.created');
    for (const m of speechMessages(1200)) ws.send(m);
    const final = await ws.next<Transcript>(
      (m) =>
        (m as Transcript & Msg).type === 'conversation.item.transcript' &&
        (m as Transcript).conversation_item_transcript.final,
      15_000,
    );
    await ws.nextOfType('response.done', 15_000);
    await waitFor(async () => (await history(stack, created.session.id)).some((i) => i.role === 'user'), {
      message: 'the transcript is saved',
    });
    const connectionsBefore = new Set(events.keys());

    await killOwner(created.session.id);
    await ws.next(
      (m) =>
        (m as Msg).type === 'session.notice' &&
        (m as { notice: { code: string } }).notice.code === 'session_recovered',
      20_000,
    );
    const restored = [...events.entries()]
      .filter(([conn]) => !connectionsBefore.has(conn))
      .flatMap(([, e]) => e);
    const userTexts = restored
      .filter((e) => e.type === 'conversation.item.create')
      .map((e) => e.item as { role?: string; content?: Array<{ text?: string }> })
      .filter((item) => item.role === 'user')
      .map((item) => item.content?.[0]?.text);
    expect(userTexts).toContain(final.conversation_item_transcript.text);
    await ws.close();
  }, 60_000);
});
