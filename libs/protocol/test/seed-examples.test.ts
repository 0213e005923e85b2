import { describe, expect, it } from 'vitest';
import { parseClientFrame, validateServerMessage } from '../src/index.js';
import seed from './fixtures/seed-examples.json' with { type: 'json' };
import { pcm16Base64 } from './helpers.js';

const PLACEHOLDER = 'base64_encoded_audio_data';

// The seed writes a placeholder where audio goes; swap in a real 20 ms frame.
function withRealAudio(message: unknown): unknown {
  return JSON.parse(JSON.stringify(message).replaceAll(PLACEHOLDER, pcm16Base64()));
}

describe('seed spec examples', () => {
  it.each(seed.requests)('request "$name" is accepted unchanged in shape', ({ message }) => {
    const result = parseClientFrame(JSON.stringify(withRealAudio(message)));
    expect(result).toEqual({ ok: true, message: withRealAudio(message) });
  });

  it.each(seed.responses)('response "$name" matches the response schema', ({ message }) => {
    expect(validateServerMessage(withRealAudio(message))).toEqual({
      ok: true,
      message: withRealAudio(message),
    });
  });

  it('covers every seed request and response type', () => {
    expect(new Set(seed.requests.map((r) => r.message.type))).toEqual(
      new Set(['session.update', 'conversation.item.input', 'ping']),
    );
    expect(new Set(seed.responses.map((r) => r.message.type))).toEqual(
      new Set(['session.update', 'response.audio', 'response.delta', 'response.done', 'error', 'pong']),
    );
  });

  it('rejects the literal audio placeholder, which is not base64', () => {
    const audioRequest = seed.requests.find((r) => JSON.stringify(r.message).includes(PLACEHOLDER));
    const result = parseClientFrame(JSON.stringify(audioRequest?.message));
    expect(result.ok).toBe(false);
    expect(!result.ok && result.error.code).toBe('invalid_audio');

    const audioResponse = seed.responses.find((r) => r.message.type === 'response.audio');
    const response = validateServerMessage(audioResponse?.message);
    expect(!response.ok && response.error.field).toBe('response.audio');
  });
});
