// Must come first: lets the SDKs' dependencies load their published builds (see the module).
import { once } from 'node:events';
import net from 'node:net';
import {
  DEFAULT_OPENAI_REALTIME_MODEL,
  OpenAIRealtimeWebSocket,
  RealtimeAgent,
  type RealtimeItem,
  RealtimeSession,
  tool,
} from '@openai/agents-realtime';
import OpenAI from 'openai';
import type { OpenAIRealtimeError } from 'openai/realtime/internal-base';
import { OpenAIRealtimeWS } from 'openai/realtime/ws';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  type HandshakeInfo,
  type LocalEngine,
  type LocalEngineOptions,
  parseSpeechTranscript,
  replyToAudio,
  replyToFunctionOutput,
  replyToText,
  startLocalEngine,
} from '../src/index.js';
import { createSynthesizer } from '../src/tts.js';
import { silence } from './helpers.js';

// OpenAI's own clients against the engine, directly (no gateway): openai-node's `OpenAIRealtimeWS` and
// openai-agents-js' `RealtimeSession` over its WebSocket transport. Each runs a text turn, a spoken turn with
// VAD, a function call answered by the client, an interruption with truncate, and items with client ids.

type Json = Record<string, unknown> & { type: string };

const API_KEY = 'sk-local-engine-sdk-test-0001';
const WAIT_MS = 10_000;
/** PCM16 24 kHz: bytes per millisecond. */
const BYTES_PER_MS = 48;
const INSTRUCTIONS = 'You are a terse test agent.';

/** Engines and SDK clients a test opened, closed after it (clients first). */
const cleanups: (() => void | Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** An engine that requires {@link API_KEY}; replies use the synthetic voice (fast, deterministic). */
async function startEngine(opts: LocalEngineOptions = {}): Promise<LocalEngine> {
  const engine = await startLocalEngine({ apiKey: API_KEY, tts: 'synthetic', ...opts });
  cleanups.push(() => engine.close());
  return engine;
}

/** Server events in the order an SDK handed them to the application, with waits that report what arrived. */
class EventLog {
  readonly events: Json[] = [];
  private cursor = 0;
  private wakers: (() => void)[] = [];

  readonly push = (event: { type: string }): void => {
    this.events.push(event as Json);
    for (const wake of this.wakers.splice(0)) wake();
  };

  /** Resolves once `check` holds, re-evaluated on every event. */
  async until(check: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + WAIT_MS;
    while (!check()) {
      const left = deadline - Date.now();
      if (left <= 0) {
        const seen = this.events.map((e) => e.type).filter((t) => !t.endsWith('.delta'));
        throw new Error(`timed out waiting for ${what}; got ${seen.join(', ')}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wakers.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The next unread event of `type` (events before it are skipped). */
  async next(type: string): Promise<Json> {
    let found: Json | undefined;
    await this.until(() => {
      while (this.cursor < this.events.length) {
        const event = this.events[this.cursor++]!;
        if (event.type === type) {
          found = event;
          return true;
        }
      }
      return false;
    }, type);
    return found!;
  }

  /** Unread events up to and including the next one of `type`. */
  async through(type: string): Promise<Json[]> {
    const start = this.cursor;
    await this.next(type);
    return this.events.slice(start, this.cursor);
  }

  /** Marks everything received so far as read. */
  catchUp(): void {
    this.cursor = this.events.length;
  }

  of(type: string): Json[] {
    return this.events.filter((e) => e.type === type);
  }
}

/** Event types without the delta streams, so sequences compare exactly. */
function frameOf(events: Json[]): string[] {
  return events.map((e) => e.type).filter((t) => !t.endsWith('.delta'));
}

/** Decoded PCM of a response's `response.output_audio.delta` events. */
function audioOf(events: Json[]): Buffer {
  return Buffer.concat(
    events
      .filter((e) => e.type === 'response.output_audio.delta')
      .map((e) => Buffer.from(String(e.delta), 'base64')),
  );
}

const field = <T>(event: Json | undefined, key: string): T => event?.[key] as T;

interface WireItem {
  id: string;
  type: string;
  status?: string;
  role?: string;
  call_id?: string;
  name?: string;
  arguments?: string;
  content?: { type: string; text?: string; transcript?: string | null; audio?: string }[];
}
interface WireResponse {
  id: string;
  status: string;
  status_details: { type: string; reason?: string } | null;
  output: WireItem[];
  usage: { total_tokens: number; output_tokens: number } | null;
}

let spoken: Promise<Buffer> | undefined;

/**
 * A spoken question as PCM16 24 kHz: espeak-ng through the engine's own synthesizer (its synthetic voice when
 * espeak-ng is missing), after 1 s of silence and followed by 1.2 s of it, so VAD sees exactly one turn.
 */
function spokenQuestion(): Promise<Buffer> {
  spoken ??= createSynthesizer('auto')
    .then((voice) => voice.synthesize('What is the weather like in Paris today', 'alloy', 1))
    .then((speech) => Buffer.concat([silence(1000), speech, silence(1200)]));
  return spoken;
}

/** 100 ms slices, the size real clients append. */
function chunks(pcm: Buffer, ms = 100): Buffer[] {
  const size = ms * BYTES_PER_MS;
  const out: Buffer[] = [];
  for (let i = 0; i < pcm.length; i += size) out.push(pcm.subarray(i, i + size));
  return out;
}

/** Every upgrade's handshake report, so tests can check how each SDK authenticated. */
function recordHandshakes(engine: LocalEngine): HandshakeInfo[] {
  const seen: HandshakeInfo[] = [];
  engine.events.on('handshake', (_id: string, info: HandshakeInfo) => seen.push(info));
  return seen;
}

/** Every client event the engine parsed, in order: what the SDK actually sent. */
function recordClientEvents(engine: LocalEngine): Json[] {
  const seen: Json[] = [];
  engine.events.on('client-event', (_id: string, event: Json) => seen.push(event));
  return seen;
}

// -----------------------------------------------------------------------------------------------------------
// openai-node: OpenAIRealtimeWS
// -----------------------------------------------------------------------------------------------------------

interface NodeClient {
  rt: OpenAIRealtimeWS;
  log: EventLog;
  errors: OpenAIRealtimeError[];
  closed: Promise<{ code: number; reason: string }>;
}

/**
 * openai-node as an application builds it: a client whose `baseURL` points at the engine. The SDK always
 * turns that into a `wss://` URL; the engine speaks plain `ws`, so the TCP connection is handed to `ws`
 * directly through the SDK's `options` (everything above TCP is the SDK's own: URL, headers, framing,
 * parsing).
 */
async function connectOpenAI(engine: LocalEngine, apiKey = API_KEY): Promise<NodeClient> {
  const client = new OpenAI({ apiKey, baseURL: `http://127.0.0.1:${engine.port}/v1` });
  const rt = new OpenAIRealtimeWS(
    { model: 'gpt-realtime', options: { createConnection: () => net.connect(engine.port, '127.0.0.1') } },
    client,
  );
  const log = new EventLog();
  const errors: OpenAIRealtimeError[] = [];
  rt.on('event', log.push);
  rt.on('error', (error) => errors.push(error));
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    rt.socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  cleanups.push(() => {
    if (rt.socket.readyState === rt.socket.OPEN) rt.close();
  });
  await once(rt.socket, 'open');
  return { rt, log, errors, closed };
}

/** `session.update` through the SDK, resolved with the engine's `session.updated`. */
async function updateSession(client: NodeClient, session: Record<string, unknown>): Promise<Json> {
  client.rt.send({ type: 'session.update', session: { type: 'realtime', ...session } } as never);
  return client.log.next('session.updated');
}

/** A user text message, then `response.create`. */
function askOpenAI(client: NodeClient, text: string): void {
  client.rt.send({
    type: 'conversation.item.create',
    item: { type: 'message', role: 'user', content: [{ type: 'input_text', text }] },
  });
  client.rt.send({ type: 'response.create' });
}

const WEATHER_TOOL = {
  type: 'function' as const,
  name: 'get_weather',
  description: 'Current weather for a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

describe('openai-node OpenAIRealtimeWS against the engine', () => {
  it('authenticates with its Bearer key and streams a text turn to response.done', async () => {
    const engine = await startEngine();
    const handshakes = recordHandshakes(engine);
    const client = await connectOpenAI(engine);
    expect(client.rt.url.toString()).toBe(`wss://127.0.0.1:${engine.port}/v1/realtime?model=gpt-realtime`);
    expect(field<{ model: string }>(await client.log.next('session.created'), 'session').model).toBe(
      'gpt-realtime',
    );
    expect(handshakes).toEqual([
      expect.objectContaining({ path: '/v1/realtime', auth: 'bearer', keyLast4: '0001', refused: null }),
    ]);

    await updateSession(client, { output_modalities: ['text'] });
    askOpenAI(client, 'Hello there');
    const events = await client.log.through('rate_limits.updated');
    expect(frameOf(events)).toEqual([
      'conversation.item.added',
      'conversation.item.done',
      'response.created',
      'response.output_item.added',
      'conversation.item.added',
      'response.content_part.added',
      'response.output_text.done',
      'response.content_part.done',
      'conversation.item.done',
      'response.output_item.done',
      'response.done',
      'rate_limits.updated',
    ]);
    const expected = replyToText('Hello there');
    const streamed = events.filter((e) => e.type === 'response.output_text.delta').map((e) => e.delta);
    expect(streamed.join('')).toBe(expected);
    expect(field(client.log.of('response.output_text.done')[0], 'text')).toBe(expected);
    const done = field<WireResponse>(client.log.of('response.done')[0], 'response');
    expect(done.status).toBe('completed');
    expect(done.output[0]?.content).toEqual([{ type: 'output_text', text: expected }]);
    expect(done.usage?.output_tokens).toBeGreaterThan(0);
    expect(client.errors).toEqual([]);
  });

  it('gets invalid_api_key and close 3000 with a wrong key', async () => {
    const client = await connectOpenAI(await startEngine(), 'sk-not-the-engine-key-9999');
    expect(await client.closed).toEqual({ code: 3000, reason: 'invalid_request_error.invalid_api_key' });
    expect(client.errors).toHaveLength(1);
    expect(client.errors[0]!.error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_api_key' });
    expect(client.log.of('session.created')).toEqual([]);
  });

  it('answers spoken audio through server VAD, with input transcription', async () => {
    const client = await connectOpenAI(await startEngine());
    await client.log.next('session.created');
    await updateSession(client, { audio: { input: { transcription: { model: 'whisper-1' } } } });
    for (const chunk of chunks(await spokenQuestion())) {
      client.rt.send({ type: 'input_audio_buffer.append', audio: chunk.toString('base64') });
    }
    const events = await client.log.through('rate_limits.updated');
    const frame = frameOf(events).filter((t) => !t.startsWith('conversation.item.input_audio_transcription'));
    expect(frame.slice(0, 6)).toEqual([
      'input_audio_buffer.speech_started',
      'input_audio_buffer.speech_stopped',
      'input_audio_buffer.committed',
      'conversation.item.added',
      'conversation.item.done',
      'response.created',
    ]);
    const [started, stopped, committed] = events;
    // The question starts 1 s in; audio_start_ms includes the 300 ms prefix padding.
    expect(started!.audio_start_ms).toBeGreaterThanOrEqual(650);
    expect(started!.audio_start_ms).toBeLessThanOrEqual(900);
    expect(stopped!.item_id).toBe(started!.item_id);
    expect(committed).toMatchObject({ item_id: started!.item_id, previous_item_id: null });

    const transcribed = events.find(
      (e) => e.type === 'conversation.item.input_audio_transcription.completed',
    );
    expect(transcribed).toMatchObject({ item_id: started!.item_id, usage: { type: 'duration' } });
    const heardMs = parseSpeechTranscript(String(transcribed!.transcript))!;
    expect(Math.abs(heardMs - Number(stopped!.audio_end_ms))).toBeLessThanOrEqual(100);
    const transcript = events.find((e) => e.type === 'response.output_audio_transcript.done')!.transcript;
    expect(transcript).toBe(replyToAudio(heardMs));
    expect(audioOf(events).length).toBeGreaterThan(500 * BYTES_PER_MS);
    const done = field<WireResponse>(events.at(-2), 'response');
    expect(done.status).toBe('completed');
    expect(done.output[0]?.content?.[0]).toEqual({ type: 'output_audio', transcript });
    expect(client.errors).toEqual([]);
  });

  it('calls a function tool, takes a client function_call_output, then answers with it', async () => {
    const client = await connectOpenAI(await startEngine());
    await client.log.next('session.created');
    await updateSession(client, { output_modalities: ['text'], tools: [WEATHER_TOOL], tool_choice: 'auto' });
    askOpenAI(client, 'Please call get_weather Paris.');
    const args = await client.log.next('response.function_call_arguments.done');
    expect(args).toMatchObject({ name: 'get_weather', arguments: '{"city":"Paris"}' });
    const call = field<WireResponse>(await client.log.next('response.done'), 'response').output[0]!;
    expect(call).toMatchObject({ type: 'function_call', status: 'completed', call_id: args.call_id });

    const output = JSON.stringify({ temp_c: 21, sky: 'clear' });
    client.rt.send({
      type: 'conversation.item.create',
      item: { id: 'out_weather_1', type: 'function_call_output', call_id: String(args.call_id), output },
    });
    client.rt.send({ type: 'response.create' });
    const added = await client.log.next('conversation.item.added');
    expect(added).toMatchObject({ previous_item_id: call.id, item: { id: 'out_weather_1' } });
    const answer = field<WireResponse>(await client.log.next('response.done'), 'response');
    expect(answer.output[0]).toMatchObject({
      type: 'message',
      content: [{ type: 'output_text', text: replyToFunctionOutput('get_weather', output) }],
    });
    expect(client.errors).toEqual([]);
  });

  it('cancels a reply mid-stream and truncates it at what was played', async () => {
    const client = await connectOpenAI(await startEngine({ pace: true }));
    await client.log.next('session.created');
    askOpenAI(client, 'Please tell me a long story about a dragon who lived in a castle by the sea.');
    const first = await client.log.next('response.output_audio.delta');
    await client.log.until(() => audioOf(client.log.events).length >= 500 * BYTES_PER_MS, '500 ms of audio');

    client.rt.send({ type: 'response.cancel' });
    const closing = await client.log.through('response.done');
    expect(frameOf(closing)).toEqual([
      'response.output_audio.done',
      'response.output_audio_transcript.done',
      'response.content_part.done',
      'conversation.item.done',
      'response.output_item.done',
      'response.done',
    ]);
    const cancelled = field<WireResponse>(closing.at(-1), 'response');
    expect(cancelled.status_details).toEqual({ type: 'cancelled', reason: 'client_cancelled' });
    expect(cancelled.output[0]).toMatchObject({ id: first.item_id, status: 'incomplete' });

    const playedMs = 400;
    client.rt.send({
      type: 'conversation.item.truncate',
      item_id: String(first.item_id),
      content_index: 0,
      audio_end_ms: playedMs,
    });
    expect(await client.log.next('conversation.item.truncated')).toMatchObject({
      item_id: first.item_id,
      content_index: 0,
      audio_end_ms: playedMs,
    });
    // The provider keeps the heard audio and deletes the transcript, so unheard words leave the context.
    client.rt.send({ type: 'conversation.item.retrieve', item_id: String(first.item_id) });
    const item = field<WireItem>(await client.log.next('conversation.item.retrieved'), 'item');
    expect(item.content?.[0]?.transcript).toBe('');
    expect(Buffer.from(String(item.content?.[0]?.audio), 'base64').length).toBe(playedMs * BYTES_PER_MS);
    expect(client.errors).toEqual([]);
  });

  it('keeps client-chosen item ids in every item event', async () => {
    const client = await connectOpenAI(await startEngine());
    await client.log.next('session.created');
    await updateSession(client, { output_modalities: ['text'] });
    const text = (t: string) => [{ type: 'input_text' as const, text: t }];
    client.rt.send({
      type: 'conversation.item.create',
      item: { id: 'msg_user_1', type: 'message', role: 'user', content: text('Hello') },
    });
    client.rt.send({
      type: 'conversation.item.create',
      previous_item_id: 'root',
      item: { id: 'msg_system_1', type: 'message', role: 'system', content: text('Be brief.') },
    });
    client.rt.send({
      type: 'conversation.item.create',
      previous_item_id: 'msg_user_1',
      item: { id: 'msg_user_2', type: 'message', role: 'user', content: text('How are you?') },
    });
    const itemEvents = () =>
      client.log.events.filter(
        (e) => e.type === 'conversation.item.added' || e.type === 'conversation.item.done',
      );
    await client.log.until(() => itemEvents().length === 6, 'three added/done pairs');
    const announced = itemEvents();
    client.log.catchUp();
    expect(announced.map((e) => [e.type, field<WireItem>(e, 'item').id, e.previous_item_id])).toEqual([
      ['conversation.item.added', 'msg_user_1', null],
      ['conversation.item.done', 'msg_user_1', null],
      ['conversation.item.added', 'msg_system_1', null],
      ['conversation.item.done', 'msg_system_1', null],
      ['conversation.item.added', 'msg_user_2', 'msg_user_1'],
      ['conversation.item.done', 'msg_user_2', 'msg_user_1'],
    ]);

    client.rt.send({ type: 'response.create' });
    const assistant = await client.log.next('conversation.item.added');
    expect(assistant.previous_item_id).toBe('msg_user_2');
    expect(field(await client.log.next('response.output_text.done'), 'text')).toBe(
      replyToText('How are you?'),
    );
    await client.log.next('response.done');

    client.rt.send({ type: 'conversation.item.retrieve', item_id: 'msg_system_1' });
    expect(field<WireItem>(await client.log.next('conversation.item.retrieved'), 'item')).toMatchObject({
      id: 'msg_system_1',
      role: 'system',
    });
    client.rt.send({ type: 'conversation.item.delete', item_id: 'msg_user_1' });
    expect(await client.log.next('conversation.item.deleted')).toMatchObject({ item_id: 'msg_user_1' });
    client.rt.send({
      type: 'conversation.item.create',
      event_id: 'evt_duplicate',
      item: { id: 'msg_user_2', type: 'message', role: 'user', content: text('Again') },
    });
    await client.log.next('error');
    expect(client.errors.map((e) => e.error)).toEqual([
      expect.objectContaining({ code: 'item_create_duplicate_item_id', event_id: 'evt_duplicate' }),
    ]);
  });
});

// -----------------------------------------------------------------------------------------------------------
// openai-agents-js: RealtimeSession over OpenAIRealtimeWebSocket
// -----------------------------------------------------------------------------------------------------------

interface AgentClient {
  session: RealtimeSession;
  log: EventLog;
  /** Errors the session reported (server `error` events and transport failures). */
  errors: unknown[];
  /** Final texts of finished responses (`agent_end`), in order. */
  replies: string[];
  /** Types of server events the transport did not recognise (failed its schemas and was passed on raw). */
  unrecognised(): string[];
}

/**
 * Counts what the transport re-emits under each server event's own name. It does that only for events its
 * schemas accept; one that fails them is downgraded to a generic event and silently ignored by the session.
 */
function countRecognised(transport: OpenAIRealtimeWebSocket): Map<string, number> {
  const counts = new Map<string, number>();
  const emit = transport.emit.bind(transport) as (name: string, ...args: unknown[]) => boolean;
  transport.emit = ((name: string, ...args: unknown[]) => {
    counts.set(name, (counts.get(name) ?? 0) + 1);
    return emit(name, ...args);
  }) as typeof transport.emit;
  return counts;
}

/**
 * A `RealtimeSession` on the WebSocket transport with the engine's URL, as the SDK documents for a custom
 * endpoint. No `model` option: the SDK then sends its own default model in `session.update`, which the
 * provider (and so the engine) accepts while keeping the URL's model. Resolves once the agent's session
 * config has been applied.
 */
async function connectAgent(engine: LocalEngine, agent: RealtimeAgent): Promise<AgentClient> {
  const transport = new OpenAIRealtimeWebSocket({ url: `${engine.url}?model=gpt-realtime` });
  const recognised = countRecognised(transport);
  const session = new RealtimeSession(agent, { transport, apiKey: API_KEY });
  const log = new EventLog();
  const errors: unknown[] = [];
  const replies: string[] = [];
  transport.on('*', log.push);
  session.on('error', (event) => errors.push(event.error));
  session.on('agent_end', (_context, _agent, text) => replies.push(text));
  cleanups.push(() => session.close());
  await session.connect({ apiKey: API_KEY });
  await log.until(
    () =>
      log
        .of('session.updated')
        .some((e) => field<{ instructions: string }>(e, 'session').instructions === INSTRUCTIONS),
    "session.updated with the agent's instructions",
  );
  const unrecognised = () =>
    [...new Set(log.events.map((e) => e.type))].filter(
      (type) => type !== 'error' && recognised.get(type) !== log.of(type).length,
    );
  return { session, log, errors, replies, unrecognised };
}

/** The session raised no error and the transport recognised every event the engine sent. */
function expectUnderstood(client: AgentClient): void {
  expect(client.errors).toEqual([]);
  expect(client.log.of('error')).toEqual([]);
  expect(client.unrecognised()).toEqual([]);
}

/** The agent every test runs: fixed instructions, and the given tools. */
function plainAgent(tools: RealtimeAgent['tools'] = []): RealtimeAgent {
  return new RealtimeAgent({ name: 'engine-test', instructions: INSTRUCTIONS, tools });
}

/** The SDK's history, reduced to what the tests compare. */
function historyOf(session: RealtimeSession): Record<string, unknown>[] {
  return session.history.map((item: RealtimeItem) => {
    if (item.type === 'message') return { id: item.itemId, role: item.role, content: item.content };
    if (item.type === 'function_call') {
      return { id: item.itemId, call: item.name, arguments: item.arguments, output: item.output };
    }
    return { id: item.itemId, type: item.type };
  });
}

describe('@openai/agents-realtime RealtimeSession against the engine', () => {
  it('is configured (its own default model is ignored) and runs a text turn', async () => {
    const engine = await startEngine();
    const handshakes = recordHandshakes(engine);
    const sent = recordClientEvents(engine);
    const client = await connectAgent(engine, plainAgent());
    expect(handshakes).toEqual([
      expect.objectContaining({ auth: 'bearer', keyLast4: '0001', refused: null }),
    ]);
    const configured = sent
      .filter((e) => e.type === 'session.update')
      .map((e) => field<Record<string, unknown>>(e, 'session'))
      .find((update) => 'model' in update);
    expect(configured?.model).toBe(DEFAULT_OPENAI_REALTIME_MODEL);
    const applied = field<Record<string, unknown>>(client.log.of('session.updated').at(-1), 'session');
    expect(applied).toMatchObject({
      model: 'gpt-realtime',
      instructions: INSTRUCTIONS,
      tracing: 'auto',
      audio: {
        input: {
          turn_detection: { type: 'semantic_vad' },
          transcription: { model: 'gpt-4o-mini-transcribe' },
        },
      },
    });

    let audioBytes = 0;
    client.session.on('audio', (event) => {
      audioBytes += event.data.byteLength;
    });
    client.session.sendMessage('Hello there');
    await client.log.until(() => client.replies.length === 1, 'agent_end');
    const expected = replyToText('Hello there');
    expect(client.replies).toEqual([expected]);
    expect(audioBytes).toBe(audioOf(client.log.events).length);
    expect(audioBytes).toBeGreaterThan(500 * BYTES_PER_MS);
    expect(client.session.usage.totalTokens).toBeGreaterThan(0);
    expect(historyOf(client.session)).toEqual([
      { id: expect.any(String), role: 'user', content: [{ type: 'input_text', text: 'Hello there' }] },
      {
        id: expect.any(String),
        role: 'assistant',
        content: [{ type: 'output_audio', transcript: expected, audio: null }],
      },
    ]);
    expectUnderstood(client);
  });

  it('answers spoken audio detected by (semantic) VAD, with the transcript in the history', async () => {
    const client = await connectAgent(await startEngine(), plainAgent());
    for (const chunk of chunks(await spokenQuestion())) {
      client.session.sendAudio(new Uint8Array(chunk).buffer);
    }
    await client.log.until(() => client.replies.length === 1, 'agent_end');
    const started = await client.log.next('input_audio_buffer.speech_started');
    expect(await client.log.next('input_audio_buffer.committed')).toMatchObject({ item_id: started.item_id });
    const transcribed = await client.log.next('conversation.item.input_audio_transcription.completed');
    const heardMs = parseSpeechTranscript(String(transcribed.transcript))!;
    expect(heardMs).toBeGreaterThan(2000);
    expect(client.replies).toEqual([replyToAudio(heardMs)]);
    // The SDK merges the transcript into its history item (and then retrieves the item to refresh it).
    await client.log.next('conversation.item.retrieved');
    const [user, assistant] = historyOf(client.session);
    expect(user).toEqual({
      id: started.item_id,
      role: 'user',
      content: [{ type: 'input_audio', transcript: transcribed.transcript, audio: null }],
    });
    expect(assistant).toMatchObject({ role: 'assistant', content: [{ transcript: replyToAudio(heardMs) }] });
    expectUnderstood(client);
  });

  it('runs a tool() the model calls and speaks the follow-up answer', async () => {
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
    const client = await connectAgent(await startEngine(), plainAgent([getWeather]));
    const toolEvents: string[] = [];
    client.session.on('agent_tool_start', (_c, _a, t) => toolEvents.push(`start ${t.name}`));
    client.session.on('agent_tool_end', (_c, _a, t, result) => toolEvents.push(`end ${t.name}: ${result}`));
    client.session.sendMessage('Please call get_weather Paris.');
    await client.log.until(() => client.replies.length === 2, 'the answer after the tool');

    expect(calls).toEqual(['Paris']);
    expect(toolEvents).toEqual(['start get_weather', 'end get_weather: Sunny, 21 C in Paris']);
    const answer = replyToFunctionOutput('get_weather', 'Sunny, 21 C in Paris');
    expect(client.replies).toEqual(['', answer]);
    const output = client.log
      .of('conversation.item.added')
      .find((e) => field<WireItem>(e, 'item').type === 'function_call_output');
    expect(field<WireItem & { output: string }>(output, 'item').output).toBe('Sunny, 21 C in Paris');
    expect(historyOf(client.session)).toEqual([
      expect.objectContaining({ role: 'user' }),
      {
        id: expect.any(String),
        call: 'get_weather',
        arguments: '{"city":"Paris"}',
        output: 'Sunny, 21 C in Paris',
      },
      expect.objectContaining({
        role: 'assistant',
        content: [expect.objectContaining({ transcript: answer })],
      }),
    ]);
    expectUnderstood(client);
  });

  it('interrupt() cancels the reply and truncates it at the audio played', async () => {
    const engine = await startEngine({ pace: true });
    const sent = recordClientEvents(engine);
    const client = await connectAgent(engine, plainAgent());
    let interrupted = 0;
    client.session.on('audio_interrupted', () => interrupted++);
    client.session.sendMessage(
      'Please tell me a long story about a dragon who lived in a castle by the sea.',
    );
    await client.log.until(() => audioOf(client.log.events).length >= 500 * BYTES_PER_MS, '500 ms of audio');
    client.session.interrupt();

    const done = field<WireResponse>(await client.log.next('response.done'), 'response');
    expect(done.status_details).toEqual({ type: 'cancelled', reason: 'client_cancelled' });
    const truncated = await client.log.next('conversation.item.truncated');
    const truncate = sent.find((e) => e.type === 'conversation.item.truncate')!;
    expect(
      sent.map((e) => e.type).filter((t) => t === 'response.cancel' || t === 'conversation.item.truncate'),
    ).toEqual(['response.cancel', 'conversation.item.truncate']);
    const playedMs = Number(truncate.audio_end_ms);
    expect(playedMs).toBeGreaterThan(300);
    expect(truncated).toMatchObject({
      item_id: done.output[0]!.id,
      content_index: 0,
      audio_end_ms: playedMs,
    });
    expect(interrupted).toBe(1);
    // The SDK retrieves the truncated item: the heard audio only, and no server-side transcript left.
    const item = field<WireItem>(await client.log.next('conversation.item.retrieved'), 'item');
    expect(item).toMatchObject({ id: done.output[0]!.id, status: 'incomplete' });
    expect(item.content?.[0]?.transcript).toBe('');
    expect(Buffer.from(String(item.content?.[0]?.audio), 'base64').length).toBe(playedMs * BYTES_PER_MS);
    expectUnderstood(client);
  });

  it('barge-in: VAD cancels the reply, the SDK truncates it, the speech is answered', async () => {
    const engine = await startEngine({ pace: true });
    const sent = recordClientEvents(engine);
    const client = await connectAgent(engine, plainAgent());
    client.session.sendMessage(
      'Please tell me a long story about a dragon who lived in a castle by the sea.',
    );
    await client.log.until(() => audioOf(client.log.events).length >= 500 * BYTES_PER_MS, '500 ms of audio');
    for (const chunk of chunks(await spokenQuestion())) {
      client.session.sendAudio(new Uint8Array(chunk).buffer);
    }

    await client.log.next('input_audio_buffer.speech_started');
    const cancelled = field<WireResponse>(await client.log.next('response.done'), 'response');
    expect(cancelled.status_details).toEqual({ type: 'cancelled', reason: 'turn_detected' });
    // interrupt_response is on, so the SDK leaves the cancel to the server and only truncates.
    const truncated = await client.log.next('conversation.item.truncated');
    expect(truncated).toMatchObject({ item_id: cancelled.output[0]!.id, content_index: 0 });
    expect(sent.filter((e) => e.type === 'response.cancel')).toEqual([]);
    await client.log.until(() => client.replies.length === 2, 'the answer to the speech');
    const heard = client.log.of('conversation.item.input_audio_transcription.completed')[0]!;
    expect(client.replies[1]).toBe(replyToAudio(parseSpeechTranscript(String(heard.transcript))!));
    const retrieved = client.log
      .of('conversation.item.retrieved')
      .map((e) => field<WireItem>(e, 'item'))
      .find((item) => item.id === cancelled.output[0]!.id);
    expect(retrieved?.content?.[0]?.transcript).toBe('');
    expect(Buffer.from(String(retrieved?.content?.[0]?.audio), 'base64').length).toBe(
      Number(truncated.audio_end_ms) * BYTES_PER_MS,
    );
    expectUnderstood(client);
  });

  it('keeps the ids updateHistory() gives new items, in the order it asks for', async () => {
    const client = await connectAgent(await startEngine(), plainAgent());
    const note = (id: string, role: 'user' | 'system', text: string): RealtimeItem =>
      role === 'system'
        ? { itemId: id, type: 'message', role, content: [{ type: 'input_text', text }] }
        : { itemId: id, type: 'message', role, status: 'completed', content: [{ type: 'input_text', text }] };
    client.session.updateHistory([note('item_note_1', 'user', 'My name is Ada.')]);
    await client.log.next('conversation.item.done');
    // An item placed before existing ones is created with previous_item_id "root".
    client.session.updateHistory((history) => [
      note('item_rules_0', 'system', 'Answer briefly.'),
      ...history,
    ]);
    const added = await client.log.next('conversation.item.added');
    expect(added).toMatchObject({ previous_item_id: null, item: { id: 'item_rules_0', role: 'system' } });
    await client.log.next('conversation.item.done');

    expect(client.log.of('conversation.item.added').map((e) => field<WireItem>(e, 'item').id)).toEqual([
      'item_note_1',
      'item_rules_0',
    ]);
    expect(client.log.of('conversation.item.done').map((e) => field<WireItem>(e, 'item').id)).toEqual([
      'item_note_1',
      'item_rules_0',
    ]);
    expect(historyOf(client.session).map((item) => item.id)).toEqual(['item_rules_0', 'item_note_1']);

    client.session.sendMessage('Hello');
    await client.log.until(() => client.replies.length === 1, 'agent_end');
    expect(
      historyOf(client.session)
        .map((item) => item.id)
        .slice(0, 2),
    ).toEqual(['item_rules_0', 'item_note_1']);
    const user = client.log.of('conversation.item.added')[2]!;
    expect(user.previous_item_id).toBe('item_note_1');
    expectUnderstood(client);
  });
});
