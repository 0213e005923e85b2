import type { TSchema } from '@sinclair/typebox';
import { type TypeCheck, TypeCompiler } from '@sinclair/typebox/compiler';
import { base64DecodedLength, describeBase64Problem, isStandardBase64 } from './base64.js';
import type { ErrorCode } from './codes.js';
import {
  CLIENT_MESSAGE_TYPES,
  CLIENT_MESSAGES,
  ClientConversationItemInputHotPath,
  type ClientMessage,
} from './messages/client.js';
import { describeErrors, isPlainObject } from './messages/describe-error.js';
import {
  type FunctionTool,
  MAX_TOOL_PARAMETERS_CHARS,
  MAX_TOOL_PARAMETERS_DEPTH,
} from './messages/fields.js';
import { SERVER_MESSAGE_TYPES, SERVER_MESSAGES, type ServerMessage } from './messages/server.js';

/** Size limits applied by {@link parseClientFrame}. */
export interface FrameLimits {
  /**
   * Largest accepted frame in bytes (UTF-8). Checked before anything is decoded or parsed, so an
   * oversize frame costs almost nothing to reject. Keep it at or below the WebSocket server's own
   * payload limit, which closes with 1009 instead of answering with an error.
   * @defaultValue 1_048_576 (1 MiB)
   */
  readonly maxFrameBytes: number;
  /**
   * Largest decoded audio chunk in bytes. 786,432 bytes is 16.4 s of 24 kHz PCM16, and its base64 form
   * just fits the default frame limit; real clients send 20–100 ms (960–4,800 bytes).
   * @defaultValue 786_432
   */
  readonly maxAudioBytes: number;
}

export const DEFAULT_FRAME_LIMITS: Readonly<FrameLimits> = Object.freeze({
  maxFrameBytes: 1_048_576,
  maxAudioBytes: 786_432,
});

/** Why a frame was rejected: a stable code, a message naming the field, and the field's dotted path. */
export interface FrameError {
  readonly code: ErrorCode;
  readonly message: string;
  /** Dotted path of the offending field (`session_update.voice`); absent for frame-level errors. */
  readonly field?: string;
  /** The request's `event_id` when it could be read, so the error can be correlated with the request. */
  readonly eventId?: string;
}

export type ParseResult = { ok: true; message: ClientMessage } | { ok: false; error: FrameError };
export type ServerParseResult = { ok: true; message: ServerMessage } | { ok: false; error: FrameError };

const HOT_PATH_SCHEMAS: Readonly<Record<string, TSchema>> = {
  'conversation.item.input': ClientConversationItemInputHotPath,
};

// A Map, not an object literal: a `type` of "constructor" or "__proto__" must not find anything.
const CLIENT_CHECKS: ReadonlyMap<string, TypeCheck<TSchema>> = new Map(
  CLIENT_MESSAGE_TYPES.map((type) => [
    type,
    TypeCompiler.Compile(HOT_PATH_SCHEMAS[type] ?? CLIENT_MESSAGES[type].schema),
  ]),
);

// Server schemas are only needed by clients and tests; compile them on first use.
let serverChecks: ReadonlyMap<string, TypeCheck<TSchema>> | undefined;

// `fatal` rejects invalid UTF-8 instead of inserting U+FFFD; `ignoreBOM` keeps a BOM in the text so
// JSON.parse rejects it, exactly as it does for a string frame.
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

const MAX_ECHOED_TYPE_CHARS = 64;

/**
 * Parses and validates one client frame (the hot path: every audio chunk of every client passes here).
 * Checks, in order: size, UTF-8, JSON, shape (closed schemas compiled to plain JS), then audio (base64
 * alphabet, padding, even PCM16 byte count, size) without decoding it.
 */
export function parseClientFrame(
  raw: string | Uint8Array | ArrayBuffer,
  limits?: Partial<FrameLimits>,
): ParseResult {
  const text = decodeFrame(raw, limits?.maxFrameBytes ?? DEFAULT_FRAME_LIMITS.maxFrameBytes);
  if (typeof text !== 'string') return { ok: false, error: text };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, error: jsonError(err) };
  }
  return validateClientMessage(value, limits);
}

/**
 * Validates an already-parsed request with the same rules as {@link parseClientFrame}, for callers that
 * decoded the JSON themselves. The returned message is the input object, not a copy.
 */
export function validateClientMessage(input: unknown, limits?: Partial<FrameLimits>): ParseResult {
  const value = input as Record<string, unknown>;
  const type = ownType(value);
  if (typeof type !== 'string') return type;
  const check = CLIENT_CHECKS.get(type);
  if (check === undefined) {
    const echoed = type.length > MAX_ECHOED_TYPE_CHARS ? `${type.slice(0, MAX_ECHOED_TYPE_CHARS)}…` : type;
    return fail(
      'unknown_message_type',
      `type: unknown message type ${JSON.stringify(echoed)}; supported types: ${CLIENT_MESSAGE_TYPES.join(', ')}`,
      'type',
      eventIdOf(value),
    );
  }
  if (!check.Check(value)) {
    const { field, rule } = describeErrors(check.Errors(value));
    const message = field === undefined ? `message ${rule}` : `${field}: ${rule}`;
    return fail('invalid_message', message, field, eventIdOf(value));
  }
  if (type === 'conversation.item.input') {
    const item = value['conversation_item_input'] as { type: string; audio?: string };
    if (item.type === 'input_audio_buffer') {
      const problem = audioProblem(item.audio!, limits?.maxAudioBytes ?? DEFAULT_FRAME_LIMITS.maxAudioBytes);
      if (problem !== undefined) {
        const field = 'conversation_item_input.audio';
        return fail('invalid_audio', `${field}: ${problem}`, field, eventIdOf(value));
      }
    }
  } else if (type === 'session.update') {
    const tools = (value['session_update'] as { tools?: FunctionTool[] }).tools;
    if (tools !== undefined) {
      const problem = toolsProblem(tools);
      if (problem !== undefined) {
        return fail('invalid_message', `${problem.field}: ${problem.rule}`, problem.field, eventIdOf(value));
      }
    }
  }
  return { ok: true, message: value as ClientMessage };
}

/**
 * What the schema cannot say about `session_update.tools`: names are unique, and each `parameters` is
 * bounded in nesting and in serialized size (so the worker can always serialize it for the provider).
 */
function toolsProblem(tools: readonly FunctionTool[]): { field: string; rule: string } | undefined {
  const seen = new Map<string, number>();
  for (let i = 0; i < tools.length; i++) {
    const tool = tools[i]!;
    const first = seen.get(tool.name);
    if (first !== undefined) {
      return {
        field: `session_update.tools.${i}.name`,
        rule: `must be unique (tools.${first} has the same name)`,
      };
    }
    seen.set(tool.name, i);
    if (tool.parameters === undefined) continue;
    const field = `session_update.tools.${i}.parameters`;
    const shape = jsonShapeProblem(tool.parameters, MAX_TOOL_PARAMETERS_DEPTH, MAX_TOOL_PARAMETERS_CHARS);
    if (shape === 'deep')
      return { field, rule: `must be nested at most ${MAX_TOOL_PARAMETERS_DEPTH} levels deep` };
    // Safe now: depth and node count are bounded (and for parsed input, so is the frame).
    const chars = shape === 'large' ? undefined : JSON.stringify(tool.parameters).length;
    if (chars === undefined || chars > MAX_TOOL_PARAMETERS_CHARS) {
      const got = chars === undefined ? '' : `, got ${chars}`;
      return { field, rule: `must be at most ${MAX_TOOL_PARAMETERS_CHARS} characters as JSON${got}` };
    }
  }
  return undefined;
}

/**
 * Walks `root` without recursion: `'deep'` when objects and arrays nest deeper than `maxDepth` levels (root
 * is level 1; this also stops a cycle in an object built in memory), `'large'` when there are more of them
 * than `maxChars` / 2 (each takes at least two characters of JSON), else undefined.
 */
function jsonShapeProblem(root: unknown, maxDepth: number, maxChars: number): 'deep' | 'large' | undefined {
  const stack: Array<[value: object, depth: number]> = [];
  if (typeof root === 'object' && root !== null) stack.push([root, 1]);
  let containers = 0;
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!;
    if (depth > maxDepth) return 'deep';
    if (++containers > maxChars / 2) return 'large';
    for (const child of Array.isArray(value) ? value : Object.values(value)) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    }
  }
  return undefined;
}

function audioProblem(audio: string, maxAudioBytes: number): string | undefined {
  if (audio.length === 0) return 'must not be empty';
  if (!isStandardBase64(audio)) return describeBase64Problem(audio);
  const bytes = base64DecodedLength(audio);
  if ((bytes & 1) !== 0)
    return `must decode to whole PCM16 samples (an even byte count), got ${bytes} byte${bytes === 1 ? '' : 's'}`;
  if (bytes > maxAudioBytes) return `decodes to ${bytes} bytes, over the ${maxAudioBytes}-byte limit`;
  return undefined;
}

/**
 * Parses and validates one server frame against the response schemas. For clients and tests: checks
 * shape only, with no size limit.
 */
export function parseServerFrame(raw: string | Uint8Array | ArrayBuffer): ServerParseResult {
  const text = decodeFrame(raw, Number.POSITIVE_INFINITY);
  if (typeof text !== 'string') return { ok: false, error: text };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, error: jsonError(err) };
  }
  return validateServerMessage(value);
}

/** Validates an already-parsed server message against the response schemas. */
export function validateServerMessage(input: unknown): ServerParseResult {
  const value = input as Record<string, unknown>;
  const type = ownType(value);
  if (typeof type !== 'string') return type;
  serverChecks ??= new Map(
    SERVER_MESSAGE_TYPES.map((t) => [t, TypeCompiler.Compile(SERVER_MESSAGES[t].schema)]),
  );
  const check = serverChecks.get(type);
  if (check === undefined) {
    return fail('unknown_message_type', `type: unknown server message type ${JSON.stringify(type)}`, 'type');
  }
  if (!check.Check(value)) {
    const { field, rule } = describeErrors(check.Errors(value));
    return fail('invalid_message', field === undefined ? `message ${rule}` : `${field}: ${rule}`, field);
  }
  return { ok: true, message: value as ServerMessage };
}

/** The message's own `type` field, or the failure to report when there is no usable one. */
function ownType(value: unknown): string | { ok: false; error: FrameError } {
  if (!isPlainObject(value)) {
    return fail('invalid_message', `message must be a JSON object, got ${kindOf(value)}`);
  }
  // Own property only: an object built elsewhere must not pick up a `type` from its prototype.
  const type = Object.hasOwn(value, 'type') ? value['type'] : undefined;
  if (typeof type === 'string') return type;
  return fail('invalid_message', type === undefined ? 'type: is required' : 'type: must be a string', 'type');
}

/** Frame → text, or the error for an oversize frame or invalid UTF-8. */
function decodeFrame(raw: string | Uint8Array | ArrayBuffer, maxBytes: number): string | FrameError {
  if (typeof raw === 'string') {
    return utf8LengthExceeds(raw, maxBytes) ? tooLarge(maxBytes) : raw;
  }
  const bytes = ArrayBuffer.isView(raw) ? raw : new Uint8Array(raw);
  if (bytes.byteLength > maxBytes) return tooLarge(maxBytes);
  try {
    return UTF8.decode(bytes);
  } catch {
    return { code: 'invalid_json', message: 'frame is not valid UTF-8' };
  }
}

/**
 * Whether the UTF-8 encoding of `s` is longer than `max` bytes, counting only when the answer is not
 * already clear from the length (a UTF-16 code unit takes 1 to 3 UTF-8 bytes).
 */
function utf8LengthExceeds(s: string, max: number): boolean {
  const n = s.length;
  if (n > max) return true;
  if (n * 3 <= max) return false;
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < n && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 4; // a surrogate pair is one 4-byte code point
      i++;
    } else bytes += 3; // includes a lone surrogate, which encoders replace with U+FFFD (3 bytes)
    if (bytes > max) return true;
  }
  return false;
}

function tooLarge(maxBytes: number): FrameError {
  return { code: 'message_too_large', message: `frame is larger than the ${maxBytes}-byte limit` };
}

function jsonError(err: unknown): FrameError {
  // V8 parses deep nesting iteratively today, but an engine that recurses throws RangeError.
  const message =
    err instanceof RangeError ? 'frame is nested too deeply to parse' : 'frame is not valid JSON';
  return { code: 'invalid_json', message };
}

function fail(
  code: ErrorCode,
  message: string,
  field?: string,
  eventId?: string,
): { ok: false; error: FrameError } {
  const error: { code: ErrorCode; message: string; field?: string; eventId?: string } = { code, message };
  if (field !== undefined) error.field = field;
  if (eventId !== undefined) error.eventId = eventId;
  return { ok: false, error };
}

/** The request's `event_id` if it is a usable one, for correlating an error with its request. */
function eventIdOf(value: Record<string, unknown>): string | undefined {
  const id = value['event_id'];
  return typeof id === 'string' && id.length > 0 && id.length <= 64 ? id : undefined;
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}
