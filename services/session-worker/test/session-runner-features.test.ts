// SessionRunner behaviour beyond the frame path: session controls and their commit, precise errors, function
// calls across failover, user transcripts, texts during a reply, usage details. A real WebSocket server plays
// the provider; the bus is in memory; one test stores the config in a real SessionRecords on the test Redis.
import { createKeys, type HistoryItem, newSessionId, SessionRecords } from '@rtv/bus';
import { CloseCode, DEFAULT_SESSION_CONFIG, validateServerMessage } from '@rtv/protocol';
import { createTestRedis, type TestRedis, waitFor } from '@rtv/testing';
import { afterEach, describe, expect, it } from 'vitest';
import type { SessionRunner } from '../src/sessions/session-runner.js';
import { FakeProvider, metricValue } from './helpers/fake-provider.js';
import { gw1, type Harness, ofType, runnerHarness } from './helpers/runner-harness.js';

const runners: SessionRunner[] = [];
const providers: FakeProvider[] = [];
let redis: TestRedis | undefined;

afterEach(async () => {
  for (const r of runners.splice(0)) r.end('client_closed');
  for (const p of providers.splice(0)) await p.stop();
  await redis?.cleanup();
  redis = undefined;
});

async function started(
  opts: Parameters<typeof runnerHarness>[1] = {},
): Promise<{ h: Harness; provider: FakeProvider }> {
  const provider = await FakeProvider.start();
  providers.push(provider);
  const h = runnerHarness(provider.url, opts);
  runners.push(h.runner);
  await h.runner.start();
  // Every provider session starts with the worker's restore update: answer it.
  await provider.waitForEvents(1, 1);
  provider.send(1, { type: 'session.updated', session: {} });
  return { h, provider };
}

/** The provider events of `type` on connection `conn` once there are `n`. */
async function eventsOfType(provider: FakeProvider, type: string, n = 1, conn = 1) {
  return waitFor(
    () => {
      const events = provider.eventsOn(conn, type);
      return events.length >= n ? events : undefined;
    },
    { message: `${n} ${type} on connection ${conn}` },
  );
}

const text = (t: string, more: Record<string, unknown> = {}) => ({
  type: 'conversation.item.input',
  conversation_item_input: { type: 'input_text', text: t, ...more },
});

/** Every message the runner sent must be a valid public server message. */
function expectValid(h: Harness): void {
  for (const m of h.messages()) expect(validateServerMessage(m).ok, JSON.stringify(m)).toBe(true);
}

describe('session.update: controls, commit on session.updated, rejection keeps the config', () => {
  it('applies the update once the provider accepted it; temperature on GA gets a setting_not_applied notice', async () => {
    const { h, provider } = await started();
    h.send({
      type: 'session.update',
      event_id: 'cfg-1',
      session_update: { temperature: 0.9, speed: 1.2, turn_detection: { type: 'semantic_vad' } },
    });
    const sent = (await eventsOfType(provider, 'session.update', 2))[1]!.event;
    expect(sent.event_id).toMatch(/^rtv_ev_/);
    expect(sent.session).toMatchObject({
      audio: { output: { speed: 1.2 }, input: { turn_detection: { type: 'semantic_vad' } } },
    });
    expect(sent.session).not.toHaveProperty('temperature');
    expect(h.savedConfigs).toEqual([]);

    provider.send(1, { type: 'session.updated', session: {} });
    const msgs = await h.waitForMessage(ofType('session.update'));
    expect(msgs.map((m) => m.type)).toEqual(['session.notice', 'session.update']);
    expect(msgs[0]).toMatchObject({
      notice: { code: 'setting_not_applied', message: expect.stringContaining('temperature') },
    });
    expect(msgs[1]).toMatchObject({
      session: { speed: 1.2, temperature: 0.9, turn_detection: { type: 'semantic_vad' } },
    });
    expect(h.savedConfigs).toHaveLength(1);
    expect(h.runner.state.config.speed).toBe(1.2);
    expectValid(h);
  });

  it('beta: temperature applies without a notice', async () => {
    const { h, provider } = await started({ shape: 'beta' });
    h.send({ type: 'session.update', session_update: { temperature: 0.9 } });
    const events = await eventsOfType(provider, 'session.update', 2);
    expect(events[1]!.event.session).toMatchObject({ temperature: 0.9 });
    provider.send(1, { type: 'session.updated', session: {} });
    const msgs = await h.waitForMessage(ofType('session.update'));
    expect(msgs.map((m) => m.type)).toEqual(['session.update']);
  });

  it('a rejected update keeps the previous config, stored and in effect, and the next one builds on it', async () => {
    redis = await createTestRedis('runner-config');
    const records = new SessionRecords(redis.redis, createKeys(redis.prefix));
    const sid = newSessionId();
    await records.create(
      { sid, userId: 'user_1', gatewayId: 'gw-1', createdMs: Date.now() },
      {
        ...DEFAULT_SESSION_CONFIG,
      },
    );
    const writes: Array<Promise<void>> = [];
    const { h, provider } = await started({
      state: { sid },
      deps: { saveConfig: (s, c) => void writes.push(records.saveConfig(s, c)) },
    });
    h.send({
      type: 'session.update',
      event_id: 'cfg-bad',
      session_update: {
        voice: 'ash',
        tools: [{ type: 'function', name: 'f', parameters: { type: 'nope' } }],
      },
    });
    h.send({ type: 'session.update', event_id: 'cfg-good', session_update: { instructions: 'Be brief.' } });
    const [, bad] = await eventsOfType(provider, 'session.update', 2);
    // One update in flight at a time: the second waits for the provider's answer to the first.
    expect(provider.eventsOn(1, 'session.update')).toHaveLength(2);
    provider.send(1, {
      type: 'error',
      error: {
        type: 'invalid_request_error',
        code: 'invalid_value',
        message: 'Invalid schema for function f: internal detail',
        param: 'session.tools[0].parameters',
        event_id: bad!.event.event_id,
      },
    });
    const msgs = await h.waitForMessage(ofType('error'));
    expect(msgs.at(-1)).toEqual({
      type: 'error',
      error: {
        code: 'upstream_invalid_request',
        message: 'The speech provider rejected the value of session.tools[0].parameters',
        event_id: 'cfg-bad',
        param: 'session.tools[0].parameters',
      },
    });
    expect(h.runner.state.config.voice).toBe('alloy');
    expect(h.runner.state.config.tools).toBeUndefined();

    // The waiting update goes out now, built on the config in effect (not on the rejected one).
    const events = await eventsOfType(provider, 'session.update', 3);
    expect(events[2]!.event.session).toMatchObject({ audio: { output: { voice: 'alloy' } } });
    expect(events[2]!.event.session).not.toHaveProperty('tools');
    provider.send(1, { type: 'session.updated', session: {} });
    await h.waitForMessage(ofType('session.update'));
    await Promise.all(writes);
    const stored = (await records.read(sid))!.config;
    expect(stored).toMatchObject({ voice: 'alloy', instructions: 'Be brief.' });
    expect(stored).not.toHaveProperty('tools');
    expect(h.savedConfigs).toEqual([]);
    expectValid(h);
  });

  it('re-sends the update in flight after a provider reconnect, after the restore', async () => {
    const { h, provider } = await started();
    h.send({ type: 'session.update', session_update: { voice: 'sage' } });
    await eventsOfType(provider, 'session.update', 2);
    provider.drop(1);
    const events = await eventsOfType(provider, 'session.update', 2, 2);
    expect(events[0]!.event.event_id).toBe('rtv_restore');
    expect(events[0]!.event.session).toMatchObject({ audio: { output: { voice: 'alloy' } } });
    expect(events[1]!.event.session).toMatchObject({ audio: { output: { voice: 'sage' } } });
    provider.send(2, { type: 'session.updated', session: {} });
    provider.send(2, { type: 'session.updated', session: {} });
    const msgs = await h.waitForMessage(ofType('session.update'));
    expect(msgs.at(-1)).toMatchObject({ session: { voice: 'sage' } });
  });
});

describe('errors', () => {
  it('maps provider errors with the client event_id of the frame they answer, never the provider text', async () => {
    const { h, provider } = await started();
    h.send({ type: 'input_audio_buffer.commit', event_id: 'commit-1' });
    const [commit] = await eventsOfType(provider, 'input_audio_buffer.commit');
    provider.send(1, {
      type: 'error',
      error: {
        type: 'invalid_request_error',
        code: 'input_audio_buffer_commit_empty',
        message: 'buffer too small',
        param: null,
        event_id: commit!.event.event_id,
      },
    });
    provider.send(1, {
      type: 'error',
      error: {
        type: 'rate_limit_error',
        code: 'rate_limit_exceeded',
        message: 'slow down, key sk-1',
        param: null,
      },
    });
    provider.send(1, {
      type: 'error',
      error: {
        type: 'server_error',
        code: 'server_error',
        message: 'db-7 down',
        param: null,
        event_id: null,
      },
    });
    const msgs = await waitFor(() => {
      const m = h.messages().filter((x) => x.type === 'error');
      return m.length === 3 ? m : undefined;
    });
    expect(msgs.map((m) => (m.error as { code: string }).code)).toEqual([
      'invalid_message',
      'upstream_rate_limited',
      'upstream_server_error',
    ]);
    expect((msgs[0]!.error as { event_id?: string }).event_id).toBe('commit-1');
    expect(JSON.stringify(msgs)).not.toMatch(/sk-1|db-7/);
    expectValid(h);
  });

  it('session_expired is not an error: the session renews quietly with its context', async () => {
    const history: HistoryItem[] = [{ role: 'user', type: 'text', text: 'Earlier', at: 1 }];
    const { h, provider } = await started({ history });
    provider.send(1, {
      type: 'error',
      error: { type: 'invalid_request_error', code: 'session_expired', message: 'max duration', param: null },
    });
    provider.send(1, { type: 'response.output_text.delta', delta: 'x' });
    await h.waitForMessage(ofType('response.delta'));
    // The provider closes after session_expired; the worker reconnects and restores the history.
    provider.drop(1);
    const events = await provider.waitForEvents(2, 2);
    expect(events.map((e) => e.type)).toEqual(['session.update', 'conversation.item.create']);
    await new Promise((r) => setTimeout(r, 50));
    expect(h.messages().map((m) => m.type)).toEqual(['response.delta']);
  });

  it('a fatal provider failure ends the session with its code and a do-not-reconnect close', async () => {
    const provider = await FakeProvider.start({
      refuse: { type: 'invalid_request_error', code: 'invalid_model', closeCode: 4000 },
    });
    providers.push(provider);
    const h = runnerHarness(provider.url);
    runners.push(h.runner);
    await h.runner.start();
    expect(await h.runner.done).toBe('upstream_fatal');
    expect(h.messages()).toEqual([
      { type: 'error', error: { code: 'upstream_model_unavailable', message: expect.any(String) } },
    ]);
    expect(h.writer.lines(gw1).at(-1)).toMatchObject({ op: 'X', code: CloseCode.UpstreamMisconfigured });
  });
});

describe('function calls: announced once, results applied once, across failover', () => {
  const call = {
    type: 'response.function_call_arguments.done',
    response_id: 'resp_1',
    item_id: 'item_fc',
    output_index: 0,
    call_id: 'call_8Jq2',
    name: 'get_weather',
    arguments: '{"city":"Lisbon"}',
  };

  it('stores the call before announcing it, holding later events until then', async () => {
    let release!: () => void;
    const stored = new Promise<void>((r) => {
      release = r;
    });
    const history: HistoryItem[] = [];
    const { h, provider } = await started({
      history,
      deps: {
        appendHistory: async (_sid, item) => {
          history.push(item);
          if (item.type === 'function_call') await stored;
        },
      },
    });
    provider.send(1, { type: 'response.created', response: { id: 'resp_1' } });
    provider.send(1, call);
    provider.send(1, { type: 'response.done', response: { id: 'resp_1', status: 'completed' } });
    await waitFor(() => history.some((i) => i.type === 'function_call'), { message: 'call written' });
    await new Promise((r) => setTimeout(r, 30));
    expect(h.messages()).toEqual([]);
    release();
    const msgs = await h.waitForMessage(ofType('response.done'));
    expect(msgs.map((m) => m.type)).toEqual(['response.function_call', 'response.done']);
    expect(msgs[0]).toMatchObject({
      response: { call_id: 'call_8Jq2', name: 'get_weather', arguments: '{"city":"Lisbon"}' },
    });
    expect(history).toEqual([
      {
        type: 'function_call',
        call_id: 'call_8Jq2',
        name: 'get_weather',
        arguments: '{"city":"Lisbon"}',
        at: expect.any(Number),
      },
    ]);
    expectValid(h);
  });

  it('beta: the name comes from the function_call output item', async () => {
    const { h, provider } = await started({ shape: 'beta' });
    provider.send(1, {
      type: 'response.output_item.added',
      item: { id: 'item_fc', type: 'function_call', call_id: 'call_b', name: 'lookup', arguments: '' },
    });
    const { name: _name, ...betaDone } = { ...call, call_id: 'call_b' };
    provider.send(1, betaDone);
    const msgs = await h.waitForMessage(ofType('response.function_call'));
    expect(msgs[0]).toMatchObject({ response: { call_id: 'call_b', name: 'lookup' } });
  });

  it('a result goes to the provider once, then the follow-up response; respond:false only adds it', async () => {
    const { h, provider } = await started();
    provider.send(1, call);
    await h.waitForMessage(ofType('response.function_call'));
    const output = { type: 'function_call_output', call_id: 'call_8Jq2', output: '{"t":21}' };
    h.send({ type: 'conversation.item.input', event_id: 'out-1', conversation_item_input: output });
    h.send({ type: 'conversation.item.input', conversation_item_input: output });
    const [created] = await eventsOfType(provider, 'conversation.item.create');
    expect(created!.event.item).toEqual({
      type: 'function_call_output',
      call_id: 'call_8Jq2',
      output: '{"t":21}',
    });
    await eventsOfType(provider, 'response.create');
    h.send({
      type: 'conversation.item.input',
      conversation_item_input: {
        type: 'function_call_output',
        call_id: 'call_2',
        output: 'x',
        respond: false,
      },
    });
    await eventsOfType(provider, 'conversation.item.create', 2);
    await new Promise((r) => setTimeout(r, 30));
    expect(provider.eventsOn(1, 'conversation.item.create')).toHaveLength(2);
    expect(provider.eventsOn(1, 'response.create')).toHaveLength(1);
    expect(h.history.filter((i) => i.type === 'function_call_output').map((i) => i.call_id)).toEqual([
      'call_8Jq2',
      'call_2',
    ]);
  });

  it('a new owner restores calls and results, never re-announces a call, and skips a replayed result', async () => {
    const first = await started();
    first.provider.send(1, call);
    await first.h.waitForMessage(ofType('response.function_call'));
    const output = { type: 'function_call_output', call_id: 'call_8Jq2', output: '{"t":21}' };
    first.h.send({ type: 'conversation.item.input', conversation_item_input: output });
    await waitFor(() => first.h.history.length === 2, { message: 'result stored' });
    first.h.runner.end('lease_lost');

    // The next owner (epoch 2) reads the same history; the gateway replays the unacknowledged result frame.
    const second = await started({ history: first.h.history, state: { epoch: 2 } });
    const restored = await eventsOfType(second.provider, 'conversation.item.create', 2);
    expect(restored.map((e) => (e.event.item as { type: string }).type)).toEqual([
      'function_call',
      'function_call_output',
    ]);
    second.h.send({ type: 'conversation.item.input', conversation_item_input: output });
    second.provider.send(1, call);
    second.provider.send(1, { type: 'response.output_text.delta', delta: 'after' });
    await second.h.waitForMessage(ofType('response.delta'));
    expect(second.h.messages().map((m) => m.type)).toEqual(['session.notice', 'response.delta']);
    expect(second.provider.eventsOn(1, 'conversation.item.create')).toHaveLength(2);
    expect(second.provider.eventsOn(1, 'response.create')).toHaveLength(0);
    expect(second.h.history.filter((i) => i.type === 'function_call')).toHaveLength(1);
  });
});

describe('replays after a failover', () => {
  it('a text the previous owner already sent (its seq is in the history) is not answered again', async () => {
    const history: HistoryItem[] = [{ role: 'user', type: 'text', text: 'Hello', at: 1, seq: 4 }];
    const { h, provider } = await started({ history, state: { epoch: 2, lastSeq: 3 } });
    h.send(text('Hello')); // seq 4: replayed by the gateway
    h.send(text('Next')); // seq 5: new
    const creates = await eventsOfType(provider, 'conversation.item.create', 2);
    expect(creates.map((e) => itemText(e.event))).toEqual(['Hello', 'Next']); // the restore, then the new text
    await new Promise((r) => setTimeout(r, 30));
    expect(provider.eventsOn(1, 'response.create')).toHaveLength(1);
    expect(history.at(-1)).toMatchObject({ role: 'user', text: 'Next', seq: 5 });
    expect(
      await metricValue(h.registry, 'rtv_worker_dropped_frames_total', { reason: 'text_repeated' }),
    ).toBe(1);
  });
});

describe('user transcripts', () => {
  it('pieces, then the whole transcript, stored as the user turn before the reply to it', async () => {
    const { h, provider } = await started();
    provider.send(1, { type: 'input_audio_buffer.committed', item_id: 'item_u1', previous_item_id: null });
    provider.send(1, { type: 'response.created', response: { id: 'r1' } });
    provider.send(1, {
      type: 'conversation.item.input_audio_transcription.delta',
      item_id: 'item_u1',
      delta: 'Hel',
    });
    provider.send(1, { type: 'response.output_audio_transcript.delta', delta: 'Hi there' });
    provider.send(1, { type: 'response.done', response: { id: 'r1', status: 'completed' } });
    provider.send(1, {
      type: 'conversation.item.input_audio_transcription.completed',
      item_id: 'item_u1',
      content_index: 0,
      transcript: 'Hello',
    });
    const msgs = await h.waitForMessage(ofType('conversation.item.transcript', (m) => isFinal(m)));
    const transcripts = msgs.filter((m) => m.type === 'conversation.item.transcript');
    expect(transcripts.map((m) => m.conversation_item_transcript)).toEqual([
      { item_id: 'item_u1', role: 'user', text: 'Hel', final: false },
      { item_id: 'item_u1', role: 'user', text: 'Hello', final: true },
    ]);
    await waitFor(() => h.history.length === 2, { message: 'both turns stored' });
    expect(h.history.map((i) => (i.type === 'text' ? [i.role, i.text] : i.type))).toEqual([
      ['user', 'Hello'],
      ['assistant', 'Hi there'],
    ]);
    expectValid(h);
  });

  it('a failed transcription sends nothing and stops holding the history back', async () => {
    const { h, provider } = await started();
    provider.send(1, { type: 'input_audio_buffer.committed', item_id: 'item_u2' });
    provider.send(1, { type: 'response.output_text.delta', delta: 'Reply' });
    provider.send(1, { type: 'response.done', response: { id: 'r1', status: 'completed' } });
    provider.send(1, {
      type: 'conversation.item.input_audio_transcription.failed',
      item_id: 'item_u2',
      error: { type: 'transcription_error', code: 'audio_unintelligible', message: 'x' },
    });
    await waitFor(() => h.history.length === 1, { message: 'reply stored' });
    expect(h.messages().map((m) => m.type)).toEqual(['response.delta', 'response.done']);
    expect(
      await metricValue(h.registry, 'rtv_worker_upstream_errors_total', { code: 'transcription_failed' }),
    ).toBe(1);
  });
});

const isFinal = (m: Record<string, unknown>) =>
  (m.conversation_item_transcript as { final?: boolean } | undefined)?.final === true;

describe('texts during a reply', () => {
  it('queues a text sent during a reply and sends it after response.done, in order, without an error', async () => {
    const { h, provider } = await started();
    h.send(text('First'));
    await eventsOfType(provider, 'response.create');
    provider.send(1, { type: 'response.created', response: { id: 'r1' } });
    const firstSeq = h.runner.appliedSeq;
    h.send(text('Second'));
    h.send(text('Third'));
    await new Promise((r) => setTimeout(r, 30));
    expect(provider.eventsOn(1, 'response.create')).toHaveLength(1);
    // The waiting texts have not reached the provider: progress stops before them, so a new owner gets them.
    expect(h.runner.appliedSeq).toBe(firstSeq + 2);
    expect(h.runner.ackableSeq).toBe(firstSeq);
    provider.send(1, { type: 'response.output_text.delta', delta: 'One reply' });
    provider.send(1, { type: 'response.done', response: { id: 'r1', status: 'completed' } });
    const creates = await eventsOfType(provider, 'conversation.item.create', 2);
    expect(creates.map((e) => itemText(e.event))).toEqual(['First', 'Second']);
    expect(h.runner.ackableSeq).toBe(firstSeq + 1);
    provider.send(1, { type: 'response.created', response: { id: 'r2' } });
    provider.send(1, { type: 'response.done', response: { id: 'r2', status: 'completed' } });
    await eventsOfType(provider, 'conversation.item.create', 3);
    expect(h.runner.ackableSeq).toBe(h.runner.appliedSeq);
    expect(provider.eventsOn(1, 'conversation.item.create').map((e) => itemText(e.event))).toEqual([
      'First',
      'Second',
      'Third',
    ]);
    expect(h.messages().filter((m) => m.type === 'error')).toEqual([]);
  });

  it('beyond 32 waiting texts answers rate_limited', async () => {
    const { h, provider } = await started();
    h.send(text('Start'));
    await eventsOfType(provider, 'response.create');
    for (let i = 0; i < 33; i++) h.send(text(`t${i}`, {}));
    h.send({ ...text('over'), event_id: 'over-1' });
    const msgs = await h.waitForMessage(ofType('error'));
    expect(msgs.filter((m) => m.type === 'error').map((m) => m.error)).toEqual([
      expect.objectContaining({ code: 'rate_limited' }),
      expect.objectContaining({ code: 'rate_limited', event_id: 'over-1' }),
    ]);
  });

  it('interrupt: cancels the reply, truncates it at the audio sent so far, then answers the text', async () => {
    const { h, provider } = await started();
    h.send(text('Tell me a story'));
    await eventsOfType(provider, 'response.create');
    provider.send(1, { type: 'response.created', response: { id: 'r1' } });
    provider.send(1, {
      type: 'response.output_item.added',
      item: { id: 'item_a1', type: 'message', role: 'assistant' },
    });
    // 4800 bytes of PCM16 at 24 kHz: 100 ms.
    provider.send(1, { type: 'response.output_audio.delta', delta: Buffer.alloc(4800).toString('base64') });
    await h.waitForMessage(ofType('response.audio'));
    h.send(text('Actually, I meant Porto.', { interrupt: true }));
    const [cancel] = await eventsOfType(provider, 'response.cancel');
    const [truncate] = await eventsOfType(provider, 'conversation.item.truncate');
    expect(truncate!.event).toMatchObject({ item_id: 'item_a1', content_index: 0, audio_end_ms: 100 });
    expect(provider.eventsOn(1, 'conversation.item.create')).toHaveLength(1);
    // The cancel raced the end of the reply: not the client's business.
    provider.send(1, {
      type: 'error',
      error: {
        type: 'invalid_request_error',
        code: 'response_cancel_not_active',
        event_id: cancel!.event.event_id,
      },
    });
    provider.send(1, { type: 'response.done', response: { id: 'r1', status: 'cancelled' } });
    const creates = await eventsOfType(provider, 'conversation.item.create', 2);
    expect(itemText(creates[1]!.event)).toBe('Actually, I meant Porto.');
    expect(h.messages().filter((m) => m.type === 'error')).toEqual([]);
  });

  it('a response.create refused because a VAD reply started first is asked again after it, not surfaced', async () => {
    const { h, provider } = await started();
    h.send(text('Hi', {}));
    const [create] = await eventsOfType(provider, 'response.create');
    provider.send(1, { type: 'response.created', response: { id: 'r_vad' } });
    provider.send(1, {
      type: 'error',
      error: {
        type: 'invalid_request_error',
        code: 'conversation_already_has_active_response',
        event_id: create!.event.event_id,
      },
    });
    provider.send(1, { type: 'response.done', response: { id: 'r_vad', status: 'completed' } });
    await eventsOfType(provider, 'response.create', 2);
    expect(h.messages().filter((m) => m.type === 'error')).toEqual([]);
  });

  it("the client's own response.create during a reply gets conversation_busy with its event_id", async () => {
    const { h, provider } = await started();
    provider.send(1, { type: 'response.created', response: { id: 'r1' } });
    await waitFor(
      async () =>
        (await metricValue(h.registry, 'rtv_worker_upstream_events_received_total', {
          type: 'response.created',
        })) === 1,
    );
    h.send({ type: 'response.create', event_id: 'turn-7' });
    const msgs = await h.waitForMessage(ofType('error'));
    expect(msgs.at(-1)).toMatchObject({ error: { code: 'conversation_busy', event_id: 'turn-7' } });
    expect(provider.eventsOn(1, 'response.create')).toHaveLength(0);
  });
});

function itemText(event: Record<string, unknown>): string | undefined {
  return (event.item as { content?: Array<{ text?: string }> }).content?.[0]?.text;
}

describe('usage', () => {
  it('response.done carries the token details; tokens are counted by model, direction and kind', async () => {
    const { h, provider } = await started();
    provider.send(1, {
      type: 'response.done',
      response: {
        id: 'r1',
        status: 'completed',
        usage: {
          total_tokens: 320,
          input_tokens: 132,
          output_tokens: 188,
          input_token_details: { text_tokens: 59, audio_tokens: 73, image_tokens: 0, cached_tokens: 64 },
          output_token_details: { text_tokens: 41, audio_tokens: 147 },
        },
      },
    });
    const msgs = await h.waitForMessage(ofType('response.done'));
    expect(msgs[0]).toMatchObject({
      response: {
        usage: {
          input_tokens: 132,
          output_tokens: 188,
          input_token_details: { cached_tokens: 64, text_tokens: 59, audio_tokens: 73 },
          output_token_details: { text_tokens: 41, audio_tokens: 147 },
        },
        status: 'completed',
        id: 'r1',
      },
    });
    const m = (labels: Record<string, string>) =>
      metricValue(h.registry, 'rtv_worker_token_details_total', labels);
    expect(
      await metricValue(h.registry, 'rtv_worker_tokens_total', {
        model: 'gpt-realtime',
        direction: 'input',
        route: 'seed',
        policy_class: 'default',
      }),
    ).toBe(132);
    expect(await m({ model: 'gpt-realtime', direction: 'input', kind: 'cached' })).toBe(64);
    expect(await m({ model: 'gpt-realtime', direction: 'input', kind: 'audio' })).toBe(73);
    expect(await m({ model: 'gpt-realtime', direction: 'output', kind: 'text' })).toBe(41);
    expectValid(h);
  });
});
