import { describe, expect, it } from 'vitest';
import {
  type ClientMessage,
  DEFAULT_FRAME_LIMITS,
  type ErrorCode,
  MAX_TEXT_CHARS,
  parseClientFrame,
  VOICES,
  validateClientMessage,
} from '../src/index.js';
import { audioFrame, pcm16Base64 } from './helpers.js';

const AUDIO = pcm16Base64();

function update(session_update: Record<string, unknown>): string {
  return JSON.stringify({ type: 'session.update', session_update });
}
function text(value: unknown): string {
  return JSON.stringify({
    type: 'conversation.item.input',
    conversation_item_input: { type: 'input_text', text: value },
  });
}
function ping(timestamp: unknown): string {
  return JSON.stringify({ type: 'ping', ping: { timestamp } });
}

describe('parseClientFrame accepts valid requests', () => {
  const valid: Array<[string, ClientMessage]> = [
    ['a 20 ms audio frame', JSON.parse(audioFrame(AUDIO))],
    ['audio with one padding character', JSON.parse(audioFrame(pcm16Base64(4)))],
    ['audio with two padding characters', JSON.parse(audioFrame(pcm16Base64(8)))],
    [
      'text input with an event_id',
      {
        type: 'conversation.item.input',
        event_id: 'evt_1',
        conversation_item_input: { type: 'input_text', text: 'héllo 👋' },
      },
    ],
    ['text of exactly the maximum length', JSON.parse(text('x'.repeat(MAX_TEXT_CHARS)))],
    ['ping', { type: 'ping', ping: { timestamp: 1_700_000_000.5 } }],
    ['an empty session_update', { type: 'session.update', session_update: {} }],
    [
      'a full session_update with extensions',
      {
        type: 'session.update',
        session_update: {
          voice: 'marin',
          language: 'pt-BR',
          instructions: '',
          temperature: 0.6,
          max_response_output_tokens: 'inf',
          turn_detection: {
            type: 'server_vad',
            threshold: 0,
            silence_duration_ms: 100,
            prefix_padding_ms: 2000,
          },
          modalities: ['audio', 'text'],
        },
      },
    ],
    [
      'manual turns and text-only replies',
      {
        type: 'session.update',
        session_update: { turn_detection: null, modalities: ['text'], temperature: 1.2 },
      },
    ],
    ['a three-subtag language', { type: 'session.update', session_update: { language: 'zh-Hant-TW' } }],
    [
      'max tokens at both bounds',
      { type: 'session.update', session_update: { max_response_output_tokens: 1 } },
    ],
    ['input_audio_buffer.commit', { type: 'input_audio_buffer.commit' }],
    ['response.create', { type: 'response.create', event_id: 'x'.repeat(64) }],
    ['response.cancel', { type: 'response.cancel' }],
  ];

  it.each(valid)('%s', (_name, message) => {
    expect(parseClientFrame(JSON.stringify(message))).toEqual({ ok: true, message });
  });

  it.each(VOICES)('voice %s', (voice) => {
    expect(parseClientFrame(update({ voice })).ok).toBe(true);
  });

  it('accepts the same frame as a string, Uint8Array, Buffer and ArrayBuffer', () => {
    const frame = audioFrame(AUDIO);
    const bytes = new TextEncoder().encode(frame);
    // A view into the middle of a larger buffer, as WebSocket libraries hand out.
    const padded = new Uint8Array(bytes.length + 16);
    padded.set(bytes, 8);
    for (const raw of [
      frame,
      bytes,
      Buffer.from(frame),
      bytes.slice().buffer,
      padded.subarray(8, 8 + bytes.length),
    ]) {
      expect(parseClientFrame(raw)).toEqual({ ok: true, message: JSON.parse(frame) });
    }
  });
});

type BadCase = [name: string, raw: string | Uint8Array, code: ErrorCode, field: string | undefined];

const BAD: BadCase[] = [
  // Not JSON, or not a JSON object.
  ['not JSON', '{"type": "ping",', 'invalid_json', undefined],
  ['empty frame', '', 'invalid_json', undefined],
  ['a byte-order mark before the JSON', `\uFEFF${ping(1)}`, 'invalid_json', undefined],
  ['invalid UTF-8 bytes', new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), 'invalid_json', undefined],
  [
    'a truncated UTF-8 sequence',
    new Uint8Array([...new TextEncoder().encode(text('ab')).slice(0, -3), 0xe2, 0x82]),
    'invalid_json',
    undefined,
  ],
  ['a JSON array', '[{"type":"ping"}]', 'invalid_message', undefined],
  ['a JSON string', '"ping"', 'invalid_message', undefined],
  ['a JSON number', '42', 'invalid_message', undefined],
  ['JSON null', 'null', 'invalid_message', undefined],
  ['JSON true', 'true', 'invalid_message', undefined],
  // The type field.
  ['missing type', '{"ping":{"timestamp":1}}', 'invalid_message', 'type'],
  ['numeric type', '{"type":7}', 'invalid_message', 'type'],
  ['unknown type', '{"type":"session.delete"}', 'unknown_message_type', 'type'],
  ['a server-only type', '{"type":"pong","timestamp":1}', 'unknown_message_type', 'type'],
  ['type "__proto__"', '{"type":"__proto__"}', 'unknown_message_type', 'type'],
  ['type "constructor"', '{"type":"constructor"}', 'unknown_message_type', 'type'],
  // Missing, extra, misplaced fields.
  ['missing session_update', '{"type":"session.update"}', 'invalid_message', 'session_update'],
  [
    'session fields at the top level',
    '{"type":"session.update","voice":"alloy"}',
    'invalid_message',
    'voice',
  ],
  [
    'audio at the top level',
    JSON.stringify({ type: 'conversation.item.input', audio: AUDIO }),
    'invalid_message',
    'audio',
  ],
  [
    'missing conversation_item_input',
    '{"type":"conversation.item.input"}',
    'invalid_message',
    'conversation_item_input',
  ],
  [
    'item without a type',
    text('hi').replace('"type":"input_text",', ''),
    'invalid_message',
    'conversation_item_input.type',
  ],
  [
    'unknown item type',
    text('hi').replace('input_text', 'input_image'),
    'invalid_message',
    'conversation_item_input.type',
  ],
  [
    'text item carrying audio',
    text('hi').replace('"text":', '"audio":'),
    'invalid_message',
    'conversation_item_input.audio',
  ],
  ['unknown session field', update({ pitch: 1 }), 'invalid_message', 'session_update.pitch'],
  ['unknown top-level field', '{"type":"response.create","response":{}}', 'invalid_message', 'response'],
  ['ping without its object', '{"type":"ping","timestamp":1}', 'invalid_message', 'timestamp'],
  [
    '__proto__ key at the top level',
    '{"type":"ping","ping":{"timestamp":1},"__proto__":{"polluted":true}}',
    'invalid_message',
    '__proto__',
  ],
  [
    '__proto__ key in a nested object',
    update({}).replace('{}', '{"__proto__":{"polluted":true}}'),
    'invalid_message',
    'session_update.__proto__',
  ],
  [
    'constructor key',
    '{"type":"ping","ping":{"timestamp":1,"constructor":{"prototype":{"polluted":true}}}}',
    'invalid_message',
    'ping.constructor',
  ],
  // Wrong types and values.
  [
    'session_update not an object',
    '{"type":"session.update","session_update":"voice=alloy"}',
    'invalid_message',
    'session_update',
  ],
  ['bad voice', update({ voice: 'robot' }), 'invalid_message', 'session_update.voice'],
  ['voice in the wrong case', update({ voice: 'Alloy' }), 'invalid_message', 'session_update.voice'],
  ['bad language tag', update({ language: 'english' }), 'invalid_message', 'session_update.language'],
  [
    'language with an underscore',
    update({ language: 'en_US' }),
    'invalid_message',
    'session_update.language',
  ],
  [
    'instructions too long',
    update({ instructions: 'x'.repeat(32_769) }),
    'invalid_message',
    'session_update.instructions',
  ],
  ['temperature below range', update({ temperature: 0.5 }), 'invalid_message', 'session_update.temperature'],
  ['temperature above range', update({ temperature: 1.21 }), 'invalid_message', 'session_update.temperature'],
  [
    'temperature as a string',
    update({ temperature: '0.8' }),
    'invalid_message',
    'session_update.temperature',
  ],
  [
    'max tokens 0',
    update({ max_response_output_tokens: 0 }),
    'invalid_message',
    'session_update.max_response_output_tokens',
  ],
  [
    'max tokens 4097',
    update({ max_response_output_tokens: 4097 }),
    'invalid_message',
    'session_update.max_response_output_tokens',
  ],
  [
    'max tokens 1.5',
    update({ max_response_output_tokens: 1.5 }),
    'invalid_message',
    'session_update.max_response_output_tokens',
  ],
  [
    'max tokens "INF"',
    update({ max_response_output_tokens: 'INF' }),
    'invalid_message',
    'session_update.max_response_output_tokens',
  ],
  [
    'turn detection of an unknown kind',
    update({ turn_detection: { type: 'client_vad' } }),
    'invalid_message',
    'session_update.turn_detection.type',
  ],
  [
    'VAD threshold above 1',
    update({ turn_detection: { type: 'server_vad', threshold: 1.5 } }),
    'invalid_message',
    'session_update.turn_detection.threshold',
  ],
  [
    'VAD silence too short',
    update({ turn_detection: { type: 'server_vad', silence_duration_ms: 50 } }),
    'invalid_message',
    'session_update.turn_detection.silence_duration_ms',
  ],
  [
    'VAD padding not an integer',
    update({ turn_detection: { type: 'server_vad', prefix_padding_ms: 10.5 } }),
    'invalid_message',
    'session_update.turn_detection.prefix_padding_ms',
  ],
  [
    'turn detection "none"',
    update({ turn_detection: 'none' }),
    'invalid_message',
    'session_update.turn_detection',
  ],
  ['modalities ["audio"]', update({ modalities: ['audio'] }), 'invalid_message', 'session_update.modalities'],
  [
    'modalities in the other order',
    update({ modalities: ['text', 'audio'] }),
    'invalid_message',
    'session_update.modalities',
  ],
  ['empty text', text(''), 'invalid_message', 'conversation_item_input.text'],
  ['whitespace-only text', text(' \n\t\u00a0'), 'invalid_message', 'conversation_item_input.text'],
  ['text too long', text('x'.repeat(MAX_TEXT_CHARS + 1)), 'invalid_message', 'conversation_item_input.text'],
  ['text as a number', text(42), 'invalid_message', 'conversation_item_input.text'],
  ['ping timestamp as a string', ping('1234567890.123'), 'invalid_message', 'ping.timestamp'],
  [
    'ping timestamp Infinity (1e999)',
    '{"type":"ping","ping":{"timestamp":1e999}}',
    'invalid_message',
    'ping.timestamp',
  ],
  [
    'ping timestamp -Infinity',
    '{"type":"ping","ping":{"timestamp":-1e999}}',
    'invalid_message',
    'ping.timestamp',
  ],
  ['ping timestamp null', ping(null), 'invalid_message', 'ping.timestamp'],
  ['empty event_id', '{"type":"response.create","event_id":""}', 'invalid_message', 'event_id'],
  [
    'event_id too long',
    JSON.stringify({ type: 'response.cancel', event_id: 'e'.repeat(65) }),
    'invalid_message',
    'event_id',
  ],
  // Audio.
  ['empty audio', audioFrame(''), 'invalid_audio', 'conversation_item_input.audio'],
  [
    'audio not a string',
    audioFrame('').replace('""', '[1,2]'),
    'invalid_message',
    'conversation_item_input.audio',
  ],
  [
    'base64url alphabet',
    audioFrame(`${AUDIO.slice(0, -4)}ab-_`),
    'invalid_audio',
    'conversation_item_input.audio',
  ],
  [
    'whitespace inside base64',
    audioFrame(`${AUDIO.slice(0, 76)}\n${AUDIO.slice(76)}`),
    'invalid_audio',
    'conversation_item_input.audio',
  ],
  [
    'a space inside base64',
    audioFrame(`${AUDIO.slice(0, 8)} ${AUDIO.slice(9)}`),
    'invalid_audio',
    'conversation_item_input.audio',
  ],
  [
    'missing padding',
    audioFrame(pcm16Base64(8).replace(/=+$/, '')),
    'invalid_audio',
    'conversation_item_input.audio',
  ],
  [
    'too much padding',
    audioFrame('AAAAAA=='.replace('AA==', 'A===')),
    'invalid_audio',
    'conversation_item_input.audio',
  ],
  ['padding in the middle', audioFrame('AA==AAAA'), 'invalid_audio', 'conversation_item_input.audio'],
  [
    'a non-ASCII character',
    audioFrame(`${AUDIO.slice(0, -4)}AAé=`),
    'invalid_audio',
    'conversation_item_input.audio',
  ],
  ['odd-length PCM16 (1 byte)', audioFrame('AA=='), 'invalid_audio', 'conversation_item_input.audio'],
  ['odd-length PCM16 (3 bytes)', audioFrame('AAAA'), 'invalid_audio', 'conversation_item_input.audio'],
  [
    'the seed placeholder',
    audioFrame('base64_encoded_audio_data'),
    'invalid_audio',
    'conversation_item_input.audio',
  ],
];

describe('parseClientFrame rejects bad frames with the right code and field', () => {
  it('has at least 40 distinct bad inputs', () => {
    expect(
      new Set(BAD.map(([, raw]) => (typeof raw === 'string' ? raw : `bytes:${raw.join(',')}`))).size,
    ).toBe(BAD.length);
    expect(BAD.length).toBeGreaterThanOrEqual(40);
  });

  it.each(BAD)('%s', (_name, raw, code, field) => {
    const result = parseClientFrame(raw);
    if (result.ok) throw new Error(`accepted: ${JSON.stringify(result.message).slice(0, 200)}`);
    expect(result.error.code).toBe(code);
    expect(result.error.field).toBe(field);
    // The message names the field, so a client developer sees what to fix.
    if (field !== undefined) expect(result.error.message.startsWith(`${field}: `)).toBe(true);
  });
});

describe('error messages', () => {
  const messageOf = (raw: string) => {
    const result = parseClientFrame(raw);
    return result.ok ? '' : result.error.message;
  };

  it('explain the rule that was broken', () => {
    expect(messageOf(update({ temperature: 2 }))).toBe(
      'session_update.temperature: must be between 0.6 and 1.2',
    );
    expect(messageOf(update({ voice: 'robot' }))).toContain('must be one of alloy, ash,');
    expect(messageOf(audioFrame('AA=='))).toBe(
      'conversation_item_input.audio: must decode to whole PCM16 samples (an even byte count), got 1 byte',
    );
    expect(messageOf(audioFrame(`${AUDIO.slice(0, -4)}ab-_`))).toContain('not base64url');
    expect(messageOf('[]')).toBe('message must be a JSON object, got an array');
  });

  it('point a misplaced field to where it belongs', () => {
    expect(messageOf('{"type":"session.update","voice":"alloy"}')).toBe(
      'voice: is not a known field (it belongs inside session_update)',
    );
  });

  it('list the supported types for an unknown type, echoing at most 64 characters of it', () => {
    const message = messageOf(JSON.stringify({ type: `x${'y'.repeat(10_000)}` }));
    expect(message).toContain('supported types: session.update, conversation.item.input, ping,');
    expect(message.length).toBeLessThan(300);
  });

  it('carry the event_id of the failed request', () => {
    const result = parseClientFrame(
      '{"type":"session.update","event_id":"abc","session_update":{"voice":1}}',
    );
    expect(!result.ok && result.error).toMatchObject({ code: 'invalid_message', eventId: 'abc' });
  });

  it('never carry a stack trace or the raw JSON parser message', () => {
    expect(messageOf('{"type": nope}')).toBe('frame is not valid JSON');
  });
});

describe('hostile frames', () => {
  it('cannot pollute Object.prototype through __proto__ or constructor keys', () => {
    const before = Object.getOwnPropertyNames(Object.prototype).sort();
    for (const raw of [
      '{"type":"ping","ping":{"timestamp":1},"__proto__":{"polluted":true}}',
      '{"__proto__":{"polluted":true},"type":"session.update","session_update":{}}',
      '{"type":"session.update","session_update":{"constructor":{"prototype":{"polluted":true}}}}',
      '{"type":"__proto__","__proto__":{"type":"ping"}}',
    ]) {
      expect(parseClientFrame(raw).ok).toBe(false);
    }
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(before);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it('rejects 100,000 levels of nesting cleanly, wherever they are', () => {
    const deep = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
    const deepObject = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
    const cases: Array<[string, ErrorCode]> = [
      [deep(100_000), 'invalid_message'],
      [deepObject(100_000), 'invalid_message'],
      [update({}).replace('{}', `{"instructions":${deep(100_000)}}`), 'invalid_message'],
      [update({}).replace('{}', `{"turn_detection":${deepObject(100_000)}}`), 'invalid_message'],
      [update({}).replace('{}', `{"nested":${deepObject(100_000)}}`), 'invalid_message'],
      [update({}).replace('{}', `{"modalities":${deep(100_000)}}`), 'invalid_message'],
    ];
    for (const [raw, code] of cases) {
      const result = parseClientFrame(raw);
      expect(!result.ok && result.error.code).toBe(code);
    }
  });

  it('reports a frame over maxFrameBytes as message_too_large before parsing it', () => {
    const huge = text('x'.repeat(DEFAULT_FRAME_LIMITS.maxFrameBytes));
    const result = parseClientFrame(huge);
    expect(!result.ok && result.error).toEqual({
      code: 'message_too_large',
      message: 'frame is larger than the 1048576-byte limit',
    });
    // Not even JSON: size is checked first.
    const garbage = new Uint8Array(DEFAULT_FRAME_LIMITS.maxFrameBytes + 1).fill(0xff);
    expect(parseClientFrame(garbage)).toMatchObject({ ok: false, error: { code: 'message_too_large' } });
  });

  it('measures a string frame in UTF-8 bytes, not characters', () => {
    const limit = 1000;
    // 400 three-byte characters: 400 UTF-16 units but 1,200 bytes.
    const frame = text('€'.repeat(400));
    expect(new TextEncoder().encode(frame).length).toBeGreaterThan(limit);
    expect(frame.length).toBeLessThan(limit);
    expect(parseClientFrame(frame, { maxFrameBytes: limit })).toMatchObject({
      ok: false,
      error: { code: 'message_too_large' },
    });
    // Astral characters are 2 UTF-16 units and 4 bytes each.
    const emoji = text('😀'.repeat(200));
    const emojiBytes = new TextEncoder().encode(emoji).length;
    expect(parseClientFrame(emoji, { maxFrameBytes: emojiBytes }).ok).toBe(true);
    expect(parseClientFrame(emoji, { maxFrameBytes: emojiBytes - 1 }).ok).toBe(false);
    expect(parseClientFrame(new TextEncoder().encode(emoji), { maxFrameBytes: emojiBytes - 1 }).ok).toBe(
      false,
    );
  });

  it('applies maxAudioBytes to the decoded size without decoding', () => {
    const frame = audioFrame(pcm16Base64(4800));
    expect(parseClientFrame(frame, { maxAudioBytes: 4800 }).ok).toBe(true);
    const result = parseClientFrame(frame, { maxAudioBytes: 4798 });
    expect(!result.ok && result.error).toEqual({
      code: 'invalid_audio',
      message: 'conversation_item_input.audio: decodes to 4800 bytes, over the 4798-byte limit',
      field: 'conversation_item_input.audio',
    });
  });

  it('accepts the largest default audio chunk that fits the default frame', () => {
    const max = DEFAULT_FRAME_LIMITS.maxAudioBytes;
    // 786,432 bytes of audio is 1,048,576 base64 characters: that alone fills the frame limit.
    expect(parseClientFrame(audioFrame(pcm16Base64(max)), { maxFrameBytes: 2 * 1_048_576 }).ok).toBe(true);
    const over = parseClientFrame(audioFrame(pcm16Base64(max + 2)), { maxFrameBytes: 2 * 1_048_576 });
    expect(!over.ok && over.error.code).toBe('invalid_audio');
  });
});

describe('validateClientMessage', () => {
  it('validates an already-parsed object and returns that same object', () => {
    const message = { type: 'ping', ping: { timestamp: 1 } };
    const result = validateClientMessage(message);
    expect(result.ok && result.message).toBe(message);
  });

  it('does not find a type through the prototype chain', () => {
    const inherited = Object.create({ type: 'response.create' }) as object;
    expect(validateClientMessage(inherited)).toMatchObject({ ok: false, error: { field: 'type' } });
  });
});
