/**
 * Intake of client events on the OpenAI-compatible route (`/v1/realtime`, GA shape): decides whether a text
 * frame may be forwarded to the provider, and answers the ones that may not with the provider's own error
 * codes and wording, so a client written for the provider sees the errors it expects.
 *
 * Only the envelope is checked here (known `type`, `event_id`, no unknown top-level key, required fields of
 * the right JSON type, audio that is usable PCM16). What the provider alone can judge (session settings,
 * item contents, ids of items and responses) is left to it.
 *
 * The commonest frame, an audio chunk exactly as `JSON.stringify({type: 'input_audio_buffer.append', audio})`
 * writes it, is recognised byte by byte: no string is built and nothing is parsed, and the caller copies the
 * base64 bytes straight to the bus.
 */
import {
  BASE64_ALPHABET_BYTE,
  base64DecodedLength,
  describeBase64Problem,
  isStandardBase64,
} from '../base64.js';
import { REALTIME_CLIENT_EVENT_TYPES, type RealtimeClientEventType } from '../upstream/openai-realtime.js';
import { type CompatError, describeJsonType } from './errors.js';

/** Size limits of {@link validateCompatClientEvent}. */
export interface CompatLimits {
  /** Largest accepted frame in bytes; checked before anything is decoded. */
  maxFrameBytes: number;
  /** Largest decoded audio of one `input_audio_buffer.append`, in bytes. */
  maxAudioBytes: number;
}

/** Byte range [start, end) of the base64 audio inside a frame. */
export interface CompatAudioRange {
  start: number;
  end: number;
}

/**
 * What to do with one client frame: put the audio bytes at `audio` on the bus (an append without
 * `event_id`), forward `json` (any other valid event, re-serialised compactly), or answer `error`.
 */
export type CompatIntakeResult =
  | { ok: true; kind: 'audio'; audio: CompatAudioRange }
  | { ok: true; kind: 'event'; type: string; eventId?: string; json: string }
  | { ok: false; error: CompatError };

/** Longest accepted client `event_id`. */
export const MAX_COMPAT_EVENT_ID_CHARS = 512;

/**
 * Deepest accepted nesting of objects and arrays (the event itself is level 1). Deep enough for any tool
 * schema, and far below the depth at which JSON.stringify runs out of stack.
 */
export const MAX_COMPAT_JSON_DEPTH = 64;

// A value echoed in an error message is cut to this many characters, so one error stays small.
const MAX_ECHOED_CHARS = 64;

// ---------------------------------------------------------------------------------------------------------
// Fast path: {"type":"input_audio_buffer.append","audio":"<base64>"} and nothing else
// ---------------------------------------------------------------------------------------------------------

const APPEND_PREFIX = new TextEncoder().encode('{"type":"input_audio_buffer.append","audio":"');

// Standard base64 alphabet without the padding character.
const B64 = BASE64_ALPHABET_BYTE;

const QUOTE = 0x22;
const EQUALS = 0x3d;
const CLOSE_BRACE = 0x7d;

/**
 * The range of the base64 audio when `frame` is byte for byte the canonical append
 * `{"type":"input_audio_buffer.append","audio":"<base64>"}` with standard padded base64 that decodes to an
 * even byte count of at most `maxAudioBytes`, in a frame of at most `maxFrameBytes`; `undefined` otherwise
 * (valid events in another form included), in which case {@link validateCompatClientEvent} parses it.
 */
export function scanCompatAudioAppend(
  frame: Uint8Array,
  maxAudioBytes: number,
  maxFrameBytes: number,
): CompatAudioRange | undefined {
  const n = frame.length;
  const start = APPEND_PREFIX.length;
  const end = n - 2;
  const length = end - start;
  if (n > maxFrameBytes || length < 0 || (length & 3) !== 0) return undefined;
  if (frame[end] !== QUOTE || frame[n - 1] !== CLOSE_BRACE) return undefined;
  for (let i = 0; i < start; i++) if (frame[i] !== APPEND_PREFIX[i]) return undefined;
  // Whole quads of the alphabet: it stops at the closing quote, or at the last quad if that holds padding.
  // One loop bounded by frame.length, with the padding checked after it, measured about 1.7x faster in V8
  // than a quad loop to the padding followed by a loop over the ragged tail.
  const last4 = n - 4;
  let i = start;
  while (
    i <= last4 &&
    (B64[frame[i]!]! & B64[frame[i + 1]!]! & B64[frame[i + 2]!]! & B64[frame[i + 3]!]!) === 1
  ) {
    i += 4;
  }
  let pad = 0;
  if (i !== end) {
    // Only the last quad may end in padding: two alphabet characters, then `==` or one more and `=`.
    if (i !== end - 4 || (B64[frame[i]!]! & B64[frame[i + 1]!]!) !== 1 || frame[i + 3] !== EQUALS) {
      return undefined;
    }
    const third = frame[i + 2]!;
    if (third === EQUALS) pad = 2;
    else if (B64[third] === 1) pad = 1;
    else return undefined;
  }
  const decoded = (length >>> 2) * 3 - pad;
  if ((decoded & 1) !== 0 || decoded > maxAudioBytes) return undefined;
  return { start, end };
}

// ---------------------------------------------------------------------------------------------------------
// Full path
// ---------------------------------------------------------------------------------------------------------

/**
 * Checks one client text frame of the compatible route. The canonical audio append takes the byte-level
 * fast path ({@link scanCompatAudioAppend}); anything else is decoded as UTF-8, parsed and checked: size,
 * JSON, an object with a known `type`, `event_id`, no unknown top-level key, then the fields of its type.
 */
export function validateCompatClientEvent(frame: Uint8Array, limits: CompatLimits): CompatIntakeResult {
  const audio = scanCompatAudioAppend(frame, limits.maxAudioBytes, limits.maxFrameBytes);
  if (audio !== undefined) return { ok: true, kind: 'audio', audio };
  if (frame.byteLength > limits.maxFrameBytes) {
    return fail(
      'message_too_large',
      `Invalid event: the message is ${frame.byteLength} bytes, over the ${limits.maxFrameBytes}-byte limit.`,
    );
  }
  const parsed = parseFrame(frame);
  if (parsed instanceof JsonProblem) return fail('invalid_json', `${INVALID_JSON} ${parsed.message}`);
  if (!isRecord(parsed)) return fail('invalid_event', 'Invalid event: expected a JSON object.');
  const eventId = readableEventId(parsed);
  const problem = envelopeProblem(parsed, limits);
  if (problem !== undefined) {
    if (eventId !== undefined) problem.eventId = eventId;
    return { ok: false, error: problem };
  }
  const type = parsed['type'] as RealtimeClientEventType;
  if (type === 'input_audio_buffer.append' && eventId === undefined) {
    // Found unless the client escaped characters of the audio (`\/`); then it is forwarded as an event.
    const range = locateAudio(frame, parsed['audio'] as string);
    if (range !== undefined) return { ok: true, kind: 'audio', audio: range };
  }
  const json = JSON.stringify(parsed);
  return eventId === undefined
    ? { ok: true, kind: 'event', type, json }
    : { ok: true, kind: 'event', type, eventId, json };
}

const INVALID_JSON = 'Invalid event: failed to parse JSON value.';

/** Why a frame is not usable JSON; the message completes the provider's `invalid_json` wording. */
class JsonProblem {
  constructor(readonly message: string) {}
}

const NOT_JSON = new JsonProblem('Expected a JSON object.');
const NOT_UTF8 = new JsonProblem('The message is not valid UTF-8.');
const TOO_DEEP = new JsonProblem(`Objects and arrays may nest at most ${MAX_COMPAT_JSON_DEPTH} levels deep.`);
const OUT_OF_RANGE = new JsonProblem('A number is out of range.');

// `fatal` rejects invalid UTF-8 instead of inserting U+FFFD; `ignoreBOM` keeps a BOM so JSON.parse rejects it.
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * The parsed frame, or why it is not UTF-8 JSON that survives re-serialisation unchanged: nesting deeper
 * than {@link MAX_COMPAT_JSON_DEPTH} (JSON.stringify would overflow the stack) or a number out of range
 * (`1e400` parses to Infinity, which JSON.stringify would turn into null).
 */
function parseFrame(frame: Uint8Array): unknown {
  let text: string;
  try {
    text = UTF8.decode(frame);
  } catch {
    return NOT_UTF8;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return NOT_JSON;
  }
  return reserialisationProblem(value) ?? value;
}

/** Walks `root` without recursion, stopping at the first level too deep or the first non-finite number. */
function reserialisationProblem(root: unknown): JsonProblem | undefined {
  if (typeof root === 'number') return Number.isFinite(root) ? undefined : OUT_OF_RANGE;
  if (typeof root !== 'object' || root === null) return undefined;
  const stack: Array<[value: object, depth: number]> = [[root, 1]];
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!;
    if (depth > MAX_COMPAT_JSON_DEPTH) return TOO_DEEP;
    for (const child of Array.isArray(value) ? value : Object.values(value)) {
      if (typeof child === 'number') {
        if (!Number.isFinite(child)) return OUT_OF_RANGE;
      } else if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    }
  }
  return undefined;
}

/** Where the parsed `audio` is written verbatim in `frame` (the bytes are equal wherever it is found). */
function locateAudio(frame: Uint8Array, audio: string): CompatAudioRange | undefined {
  const view = Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
  const at = view.indexOf(`"${audio}"`, 0, 'latin1');
  return at === -1 ? undefined : { start: at + 1, end: at + 1 + audio.length };
}

/** The client's `event_id` when it is one the error may echo. */
function readableEventId(event: Json): string | undefined {
  const id = event['event_id'];
  return typeof id === 'string' && id.length <= MAX_COMPAT_EVENT_ID_CHARS ? id : undefined;
}

/** The first thing wrong with the event's envelope, in the order the provider checks. */
function envelopeProblem(event: Json, limits: CompatLimits): CompatError | undefined {
  const type = event['type'];
  if (type === undefined) return requestError('invalid_event', "The 'type' field is missing.");
  const shape = typeof type === 'string' ? EVENT_SHAPES.get(type) : undefined;
  if (shape === undefined) return invalidValue(type, 'type', REALTIME_CLIENT_EVENT_TYPES);
  const id = event['event_id'];
  if (id !== undefined) {
    const problem = stringProblem(id, 'event_id', MAX_COMPAT_EVENT_ID_CHARS);
    if (problem !== undefined) return problem;
  }
  for (const key of Object.keys(event)) {
    if (!shape.keys.has(key)) {
      return requestError('unknown_parameter', `Unknown parameter: '${key}'.`, key);
    }
  }
  return shape.check?.(event, limits);
}

// ---------------------------------------------------------------------------------------------------------
// Per-type envelopes
// ---------------------------------------------------------------------------------------------------------

type Json = Record<string, unknown>;

interface EventShape {
  /** Allowed top-level keys. */
  keys: ReadonlySet<string>;
  /** Required fields and the JSON type of each field, in the provider's order; undefined when fine. */
  check?: (event: Json, limits: CompatLimits) => CompatError | undefined;
}

const shape = (fields: readonly string[], check?: EventShape['check']): EventShape =>
  check === undefined
    ? { keys: new Set(['type', 'event_id', ...fields]) }
    : { keys: new Set(['type', 'event_id', ...fields]), check };

const appendShape = shape(['audio'], (e, limits) => required(e, 'audio') ?? audioProblem(e['audio'], limits));

const itemIdShape = shape(
  ['item_id'],
  (e) => required(e, 'item_id') ?? stringProblem(e['item_id'], 'item_id'),
);

const SHAPES_BY_TYPE: Record<RealtimeClientEventType, EventShape> = {
  'session.update': shape(
    ['session'],
    (e) => required(e, 'session') ?? objectProblem(e['session'], 'session'),
  ),
  'session.close': shape([]),
  'input_audio_buffer.append': appendShape,
  // Translation sessions only: the provider refuses it elsewhere, in its own words.
  'session.input_audio_buffer.append': appendShape,
  'input_audio_buffer.commit': shape([]),
  'input_audio_buffer.clear': shape([]),
  'conversation.item.create': shape(
    ['previous_item_id', 'item'],
    (e) =>
      required(e, 'item') ??
      objectProblem(e['item'], 'item') ??
      (e['previous_item_id'] === undefined || e['previous_item_id'] === null
        ? undefined
        : stringProblem(e['previous_item_id'], 'previous_item_id')),
  ),
  'conversation.item.truncate': shape(
    ['item_id', 'content_index', 'audio_end_ms'],
    (e) =>
      required(e, 'item_id') ??
      stringProblem(e['item_id'], 'item_id') ??
      required(e, 'content_index') ??
      required(e, 'audio_end_ms') ??
      nonNegativeIntegerProblem(e['content_index'], 'content_index') ??
      nonNegativeIntegerProblem(e['audio_end_ms'], 'audio_end_ms'),
  ),
  'conversation.item.delete': itemIdShape,
  'conversation.item.retrieve': itemIdShape,
  'response.create': shape(['response'], (e) =>
    e['response'] === undefined ? undefined : objectProblem(e['response'], 'response'),
  ),
  'response.cancel': shape(['response_id'], (e) =>
    e['response_id'] === undefined ? undefined : stringProblem(e['response_id'], 'response_id'),
  ),
};

// A Map, not the object: a `type` of "constructor" or "__proto__" must find nothing.
const EVENT_SHAPES: ReadonlyMap<string, EventShape> = new Map(Object.entries(SHAPES_BY_TYPE));

// ---------------------------------------------------------------------------------------------------------
// Field checks, with the provider's codes and wording (see libs/local-engine/src/validate.ts)
// ---------------------------------------------------------------------------------------------------------

function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function requestError(code: string, message: string, param?: string): CompatError {
  const error: CompatError = { type: 'invalid_request_error', code, message };
  if (param !== undefined) error.param = param;
  return error;
}

function fail(code: string, message: string): { ok: false; error: CompatError } {
  return { ok: false, error: requestError(code, message) };
}

function required(event: Json, param: string): CompatError | undefined {
  if (event[param] !== undefined) return undefined;
  return requestError('missing_required_parameter', `Missing required parameter: '${param}'.`, param);
}

function invalidType(param: string, expected: string, value: unknown): CompatError {
  return requestError(
    'invalid_type',
    `Invalid type for '${param}': expected ${expected}, but got ${describeJsonType(value)} instead.`,
    param,
  );
}

/** `Invalid value: 'x'. Supported values are: 'a', 'b', and 'c'.`, the value cut to a short echo. */
function invalidValue(value: unknown, param: string, supported: readonly string[]): CompatError {
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  const short = text.length > MAX_ECHOED_CHARS ? `${text.slice(0, MAX_ECHOED_CHARS)}…` : text;
  const quoted = supported.map((v) => `'${v}'`);
  const list = `${quoted.slice(0, -1).join(', ')}, and ${quoted.at(-1)}`;
  const shown = typeof value === 'string' ? `'${short}'` : short;
  return requestError('invalid_value', `Invalid value: ${shown}. Supported values are: ${list}.`, param);
}

function objectProblem(value: unknown, param: string): CompatError | undefined {
  return isRecord(value) ? undefined : invalidType(param, 'an object', value);
}

function stringProblem(value: unknown, param: string, maxLength?: number): CompatError | undefined {
  if (typeof value !== 'string') return invalidType(param, 'a string', value);
  if (maxLength === undefined || value.length <= maxLength) return undefined;
  return requestError(
    'string_above_max_length',
    `Invalid '${param}': string too long. Expected a string with maximum length ${maxLength}, but got a string with length ${value.length} instead.`,
    param,
  );
}

function nonNegativeIntegerProblem(value: unknown, param: string): CompatError | undefined {
  if (typeof value !== 'number' || !Number.isInteger(value)) return invalidType(param, 'an integer', value);
  if (value >= 0) return undefined;
  return requestError(
    'integer_below_min_value',
    `Invalid '${param}': integer below minimum value. Expected a value >= 0, but got ${value} instead.`,
    param,
  );
}

/** Standard padded base64 of whole PCM16 samples (an even byte count), at most `maxAudioBytes` decoded. */
function audioProblem(audio: unknown, limits: CompatLimits): CompatError | undefined {
  const typeProblem = stringProblem(audio, 'audio');
  if (typeProblem !== undefined || typeof audio !== 'string') return typeProblem;
  let rule: string | undefined;
  if (!isStandardBase64(audio)) rule = describeBase64Problem(audio);
  else {
    const bytes = base64DecodedLength(audio);
    if ((bytes & 1) !== 0) {
      rule = `must decode to whole PCM16 samples (an even byte count), got ${bytes} byte${bytes === 1 ? '' : 's'}`;
    } else if (bytes > limits.maxAudioBytes) {
      rule = `decodes to ${bytes} bytes, over the ${limits.maxAudioBytes}-byte limit`;
    }
  }
  return rule === undefined ? undefined : requestError('invalid_value', `Invalid 'audio': ${rule}.`, 'audio');
}
