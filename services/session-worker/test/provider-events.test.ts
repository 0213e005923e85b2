import type { SessionConfig } from '@rtv/protocol';
import { describe, expect, it } from 'vitest';
import {
  buildAudioAppend,
  buildSessionUpdate,
  buildTextTurn,
  extractAudioDelta,
  publicErrorFor,
} from '../src/upstream/provider-events.js';
import { resolveShape } from '../src/upstream/resolve-provider.js';

const config: SessionConfig = {
  voice: 'verse',
  language: 'de',
  instructions: 'Be brief.',
  temperature: 0.7,
  max_response_output_tokens: 512,
  modalities: ['audio', 'text'],
};

describe('provider session.update', () => {
  it('GA: session.type, output_modalities, audio.input/output, max_output_tokens; no temperature', () => {
    const ev = JSON.parse(buildSessionUpdate(config, 'ga'));
    expect(ev.type).toBe('session.update');
    expect(ev.session.type).toBe('realtime');
    expect(ev.session.output_modalities).toEqual(['audio']);
    expect(ev.session.audio.output.voice).toBe('verse');
    expect(ev.session.audio.input.format).toEqual({ type: 'audio/pcm', rate: 24000 });
    expect(ev.session.audio.input.turn_detection.type).toBe('server_vad');
    expect(ev.session.max_output_tokens).toBe(512);
    expect(ev.session.instructions).toMatch(/^Be brief\.\n\n.*"de"/);
    expect(ev.session).not.toHaveProperty('temperature');
    expect(ev.session).not.toHaveProperty('voice');
  });

  it('beta: flat fields with temperature and pcm16 formats', () => {
    const ev = JSON.parse(
      buildSessionUpdate({ ...config, modalities: ['text'], turn_detection: null }, 'beta'),
    );
    expect(ev.session).toMatchObject({
      modalities: ['text'],
      voice: 'verse',
      input_audio_format: 'pcm16',
      output_audio_format: 'pcm16',
      turn_detection: null,
      temperature: 0.7,
      max_response_output_tokens: 512,
    });
    expect(ev.session).not.toHaveProperty('type');
  });

  it('text turns add a user item then ask for a response', () => {
    const [item, create] = buildTextTurn('Hi "there"', 'ga');
    expect(JSON.parse(item)).toEqual({
      type: 'conversation.item.create',
      item: { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Hi "there"' }] },
    });
    expect(JSON.parse(create)).toEqual({ type: 'response.create' });
    expect(JSON.parse(buildTextTurn('x', 'beta')[1])).toEqual({ type: 'response.create', response: {} });
  });
});

describe('audio pass-through', () => {
  it('wraps client base64 into input_audio_buffer.append without touching it', () => {
    const b64 = Buffer.from([1, 2, 3, 4]).toString('base64');
    const expected = { type: 'input_audio_buffer.append', audio: b64 };
    expect(JSON.parse(buildAudioAppend(b64).toString())).toEqual(expected);
    expect(JSON.parse(buildAudioAppend(Buffer.from(b64)).toString())).toEqual(expected);
  });

  it('cuts the base64 out of GA and beta audio deltas and ignores every other event', () => {
    const b64 = Buffer.alloc(960, 7).toString('base64');
    const ga = JSON.stringify({
      type: 'response.output_audio.delta',
      event_id: 'e',
      response_id: 'r',
      delta: b64,
    });
    const beta = JSON.stringify({ type: 'response.audio.delta', event_id: 'e', item_id: 'i', delta: b64 });
    const bytes = (event: string | object) =>
      Buffer.from(typeof event === 'string' ? event : JSON.stringify(event));
    expect(extractAudioDelta(bytes(ga))?.toString()).toBe(b64);
    expect(extractAudioDelta(bytes(beta))?.toString()).toBe(b64);
    expect(extractAudioDelta(bytes({ type: 'response.output_text.delta', delta: 'hi' }))).toBeUndefined();
    expect(
      extractAudioDelta(bytes({ type: 'response.output_audio_transcript.delta', delta: 'hi' })),
    ).toBeUndefined();
    // type far from the start: not the fast path, the caller parses.
    const late = JSON.stringify({
      padding: 'x'.repeat(200),
      type: 'response.output_audio.delta',
      delta: b64,
    });
    expect(extractAudioDelta(bytes(late))).toBeUndefined();
  });
});

describe('errors and shape', () => {
  it('never passes provider messages through', () => {
    expect(publicErrorFor('conversation_already_has_active_response', 'invalid_request_error').code).toBe(
      'conversation_busy',
    );
    const e = publicErrorFor('weird_internal', 'server_error');
    expect(e.code).toBe('upstream_error');
    expect(e.message).not.toContain('weird_internal');
  });

  it('auto picks beta only for preview models off api.openai.com', () => {
    expect(resolveShape('auto', 'gpt-4o-realtime-preview-2024-10-01', 'ws://127.0.0.1:9/v1/realtime')).toBe(
      'beta',
    );
    expect(
      resolveShape('auto', 'gpt-4o-realtime-preview-2024-10-01', 'wss://api.openai.com/v1/realtime'),
    ).toBe('ga');
    expect(resolveShape('auto', 'gpt-realtime', 'ws://127.0.0.1:9/v1/realtime')).toBe('ga');
    expect(resolveShape('beta', 'gpt-realtime', 'wss://api.openai.com/v1/realtime')).toBe('beta');
  });
});
