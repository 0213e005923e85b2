import type { ServerMessage } from '@rtv/client';
import { describe, expect, it } from 'vitest';
import {
  EMPTY_TRANSCRIPT,
  MAX_ENTRIES,
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
});
