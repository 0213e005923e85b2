import type { ServerMessage } from '@rtv/client';
import { describe, expect, it } from 'vitest';
import {
  EMPTY_TRANSCRIPT,
  MAX_ENTRIES,
  MAX_TOOL_TEXT,
  type Transcript,
  type TranscriptAction,
  transcriptReducer,
} from '../src/transcript.js';

const ts = 1_712_345_678.1;
const server = (message: ServerMessage): TranscriptAction => ({ type: 'server', message });
const delta = (content: string) =>
  server({ type: 'response.delta', response: { delta: { content }, timestamp: ts } });
const done = (status?: 'completed' | 'cancelled') =>
  server({
    type: 'response.done',
    response: { usage: { input_tokens: 1, output_tokens: 1 }, timestamp: ts, ...(status ? { status } : {}) },
  });

const transcript = (itemId: string, text: string, final: boolean) =>
  server({
    type: 'conversation.item.transcript',
    conversation_item_transcript: { item_id: itemId, role: 'user', text, final },
    timestamp: ts,
  });
const speech = (startMs: number, endMs: number): TranscriptAction[] => [
  server({ type: 'input_audio_buffer.speech_started', audio_start_ms: startMs, timestamp: ts }),
  server({ type: 'input_audio_buffer.speech_stopped', audio_end_ms: endMs, timestamp: ts }),
];
const call = (callId: string, name: string, args: string) =>
  server({
    type: 'response.function_call',
    response: { call_id: callId, name, arguments: args, timestamp: ts },
  });
const created = (id: string) =>
  server({
    type: 'session.created',
    session: { id, user_id: 'u', protocol_version: '1.0' },
    timestamp: ts,
  });
const lines = (state: Transcript) =>
  state.entries.filter((e) => e.role !== 'event').map((e) => [e.role, e.text, e.status]);

function run(actions: TranscriptAction[], from: Transcript = EMPTY_TRANSCRIPT): Transcript {
  return actions.reduce((state, action) => transcriptReducer(state, action, 1000), from);
}

describe('transcriptReducer', () => {
  it('streams a reply into one line and closes it on response.done', () => {
    const state = run([
      { type: 'user-text', text: 'Hi' },
      delta('Hello'),
      delta(' there'),
      done('completed'),
    ]);
    expect(state.entries.map(({ role, text, status }) => ({ role, text, status }))).toEqual([
      { role: 'user', text: 'Hi', status: undefined },
      { role: 'assistant', text: 'Hello there', status: 'done' },
    ]);
  });

  it('narrates a voice turn: speech detected, how long the user spoke, and an audio-only reply', () => {
    const state = run([
      server({ type: 'input_audio_buffer.speech_started', audio_start_ms: 1200, timestamp: ts }),
      server({ type: 'input_audio_buffer.speech_stopped', audio_end_ms: 3000, timestamp: ts }),
      server({ type: 'response.audio', response: { audio: 'AAA=', timestamp: ts } }),
      server({ type: 'response.audio', response: { audio: 'AAA=', timestamp: ts } }),
      done(),
    ]);
    expect(state.entries.map((e) => [e.role, e.text, e.status])).toEqual([
      ['event', 'Speech detected', undefined],
      ['user', 'Voice message (1.8 s)', undefined],
      ['assistant', '(spoken reply)', 'done'],
    ]);
  });

  it('logs a push-to-talk turn with how long the button was held', () => {
    expect(run([{ type: 'user-voice', seconds: 1.26 }]).entries[0]).toMatchObject({
      role: 'user',
      text: 'Voice message (1.3 s)',
    });
  });

  it('marks an interrupted reply and starts the next reply on a new line', () => {
    const state = run([delta('Once upon'), done('cancelled'), delta('Sure')]);
    expect(state.entries.map((e) => [e.text, e.status])).toEqual([
      ['Once upon', 'cancelled'],
      ['Sure', 'streaming'],
    ]);
  });

  it('logs notices, session events and failures, and ignores messages that change nothing', () => {
    const state = run([
      server({
        type: 'session.notice',
        notice: { code: 'session_recovered', message: 'Session recovered' },
        timestamp: ts,
      }),
      server({ type: 'pong', timestamp: ts }),
      { type: 'event', text: 'Reconnected (new session)' },
      { type: 'failure', error: { code: 'rate_limited', message: 'Too many requests' } },
    ]);
    expect(state.entries.map((e) => [e.role, e.text])).toEqual([
      ['event', 'Session recovered'],
      ['event', 'Reconnected (new session)'],
      ['error', 'Too many requests (rate_limited)'],
    ]);
    expect(new Set(state.entries.map((e) => e.id)).size).toBe(3);
  });

  it(`keeps the last ${MAX_ENTRIES} lines and clears on request without reusing ids`, () => {
    const state = run(
      Array.from({ length: MAX_ENTRIES + 5 }, (_, i) => ({ type: 'user-text', text: `m${i}` }) as const),
    );
    expect(state.entries).toHaveLength(MAX_ENTRIES);
    expect(state.entries[0]!.text).toBe('m5');
    const cleared = transcriptReducer(state, { type: 'clear' });
    expect(cleared.entries).toEqual([]);
    expect(run([{ type: 'user-text', text: 'again' }], cleared).entries[0]!.id).toBe(MAX_ENTRIES + 6);
  });

  it('keeps a reply in one line when a typed message or a transcript arrives during it', () => {
    const state = run([
      ...speech(0, 1500),
      delta('Once'),
      { type: 'user-text', text: 'Make it short' },
      delta(' upon'),
      transcript('item_1', 'Tell me a story', true),
      delta(' a time'),
      done('completed'),
      delta('Short one.'),
      done('completed'),
    ]);
    expect(lines(state)).toEqual([
      ['user', 'Tell me a story', 'done'],
      ['assistant', 'Once upon a time', 'done'],
      ['user', 'Make it short', undefined],
      ['assistant', 'Short one.', 'done'],
    ]);
  });

  it("fills a spoken turn's line with the transcript pieces, then replaces them with the final text", () => {
    const steps: Array<[TranscriptAction, string, string | undefined]> = [
      [speech(200, 2000)[1]!, 'Voice message', undefined],
      [transcript('item_1', "What's", false), "What's", 'streaming'],
      [transcript('item_1', ' the weather', false), "What's the weather", 'streaming'],
      [transcript('item_1', "What's the weather like?", true), "What's the weather like?", 'done'],
      // A repeated delivery (a resumed session) changes nothing.
      [transcript('item_1', 'again', false), "What's the weather like?", 'done'],
    ];
    let state = run([speech(200, 2000)[0]!]);
    const ids = new Set<number>();
    for (const [action, text, status] of steps) {
      state = transcriptReducer(state, action, 1000);
      const user = state.entries.filter((e) => e.role === 'user');
      expect(user.map((e) => [e.text, e.status])).toEqual([[expect.stringContaining(text), status]]);
      ids.add(user[0]!.id);
    }
    expect(ids.size).toBe(1);
    expect(state.entries.find((e) => e.role === 'user')).toMatchObject({ itemId: 'item_1' });
  });

  it('gives each transcript the oldest spoken turn still waiting, including push-to-talk turns', () => {
    const state = run([
      ...speech(0, 1000),
      { type: 'user-voice', seconds: 2 },
      transcript('item_a', '[speech 1.00 s]', true),
      transcript('item_b', 'second', false),
      transcript('item_c', 'a turn without speech events', true),
    ]);
    expect(lines(state)).toEqual([
      ['user', '[speech 1.00 s]', 'done'],
      ['user', 'second', 'streaming'],
      ['user', 'a turn without speech events', 'done'],
    ]);
  });

  it('keeps "Voice message" when nothing was recognised, and adds no line for an empty transcript alone', () => {
    const state = run([...speech(0, 900), transcript('item_1', '', true), transcript('item_2', ' ', true)]);
    expect(lines(state)).toEqual([['user', 'Voice message (0.9 s)', 'done']]);
  });

  it('shows a function call on a tool line that gets the output once answered', () => {
    const state = run([
      call('call_1', 'get_weather', '{"city":"Paris"}'),
      call('call_1', 'get_weather', '{"city":"Paris"}'),
      call('call_2', 'get_time', `{"zone":"${'x'.repeat(300)}"}`),
      done('completed'),
      { type: 'tool-output', callId: 'call_1', output: '{"temperature_c":21}', failed: false },
      { type: 'tool-output', callId: 'call_2', output: '{"error":"unknown zone"}', failed: true },
      { type: 'tool-output', callId: 'call_unknown', output: 'x', failed: false },
    ]);
    expect(
      state.entries.map((e) => [
        e.role,
        e.text.length > 60 ? e.text.slice(0, 20) : e.text,
        e.detail,
        e.status,
      ]),
    ).toEqual([
      ['tool', 'get_weather({"city":"Paris"})', '{"temperature_c":21}', 'done'],
      ['tool', 'get_time({"zone":"xx', '{"error":"unknown zone"}', 'failed'],
    ]);
    expect(state.entries[1]!.text).toHaveLength('get_time()'.length + MAX_TOOL_TEXT);
    expect(state.entries[1]!.text).toMatch(/…\)$/);
  });

  it('ends the reply and the waiting turns of a session that was replaced, and goes on after a resume', () => {
    const resumed = run([created('sess_1'), ...speech(0, 800), delta('Hel'), created('sess_1'), delta('lo')]);
    expect(lines(resumed)).toEqual([
      ['user', 'Voice message (0.8 s)', undefined],
      ['assistant', 'Hello', 'streaming'],
    ]);
    const replaced = run(
      [created('sess_2'), delta('Fresh'), transcript('item_9', 'new turn', true)],
      resumed,
    );
    expect(lines(replaced)).toEqual([
      ['user', 'Voice message (0.8 s)', undefined],
      ['assistant', 'Hello', 'cancelled'],
      ['assistant', 'Fresh', 'streaming'],
      ['user', 'new turn', 'done'],
    ]);
  });
});
