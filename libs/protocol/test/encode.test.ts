import { describe, expect, it } from 'vitest';
import {
  ERROR_CODES,
  encodeError,
  encodeFrameError,
  encodeFunctionCall,
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
  encodeTranscript,
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

  it('response.done carries token details when given, only their defined counts', () => {
    const usage = {
      input_tokens: 1200,
      output_tokens: 300,
      input_token_details: { cached_tokens: 1024, text_tokens: 200, audio_tokens: 1000 },
      output_token_details: { text_tokens: 60, audio_tokens: 240 },
    };
    expect(valid(encodeResponseDone(usage, TS, { status: 'completed', id: 'resp_1' }))).toEqual({
      type: 'response.done',
      response: { usage, timestamp: TS, status: 'completed', id: 'resp_1' },
    });
    const partial = {
      input_tokens: 5,
      output_tokens: 0,
      input_token_details: { audio_tokens: 5 },
      output_token_details: {},
    };
    expect(valid(encodeResponseDone(partial, TS))).toEqual({
      type: 'response.done',
      response: { usage: partial, timestamp: TS },
    });
    expect(() =>
      encodeResponseDone(
        { input_tokens: 1, output_tokens: 1, output_token_details: { text_tokens: -1 } },
        TS,
      ),
    ).toThrow(TypeError);
  });

  it.each(TRICKY)('response.function_call escapes arguments %j', (args) => {
    expect(valid(encodeFunctionCall('call_"1"', 'get_weather', args, TS))).toEqual({
      type: 'response.function_call',
      response: { call_id: 'call_"1"', name: 'get_weather', arguments: args, timestamp: TS },
    });
  });

  it('response.function_call passes arguments JSON through as a string', () => {
    const args = '{"city":"Lisbon","unit":"c","note":"say \\"hi\\"\\n"}';
    const frame = encodeFunctionCall('call_8Jq2', 'get_weather', args, TS);
    const message = valid(frame) as { response: { arguments: string } };
    expect(message.response.arguments).toBe(args);
    expect(JSON.parse(message.response.arguments)).toEqual({ city: 'Lisbon', unit: 'c', note: 'say "hi"\n' });
  });

  it.each(TRICKY.filter((text) => text !== ''))('conversation.item.transcript escapes text %j', (text) => {
    for (const final of [false, true]) {
      expect(valid(encodeTranscript('item_"7"', text, final, TS))).toEqual({
        type: 'conversation.item.transcript',
        conversation_item_transcript: { item_id: 'item_"7"', role: 'user', text, final },
        timestamp: TS,
      });
    }
  });

  it('conversation.item.transcript allows an empty piece or an empty final transcript', () => {
    expect(valid(encodeTranscript('item_7', '', true, TS))).toMatchObject({
      conversation_item_transcript: { text: '', final: true },
    });
  });

  it.each(TRICKY)('error carries the provider param %j', (param) => {
    expect(
      valid(encodeError('upstream_invalid_request', 'Tool rejected', undefined, 'e1', { param })),
    ).toEqual({
      type: 'error',
      error: { code: 'upstream_invalid_request', message: 'Tool rejected', event_id: 'e1', param },
    });
  });

  it('error with field, event_id and param, or param alone', () => {
    expect(encodeError('upstream_invalid_request', 'm', 'session_update.tools.0', 'e', { param: 'p' })).toBe(
      '{"type":"error","error":{"code":"upstream_invalid_request","message":"m","field":"session_update.tools.0","event_id":"e","param":"p"}}',
    );
    expect(
      valid(encodeError('upstream_rate_limited', undefined, undefined, undefined, { param: 'x' })),
    ).toEqual({
      type: 'error',
      error: {
        code: 'upstream_rate_limited',
        message: 'Speech model rate limit reached; retry shortly',
        param: 'x',
      },
    });
    expect(encodeError('upstream_error', 'm', undefined, undefined, {})).toBe(
      encodeError('upstream_error', 'm'),
    );
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
    } as unknown as SessionInfo;
    expect(valid(encodeSessionUpdate(internal))).toEqual({ type: 'session.update', session: full });
    expect(valid(encodeSessionUpdate({ ...minimal, turn_detection: null }))).toEqual({
      type: 'session.update',
      session: { ...minimal, turn_detection: null },
    });
  });

  it('session.update copies the tool, VAD, audio and transcription settings', () => {
    const full: SessionInfo = {
      id: 'sess_1',
      voice: 'marin',
      language: 'en',
      turn_detection: {
        type: 'server_vad',
        threshold: 0.5,
        silence_duration_ms: 500,
        prefix_padding_ms: 300,
        idle_timeout_ms: null,
        create_response: true,
        interrupt_response: false,
      },
      tools: [
        {
          type: 'function',
          name: 'get_weather',
          description: 'Weather "now".',
          parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
        },
        { type: 'function', name: 'hang_up' },
      ],
      tool_choice: { type: 'function', name: 'get_weather' },
      input_audio_noise_reduction: { type: 'near_field' },
      speed: 1.25,
      input_audio_transcription: { model: 'gpt-4o-transcribe', language: 'en', prompt: 'Names: Ana, Zé.' },
    };
    expect(valid(encodeSessionUpdate(full))).toEqual({ type: 'session.update', session: full });
    // Extra fields inside the nested objects of an internal record leak nothing.
    const internal = {
      ...full,
      tools: full.tools!.map((tool) => ({ ...tool, strict: true })),
      tool_choice: { ...(full.tool_choice as object), x: 1 },
      input_audio_noise_reduction: { type: 'near_field', level: 3 },
      input_audio_transcription: { ...full.input_audio_transcription, logprobs: true },
      turn_detection: { ...full.turn_detection, secret: 1 },
    } as unknown as SessionInfo;
    expect(valid(encodeSessionUpdate(internal))).toEqual({ type: 'session.update', session: full });

    const semantic: SessionInfo = {
      id: 's',
      voice: 'alloy',
      language: 'en',
      turn_detection: {
        type: 'semantic_vad',
        eagerness: 'low',
        create_response: false,
        interrupt_response: true,
      },
      tool_choice: 'required',
      input_audio_noise_reduction: null,
      input_audio_transcription: null,
      tools: [],
    };
    const leaky = {
      ...semantic,
      turn_detection: { ...semantic.turn_detection, threshold: 0.5 },
    } as SessionInfo;
    expect(valid(encodeSessionUpdate(leaky))).toEqual({ type: 'session.update', session: semantic });
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
      encodeFunctionCall('call_1', 'f', '{}', TS),
      encodeTranscript('item_1', 'hi', false, TS),
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
      [
        '{"type":"response.done","response":{"usage":{"input_tokens":1,"output_tokens":0,"output_token_details":{"cached_tokens":1}},"timestamp":1}}',
        'response.usage.output_token_details.cached_tokens',
      ],
      [
        '{"type":"response.function_call","response":{"call_id":"c","name":"f","arguments":{},"timestamp":1}}',
        'response.arguments',
      ],
      [
        '{"type":"conversation.item.transcript","conversation_item_transcript":{"item_id":"i","role":"assistant","text":"x","final":true},"timestamp":1}',
        'conversation_item_transcript.role',
      ],
      [
        '{"type":"conversation.item.transcript","conversation_item_transcript":{"item_id":"i","role":"user","text":"x"},"timestamp":1}',
        'conversation_item_transcript.final',
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
