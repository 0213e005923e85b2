/**
 * Reproducible hostile client frames for fuzzing the gateway: a seeded generator of random and mutated
 * frames in nine categories, each frame labelled with what a correct gateway may do with it. The same
 * seed always yields the same frames, so a failing fuzz run is replayed by its seed and frame index.
 *
 * Expectations describe the frame alone (validation at the edge). Outcomes that depend on the session
 * rather than the frame (`rate_limited` and close 1008 under a flood, `conversation_busy`, upstream
 * errors) are the harness's business, not the generator's.
 */
import {
  CLIENT_MESSAGE_TYPES,
  DEFAULT_FRAME_LIMITS,
  type ErrorCode,
  MAX_INSTRUCTIONS_CHARS,
  MAX_TEXT_CHARS,
  VOICES,
} from '@rtv/protocol';
import { HOSTILE_VALUES, textFrame } from './hostile-values.js';

export const FUZZ_CATEGORIES = [
  'truncated_json',
  'wrong_types',
  'giant_string',
  'binary_garbage',
  'invalid_utf8',
  'deep_nesting',
  'hostile_values',
  'mutated_valid',
  'random_json',
] as const;
export type FuzzCategory = (typeof FUZZ_CATEGORIES)[number];

/** What a correct gateway may do with one frame. Any listed reaction is right; anything else is a bug. */
export interface FuzzExpectation {
  /** `error.code`s it may answer with. */
  readonly errors: readonly ErrorCode[];
  /** Close codes it may close with (after one of `errors`, or without an error). */
  readonly closes: readonly number[];
  /** The frame may be valid: accepting it without an error is right too. */
  readonly mayAccept: boolean;
}

export interface FuzzFrame {
  /** Position in the sequence for this seed: with the seed, all it takes to replay the frame. */
  readonly index: number;
  readonly category: FuzzCategory;
  /** How the frame was made (`truncated at 17 of 42`), for failure messages. Never the frame itself. */
  readonly note: string;
  /** A string, or bytes (for invalid UTF-8 in a text frame, and for binary frames). */
  readonly data: string | Uint8Array;
  /** Send as a binary WebSocket frame, which the gateway reads as raw PCM16 audio. */
  readonly binary: boolean;
  readonly expect: FuzzExpectation;
}

export interface FuzzOptions {
  readonly seed: number;
  /**
   * The gateway's frame limit (`RTV_MAX_FRAME_BYTES`). Oversize frames are made between this and twice
   * it (beyond twice, uWS cuts the connection before anyone can answer), so a fuzz run is much cheaper
   * against a gateway started with a small limit such as 65,536.
   * @defaultValue 1_048_576
   */
  readonly maxFrameBytes?: number;
  /** The gateway's decoded audio limit. @defaultValue 786_432 */
  readonly maxAudioBytes?: number;
  /** Categories to draw from, in turn. @defaultValue all of {@link FUZZ_CATEGORIES} */
  readonly categories?: readonly FuzzCategory[];
}

/** A reaction the harness observed for one frame. */
export type FuzzOutcome =
  | { readonly kind: 'accepted' }
  | { readonly kind: 'error'; readonly code: string }
  | { readonly kind: 'close'; readonly code: number };

/** Whether `outcome` is one of the reactions `frame` allows. */
export function isExpectedOutcome(frame: FuzzFrame, outcome: FuzzOutcome): boolean {
  switch (outcome.kind) {
    case 'accepted':
      return frame.expect.mayAccept;
    case 'error':
      return (frame.expect.errors as readonly string[]).includes(outcome.code);
    case 'close':
      return frame.expect.closes.includes(outcome.code);
  }
}

/** mulberry32: a tiny, fast, well-distributed 32-bit PRNG; plenty for fuzzing, not for secrets. */
export function createPrng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` frames from {@link fuzzFrames}. */
export function takeFrames(count: number, options: FuzzOptions): FuzzFrame[] {
  const out: FuzzFrame[] = [];
  for (const frame of fuzzFrames(options)) {
    if (out.length >= count) break;
    out.push(frame);
  }
  return out;
}

/** An endless, deterministic sequence of hostile frames; the categories take turns. */
export function* fuzzFrames(options: FuzzOptions): Generator<FuzzFrame, never, undefined> {
  const gen = new FrameMaker(options);
  const categories = options.categories ?? FUZZ_CATEGORIES;
  if (categories.length === 0) throw new RangeError('categories must not be empty');
  for (let index = 0; ; index++) {
    const category = categories[index % categories.length]!;
    yield { index, category, ...gen.make(category) };
  }
}

type Made = Omit<FuzzFrame, 'index' | 'category'>;
type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const CLOSE_ABNORMAL = 1006; // what a client sees when the server drops the TCP connection
const CLOSE_INVALID_PAYLOAD = 1007;
const CLOSE_TOO_BIG = 1009;
const PARSE_ERRORS: readonly ErrorCode[] = [
  'invalid_json',
  'invalid_message',
  'unknown_message_type',
  'invalid_audio',
];
const utf8 = new TextEncoder();

const INVALID_UTF8_SEQUENCES: readonly (readonly number[])[] = [
  [0xff],
  [0xc0, 0xaf], // overlong "/"
  [0x80], // continuation byte without a lead
  [0xe2, 0x82], // truncated 3-byte sequence
  [0xed, 0xa0, 0x80], // UTF-16 surrogate encoded as UTF-8
  [0xf4, 0x90, 0x80, 0x80], // beyond U+10FFFF
];

class FrameMaker {
  private readonly rnd: () => number;
  private readonly maxFrame: number;
  private readonly maxAudio: number;

  constructor(options: FuzzOptions) {
    this.rnd = createPrng(options.seed);
    this.maxFrame = options.maxFrameBytes ?? DEFAULT_FRAME_LIMITS.maxFrameBytes;
    this.maxAudio = options.maxAudioBytes ?? DEFAULT_FRAME_LIMITS.maxAudioBytes;
  }

  make(category: FuzzCategory): Made {
    switch (category) {
      case 'truncated_json': {
        const full = JSON.stringify(this.validMessage());
        const cut = this.int(full.length);
        return this.text(full.slice(0, cut), `truncated at ${cut} of ${full.length}`, ['invalid_json']);
      }
      case 'wrong_types':
        return this.wrongTypes();
      case 'giant_string':
        return this.giant();
      case 'binary_garbage':
        return this.garbage();
      case 'invalid_utf8': {
        const bytes = utf8.encode(JSON.stringify(this.validMessage()));
        const bad = this.pick(INVALID_UTF8_SEQUENCES);
        const at = this.int(bytes.length + 1);
        const data = new Uint8Array(bytes.length + bad.length);
        data.set(bytes.subarray(0, at), 0);
        data.set(bad, at);
        data.set(bytes.subarray(at), at + bad.length);
        // uWS drops a connection whose text frame is not UTF-8 (1006 at the client); 1007 is the code
        // RFC 6455 names for it, and an error is right if the check moves into the application.
        const note = `${bad.length}-byte invalid sequence at ${at}`;
        return {
          note,
          data,
          binary: false,
          expect: expectation(['invalid_json'], [CLOSE_ABNORMAL, CLOSE_INVALID_PAYLOAD]),
        };
      }
      case 'deep_nesting':
        return this.deep();
      case 'hostile_values': {
        const h = this.pick(HOSTILE_VALUES);
        return {
          note: h.note,
          data: h.json,
          binary: false,
          expect: expectation(h.errors ?? [], [], h.valid),
        };
      }
      case 'mutated_valid':
        return this.mutated();
      case 'random_json': {
        const value = this.randomJson(0);
        const known =
          value !== null &&
          typeof value === 'object' &&
          !Array.isArray(value) &&
          (CLIENT_MESSAGE_TYPES as readonly unknown[]).includes(value['type']);
        const errors: ErrorCode[] = ['invalid_message', 'unknown_message_type', 'invalid_audio'];
        return this.text(
          JSON.stringify(value),
          known ? 'random body, known type' : 'random value',
          errors,
          known,
        );
      }
    }
  }

  private wrongTypes(): Made {
    const message = this.validMessage();
    const paths = fieldPaths(message).filter((p) => p.length > 0);
    const path = this.pick(paths);
    const parent = path
      .slice(0, -1)
      .reduce<Json>((node, key) => (node as Record<string, Json>)[key]!, message);
    const key = path[path.length - 1]!;
    const old = (parent as Record<string, Json>)[key]!;
    // A value of another JSON kind, skipping the kinds a union field also accepts: null for
    // turn_detection, a number (7) in place of max_response_output_tokens' "inf".
    const kinds = ['string', 'number', 'boolean', 'null', 'array', 'object'].filter(
      (k) =>
        k !== kindOf(old) &&
        !(k === 'null' && key === 'turn_detection') &&
        !(k === 'number' && key === 'max_response_output_tokens'),
    );
    const kind = this.pick(kinds);
    const values: Record<string, Json> = {
      string: 'x',
      number: 7,
      boolean: true,
      null: null,
      array: [1],
      object: {},
    };
    (parent as Record<string, Json>)[key] = values[kind]!;
    return this.text(JSON.stringify(message), `${path.join('.')}: ${kindOf(old)} → ${kind}`, [
      'invalid_message',
    ]);
  }

  private giant(): Made {
    const variant = this.int(6);
    if (variant === 0) {
      // Over the frame limit but under the hard cut: message_too_large, then close 1009.
      const size = this.maxFrame + 1 + this.int(Math.min(this.maxFrame - 1, 65_536));
      return this.text(textFrame('a'.repeat(size)), `frame of ~${size} bytes`, ['message_too_large']);
    }
    if (variant === 1) {
      const size = this.maxAudio + 2 + 2 * this.int(1024);
      const data = new Uint8Array(size);
      const note = `binary frame of ${size} bytes`;
      // Past twice the frame limit uWS drops the connection while the frame is still arriving.
      const expect =
        size > 2 * this.maxFrame
          ? expectation([], [CLOSE_ABNORMAL])
          : expectation(['message_too_large'], [CLOSE_TOO_BIG]);
      return { note, data, binary: true, expect };
    }
    // A field just over its own limit (cheap), which may push the frame over the frame limit too.
    const field = this.pick(['text', 'instructions', 'event_id', 'type', 'language'] as const);
    const count =
      { text: MAX_TEXT_CHARS, instructions: MAX_INSTRUCTIONS_CHARS, event_id: 64, type: 64, language: 16 }[
        field
      ] +
      1 +
      this.int(4096);
    // Characters of 1 to 4 UTF-8 bytes, as wide as still fits under the hard cut.
    const fits = ['x', 'é', '字', '😀'].filter(
      (c) => count * utf8.encode(c).length + 128 <= 2 * this.maxFrame,
    );
    const s = this.pick(fits.length > 0 ? fits : ['x']).repeat(count);
    const json = {
      text: () => textFrame(s),
      instructions: () => JSON.stringify({ type: 'session.update', session_update: { instructions: s } }),
      event_id: () => JSON.stringify({ type: 'response.create', event_id: s }),
      type: () => JSON.stringify({ type: s }),
      language: () => JSON.stringify({ type: 'session.update', session_update: { language: s } }),
    }[field]();
    const error: ErrorCode = field === 'type' ? 'unknown_message_type' : 'invalid_message';
    return this.text(json, `${field} of ${s.length} UTF-16 units`, [error]);
  }

  private garbage(): Made {
    if (this.rnd() < 0.3) {
      // Text that cannot start any JSON value.
      const s = this.pick(['@', '#', '~', '<', ')']) + this.asciiNoise(this.int(256));
      return this.text(s, `text garbage of ${s.length} chars`, ['invalid_json']);
    }
    const len = this.pick([0, 1, 2, 3, 960, 4801]) + (this.rnd() < 0.5 ? this.int(64) : 0);
    const data = new Uint8Array(len);
    for (let i = 0; i < len; i++) data[i] = this.int(256);
    // Binary frames are raw PCM16: any non-empty even length within the audio limit is valid audio.
    const note = `${len} random bytes`;
    if (len > this.maxAudio)
      return { note, data, binary: true, expect: expectation(['message_too_large'], []) };
    const valid = len > 0 && len % 2 === 0;
    return { note, data, binary: true, expect: expectation(valid ? [] : ['invalid_audio'], [], valid) };
  }

  private deep(): Made {
    const room = Math.min(this.maxFrame, 1 << 20) - 64;
    const depth = 33 + this.int(Math.min(100_000, Math.floor(room / 6)));
    const arrays = this.rnd() < 0.5;
    const inner = arrays
      ? `${'['.repeat(depth)}${']'.repeat(depth)}`
      : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
    const where = this.int(3);
    const json =
      where === 0
        ? inner
        : where === 1
          ? `{"type":"session.update","session_update":{"instructions":${inner}}}`
          : `{"type":"ping","ping":{"timestamp":1},"x":${inner}}`;
    // The protocol parser reports a wrong shape; a depth check in front of it reports invalid_json.
    return this.text(json, `${arrays ? 'arrays' : 'objects'} nested ${depth} deep at ${where}`, [
      'invalid_json',
      'invalid_message',
    ]);
  }

  private mutated(): Made {
    let s = JSON.stringify(this.validMessage());
    const steps: string[] = [];
    for (let n = 1 + this.int(4); n > 0; n--) {
      const at = this.int(s.length + 1);
      const op = this.int(4);
      const ch = this.pick([
        '"',
        '\\',
        '{',
        '}',
        '[',
        ']',
        ',',
        ':',
        '\u0000',
        '\n',
        'é',
        '0',
        'e',
        '-',
        ' ',
      ]);
      if (op === 0) s = s.slice(0, at) + s.slice(at + 1);
      else if (op === 1) s = s.slice(0, at) + ch + s.slice(at);
      else if (op === 2) s = s.slice(0, at) + ch + s.slice(at + 1);
      else s = s.slice(0, at) + s.slice(Math.max(0, at - 8), at) + s.slice(at);
      steps.push(['delete', 'insert', 'replace', 'repeat'][op]!);
    }
    return this.text(s, steps.join(','), PARSE_ERRORS, true);
  }

  /** A text frame, with message_too_large/1009 in place of `errors` when it is over the frame limit. */
  private text(data: string, note: string, errors: readonly ErrorCode[], mayAccept = false): Made {
    const size = utf8.encode(data).byteLength;
    if (size > 2 * this.maxFrame) {
      return { note, data, binary: false, expect: expectation([], [CLOSE_ABNORMAL]) };
    }
    if (size > this.maxFrame) {
      return { note, data, binary: false, expect: expectation(['message_too_large'], [CLOSE_TOO_BIG]) };
    }
    return { note, data, binary: false, expect: expectation(errors, [], mayAccept) };
  }

  private validMessage(): Record<string, Json> {
    const type = this.pick(CLIENT_MESSAGE_TYPES);
    const m: Record<string, Json> = { type };
    if (this.rnd() < 0.3) m['event_id'] = `ev_${this.int(1e6)}`;
    if (type === 'ping') m['ping'] = { timestamp: 1_700_000_000 + this.rnd() * 1e6 };
    if (type === 'conversation.item.input') {
      m['conversation_item_input'] =
        this.rnd() < 0.5
          ? { type: 'input_text', text: `hello ${this.asciiNoise(1 + this.int(40)).replace(/\s/g, 'x')}` }
          : {
              type: 'input_audio_buffer',
              audio: Buffer.from(this.bytes(2 * (1 + this.int(480)))).toString('base64'),
            };
    }
    if (type === 'session.update') {
      const u: Record<string, Json> = {};
      if (this.rnd() < 0.5) u['voice'] = this.pick(VOICES);
      if (this.rnd() < 0.3) u['language'] = this.pick(['en', 'pt-BR', 'de']);
      if (this.rnd() < 0.3) u['instructions'] = 'Be brief.';
      if (this.rnd() < 0.3) u['temperature'] = 0.6 + Math.round(this.rnd() * 60) / 100;
      if (this.rnd() < 0.3) u['max_response_output_tokens'] = this.rnd() < 0.5 ? 'inf' : 1 + this.int(4096);
      if (this.rnd() < 0.3)
        u['turn_detection'] = this.rnd() < 0.5 ? null : { type: 'server_vad', threshold: 0.5 };
      if (this.rnd() < 0.3) u['modalities'] = this.rnd() < 0.5 ? ['text'] : ['audio', 'text'];
      m['session_update'] = u;
    }
    return m;
  }

  private randomJson(depth: number): Json {
    const r = this.int(depth === 0 ? 3 : 8);
    if (depth === 0 || r === 0) {
      const obj: Record<string, Json> = {};
      if (depth === 0 && this.rnd() < 0.8) {
        obj['type'] = this.rnd() < 0.5 ? this.pick(CLIENT_MESSAGE_TYPES) : this.randomJson(3);
      }
      for (let n = this.int(4); n > 0; n--) {
        const key = this.pick([
          'ping',
          'session_update',
          'conversation_item_input',
          'audio',
          'text',
          'event_id',
          'x',
        ]);
        obj[key] = depth < 3 ? this.randomJson(depth + 1) : null;
      }
      return obj;
    }
    if (r === 1) return depth < 3 ? [this.randomJson(depth + 1), this.randomJson(depth + 1)] : [];
    if (r === 2) return null;
    if (r === 3) return this.rnd() < 0.5;
    if (r === 4) return this.pick([0, -1, 1.5, 1e21, -1e-7, 2 ** 53 + 1]);
    return this.asciiNoise(this.int(20));
  }

  private int(n: number): number {
    return Math.floor(this.rnd() * n);
  }

  private pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  private bytes(n: number): Uint8Array {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }

  private asciiNoise(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += String.fromCharCode(32 + this.int(95));
    return s;
  }
}

function expectation(
  errors: readonly ErrorCode[],
  closes: readonly number[],
  mayAccept = false,
): FuzzExpectation {
  // An oversize frame is answered and then closed; every other refusal keeps the socket open.
  return { errors, closes: errors.includes('message_too_large') ? [CLOSE_TOO_BIG] : closes, mayAccept };
}

function kindOf(v: Json): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

/** Paths to every member of every object in `value` (array items excluded). */
function fieldPaths(value: Json, prefix: string[] = []): string[][] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return [];
  return Object.entries(value).flatMap(([k, v]) => [[...prefix, k], ...fieldPaths(v, [...prefix, k])]);
}
