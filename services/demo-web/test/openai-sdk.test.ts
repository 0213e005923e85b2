// The OpenAI SDK mode's pure parts: where it connects, and how the SDK's history becomes the log's lines.
import type { RealtimeItem } from '@openai/agents-realtime';
import { describe, expect, it } from 'vitest';
import {
  describeError,
  lineOfItem,
  MAX_SDK_LINES,
  mergeHistory,
  type SdkLine,
} from '../src/page/openai-transcript.js';
import { openAiRealtimeUrl } from '../src/page/openai-url.js';

describe('openAiRealtimeUrl', () => {
  it('points at /v1/realtime on the seed route’s gateway, keeping a path prefix and dropping the rest', () => {
    expect(openAiRealtimeUrl('ws://localhost:8000/api/v1/streaming/realtime')).toBe(
      'ws://localhost:8000/v1/realtime?model=gpt-realtime',
    );
    expect(
      openAiRealtimeUrl('wss://voice.example.com/rtv/api/v1/streaming/realtime/?x=1', 'gpt-realtime-mini'),
    ).toBe('wss://voice.example.com/rtv/v1/realtime?model=gpt-realtime-mini');
    // A URL without the seed path: the gateway's root.
    expect(openAiRealtimeUrl('ws://10.0.0.5:9000/elsewhere')).toBe(
      'ws://10.0.0.5:9000/v1/realtime?model=gpt-realtime',
    );
    expect(openAiRealtimeUrl('ws://h/api/v1/streaming/realtime', 'a b&c')).toBe(
      'ws://h/v1/realtime?model=a+b%26c',
    );
  });

  it('refuses what is not a ws/wss URL', () => {
    expect(() => openAiRealtimeUrl('http://localhost:8000/api/v1/streaming/realtime')).toThrow(
      /ws:\/\/ or wss:\/\//,
    );
    expect(() => openAiRealtimeUrl('not a url')).toThrow(TypeError);
  });
});

const user = (itemId: string, text: string): RealtimeItem => ({
  itemId,
  type: 'message',
  role: 'user',
  status: 'completed',
  content: [{ type: 'input_text', text }],
});

const reply = (
  itemId: string,
  transcript: string,
  status: 'in_progress' | 'completed' | 'incomplete',
): RealtimeItem => ({
  itemId,
  type: 'message',
  role: 'assistant',
  status,
  content: [{ type: 'output_audio', transcript }],
});

describe('lineOfItem', () => {
  it('shows typed and spoken user turns, replies as they stream, and tool calls with their output', () => {
    expect(lineOfItem(user('u1', 'Hello'))).toEqual({
      key: 'u1',
      role: 'user',
      text: 'Hello',
      status: 'done',
    });
    const spoken: RealtimeItem = {
      itemId: 'u2',
      type: 'message',
      role: 'user',
      status: 'completed',
      content: [{ type: 'input_audio', transcript: null }],
    };
    expect(lineOfItem(spoken)).toMatchObject({ text: 'Voice message', status: 'streaming' });
    if (spoken.type === 'message' && spoken.role === 'user')
      spoken.content = [{ type: 'input_audio', transcript: 'Hi' }];
    expect(lineOfItem(spoken)).toMatchObject({ text: 'Hi', status: 'done' });

    expect(lineOfItem(reply('a1', 'Hel', 'in_progress'))).toEqual({
      key: 'a1',
      role: 'assistant',
      text: 'Hel',
      status: 'streaming',
    });
    expect(lineOfItem(reply('a1', 'Hello!', 'completed'))).toMatchObject({ text: 'Hello!', status: 'done' });
    expect(lineOfItem(reply('a1', 'Hel', 'incomplete'))).toMatchObject({ status: 'cancelled' });
    const text: RealtimeItem = {
      itemId: 'a2',
      type: 'message',
      role: 'assistant',
      status: 'completed',
      content: [{ type: 'output_text', text: 'Typed answer' }],
    };
    expect(lineOfItem(text)).toMatchObject({ text: 'Typed answer' });

    const call: RealtimeItem = {
      itemId: 'c1',
      type: 'function_call',
      status: 'completed',
      name: 'get_time',
      arguments: '{"timezone":"UTC"}',
      output: null,
    };
    expect(lineOfItem(call)).toEqual({
      key: 'c1',
      role: 'tool',
      text: 'get_time({"timezone":"UTC"})',
      status: 'streaming',
    });
    expect(lineOfItem({ ...call, output: '{"time":"12:00:00"}' })).toMatchObject({
      status: 'done',
      detail: '{"time":"12:00:00"}',
    });
    expect(lineOfItem({ ...call, status: 'incomplete' })).toMatchObject({ status: 'failed' });
  });

  it('leaves out system messages', () => {
    const system: RealtimeItem = {
      itemId: 's1',
      type: 'message',
      role: 'system',
      content: [{ type: 'input_text', text: 'Be brief.' }],
    };
    expect(lineOfItem(system)).toBeUndefined();
  });
});

describe('mergeHistory', () => {
  it('updates lines in place, appends new items, and keeps connection lines where they happened', () => {
    const note: SdkLine = { key: 'note-1', role: 'event', text: 'Connected' };
    let lines = mergeHistory([note], [user('u1', 'Hello'), reply('a1', 'Hel', 'in_progress')]);
    expect(lines.map((l) => `${l.key}:${l.text}`)).toEqual(['note-1:Connected', 'u1:Hello', 'a1:Hel']);
    lines = [...lines, { key: 'note-2', role: 'error', text: 'Something' }];
    lines = mergeHistory(lines, [
      user('u1', 'Hello'),
      reply('a1', 'Hello!', 'completed'),
      user('u2', 'More'),
    ]);
    expect(lines.map((l) => `${l.key}:${l.text}:${l.status ?? ''}`)).toEqual([
      'note-1:Connected:',
      'u1:Hello:done',
      'a1:Hello!:done',
      'note-2:Something:',
      'u2:More:done',
    ]);
    // An item the history dropped keeps its line.
    expect(mergeHistory(lines, [user('u2', 'More')])).toHaveLength(5);
  });

  it('keeps the newest lines only', () => {
    const history = Array.from({ length: MAX_SDK_LINES + 5 }, (_, i) => user(`u${i}`, `m${i}`));
    const lines = mergeHistory([], history);
    expect(lines).toHaveLength(MAX_SDK_LINES);
    expect(lines[0]?.key).toBe('u5');
  });
});

describe('describeError', () => {
  it('reads Errors, the provider’s error events (with their code), and anything else', () => {
    expect(describeError(new Error('boom'))).toBe('boom');
    expect(
      describeError({
        type: 'error',
        error: { type: 'invalid_request_error', code: 'model_not_allowed', message: 'Not allowed.' },
      }),
    ).toBe('Not allowed. (model_not_allowed)');
    expect(describeError({ error: { message: 'No code.' } })).toBe('No code.');
    expect(describeError({ message: 'Plain.' })).toBe('Plain.');
    expect(describeError('text')).toBe('text');
    expect(describeError(null)).toBe('null');
  });
});
