import { seededRandom } from '@rtv/testing';
import { describe, expect, it } from 'vitest';
import { type AudioFrameRange, scanAudioFrame } from '../src/audio-frame.js';
import { DEFAULT_FRAME_LIMITS, parseClientFrame } from '../src/index.js';
import { audioFrame, FRAME_20MS_BYTES, pcm16Base64 } from './helpers.js';

const MAX_AUDIO = DEFAULT_FRAME_LIMITS.maxAudioBytes;
const AUDIO_20MS = pcm16Base64(FRAME_20MS_BYTES);

const bytesOf = (frame: string) => Buffer.from(frame, 'latin1');
const utf8 = (frame: string) => new TextEncoder().encode(frame);
const slice = (bytes: Uint8Array, range: AudioFrameRange) =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1', range.start, range.end);

interface Limits {
  maxAudioBytes: number;
  maxFrameBytes?: number;
}

/** The audio parseClientFrame accepts in this frame, or undefined when it rejects the frame. */
function parsedAudio(bytes: Uint8Array, limits: Limits = { maxAudioBytes: MAX_AUDIO }): string | undefined {
  const result = parseClientFrame(bytes, limits);
  if (!result.ok || result.message.type !== 'conversation.item.input') return undefined;
  const item = result.message.conversation_item_input;
  return item.type === 'input_audio_buffer' ? item.audio : undefined;
}

function scan(bytes: Uint8Array, limits: Limits = { maxAudioBytes: MAX_AUDIO }) {
  return limits.maxFrameBytes === undefined
    ? scanAudioFrame(bytes, limits.maxAudioBytes)
    : scanAudioFrame(bytes, limits.maxAudioBytes, limits.maxFrameBytes);
}

/** Asserts the scanner accepts `frame` with exactly the audio parseClientFrame returns. */
function expectAccepted(frame: string | Uint8Array, audio: string, limits?: Limits): void {
  const bytes = typeof frame === 'string' ? utf8(frame) : frame;
  const range = scan(bytes, limits);
  expect(range).toBeDefined();
  expect(slice(bytes, range!)).toBe(audio);
  expect(parsedAudio(bytes, limits)).toBe(audio);
}

/** Asserts the scanner declines `frame` and parseClientFrame rejects it too. */
function expectInvalid(frame: string | Uint8Array, limits?: Limits): void {
  const bytes = typeof frame === 'string' ? utf8(frame) : frame;
  expect(scan(bytes, limits)).toBeUndefined();
  expect(parseClientFrame(bytes, limits).ok).toBe(false);
}

const TOKENS = (audio: string) => [
  '{',
  '"type"',
  ':',
  '"conversation.item.input"',
  ',',
  '"conversation_item_input"',
  ':',
  '{',
  '"type"',
  ':',
  '"input_audio_buffer"',
  ',',
  '"audio"',
  ':',
  `"${audio}"`,
  '}',
  '}',
];

/** The canonical frame with `ws` between every pair of tokens and around the whole frame. */
const spaced = (audio: string, ws: string) => ws + TOKENS(audio).join(ws) + ws;

describe('scanAudioFrame accepts canonical audio frames', () => {
  it('a 20 ms chunk (960 bytes, 1,280 base64 characters)', () => {
    expect(AUDIO_20MS).toHaveLength(1280);
    const frame = audioFrame(AUDIO_20MS);
    expectAccepted(frame, AUDIO_20MS);
    const range = scanAudioFrame(utf8(frame), MAX_AUDIO)!;
    expect(range).toEqual({ start: frame.indexOf(AUDIO_20MS), end: frame.indexOf(AUDIO_20MS) + 1280 });
  });

  it.each([2, 4, 6, 8, 10, 96, 962, 4800, 48_000])('%i bytes of PCM16', (size) => {
    expectAccepted(audioFrame(pcm16Base64(size)), pcm16Base64(size));
  });

  it('with no padding, one and two padding characters', () => {
    expect(pcm16Base64(6)).not.toContain('=');
    expect(pcm16Base64(8)).toMatch(/[^=]=$/);
    expect(pcm16Base64(4)).toMatch(/[^=]==$/);
    for (const audio of ['AAA=', 'AAAAAA==', '+/+/+/+/', '//8=', 'AAAAAAAAAAAAAAAAAAA=', 'Zm9vYmFy']) {
      expectAccepted(audioFrame(audio), audio);
    }
  });

  it.each([
    ['a space', ' '],
    ['a tab', '\t'],
    ['CRLF', '\r\n'],
    ['mixed whitespace', ' \n\t\r  '],
  ])('with %s between tokens', (_, ws) => {
    expectAccepted(spaced(AUDIO_20MS, ws), AUDIO_20MS);
    expectAccepted(spaced('AAA=', ws), 'AAA=');
  });

  it('as pretty-printed JSON', () => {
    expectAccepted(JSON.stringify(JSON.parse(audioFrame(AUDIO_20MS)), null, 2), AUDIO_20MS);
  });

  it('with audio exactly at the audio limit and a frame exactly at the frame limit', () => {
    const frame = audioFrame(AUDIO_20MS);
    expectAccepted(frame, AUDIO_20MS, { maxAudioBytes: FRAME_20MS_BYTES });
    expectAccepted(frame, AUDIO_20MS, { maxAudioBytes: MAX_AUDIO, maxFrameBytes: frame.length });
  });

  it('returns offsets relative to a view into a larger buffer', () => {
    const frame = utf8(audioFrame(AUDIO_20MS));
    const backing = new Uint8Array(frame.length + 20).fill(0x20);
    backing.set(frame, 7);
    const view = backing.subarray(7, 7 + frame.length);
    expect(scanAudioFrame(view, MAX_AUDIO)).toEqual(scanAudioFrame(frame, MAX_AUDIO));
    expectAccepted(view, AUDIO_20MS);
  });
});

describe('scanAudioFrame declines frames parseClientFrame rejects', () => {
  const cases: Array<[string, string]> = [
    ['odd decoded length (961 bytes)', audioFrame(pcm16Base64(961))],
    ['odd decoded length (1 byte)', audioFrame('AA==')],
    ['odd decoded length (3 bytes)', audioFrame('AAAA')],
    ['= in the middle', audioFrame('AA=AAAAA')],
    ['= followed by a character', audioFrame('AAA=AAAA')],
    ['three padding characters', audioFrame('AAAAA===')],
    ['only padding', audioFrame('====')],
    ['one character and three padding characters', audioFrame('A===')],
    ['three padding characters, even length otherwise', audioFrame('AAAAAAAAA===')],
    ['length 4k + 2 that would decode to an even count', audioFrame('AAAAAAAAAA')],
    ['length 4k + 2 with padding', audioFrame('AAAAAAAA==')],
    ['four padding characters after a quad', audioFrame('AAAA====')],
    ['length not a multiple of 4 (no padding)', audioFrame('AAAAAA')],
    ['length not a multiple of 4 (with padding)', audioFrame('AAAAAA=')],
    ['length not a multiple of 4 (one extra)', audioFrame(`${AUDIO_20MS}A`)],
    ['base64url -', audioFrame('AA-AAAAA')],
    ['base64url _', audioFrame('AA_AAAAA')],
    ['a space inside the audio', audioFrame('AAAA AAA')],
    ['a line break inside the audio', audioFrame(`${AUDIO_20MS.slice(0, 640)}\n${AUDIO_20MS.slice(640)}`)],
    ['a non-ASCII character inside the audio', audioFrame('AAAéAAAA')],
    ['empty audio', audioFrame('')],
    [
      'extra key in the item',
      '{"type":"conversation.item.input","conversation_item_input":{"type":"input_audio_buffer","audio":"AAA=","x":1}}',
    ],
    [
      'extra key at the top level',
      '{"type":"conversation.item.input","conversation_item_input":{"type":"input_audio_buffer","audio":"AAA="},"x":1}',
    ],
    ['trailing garbage', `${audioFrame('AAA=')}x`],
    ['a third closing brace', `${audioFrame('AAA=')}}`],
    ['a trailing NUL', `${audioFrame('AAA=')}\u0000`],
    ['a trailing comma', `${audioFrame('AAA=')},`],
    ['a second frame after the first', audioFrame('AAA=') + audioFrame('AAA=')],
    ['a leading BOM', `\uFEFF${audioFrame('AAA=')}`],
    ['a form feed between tokens', spaced('AAA=', '\f')],
    ['a no-break space between tokens', spaced('AAA=', '\u00a0')],
    ['type with a missing character', audioFrame('AAA=').replace('item.input', 'item.inpu')],
    ['type in a different case', audioFrame('AAA=').replace('conversation.item', 'Conversation.item')],
    ['type with a trailing space inside the string', audioFrame('AAA=').replace('.input"', '.input "')],
    ['item type input_text', audioFrame('AAA=').replace('input_audio_buffer', 'input_text')],
    [
      'item type with an extra character',
      audioFrame('AAA=').replace('input_audio_buffer', 'input_audio_buffers'),
    ],
    ['message type session.update', audioFrame('AAA=').replace('conversation.item.input', 'session.update')],
    ['key "audio " with a space', audioFrame('AAA=').replace('"audio"', '"audio "')],
    ['key "Type"', audioFrame('AAA=').replace('"type"', '"Type"')],
    ['item as a string', '{"type":"conversation.item.input","conversation_item_input":"AAA="}'],
    [
      'item as an array',
      '{"type":"conversation.item.input","conversation_item_input":[{"type":"input_audio_buffer","audio":"AAA="}]}',
    ],
    ['item as null', '{"type":"conversation.item.input","conversation_item_input":null}'],
    [
      'audio as a number',
      '{"type":"conversation.item.input","conversation_item_input":{"type":"input_audio_buffer","audio":1234}}',
    ],
    [
      'audio as an array',
      '{"type":"conversation.item.input","conversation_item_input":{"type":"input_audio_buffer","audio":["AAA="]}}',
    ],
    [
      'audio as null',
      '{"type":"conversation.item.input","conversation_item_input":{"type":"input_audio_buffer","audio":null}}',
    ],
    ['type as a number', '{"type":1,"conversation_item_input":{"type":"input_audio_buffer","audio":"AAA="}}'],
    ['the whole frame in an array', `[${audioFrame('AAA=')}]`],
    [
      'unquoted audio',
      '{"type":"conversation.item.input","conversation_item_input":{"type":"input_audio_buffer","audio":AAA=}}',
    ],
    [
      'an unterminated audio string',
      '{"type":"conversation.item.input","conversation_item_input":{"type":"input_audio_buffer","audio":"AAA=}}',
    ],
  ];

  it.each(cases)('%s', (_, frame) => expectInvalid(frame));

  it('audio over maxAudioBytes', () => {
    expectInvalid(audioFrame(AUDIO_20MS), { maxAudioBytes: FRAME_20MS_BYTES - 2 });
    expectInvalid(audioFrame('AAA='), { maxAudioBytes: 0 });
    expectInvalid(audioFrame(pcm16Base64(MAX_AUDIO + 2)), { maxAudioBytes: MAX_AUDIO, maxFrameBytes: 2e6 });
  });

  it('a frame over maxFrameBytes', () => {
    const frame = audioFrame(AUDIO_20MS);
    expectInvalid(frame, { maxAudioBytes: MAX_AUDIO, maxFrameBytes: frame.length - 1 });
    // Under the default audio limit but over the default 1 MiB frame limit.
    const big = audioFrame(pcm16Base64(786_400));
    expect(big.length).toBeGreaterThan(DEFAULT_FRAME_LIMITS.maxFrameBytes);
    expectInvalid(big);
    expect(scanAudioFrame(utf8(big), MAX_AUDIO, big.length)).toBeDefined();
  });

  it.each([0xff, 0xc3, 0x80])('byte 0x%s inside the audio (invalid UTF-8)', (byte) => {
    const bytes = utf8(audioFrame('AAAAAAAA'));
    bytes[bytes.indexOf(0x41) + 2] = byte;
    expectInvalid(bytes);
  });

  it('every proper prefix of a valid frame', () => {
    // Trailing whitespace is cut off so that no proper prefix is itself a valid frame.
    for (const frame of [audioFrame('AAAAAA=='), spaced('AAA=', ' \n').trimEnd(), audioFrame(AUDIO_20MS)]) {
      const bytes = utf8(frame);
      for (let end = 0; end < bytes.length; end++) expectInvalid(bytes.subarray(0, end));
    }
  });
});

describe('scanAudioFrame declines valid frames in another form (parseClientFrame handles them)', () => {
  const cases: Array<[string, string]> = [
    ['event_id first', `{"event_id":"e1",${audioFrame('AAA=').slice(1)}`],
    ['event_id last', `${audioFrame('AAA=').slice(0, -1)},"event_id":"e1"}`],
    [
      'item before type',
      '{"conversation_item_input":{"type":"input_audio_buffer","audio":"AAA="},"type":"conversation.item.input"}',
    ],
    [
      'audio before item type',
      '{"type":"conversation.item.input","conversation_item_input":{"audio":"AAA=","type":"input_audio_buffer"}}',
    ],
    ['a \\u0041 escape in the audio', audioFrame('AAA=').replace('"AAA="', '"\\u0041AA="')],
    ['a \\/ escape in the audio', audioFrame('AAAAAA/A').replace('/', '\\/')],
    ['an escape in a key', audioFrame('AAA=').replace('"audio"', '"audi\\u006f"')],
    ['an escape in the type', audioFrame('AAA=').replace('item.input', 'item\\u002einput')],
  ];

  it.each(cases)('%s', (_, frame) => {
    const bytes = utf8(frame);
    expect(parseClientFrame(bytes).ok).toBe(true);
    expect(scanAudioFrame(bytes, MAX_AUDIO)).toBeUndefined();
  });
});

// An independent statement of the canonical form (on the frame read as latin1): the same tokens, JSON
// whitespace between them, and audio made only of base64 characters.
const JSON_WS = '[ \\t\\r\\n]*';
const CANONICAL = new RegExp(
  `^${JSON_WS}${TOKENS('@')
    .map((t) => (t === '"@"' ? '"(?<audio>[A-Za-z0-9+/=]*)"' : t.replace(/[.{}]/g, '\\$&')))
    .join(JSON_WS)}${JSON_WS}$`,
);

describe('scanAudioFrame against parseClientFrame on mutated frames', () => {
  it('the reference pattern matches the canonical frames', () => {
    expect(CANONICAL.exec(audioFrame(AUDIO_20MS))?.groups?.['audio']).toBe(AUDIO_20MS);
    expect(CANONICAL.exec(spaced('AAA=', ' \r\n\t'))?.groups?.['audio']).toBe('AAA=');
    expect(CANONICAL.test(audioFrame('AAA=').replace('item.input', 'itemXinput'))).toBe(false);
  });

  it('accepts exactly the mutated frames that are canonical and valid, with the parsed audio', () => {
    const random = seededRandom(20_250_101);
    const seeds = [
      audioFrame(AUDIO_20MS),
      audioFrame(pcm16Base64(4)),
      audioFrame(pcm16Base64(8)),
      audioFrame(pcm16Base64(12)),
      spaced(pcm16Base64(16), ' '),
      spaced('AAAAAA==', '\n\t'),
    ].map(bytesOf);
    // Bytes that matter to the scanner, base64 characters and whitespace (often harmless) weighted up.
    const pool = bytesOf('{}[]":,==\\  \t\r\n\f-_++//AAaa00z.\u0000\u00ff\u00c3');
    const pick = () =>
      random() < 0.75 ? pool[Math.floor(random() * pool.length)]! : Math.floor(random() * 256);

    /** One random single-byte replacement, insertion or deletion. */
    function mutate(frame: Buffer): Buffer {
      // Half land in or next to the audio, half anywhere.
      const audioStart = frame.indexOf(0x22, frame.indexOf('"audio"') + 7) + 1;
      const audioEnd = frame.lastIndexOf(0x22);
      const at =
        random() < 0.5 && audioStart > 0 && audioEnd >= audioStart
          ? audioStart + Math.floor(random() * (audioEnd - audioStart + 1))
          : Math.floor(random() * (frame.length + 1));
      const op = Math.floor(random() * 3);
      if (op === 0) {
        const out = Buffer.from(frame);
        if (at < out.length) out[at] = pick();
        return out;
      }
      if (op === 1) return Buffer.concat([frame.subarray(0, at), Buffer.of(pick()), frame.subarray(at)]);
      return Buffer.concat([frame.subarray(0, at), frame.subarray(at + 1)]);
    }

    let accepted = 0;
    let rejected = 0;
    for (let n = 0; n < 8000; n++) {
      // Mostly one mutation; two or three reach audio lengths one step cannot (4k + 2 from 4k).
      let mutated = mutate(seeds[n % seeds.length]!);
      const extra = random() < 0.6 ? 0 : 1 + Math.floor(random() * 2);
      for (let k = 0; k < extra; k++) mutated = mutate(mutated);
      const limits: Limits =
        n % 5 === 0
          ? { maxAudioBytes: Math.floor(random() * 16) * 2, maxFrameBytes: mutated.length - (n % 2) }
          : { maxAudioBytes: MAX_AUDIO };

      const range = scan(mutated, limits);
      const audio = parsedAudio(mutated, limits);
      const reference = CANONICAL.exec(mutated.toString('latin1'))?.groups?.['audio'];
      if (range === undefined) {
        rejected++;
        // Declining a valid frame is allowed only when it is not in the canonical form.
        if (audio !== undefined) expect(reference, mutated.toString('latin1')).toBeUndefined();
      } else {
        accepted++;
        expect(audio, mutated.toString('latin1')).toBeDefined();
        expect(slice(mutated, range)).toBe(audio);
        expect(reference).toBe(audio);
      }
    }
    // Both outcomes must be common, or the comparison proves little.
    expect(accepted).toBeGreaterThan(250);
    expect(rejected).toBeGreaterThan(2500);
  });
});
