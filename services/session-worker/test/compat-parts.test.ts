// The OpenAI-compatible route's parts on their own: the session patch merge, history ↔ provider items, the
// restore events, and the relay of provider events to the client, fed with provider event JSON as bytes.
import type { HistoryItem } from '@rtv/bus';
import type { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { CompatEventRelay } from '../src/compat/compat-event-relay.js';
import {
  buildRestoreItems,
  buildRestoreSession,
  historyItemOf,
  INTERNAL_EVENT_PREFIX,
  isUserAudioItem,
  providerItemOf,
} from '../src/compat/compat-restore.js';
import { detectsTurns, mergeSessionPatch, transcribesInput } from '../src/compat/session-patch.js';
import { createWorkerMetrics } from '../src/metrics.js';
import { HistoryLog } from '../src/sessions/history-log.js';
import { eventHead } from '../src/upstream/provider-events.js';
import { freshRegistry, metricValue, silentLogger } from './helpers/fake-provider.js';

type Json = Record<string, unknown>;

describe('mergeSessionPatch', () => {
  it('merges nested objects key by key and leaves both inputs unchanged', () => {
    const base = {
      instructions: 'Be brief.',
      audio: { input: { format: { type: 'audio/pcm', rate: 24000 } }, output: { voice: 'alloy' } },
    };
    const patch = { audio: { output: { voice: 'marin', speed: 1.1 } }, max_output_tokens: 200 };
    const baseBefore = structuredClone(base);
    const patchBefore = structuredClone(patch);
    const merged = mergeSessionPatch(base, patch);
    expect(merged).toEqual({
      instructions: 'Be brief.',
      audio: {
        input: { format: { type: 'audio/pcm', rate: 24000 } },
        output: { voice: 'marin', speed: 1.1 },
      },
      max_output_tokens: 200,
    });
    expect(base).toEqual(baseBefore);
    expect(patch).toEqual(patchBefore);
    expect(merged).not.toBe(base);
    expect(merged.audio).not.toBe(base.audio);
  });

  it('replaces arrays, null and scalars whole, and an object replaces a scalar', () => {
    const base = {
      tools: [
        { type: 'function', name: 'a' },
        { type: 'function', name: 'b' },
      ],
      audio: { input: { turn_detection: { type: 'server_vad', threshold: 0.5 } } },
      tool_choice: 'auto',
    };
    const merged = mergeSessionPatch(base, {
      tools: [{ type: 'function', name: 'c' }],
      audio: { input: { turn_detection: null } },
      tool_choice: { type: 'function', name: 'c' },
    });
    expect(merged).toEqual({
      tools: [{ type: 'function', name: 'c' }],
      audio: { input: { turn_detection: null } },
      tool_choice: { type: 'function', name: 'c' },
    });
    // And null back to an object: the object is taken as it is, not merged into null.
    const again = mergeSessionPatch(merged, {
      audio: { input: { turn_detection: { type: 'semantic_vad' } } },
    });
    expect(again.audio).toEqual({ input: { turn_detection: { type: 'semantic_vad' } } });
  });
});

describe('transcribesInput and detectsTurns', () => {
  it('transcription only when audio.input.transcription is an object', () => {
    expect(transcribesInput({})).toBe(false);
    expect(transcribesInput({ audio: { input: { transcription: null } } })).toBe(false);
    expect(transcribesInput({ audio: { input: {} } })).toBe(false);
    expect(transcribesInput({ audio: 'x' })).toBe(false);
    expect(transcribesInput({ audio: { input: { transcription: { model: 'whisper-1' } } } })).toBe(true);
  });

  it('turn detection unless audio.input.turn_detection is null (the GA default is server VAD)', () => {
    expect(detectsTurns({})).toBe(true);
    expect(detectsTurns({ audio: { output: { voice: 'marin' } } })).toBe(true);
    expect(detectsTurns({ audio: { input: { turn_detection: { type: 'server_vad' } } } })).toBe(true);
    expect(detectsTurns({ audio: { input: { turn_detection: null } } })).toBe(false);
  });
});

describe('history items ↔ provider items', () => {
  const history: HistoryItem[] = [
    { role: 'user', type: 'text', text: 'What is the weather?', at: 1, item_id: 'item_user_1' },
    {
      type: 'function_call',
      call_id: 'call_1',
      name: 'get_weather',
      arguments: '{"city":"Paris"}',
      at: 2,
      item_id: 'item_call_1',
    },
    {
      type: 'function_call_output',
      call_id: 'call_1',
      output: '{"temp_c":21}',
      at: 3,
      item_id: 'item_out_1',
    },
    { role: 'assistant', type: 'text', text: 'It is 21 degrees.', at: 4, item_id: 'item_asst_1' },
  ];

  it('a history item becomes the provider item under the same id, and back', () => {
    expect(history.map(providerItemOf)).toEqual([
      {
        id: 'item_user_1',
        type: 'message',
        role: 'user',
        content: [{ type: 'input_text', text: 'What is the weather?' }],
      },
      {
        id: 'item_call_1',
        type: 'function_call',
        call_id: 'call_1',
        name: 'get_weather',
        arguments: '{"city":"Paris"}',
      },
      { id: 'item_out_1', type: 'function_call_output', call_id: 'call_1', output: '{"temp_c":21}' },
      {
        id: 'item_asst_1',
        type: 'message',
        role: 'assistant',
        content: [{ type: 'output_text', text: 'It is 21 degrees.' }],
      },
    ]);
    expect(history.map((item) => historyItemOf(providerItemOf(item), item.at))).toEqual(history);
  });

  it('an item kept without an id is restored without one (the provider names it)', () => {
    const item: HistoryItem = { role: 'user', type: 'text', text: 'Hi', at: 5 };
    const provider = providerItemOf(item);
    expect(provider).not.toHaveProperty('id');
    expect(historyItemOf(provider, 5)).toEqual(item);
  });

  it('keeps the words of a finished provider item: texts and audio transcripts, in order', () => {
    const assistantAudio = {
      id: 'item_a',
      type: 'message',
      role: 'assistant',
      status: 'completed',
      content: [{ type: 'output_audio', transcript: 'Hello there.' }],
    };
    expect(historyItemOf(assistantAudio, 7)).toEqual({
      role: 'assistant',
      type: 'text',
      text: 'Hello there.',
      at: 7,
      item_id: 'item_a',
    });
    const mixed = {
      id: 'item_m',
      type: 'message',
      role: 'user',
      content: [
        { type: 'input_text', text: 'One, ' },
        { type: 'input_audio', transcript: 'two' },
      ],
    };
    expect(historyItemOf(mixed, 8)).toMatchObject({ role: 'user', text: 'One, two', item_id: 'item_m' });
  });

  it('skips what there is nothing to keep of: empty messages, speech without a transcript, system items', () => {
    const message = (role: string, content: unknown): Json => ({ id: 'i', type: 'message', role, content });
    expect(historyItemOf(message('assistant', []), 1)).toBeUndefined();
    expect(historyItemOf(message('assistant', [{ type: 'output_text', text: '  \n ' }]), 1)).toBeUndefined();
    expect(historyItemOf(message('user', [{ type: 'input_audio', transcript: null }]), 1)).toBeUndefined();
    expect(historyItemOf(message('system', [{ type: 'input_text', text: 'rules' }]), 1)).toBeUndefined();
    expect(historyItemOf(message('assistant', undefined), 1)).toBeUndefined();
    expect(historyItemOf({ type: 'function_call', name: 'f' }, 1)).toBeUndefined();
  });

  it('a function call without a name or arguments is kept with safe defaults', () => {
    expect(historyItemOf({ type: 'function_call', call_id: 'call_x' }, 9)).toEqual({
      type: 'function_call',
      call_id: 'call_x',
      name: 'unknown',
      arguments: '',
      at: 9,
    });
  });

  it('recognises a user message carrying audio (its words come later)', () => {
    expect(
      isUserAudioItem({
        type: 'message',
        role: 'user',
        content: [{ type: 'input_audio', transcript: null }],
      }),
    ).toBe(true);
    expect(
      isUserAudioItem({ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'x' }] }),
    ).toBe(false);
    expect(isUserAudioItem({ type: 'message', role: 'assistant', content: [{ type: 'output_audio' }] })).toBe(
      false,
    );
  });
});

describe('restore events', () => {
  it('the kept session goes back as a session.update of type realtime, tagged as the owner’s own', () => {
    const event = JSON.parse(buildRestoreSession({ instructions: 'Be brief.' }, 3));
    expect(event).toEqual({
      type: 'session.update',
      event_id: `${INTERNAL_EVENT_PREFIX}session_3`,
      session: { type: 'realtime', instructions: 'Be brief.' },
    });
  });

  it('restorable items in order, each a conversation.item.create with an internal event id', () => {
    const history: HistoryItem[] = [
      { role: 'user', type: 'text', text: 'Call it', at: 1, item_id: 'item_u' },
      { type: 'function_call', call_id: 'call_1', name: 'f', arguments: '{}', at: 2, item_id: 'item_c' },
      // A result for a call the history does not hold, and a second result for call_1: not restorable.
      { type: 'function_call_output', call_id: 'call_gone', output: 'x', at: 3 },
      { type: 'function_call_output', call_id: 'call_1', output: 'ok', at: 4, item_id: 'item_o' },
      { type: 'function_call_output', call_id: 'call_1', output: 'again', at: 5 },
      { role: 'assistant', type: 'text', text: 'Done.', at: 6, item_id: 'item_a' },
    ];
    const events = buildRestoreItems(history, 2).map((raw) => JSON.parse(raw) as Json);
    expect(events.map((e) => e.event_id)).toEqual([
      `${INTERNAL_EVENT_PREFIX}item_2_0`,
      `${INTERNAL_EVENT_PREFIX}item_2_1`,
      `${INTERNAL_EVENT_PREFIX}item_2_2`,
      `${INTERNAL_EVENT_PREFIX}item_2_3`,
    ]);
    expect(events.every((e) => e.type === 'conversation.item.create')).toBe(true);
    expect(events.map((e) => (e.item as Json).id)).toEqual(['item_u', 'item_c', 'item_o', 'item_a']);
    expect((events[2]!.item as Json).output).toBe('ok');
  });
});

/** A relay wired to recording callbacks, a real HistoryLog and real worker metrics. */
function relayHarness(opts: { createdSent?: boolean; transcribes?: boolean } = {}) {
  const registry: Registry = freshRegistry();
  const metrics = createWorkerMetrics(registry);
  const emitted: Array<string | Buffer> = [];
  const written: HistoryItem[] = [];
  const refused: string[] = [];
  const started: string[] = [];
  const done: number[] = [];
  let applied = 0;
  const pendingIds = new Set<string>();
  const relay = new CompatEventRelay(
    {
      sid: 'sess_relay',
      model: 'gpt-realtime',
      userClass: 'gold',
      metrics,
      log: silentLogger(),
      audioDeltaEvents: metrics.upstreamEvents.labels({ type: 'response.output_audio.delta' }),
      emit: (payload) => emitted.push(payload),
      history: new HistoryLog(async (item) => {
        written.push(item);
      }),
      transcribes: () => opts.transcribes ?? false,
      clientUpdateApplied: () => applied++,
      clientUpdateRefused: (eventId) => {
        refused.push(eventId);
        if (!pendingIds.delete(eventId)) return undefined;
        return eventId.startsWith('rtv_update_') ? 'tagged' : 'client';
      },
      responseStarted: (id) => started.push(id),
      responseDone: (tokens) => done.push(tokens),
    },
    opts.createdSent ?? false,
  );
  /** Hands the relay one provider event, as bytes the way the provider socket delivers it. */
  const feed = (event: Json | string): Buffer => {
    const raw = Buffer.from(typeof event === 'string' ? event : JSON.stringify(event));
    relay.handle(raw, eventHead(raw));
    return raw;
  };
  /** What reached the client, parsed. */
  const sent = () => emitted.map((p) => JSON.parse(p.toString()) as Json);
  return {
    relay,
    registry,
    emitted,
    written,
    refused,
    started,
    done,
    pendingIds,
    applied: () => applied,
    feed,
    sent,
  };
}

const sessionCreated = (n: number) => ({
  type: 'session.created',
  event_id: `event_created_${n}`,
  session: { type: 'realtime', id: `sess_provider_${n}`, model: 'gpt-realtime' },
});

const itemDone = (item: Json) => ({
  type: 'conversation.item.done',
  event_id: `event_done_${String(item.id)}`,
  previous_item_id: null,
  item,
});

const userText = (id: string, text: string) => ({
  id,
  type: 'message',
  role: 'user',
  status: 'completed',
  content: [{ type: 'input_text', text }],
});

const assistantAudio = (id: string, transcript: string) => ({
  id,
  type: 'message',
  role: 'assistant',
  status: 'completed',
  content: [{ type: 'output_audio', transcript }],
});

const userAudio = (id: string) => ({
  id,
  type: 'message',
  role: 'user',
  status: 'completed',
  content: [{ type: 'input_audio', transcript: null }],
});

describe('CompatEventRelay: passing events through', () => {
  it('an audio delta takes the fast path: the same bytes go out, not parsed nor re-serialised', async () => {
    const h = relayHarness();
    // Spacing no serialiser writes: a parse and stringify would not give these bytes back.
    const text =
      '{"type":"response.output_audio.delta", "event_id" : "event_1","response_id":"resp_1","item_id":"item_1","output_index":0,"content_index":0,"delta":"AAECAwQF\\u002B"}';
    const raw = h.feed(text);
    expect(h.emitted).toHaveLength(1);
    expect(h.emitted[0]).toBe(raw);
    expect(Buffer.from(h.emitted[0]!).toString()).toBe(text);
    expect(
      await metricValue(h.registry, 'rtv_worker_upstream_events_received_total', {
        type: 'response.output_audio.delta',
      }),
    ).toBe(1);
    expect(await metricValue(h.registry, 'rtv_worker_upstream_received_bytes_total')).toBe(raw.length);
  });

  it('events it does not read go out as the provider wrote them', () => {
    const h = relayHarness();
    const raw = h.feed(
      '{"type":"response.output_text.delta","event_id":"event_2","response_id":"resp_1","item_id":"item_1","output_index":0,"content_index":0,"delta":"Hel"}',
    );
    const rateLimits = h.feed({ type: 'rate_limits.updated', event_id: 'event_3', rate_limits: [] });
    expect(h.emitted).toEqual([raw, rateLimits]);
    expect(h.emitted[0]).toBe(raw);
  });

  it('an event with a raw newline is re-serialised, so no newline reaches a bus line', async () => {
    const h = relayHarness();
    h.feed('{\n  "type": "response.output_text.delta",\n  "delta": "line one\\nline two"\n}');
    h.feed('{"type":"response.output_audio.delta","item_id":"i",\n"delta":"AAAA"}');
    // A raw newline inside a string is not JSON at all: dropped and counted, never sent.
    h.feed('{"type":"response.output_audio.delta","delta":"AA\nAA"}');
    expect(h.emitted).toHaveLength(2);
    for (const payload of h.emitted) expect(Buffer.from(payload).includes(0x0a)).toBe(false);
    expect(h.sent()).toEqual([
      { type: 'response.output_text.delta', delta: 'line one\nline two' },
      { type: 'response.output_audio.delta', item_id: 'i', delta: 'AAAA' },
    ]);
    expect(
      await metricValue(h.registry, 'rtv_worker_upstream_errors_total', { code: 'unparseable_event' }),
    ).toBe(1);
  });

  it('forwards the first session.created only; a takeover forwards none', () => {
    const h = relayHarness();
    const first = h.feed(sessionCreated(1));
    h.feed(sessionCreated(2));
    expect(h.emitted).toEqual([first]);

    const takeover = relayHarness({ createdSent: true });
    takeover.feed(sessionCreated(3));
    expect(takeover.emitted).toEqual([]);
  });
});

describe('CompatEventRelay: the owner’s restore is invisible', () => {
  it('drops the answers to an internal session.update; the next session.updated is the client’s', () => {
    const h = relayHarness({ createdSent: true });
    h.relay.expectRestore(1, []);
    h.feed({ type: 'session.updated', event_id: 'event_u1', session: { type: 'realtime' } });
    expect(h.emitted).toEqual([]);
    expect(h.applied()).toBe(0);
    const client = h.feed({ type: 'session.updated', event_id: 'event_u2', session: { type: 'realtime' } });
    expect(h.emitted).toEqual([client]);
    expect(h.applied()).toBe(1);
  });

  it('drops the item events of restored items and keeps them out of the history; other items pass', async () => {
    const h = relayHarness({ createdSent: true });
    h.relay.expectRestore(0, ['item_old_1', 'item_old_2']);
    h.feed({
      type: 'conversation.item.added',
      previous_item_id: null,
      item: userText('item_old_1', 'Earlier'),
    });
    h.feed(itemDone(userText('item_old_1', 'Earlier')));
    h.feed({ type: 'conversation.item.created', item: assistantAudio('item_old_2', 'Reply') });
    h.feed(itemDone(assistantAudio('item_old_2', 'Reply')));
    expect(h.emitted).toEqual([]);
    const added = h.feed({ type: 'conversation.item.added', item: userText('item_new', 'Now') });
    const done = h.feed(itemDone(userText('item_new', 'Now')));
    expect(h.emitted).toEqual([added, done]);
    await Promise.resolve();
    expect(h.written.map((i) => i.item_id)).toEqual(['item_new']);
    // A restored item is forgotten once done: the same id later is the conversation's again.
    const later = h.feed(itemDone(userText('item_old_1', 'Earlier')));
    expect(h.emitted.at(-1)).toBe(later);
  });

  it('drops the provider’s refusal of an internal event; a refused restore update frees the next session.updated', async () => {
    const h = relayHarness({ createdSent: true });
    h.relay.expectRestore(1, ['item_old']);
    const error = (eventId: string | null, code = 'invalid_value') => ({
      type: 'error',
      event_id: 'event_err',
      error: { type: 'invalid_request_error', code, message: 'no', param: null, event_id: eventId },
    });
    h.feed(error(`${INTERNAL_EVENT_PREFIX}session_1`));
    h.feed(error(`${INTERNAL_EVENT_PREFIX}item_1_0`, 'item_create_duplicate_item_id'));
    expect(h.emitted).toEqual([]);
    expect(h.refused).toEqual([]);
    // The restore update was refused, so this session.updated answers the client.
    const updated = h.feed({ type: 'session.updated', session: {} });
    expect(h.emitted).toEqual([updated]);
    expect(h.applied()).toBe(1);
    expect(await metricValue(h.registry, 'rtv_worker_upstream_errors_total', { code: 'invalid_value' })).toBe(
      1,
    );
  });

  it('forwards the provider’s refusal of a client event and tells the runner which event it was', () => {
    const h = relayHarness();
    h.pendingIds.add('evt_client_update');
    const refusal = h.feed({
      type: 'error',
      event_id: 'event_err2',
      error: {
        type: 'invalid_request_error',
        code: 'unknown_parameter',
        message: "Unknown parameter: 'session.temperature'.",
        param: 'session.temperature',
        event_id: 'evt_client_update',
      },
    });
    const anonymous = h.feed({
      type: 'error',
      event_id: 'event_err3',
      error: { type: 'server_error', code: null, message: 'oops', param: null, event_id: null },
    });
    expect(h.emitted).toEqual([refusal, anonymous]);
    expect(h.refused).toEqual(['evt_client_update']);
    expect(h.pendingIds.size).toBe(0);
  });
});

describe('CompatEventRelay: what the owner keeps', () => {
  it('records finished items in the history in order, with their ids', async () => {
    const h = relayHarness();
    h.feed(itemDone(userText('item_1', 'Call the weather')));
    h.feed(
      itemDone({
        id: 'item_2',
        type: 'function_call',
        status: 'completed',
        call_id: 'call_1',
        name: 'get_weather',
        arguments: '{"city":"Paris"}',
      }),
    );
    h.feed(itemDone({ id: 'item_3', type: 'function_call_output', call_id: 'call_1', output: '21' }));
    h.feed(itemDone(assistantAudio('item_4', 'It is 21.')));
    h.feed(itemDone({ id: 'item_5', type: 'message', role: 'assistant', content: [] }));
    await Promise.resolve();
    expect(h.written).toEqual([
      { role: 'user', type: 'text', text: 'Call the weather', at: expect.any(Number), item_id: 'item_1' },
      {
        type: 'function_call',
        call_id: 'call_1',
        name: 'get_weather',
        arguments: '{"city":"Paris"}',
        at: expect.any(Number),
        item_id: 'item_2',
      },
      {
        type: 'function_call_output',
        call_id: 'call_1',
        output: '21',
        at: expect.any(Number),
        item_id: 'item_3',
      },
      { role: 'assistant', type: 'text', text: 'It is 21.', at: expect.any(Number), item_id: 'item_4' },
    ]);
    expect(h.emitted).toHaveLength(5);
  });

  it('a user audio item waits for its transcript: the reply after it is written after it', async () => {
    const h = relayHarness({ transcribes: true });
    h.feed(itemDone(userAudio('item_speech')));
    h.feed(itemDone(assistantAudio('item_reply', 'I heard you.')));
    await Promise.resolve();
    expect(h.written).toEqual([]);
    h.feed({
      type: 'conversation.item.input_audio_transcription.completed',
      item_id: 'item_speech',
      content_index: 0,
      transcript: 'Hello there',
    });
    await Promise.resolve();
    expect(h.written.map((i) => [i.item_id, i.type === 'text' ? i.text : i.type])).toEqual([
      ['item_speech', 'Hello there'],
      ['item_reply', 'I heard you.'],
    ]);
  });

  it('a failed transcription releases the wait; without transcription nothing is waited for', async () => {
    const h = relayHarness({ transcribes: true });
    h.feed(itemDone(userAudio('item_speech')));
    h.feed(itemDone(assistantAudio('item_reply', 'Sorry?')));
    h.feed({
      type: 'conversation.item.input_audio_transcription.failed',
      item_id: 'item_speech',
      content_index: 0,
      error: { type: 'transcription_error', code: 'audio_unintelligible', message: 'x' },
    });
    await Promise.resolve();
    expect(h.written.map((i) => i.item_id)).toEqual(['item_reply']);

    const off = relayHarness({ transcribes: false });
    off.feed(itemDone(userAudio('item_speech')));
    off.feed(itemDone(assistantAudio('item_reply', 'Hi.')));
    await Promise.resolve();
    expect(off.written.map((i) => i.item_id)).toEqual(['item_reply']);
  });

  it('response.created and response.done are noted; the budget is charged total_tokens, metrics by class', async () => {
    const h = relayHarness();
    h.feed({ type: 'response.created', event_id: 'e1', response: { id: 'resp_1', status: 'in_progress' } });
    h.feed({
      type: 'response.done',
      event_id: 'e2',
      response: {
        id: 'resp_1',
        status: 'completed',
        usage: { total_tokens: 130, input_tokens: 100, output_tokens: 20 },
      },
    });
    // Without total_tokens, input + output is charged.
    h.feed({
      type: 'response.done',
      response: { id: 'resp_2', status: 'cancelled', usage: { input_tokens: 7, output_tokens: 5 } },
    });
    h.feed({ type: 'response.done', response: { id: 'resp_3', status: 'failed', usage: null } });
    expect(h.started).toEqual(['resp_1']);
    expect(h.done).toEqual([130, 12, 0]);
    expect(h.emitted).toHaveLength(4);
    const labels = { model: 'gpt-realtime', route: 'openai', policy_class: 'gold' };
    expect(await metricValue(h.registry, 'rtv_worker_tokens_total', { ...labels, direction: 'input' })).toBe(
      107,
    );
    expect(await metricValue(h.registry, 'rtv_worker_tokens_total', { ...labels, direction: 'output' })).toBe(
      25,
    );
    expect(await metricValue(h.registry, 'rtv_worker_turns_total', { status: 'completed' })).toBe(1);
    expect(await metricValue(h.registry, 'rtv_worker_turns_total', { status: 'cancelled' })).toBe(1);
  });

  it('speech during a response counts as a barge-in', async () => {
    const h = relayHarness();
    h.feed({ type: 'input_audio_buffer.speech_started', audio_start_ms: 0, item_id: 'item_a' });
    h.feed({ type: 'input_audio_buffer.speech_stopped', audio_end_ms: 900, item_id: 'item_a' });
    h.feed({ type: 'response.created', response: { id: 'resp_1' } });
    h.feed({ type: 'response.output_audio.delta', response_id: 'resp_1', delta: 'AAAA' });
    h.feed({ type: 'input_audio_buffer.speech_started', audio_start_ms: 1500, item_id: 'item_b' });
    expect(h.emitted).toHaveLength(5);
    expect(await metricValue(h.registry, 'rtv_worker_speech_started_total')).toBe(2);
    expect(await metricValue(h.registry, 'rtv_worker_barge_ins_total')).toBe(1);
  });
});
