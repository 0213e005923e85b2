import { describe, expect, it } from 'vitest';
import {
  ERROR_CODES,
  encodeError,
  encodeFrameError,
  encodeNotice,
  encodePong,
  encodeResponseAudio,
  encodeResponseAudioBytes,
  encodeResponseDelta,
  encodeResponseDone,
  encodeSessionCreated,
  encodeSessionUpdate,
  encodeSpeechStarted,
  encodeSpeechStopped,
  NOTICE_CODES,
  nowSeconds,
  PROTOCOL_VERSION,
  parseClientFrame,
  parseServerFrame,
  SERVER_MESSAGE_TYPES,
  type SessionCreatedInfo,
  type SessionInfo,
} from '../src/index.js';
import { pcm16Base64 } from './helpers.js';

const TS = 1_700_000_000.123;

/** Parses a builder's output, requires it to validate, and returns the parsed object. */
function valid(frame: string): unknown {
  const result = parseServerFrame(frame);
  if (!result.ok) throw new Error(`${result.error.message} in ${frame.slice(0, 200)}`);
  // The builders' hand-written JSON must mean exactly what JSON.stringify would produce.
  expect(JSON.stringify(result.message)).toBe(frame);
  return result.message;
}

// Strings that break naive JSON concatenation or naive escaping.
const TRICKY = [
  '',
  'plain',
  'quote " and backslash \\',
  'new\nline\ttab\r',
  '\u0000\u001f control',
  '\u2028\u2029 separators',
  'emoji 😀 é 中文',
  '</script>',
  '{"type":"pong"}',
];

describe('server message builders', () => {
  it('response.audio splices the base64 in unchanged', () => {
    const audio = pcm16Base64();
    expect(valid(encodeResponseAudio(audio, TS))).toEqual({
      type: 'response.audio',
      response: { audio, timestamp: TS },
    });
  });

  it('response.audio from bytes is byte for byte the string builder', () => {
    const audio = pcm16Base64();
    const padded = Buffer.from(`"${audio}"`);
    const view = padded.subarray(1, padded.length - 1);
    expect(encodeResponseAudioBytes(view, TS).toString()).toBe(encodeResponseAudio(audio, TS));
    expect(encodeResponseAudioBytes(Buffer.from('AAAA'), 12.5).toString()).toBe(
      encodeResponseAudio('AAAA', 12.5),
    );
  });

  it.each(TRICKY)('response.delta escapes content %j', (content) => {
    expect(valid(encodeResponseDelta(content, TS))).toEqual({
      type: 'response.delta',
      response: { delta: { content }, timestamp: TS },
    });
  });

  it('response.done with and without extension fields', () => {
    const usage = { input_tokens: 10, output_tokens: 20 };
    expect(valid(encodeResponseDone(usage, TS))).toEqual({
      type: 'response.done',
      response: { usage, timestamp: TS },
    });
    expect(valid(encodeResponseDone(usage, TS, { status: 'cancelled', id: 'resp_"1"' }))).toEqual({
      type: 'response.done',
      response: { usage, timestamp: TS, status: 'cancelled', id: 'resp_"1"' },
    });
  });

  it('pong keeps timestamp at the top level', () => {
    expect(valid(encodePong(TS))).toEqual({ type: 'pong', timestamp: TS });
  });

  it.each(ERROR_CODES)('error %s, with its default message', (code) => {
    expect(valid(encodeError(code))).toMatchObject({ type: 'error', error: { code } });
  });

  it.each(TRICKY)('error escapes message, field and event_id %j', (text) => {
    expect(valid(encodeError('invalid_message', text, text, text))).toEqual({
      type: 'error',
      error: { code: 'invalid_message', message: text, field: text, event_id: text },
    });
  });

  it('error from a parse failure carries code, message, field and event_id', () => {
    const parsed = parseClientFrame(
      '{"type":"session.update","event_id":"e7","session_update":{"voice":"x"}}',
    );
    if (parsed.ok) throw new Error('expected a failure');
    expect(valid(encodeFrameError(parsed.error))).toEqual({
      type: 'error',
      error: {
        code: 'invalid_message',
        message: parsed.error.message,
        field: 'session_update.voice',
        event_id: 'e7',
      },
    });
  });

  it('session.update copies only the protocol fields, in seed order', () => {
    const minimal = { id: 'sess_1', voice: 'alloy', language: 'en' } as const;
    expect(encodeSessionUpdate(minimal)).toBe(
      '{"type":"session.update","session":{"id":"sess_1","voice":"alloy","language":"en"}}',
    );
    const full: SessionInfo = {
      ...minimal,
      instructions: 'Be "brief".\nAlways.',
      temperature: 0.8,
      max_response_output_tokens: 'inf',
      modalities: ['audio', 'text'],
      turn_detection: {
        type: 'server_vad',
        threshold: 0.5,
        silence_duration_ms: 500,
        prefix_padding_ms: 300,
      },
    };
    expect(valid(encodeSessionUpdate(full))).toEqual({ type: 'session.update', session: full });
    // An internal object with more fields (e.g. loaded from storage) leaks nothing extra.
    const internal = {
      ...full,
      owner: 'worker-1',
      turn_detection: { ...full.turn_detection, secret: 1 },
    } as SessionInfo;
    expect(valid(encodeSessionUpdate(internal))).toEqual({ type: 'session.update', session: full });
    expect(valid(encodeSessionUpdate({ ...minimal, turn_detection: null }))).toEqual({
      type: 'session.update',
      session: { ...minimal, turn_detection: null },
    });
  });

  it('session.created defaults protocol_version and may carry the initial configuration', () => {
    expect(valid(encodeSessionCreated({ id: 's1', user_id: 'u1' }, TS))).toEqual({
      type: 'session.created',
      session: { id: 's1', user_id: 'u1', protocol_version: PROTOCOL_VERSION },
      timestamp: TS,
    });
    const session: SessionCreatedInfo = {
      id: 's1',
      user_id: 'u1',
      resume_token: 'rt_secret',
      protocol_version: '1.0',
      voice: 'verse',
      language: 'en',
      temperature: 0.8,
      max_response_output_tokens: 4096,
      modalities: ['audio', 'text'],
    };
    expect(valid(encodeSessionCreated(session, TS))).toEqual({
      type: 'session.created',
      session,
      timestamp: TS,
    });
  });

  it('speech started and stopped', () => {
    expect(valid(encodeSpeechStarted(1200, TS))).toEqual({
      type: 'input_audio_buffer.speech_started',
      audio_start_ms: 1200,
      timestamp: TS,
    });
    expect(valid(encodeSpeechStopped(3400, TS))).toEqual({
      type: 'input_audio_buffer.speech_stopped',
      audio_end_ms: 3400,
      timestamp: TS,
    });
  });

  it.each(NOTICE_CODES)('session.notice %s', (code) => {
    expect(valid(encodeNotice(code, 'Back in "a" moment\n', TS))).toEqual({
      type: 'session.notice',
      notice: { code, message: 'Back in "a" moment\n' },
      timestamp: TS,
    });
  });

  it('every server message type has a builder that is exercised above', () => {
    const built = [
      encodeSessionUpdate({ id: 's', voice: 'alloy', language: 'en' }),
      encodeResponseAudio('AAAA', TS),
      encodeResponseDelta('x', TS),
      encodeResponseDone({ input_tokens: 0, output_tokens: 0 }, TS),
      encodeError('internal_error'),
      encodePong(TS),
      encodeSessionCreated({ id: 's', user_id: 'u' }, TS),
      encodeSpeechStarted(0, TS),
      encodeSpeechStopped(0, TS),
      encodeNotice('session_recovered', 'ok', TS),
    ].map((frame) => (valid(frame) as { type: string }).type);
    expect(new Set(built)).toEqual(new Set(SERVER_MESSAGE_TYPES));
  });

  it('refuses values that would make invalid JSON or break the schema', () => {
    expect(() => encodePong(Number.NaN)).toThrow(TypeError);
    expect(() => encodeResponseAudio('AAAA', Number.POSITIVE_INFINITY)).toThrow(TypeError);
    expect(() => encodeResponseDone({ input_tokens: -1, output_tokens: 0 }, TS)).toThrow(TypeError);
    expect(() => encodeSpeechStarted(1.5, TS)).toThrow(TypeError);
  });

  it('timestamps default to the current time in Unix seconds', () => {
    const before = Date.now() / 1000;
    const { timestamp } = valid(encodePong()) as { timestamp: number };
    expect(timestamp).toBeGreaterThanOrEqual(before);
    expect(timestamp).toBeLessThanOrEqual(nowSeconds());
    expect(timestamp).toBeLessThan(1e11); // seconds, not milliseconds
  });
});

describe('parseServerFrame', () => {
  it('rejects what a server must never send', () => {
    const bad = [
      ['{"type":"pong","response":{"timestamp":1}}', 'response'],
      ['{"type":"error","error":{"code":"oops","message":"x"}}', 'error.code'],
      ['{"type":"response.audio","response":{"audio":"AAA-","timestamp":1}}', 'response.audio'],
      ['{"type":"session.update","session":{"id":"s","voice":"alloy"}}', 'session.language'],
      ['{"type":"session.notice","notice":{"code":"Not Snake","message":""},"timestamp":1}', 'notice.code'],
      [
        '{"type":"response.done","response":{"usage":{"input_tokens":1.5,"output_tokens":0},"timestamp":1}}',
        'response.usage.input_tokens',
      ],
    ] as const;
    for (const [frame, field] of bad) {
      const result = parseServerFrame(frame);
      expect(!result.ok && result.error.field).toBe(field);
    }
    expect(parseServerFrame('{"type":"session.update","session_update":{}}')).toMatchObject({ ok: false });
    expect(parseServerFrame('{"type":"nope"}')).toMatchObject({
      ok: false,
      error: { code: 'unknown_message_type' },
    });
    expect(parseServerFrame(new Uint8Array([0xc3]))).toMatchObject({
      ok: false,
      error: { code: 'invalid_json' },
    });
  });
});
