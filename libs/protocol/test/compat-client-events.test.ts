import { seededRandom } from '@rtv/testing';
import { describe, expect, it } from 'vitest';
import {
  type CompatAudioRange,
  type CompatError,
  type CompatIntakeResult,
  type CompatLimits,
  compatErrorFor,
  ERROR_CODES,
  ErrorCode,
  encodeCompatError,
  isStandardBase64,
  MAX_COMPAT_EVENT_ID_CHARS,
  MAX_COMPAT_JSON_DEPTH,
  scanCompatAudioAppend,
  validateCompatClientEvent,
} from '../src/index.js';
import { REALTIME_CLIENT_EVENT_TYPES } from '../src/upstream/openai-realtime.js';
import { pcm16Base64 } from './helpers.js';

const LIMITS: CompatLimits = { maxFrameBytes: 65_536, maxAudioBytes: 32_768 };
const AUDIO_20MS = pcm16Base64(960); // no padding
const AUDIO_PAD1 = pcm16Base64(962); // 962 % 3 = 2: one '='
const AUDIO_PAD2 = pcm16Base64(964); // 964 % 3 = 1: two '='

const utf8 = (text: string) => new TextEncoder().encode(text);
const check = (frame: string | Uint8Array, limits: CompatLimits = LIMITS): CompatIntakeResult =>
  validateCompatClientEvent(typeof frame === 'string' ? utf8(frame) : frame, limits);
const slice = (frame: Uint8Array, range: CompatAudioRange) =>
  Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength).toString('latin1', range.start, range.end);
const canonical = (audio: string) => JSON.stringify({ type: 'input_audio_buffer.append', audio });

/** Asserts the frame is accepted as audio whose bytes in the frame are exactly `audio`. */
function expectAudio(frame: string | Uint8Array, audio: string, limits: CompatLimits = LIMITS): void {
  const bytes = typeof frame === 'string' ? utf8(frame) : frame;
  const result = check(bytes, limits);
  if (!result.ok || result.kind !== 'audio') throw new Error(`expected audio, got ${JSON.stringify(result)}`);
  expect(slice(bytes, result.audio)).toBe(audio);
}

/** Asserts the frame is forwarded as the given event (re-serialised compactly). */
function expectEvent(frame: string | Uint8Array, event: Record<string, unknown>): void {
  const result = check(frame);
  const expected: CompatIntakeResult = {
    ok: true,
    kind: 'event',
    type: event['type'] as string,
    json: JSON.stringify(event),
  };
  if (typeof event['event_id'] === 'string') expected.eventId = event['event_id'];
  expect(result).toStrictEqual(expected);
}

/** Asserts the frame is refused with exactly this code, param and client event id. */
function expectError(
  frame: string | Uint8Array,
  code: string,
  param?: string,
  eventId?: string,
  limits: CompatLimits = LIMITS,
): CompatError {
  const result = check(frame, limits);
  if (result.ok) throw new Error(`expected ${code}, got ${JSON.stringify(result)}`);
  expect(result.error.type).toBe('invalid_request_error');
  expect(result.error.code).toBe(code);
  expect(result.error.param).toBe(param);
  expect(result.error.eventId).toBe(eventId);
  expect(result.error.message.length).toBeGreaterThan(0);
  return result.error;
}

describe('fast path', () => {
  it.each([
    ['no padding', AUDIO_20MS],
    ['one = of padding', AUDIO_PAD1],
    ['two = of padding', AUDIO_PAD2],
    ['empty audio', ''],
  ])('takes the canonical append with %s, as a byte range of the frame', (_, audio) => {
    const frame = utf8(canonical(audio));
    const range = scanCompatAudioAppend(frame, LIMITS.maxAudioBytes, LIMITS.maxFrameBytes);
    expect(range).toBeDefined();
    expect(slice(frame, range!)).toBe(audio);
    expect(check(frame)).toStrictEqual({ ok: true, kind: 'audio', audio: range });
  });

  it('reports offsets relative to a view that does not start at its buffer start', () => {
    const text = canonical(AUDIO_20MS);
    const backing = Buffer.from(`xxxxxxx${text}yyy`, 'latin1');
    const view = backing.subarray(7, 7 + text.length);
    const range = scanCompatAudioAppend(view, LIMITS.maxAudioBytes, LIMITS.maxFrameBytes);
    expect(range?.start).toBe(text.indexOf(AUDIO_20MS));
    expectAudio(view, AUDIO_20MS);
  });

  it('accepts audio of exactly maxAudioBytes in a frame of exactly maxFrameBytes', () => {
    const audio = pcm16Base64(600);
    const frame = utf8(canonical(audio));
    expectAudio(frame, audio, { maxAudioBytes: 600, maxFrameBytes: frame.length });
  });

  it.each([
    ['reordered keys', JSON.stringify({ audio: AUDIO_20MS, type: 'input_audio_buffer.append' })],
    ['spaces between tokens', `{ "type" : "input_audio_buffer.append" , "audio" : "${AUDIO_20MS}" }\n`],
    ['an escaped key', `{"type":"input_audio_buffer.append","\\u0061udio":"${AUDIO_20MS}"}`],
    [
      'a duplicate key (the last one counts)',
      `{"type":"input_audio_buffer.append","audio":"QUFB","audio":"${AUDIO_20MS}"}`,
    ],
  ])('misses %s, and the full path still finds the audio bytes', (_, text) => {
    const frame = utf8(text);
    expect(scanCompatAudioAppend(frame, LIMITS.maxAudioBytes, LIMITS.maxFrameBytes)).toBeUndefined();
    expectAudio(frame, AUDIO_20MS);
  });

  it('misses an append with event_id, which is forwarded as an event so the id reaches the provider', () => {
    const event = { type: 'input_audio_buffer.append', event_id: 'evt_1', audio: AUDIO_20MS };
    const frame = utf8(JSON.stringify(event));
    expect(scanCompatAudioAppend(frame, LIMITS.maxAudioBytes, LIMITS.maxFrameBytes)).toBeUndefined();
    expectEvent(frame, event);
    // Spacing goes; the key order stays the client's.
    const reordered = { audio: AUDIO_20MS, event_id: 'evt_1', type: 'input_audio_buffer.append' };
    expectEvent(
      `{ "audio": "${AUDIO_20MS}", "event_id": "evt_1", "type": "input_audio_buffer.append" }`,
      reordered,
    );
  });

  it('forwards as an event an append whose audio is written with escapes (no verbatim bytes to copy)', () => {
    const audio = pcm16Base64(96);
    expect(audio).toContain('/');
    const text = canonical(audio).replaceAll('/', '\\/');
    expect(scanCompatAudioAppend(utf8(text), LIMITS.maxAudioBytes, LIMITS.maxFrameBytes)).toBeUndefined();
    expectEvent(text, { type: 'input_audio_buffer.append', audio });
  });

  it('declines bad audio in canonical form, and the full path reports it', () => {
    const scan = (text: string) =>
      scanCompatAudioAppend(utf8(text), LIMITS.maxAudioBytes, LIMITS.maxFrameBytes);
    for (const audio of ['AAAA', 'AA-A', 'AAA', 'AA=A', 'A===', '====', 'AA A', 'AAA\\u0041']) {
      const text = canonical(audio).replace('\\\\', '\\');
      expect(scan(text)).toBeUndefined();
      expect(check(text).ok).toBe(false);
    }
    const oversize = canonical(pcm16Base64(LIMITS.maxAudioBytes + 2));
    expect(scan(oversize)).toBeUndefined();
    expect(check(oversize).ok).toBe(false);
  });

  it('takes exactly the audio the full path accepts, for every short string over a tricky alphabet', () => {
    const alphabet = ['A', 'Q', '+', '/', '=', '-', '"', ' '];
    const strings = [''];
    for (let length = 1; length <= 4; length++) {
      for (const prefix of strings.filter((s) => s.length === length - 1)) {
        for (const ch of alphabet) strings.push(prefix + ch);
      }
    }
    let fast = 0;
    for (const audio of [...strings, ...strings.map((s) => `QUFB${s}`)]) {
      const frame = utf8(canonical(audio));
      const range = scanCompatAudioAppend(frame, LIMITS.maxAudioBytes, LIMITS.maxFrameBytes);
      // Reordered keys never take the fast path.
      const full = check(JSON.stringify({ audio, type: 'input_audio_buffer.append' }));
      expect(range !== undefined, audio).toBe(full.ok);
      if (range !== undefined) {
        fast++;
        expect(slice(frame, range)).toBe(audio);
      }
    }
    expect(fast).toBeGreaterThan(100);
  });

  it('agrees with JSON.parse on thousands of mutated canonical frames', () => {
    const random = seededRandom(17);
    const base = canonical(pcm16Base64(30));
    const alphabet = ['"', '\\', '=', ' ', '-', '_', 'A', '/', '}', '{', ',', '\u00e9', '\n'];
    let accepted = 0;
    for (let round = 0; round < 5000; round++) {
      const chars = [...base];
      const edits = 1 + Math.floor(random() * 3);
      for (let e = 0; e < edits; e++) {
        const at = Math.floor(random() * chars.length);
        const ch = alphabet[Math.floor(random() * alphabet.length)]!;
        const op = random();
        if (op < 0.4) chars[at] = ch;
        else if (op < 0.7) chars.splice(at, 0, ch);
        else chars.splice(at, 1);
      }
      const frame = utf8(chars.join(''));
      const result = check(frame);
      if (!result.ok || result.kind !== 'audio') continue;
      accepted++;
      // Whatever path took it, the range holds exactly the audio JSON.parse sees, and it is valid PCM16.
      const parsed = JSON.parse(chars.join('')) as { type: string; audio: string };
      expect(Object.keys(parsed).sort()).toStrictEqual(['audio', 'type']);
      expect(parsed.type).toBe('input_audio_buffer.append');
      expect(slice(frame, result.audio)).toBe(parsed.audio);
      expect(isStandardBase64(parsed.audio)).toBe(true);
      expect(Buffer.from(parsed.audio, 'base64').length % 2).toBe(0);
    }
    expect(accepted).toBeGreaterThan(50);
  });
});

describe('frame-level errors', () => {
  it('refuses a frame over maxFrameBytes with message_too_large before parsing it', () => {
    const limits = { maxFrameBytes: 100, maxAudioBytes: 1_000 };
    expectError(canonical(pcm16Base64(90)), 'message_too_large', undefined, undefined, limits);
    // Not even JSON: the size is checked first.
    expectError('x'.repeat(101), 'message_too_large', undefined, undefined, limits);
    expectError(
      `{"type":"input_audio_buffer.commit","event_id":"e1"}${' '.repeat(60)}`,
      'message_too_large',
      undefined,
      undefined,
      limits,
    );
  });

  it.each([
    ['a syntax error', '{"type":'],
    ['an empty frame', ''],
    ['invalid UTF-8', new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x7d])],
    ['a byte order mark', '\ufeff{"type":"input_audio_buffer.commit"}'],
    [
      'a number out of range',
      '{"type":"conversation.item.truncate","item_id":"a","content_index":0,"audio_end_ms":1e400}',
    ],
    [
      'a nested number out of range',
      '{"type":"session.update","session":{"audio":{"output":{"speed":-1e999}}}}',
    ],
  ])('refuses %s with invalid_json', (_, frame) => {
    const error = expectError(frame, 'invalid_json');
    expect(error.message).toMatch(/^Invalid event: failed to parse JSON value\. \S/);
  });

  it('says why the JSON is unusable', () => {
    expect(expectError('{"type":', 'invalid_json').message).toBe(
      'Invalid event: failed to parse JSON value. Expected a JSON object.',
    );
    expect(expectError(new Uint8Array([0x7b, 0xc3, 0x28, 0x7d]), 'invalid_json').message).toMatch(/UTF-8/);
    expect(expectError('{"type":"session.update","session":{"x":1e400}}', 'invalid_json').message).toMatch(
      /out of range/,
    );
  });

  it(`accepts nesting of ${MAX_COMPAT_JSON_DEPTH} levels and refuses one more with invalid_json`, () => {
    const nested = (levels: number) =>
      `{"type":"session.update","session":{"metadata":${'['.repeat(levels - 2)}1${']'.repeat(levels - 2)}}}`;
    expect(check(nested(MAX_COMPAT_JSON_DEPTH)).ok).toBe(true);
    const error = expectError(nested(MAX_COMPAT_JSON_DEPTH + 1), 'invalid_json');
    expect(error.message).toContain(`at most ${MAX_COMPAT_JSON_DEPTH} levels`);
  });

  it('refuses nesting deep enough to overflow JSON.stringify with invalid_json, not a crash', () => {
    const depth = 200_000;
    const frame = `{"type":"session.update","session":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}`;
    expectError(frame, 'invalid_json', undefined, undefined, { maxFrameBytes: 2_000_000, maxAudioBytes: 1 });
  });

  it.each([
    ['an array', '[{"type":"input_audio_buffer.commit"}]'],
    ['a string', '"input_audio_buffer.commit"'],
    ['null', 'null'],
    ['a number', '42'],
  ])('refuses %s with invalid_event', (_, frame) => {
    expect(expectError(frame, 'invalid_event').message).toBe('Invalid event: expected a JSON object.');
  });

  it('refuses an event without type with invalid_event, echoing its event_id', () => {
    const error = expectError('{"event_id":"e7","audio":"AAAA"}', 'invalid_event', undefined, 'e7');
    expect(error.message).toBe("The 'type' field is missing.");
  });
});

describe('type and event_id', () => {
  const supported = REALTIME_CLIENT_EVENT_TYPES.map((t) => `'${t}'`);
  const list = `${supported.slice(0, -1).join(', ')}, and ${supported.at(-1)}`;

  it('refuses an unknown type with invalid_value on type, listing the supported types like the provider', () => {
    const error = expectError('{"type":"foo","event_id":"e1"}', 'invalid_value', 'type', 'e1');
    expect(error.message).toBe(`Invalid value: 'foo'. Supported values are: ${list}.`);
    expect(error.message).toMatch(/^Invalid value: 'foo'\. Supported values are: 'session\.update', /);
  });

  it.each([
    ['a number', '{"type":7}', 'Invalid value: 7.'],
    ['null', '{"type":null}', 'Invalid value: null.'],
    ['an object', '{"type":{"a":1}}', 'Invalid value: {"a":1}.'],
    ['a prototype key', '{"type":"constructor"}', "Invalid value: 'constructor'."],
    ['__proto__', '{"type":"__proto__"}', "Invalid value: '__proto__'."],
    [
      'a beta-only or WebRTC-only type',
      '{"type":"output_audio_buffer.clear"}',
      "Invalid value: 'output_audio_buffer.clear'.",
    ],
    [
      'our own public protocol type',
      '{"type":"conversation.item.input"}',
      "Invalid value: 'conversation.item.input'.",
    ],
  ])('refuses a type that is %s with invalid_value', (_, frame, start) => {
    expect(expectError(frame, 'invalid_value', 'type').message).toBe(
      `${start} Supported values are: ${list}.`,
    );
  });

  it('cuts a long unknown type short in the message', () => {
    const error = expectError(JSON.stringify({ type: 'x'.repeat(10_000) }), 'invalid_value', 'type');
    expect(error.message.length).toBeLessThan(1_000);
    expect(error.message).toContain(`'${'x'.repeat(64)}…'`);
  });

  it('refuses a non-string event_id with invalid_type and does not echo it', () => {
    const error = expectError(
      '{"type":"input_audio_buffer.commit","event_id":5}',
      'invalid_type',
      'event_id',
    );
    expect(error.message).toBe("Invalid type for 'event_id': expected a string, but got an integer instead.");
    expectError('{"type":"input_audio_buffer.commit","event_id":null}', 'invalid_type', 'event_id');
  });

  it(`accepts an event_id of ${MAX_COMPAT_EVENT_ID_CHARS} characters and refuses a longer one`, () => {
    const longest = 'e'.repeat(MAX_COMPAT_EVENT_ID_CHARS);
    expectEvent(JSON.stringify({ type: 'input_audio_buffer.commit', event_id: longest }), {
      type: 'input_audio_buffer.commit',
      event_id: longest,
    });
    const frame = JSON.stringify({ type: 'input_audio_buffer.commit', event_id: `${longest}e` });
    expectError(frame, 'string_above_max_length', 'event_id');
  });

  it('refuses an unknown top-level key with unknown_parameter naming it', () => {
    const error = expectError(
      '{"type":"input_audio_buffer.clear","event_id":"e2","bogus":true}',
      'unknown_parameter',
      'bogus',
      'e2',
    );
    expect(error.message).toBe("Unknown parameter: 'bogus'.");
    // Another type's field is unknown here too, and so is an own __proto__ key.
    expectError(`{"type":"input_audio_buffer.commit","audio":"${AUDIO_20MS}"}`, 'unknown_parameter', 'audio');
    expectError('{"type":"response.cancel","__proto__":{}}', 'unknown_parameter', '__proto__');
    // The fast path never swallows an extra key.
    expectError(
      `{"type":"input_audio_buffer.append","audio":"${AUDIO_20MS}","x":1}`,
      'unknown_parameter',
      'x',
    );
  });
});

describe('fields of each type', () => {
  it.each([
    ['session.update', 'session'],
    ['input_audio_buffer.append', 'audio'],
    ['session.input_audio_buffer.append', 'audio'],
    ['conversation.item.create', 'item'],
    ['conversation.item.truncate', 'item_id'],
    ['conversation.item.delete', 'item_id'],
    ['conversation.item.retrieve', 'item_id'],
  ])('%s without %s: missing_required_parameter', (type, param) => {
    const error = expectError(
      JSON.stringify({ type, event_id: 'm1' }),
      'missing_required_parameter',
      param,
      'm1',
    );
    expect(error.message).toBe(`Missing required parameter: '${param}'.`);
  });

  it('conversation.item.truncate needs content_index and audio_end_ms, integers >= 0', () => {
    const base = { type: 'conversation.item.truncate', event_id: 't1', item_id: 'item_1' };
    const frame = (extra: object) => JSON.stringify({ ...base, ...extra });
    expectError(frame({ audio_end_ms: 5 }), 'missing_required_parameter', 'content_index', 't1');
    expectError(frame({ content_index: 0 }), 'missing_required_parameter', 'audio_end_ms', 't1');
    expectError(frame({ content_index: 1.5, audio_end_ms: 5 }), 'invalid_type', 'content_index', 't1');
    expectError(frame({ content_index: '0', audio_end_ms: 5 }), 'invalid_type', 'content_index', 't1');
    expectError(frame({ content_index: 0, audio_end_ms: null }), 'invalid_type', 'audio_end_ms', 't1');
    const below = expectError(
      frame({ content_index: 0, audio_end_ms: -1 }),
      'integer_below_min_value',
      'audio_end_ms',
      't1',
    );
    expect(below.message).toBe(
      "Invalid 'audio_end_ms': integer below minimum value. Expected a value >= 0, but got -1 instead.",
    );
    expectError(frame({ item_id: 3, content_index: 0, audio_end_ms: 0 }), 'invalid_type', 'item_id', 't1');
    expectEvent(frame({ content_index: 0, audio_end_ms: 0 }), { ...base, content_index: 0, audio_end_ms: 0 });
  });

  it.each([
    [{ type: 'session.update', session: 'x' }, 'session', 'expected an object, but got a string instead'],
    [{ type: 'session.update', session: [] }, 'session', 'expected an object, but got an array instead'],
    [{ type: 'session.update', session: null }, 'session', 'expected an object, but got null instead'],
    [{ type: 'conversation.item.create', item: [1] }, 'item', 'expected an object, but got an array instead'],
    [
      { type: 'conversation.item.create', item: {}, previous_item_id: 4 },
      'previous_item_id',
      'expected a string, but got an integer instead',
    ],
    [
      { type: 'conversation.item.delete', item_id: true },
      'item_id',
      'expected a string, but got a boolean instead',
    ],
    [
      { type: 'conversation.item.retrieve', item_id: {} },
      'item_id',
      'expected a string, but got an object instead',
    ],
    [{ type: 'response.create', response: null }, 'response', 'expected an object, but got null instead'],
    [
      { type: 'response.create', response: 'now' },
      'response',
      'expected an object, but got a string instead',
    ],
    [
      { type: 'response.cancel', response_id: 1.5 },
      'response_id',
      'expected a string, but got a decimal instead',
    ],
    [
      { type: 'input_audio_buffer.append', audio: 12 },
      'audio',
      'expected a string, but got an integer instead',
    ],
  ])('%j: invalid_type on %s', (event, param, detail) => {
    const error = expectError(JSON.stringify({ ...event, event_id: 'x1' }), 'invalid_type', param, 'x1');
    expect(error.message).toBe(`Invalid type for '${param}': ${detail}.`);
  });

  it('conversation.item.create takes previous_item_id as a string or null', () => {
    for (const previous of ['root', null]) {
      const event = {
        type: 'conversation.item.create',
        previous_item_id: previous,
        item: { type: 'message' },
      };
      expectEvent(JSON.stringify(event), event);
    }
  });

  it.each([
    ['an odd byte count', 'AAAA', /whole PCM16 samples.*got 3 bytes/],
    ['one odd byte', 'AA==', /got 1 byte\.$/],
    ['base64url characters', 'AA-_', /base64url/],
    ['missing padding', 'AAA', /padding/],
    ['padding in the middle', 'AA=AAAAA', /= padding may only end/],
    ['a line break', 'AAAA\nAAAA', /whitespace or line breaks/],
    ['a non-alphabet character', 'AA*A', /invalid character at index 2/],
  ])('refuses audio with %s: invalid_value on audio', (_, audio, detail) => {
    for (const eventId of [undefined, 'a1']) {
      const event = { type: 'input_audio_buffer.append', event_id: eventId, audio };
      const error = expectError(JSON.stringify(event), 'invalid_value', 'audio', eventId);
      expect(error.message).toMatch(/^Invalid 'audio': /);
      expect(error.message).toMatch(detail);
    }
  });

  it('refuses audio that decodes to more than maxAudioBytes, and accepts exactly that many', () => {
    const limits = { maxFrameBytes: 65_536, maxAudioBytes: 1_000 };
    const error = expectError(canonical(pcm16Base64(1_002)), 'invalid_value', 'audio', undefined, limits);
    expect(error.message).toBe("Invalid 'audio': decodes to 1002 bytes, over the 1000-byte limit.");
    expectAudio(canonical(pcm16Base64(1_000)), pcm16Base64(1_000), limits);
  });
});

/** The smallest valid event of every GA client event type. */
const MINIMAL_EVENTS: Record<string, Record<string, unknown>> = {
  'session.update': { type: 'session.update', session: {} },
  'session.close': { type: 'session.close' },
  'input_audio_buffer.append': { type: 'input_audio_buffer.append', event_id: 'keep_me', audio: '' },
  'session.input_audio_buffer.append': { type: 'session.input_audio_buffer.append', audio: AUDIO_20MS },
  'input_audio_buffer.commit': { type: 'input_audio_buffer.commit' },
  'input_audio_buffer.clear': { type: 'input_audio_buffer.clear' },
  'conversation.item.create': { type: 'conversation.item.create', item: {} },
  'conversation.item.truncate': {
    type: 'conversation.item.truncate',
    item_id: 'item_1',
    content_index: 0,
    audio_end_ms: 0,
  },
  'conversation.item.delete': { type: 'conversation.item.delete', item_id: 'item_1' },
  'conversation.item.retrieve': { type: 'conversation.item.retrieve', item_id: 'item_1' },
  'response.create': { type: 'response.create' },
  'response.cancel': { type: 'response.cancel' },
};

describe('round trip of every known type', () => {
  it('has a minimal event for exactly the GA client event types', () => {
    expect(Object.keys(MINIMAL_EVENTS).sort()).toStrictEqual([...REALTIME_CLIENT_EVENT_TYPES].sort());
  });

  it.each(Object.entries(MINIMAL_EVENTS))(
    'forwards a minimal %s unchanged, with and without event_id',
    (_, event) => {
      expectEvent(JSON.stringify(event), event);
      const withId = { ...event, event_id: 'evt_round_trip' };
      expectEvent(`  ${JSON.stringify(withId, null, 2)}\n`, withId);
    },
  );

  it("forwards a full response.create and session.update untouched (deep contents are the provider's)", () => {
    const create = {
      type: 'response.create',
      event_id: 'r1',
      response: {
        conversation: 'none',
        output_modalities: ['text'],
        instructions: 'Say hi',
        metadata: { k: 'v' },
      },
    };
    expectEvent(JSON.stringify(create, null, 1), create);
    const update = {
      type: 'session.update',
      session: { type: 'realtime', bogus_deep_field: 1, audio: { output: { voice: 'nobody', speed: 9 } } },
    };
    expectEvent(JSON.stringify(update), update);
    const cancel = { type: 'response.cancel', response_id: 'resp_1' };
    expectEvent(JSON.stringify(cancel), cancel);
  });

  it('keeps odd but valid JSON values as JSON.parse reads them', () => {
    const text =
      '{"type":"conversation.item.create","item":{"text":"h\\u00e9 \\ud83d\\ude00 \\ud800 \\"q\\" \\u2028","n":-0,"big":12345678901234567890,"e":1E2,"o":{},"a":[]}}';
    const result = check(text);
    expect(result).toStrictEqual({
      ok: true,
      kind: 'event',
      type: 'conversation.item.create',
      json: JSON.stringify(JSON.parse(text)),
    });
    if (result.ok && result.kind === 'event') {
      // JSON.stringify writes -0 as 0, the only value that does not come back identical.
      expect(result.json).toContain('"n":0,');
      expect(JSON.parse(result.json)).toEqual({
        ...JSON.parse(text),
        item: { ...JSON.parse(text).item, n: 0 },
      });
      expect(result.json).toContain('\\ud800'); // a lone surrogate stays an escape: the JSON stays valid UTF-8
    }
  });
});

describe('errors in the provider shape', () => {
  it('encodes exactly the provider error event, with a fresh server event id', () => {
    const err: CompatError = {
      type: 'invalid_request_error',
      code: 'unknown_parameter',
      message: "Unknown parameter: 'x'.",
      param: 'x',
      eventId: 'client_1',
    };
    const event = JSON.parse(encodeCompatError(err));
    expect(Object.keys(event)).toStrictEqual(['type', 'event_id', 'error']);
    expect(event.type).toBe('error');
    expect(event.event_id).toMatch(/^event_[0-9A-Za-z]{21}$/);
    expect(event.error).toStrictEqual({
      type: 'invalid_request_error',
      code: 'unknown_parameter',
      message: "Unknown parameter: 'x'.",
      param: 'x',
      event_id: 'client_1',
    });
    expect(Object.keys(event.error)).toStrictEqual(['type', 'code', 'message', 'param', 'event_id']);
    const ids = new Set(Array.from({ length: 200 }, () => JSON.parse(encodeCompatError(err)).event_id));
    expect(ids.size).toBe(200);
  });

  it('writes null for a missing param and client event id', () => {
    const event = JSON.parse(
      encodeCompatError({ type: 'server_error', code: 'internal_error', message: 'x' }),
    );
    expect(event.error).toStrictEqual({
      type: 'server_error',
      code: 'internal_error',
      message: 'x',
      param: null,
      event_id: null,
    });
  });

  it('maps our codes: 4xx to invalid_request_error, 5xx to server_error, message from the registry', () => {
    for (const code of ERROR_CODES) {
      const error = compatErrorFor(code);
      expect(error).toStrictEqual({
        type: ErrorCode[code].httpStatus >= 500 ? 'server_error' : 'invalid_request_error',
        code,
        message: ErrorCode[code].message,
      });
    }
    expect(compatErrorFor('rate_limited').type).toBe('invalid_request_error');
    expect(compatErrorFor('replay_buffer_full').type).toBe('server_error');
    expect(compatErrorFor('invalid_audio', 'Bad audio', 'audio', 'e9')).toStrictEqual({
      type: 'invalid_request_error',
      code: 'invalid_audio',
      message: 'Bad audio',
      param: 'audio',
      eventId: 'e9',
    });
  });

  it('round-trips a validation error into a parseable error event', () => {
    const result = check('{"type":"nope","event_id":"c1"}');
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const event = JSON.parse(encodeCompatError(result.error));
    expect(event.error).toMatchObject({ code: 'invalid_value', param: 'type', event_id: 'c1' });
  });
});
