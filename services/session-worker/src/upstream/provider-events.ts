import type { HistoryItem } from '@rtv/bus';
import {
  base64RunEnd,
  DEFAULT_INPUT_AUDIO_TRANSCRIPTION,
  type ErrorCode,
  type SessionConfig,
  type TurnDetection,
} from '@rtv/protocol';
import type { ProviderShape } from './provider-connection.js';

/**
 * The provider's side of the wire, for both shapes (GA and beta): builds the client events the worker sends
 * (`session.update`, audio appends, text turns, function results, restored history items) and reads the few
 * provider events that need more than a type check (audio deltas without parsing, text events, error codes).
 * Pure functions: mapping provider events to the public protocol is the session runner's job (its
 * `ProviderEventTranslator`), and the runner owns the state.
 */

/**
 * The language is not a provider session field in either shape, so it reaches the model as one sentence
 * appended to the instructions.
 */
function instructionsFor(config: SessionConfig): string | undefined {
  const lang = `Respond in the language with the BCP 47 tag "${config.language}" unless the user asks otherwise.`;
  return config.instructions ? `${config.instructions}\n\n${lang}` : lang;
}

const DEFAULT_SERVER_VAD = { threshold: 0.5, prefix_padding_ms: 300, silence_duration_ms: 500 };

/**
 * Turn detection with the defaults filled in (the provider replaces the whole object, it does not merge):
 * absent = server VAD, `null` = manual turns. `idle_timeout_ms` exists only in GA.
 */
function turnDetectionFor(config: SessionConfig, shape: ProviderShape): Record<string, unknown> | null {
  const td: TurnDetection | undefined = config.turn_detection;
  if (td === null) return null;
  const flags = {
    create_response: td?.create_response ?? true,
    interrupt_response: td?.interrupt_response ?? true,
  };
  if (td?.type === 'semantic_vad') {
    return { type: 'semantic_vad', eagerness: td.eagerness ?? 'auto', ...flags };
  }
  const out: Record<string, unknown> = {
    type: 'server_vad',
    threshold: td?.threshold ?? DEFAULT_SERVER_VAD.threshold,
    prefix_padding_ms: td?.prefix_padding_ms ?? DEFAULT_SERVER_VAD.prefix_padding_ms,
    silence_duration_ms: td?.silence_duration_ms ?? DEFAULT_SERVER_VAD.silence_duration_ms,
  };
  if (shape === 'ga' && td?.idle_timeout_ms !== undefined) out.idle_timeout_ms = td.idle_timeout_ms;
  return { ...out, ...flags };
}

/**
 * Input transcription: on by default (a config stored before the field existed lacks it). The provider's
 * transcription `language` is ISO-639-1, so a regional tag (`pt-BR`) is cut to its language (`pt`).
 */
function transcriptionFor(config: SessionConfig): Record<string, unknown> | null {
  const t =
    config.input_audio_transcription === undefined
      ? DEFAULT_INPUT_AUDIO_TRANSCRIPTION
      : config.input_audio_transcription;
  if (t === null) return null;
  const out: Record<string, unknown> = { model: t.model ?? DEFAULT_INPUT_AUDIO_TRANSCRIPTION.model };
  if (t.language !== undefined) out.language = t.language.split('-')[0]!.toLowerCase();
  if (t.prompt !== undefined) out.prompt = t.prompt;
  return out;
}

/** Tools and tool choice have the same shape in GA and beta; sent only once the client set them. */
function toolFields(config: SessionConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (config.tools !== undefined) out.tools = config.tools;
  if (config.tool_choice !== undefined) out.tool_choice = config.tool_choice;
  return out;
}

/**
 * The event id of every `session.update` that restores a session after a (re)connect (see
 * {@link buildSessionUpdate}): the provider's `error` for it names it, and there is one per connection.
 */
export const RESTORE_EVENT_ID = 'rtv_restore';

/**
 * Builds the provider `session.update` event for the whole effective config. `eventId` tags it so the
 * provider's `error` for it can be matched; without one (the restore that starts every provider session) it is
 * {@link RESTORE_EVENT_ID}.
 */
export function buildSessionUpdate(
  config: SessionConfig,
  shape: ProviderShape,
  eventId: string = RESTORE_EVENT_ID,
): string {
  const audioOut = (config.modalities as readonly string[]).includes('audio');
  const noiseReduction =
    config.input_audio_noise_reduction !== undefined ? config.input_audio_noise_reduction : undefined;
  if (shape === 'beta') {
    return JSON.stringify({
      type: 'session.update',
      event_id: eventId,
      session: {
        modalities: audioOut ? ['audio', 'text'] : ['text'],
        instructions: instructionsFor(config),
        voice: config.voice,
        input_audio_format: 'pcm16',
        output_audio_format: 'pcm16',
        input_audio_transcription: transcriptionFor(config),
        ...(noiseReduction !== undefined ? { input_audio_noise_reduction: noiseReduction } : {}),
        turn_detection: turnDetectionFor(config, shape),
        ...toolFields(config),
        temperature: config.temperature,
        max_response_output_tokens: config.max_response_output_tokens,
        ...(config.speed !== undefined ? { speed: config.speed } : {}),
      },
    });
  }
  return JSON.stringify({
    type: 'session.update',
    event_id: eventId,
    session: {
      type: 'realtime',
      instructions: instructionsFor(config),
      output_modalities: audioOut ? ['audio'] : ['text'],
      max_output_tokens: config.max_response_output_tokens,
      ...toolFields(config),
      audio: {
        input: {
          format: { type: 'audio/pcm', rate: 24000 },
          transcription: transcriptionFor(config),
          ...(noiseReduction !== undefined ? { noise_reduction: noiseReduction } : {}),
          turn_detection: turnDetectionFor(config, shape),
        },
        output: {
          format: { type: 'audio/pcm', rate: 24000 },
          voice: config.voice,
          ...(config.speed !== undefined ? { speed: config.speed } : {}),
        },
      },
    },
  });
}

/**
 * Settings of a client update (`patch`: the fields it set) that `shape` has no field for: the rest of the
 * update applies and the client is told by a `setting_not_applied` notice per setting. GA has no
 * temperature; beta has no VAD idle timeout.
 */
export function settingsNotApplied(patch: Partial<SessionConfig>, shape: ProviderShape): string[] {
  const out: string[] = [];
  if (shape === 'ga' && patch.temperature !== undefined) out.push('temperature');
  const td = patch.turn_detection;
  if (shape === 'beta' && td?.type === 'server_vad' && td.idle_timeout_ms != null) {
    out.push('turn_detection.idle_timeout_ms');
  }
  return out;
}

/** `{"type":…,"event_id":…,…fields}` with the event id only when there is one. */
function clientEvent(type: string, fields: Record<string, unknown>, eventId?: string): string {
  return JSON.stringify({ type, ...(eventId !== undefined ? { event_id: eventId } : {}), ...fields });
}

/** A provider event without fields (`input_audio_buffer.commit`, `response.cancel`), tagged when given an id. */
export function buildBareEvent(type: string, eventId?: string): string {
  return clientEvent(type, {}, eventId);
}

/** `response.create` for the shape (beta servers expect a `response` object). */
export function buildResponseCreate(shape: ProviderShape, eventId?: string): string {
  return clientEvent('response.create', shape === 'beta' ? { response: {} } : {}, eventId);
}

/** A user text turn: the item, then a response request (each tagged when an id is given). */
export function buildTextTurn(
  text: string,
  shape: ProviderShape,
  ids: { item?: string; response?: string } = {},
): [string, string] {
  const item = clientEvent(
    'conversation.item.create',
    { item: { type: 'message', role: 'user', content: [{ type: 'input_text', text }] } },
    ids.item,
  );
  return [item, buildResponseCreate(shape, ids.response)];
}

/** The client's result of a function call, as a conversation item (same shape in GA and beta). */
export function buildFunctionCallOutput(callId: string, output: string, eventId?: string): string {
  return clientEvent(
    'conversation.item.create',
    { item: { type: 'function_call_output', call_id: callId, output } },
    eventId,
  );
}

/** `conversation.item.truncate` of an assistant item's audio at `audioEndMs`. */
export function buildTruncate(itemId: string, audioEndMs: number, eventId?: string): string {
  return clientEvent(
    'conversation.item.truncate',
    { item_id: itemId, content_index: 0, audio_end_ms: audioEndMs },
    eventId,
  );
}

/** A past conversation item replayed into a fresh provider session (failover, reconnect, renewal). */
export function buildHistoryItem(item: HistoryItem, shape: ProviderShape): string {
  if (item.type === 'function_call') {
    return buildItem({
      type: 'function_call',
      call_id: item.call_id,
      name: item.name,
      arguments: item.arguments,
    });
  }
  if (item.type === 'function_call_output') return buildFunctionCallOutput(item.call_id, item.output);
  // Assistant text content is `output_text` in GA and `text` in beta.
  const type = item.role === 'user' ? 'input_text' : shape === 'beta' ? 'text' : 'output_text';
  return buildItem({ type: 'message', role: item.role, content: [{ type, text: item.text }] });
}

function buildItem(item: Record<string, unknown>): string {
  return JSON.stringify({ type: 'conversation.item.create', item });
}

/** Every item of `history` as provider events, for {@link restorableHistory}'s selection. */
export function buildHistoryItems(history: readonly HistoryItem[], shape: ProviderShape): string[] {
  return restorableHistory(history).map((item) => buildHistoryItem(item, shape));
}

/**
 * The items a provider accepts back, in order: a function result whose call is not (or no longer, the list is
 * capped) before it, or a second result for the same call, would be refused, so it is left out.
 */
export function restorableHistory(history: readonly HistoryItem[]): HistoryItem[] {
  const calls = new Set<string>();
  const answered = new Set<string>();
  return history.filter((item) => {
    if (item.type === 'function_call') calls.add(item.call_id);
    if (item.type !== 'function_call_output') return true;
    if (!calls.has(item.call_id) || answered.has(item.call_id)) return false;
    answered.add(item.call_id);
    return true;
  });
}

const AUDIO_APPEND_HEAD = Buffer.from('{"type":"input_audio_buffer.append","audio":"');
const AUDIO_APPEND_TAIL = Buffer.from('"}');

/**
 * `input_audio_buffer.append` as bytes, by concatenation: the client's base64 passes through untouched
 * (DESIGN §4.5), copied once from the bus batch (or written from a string).
 */
export function buildAudioAppend(base64: string | Uint8Array): Buffer {
  const n = typeof base64 === 'string' ? base64.length : base64.byteLength;
  const out = Buffer.allocUnsafe(AUDIO_APPEND_HEAD.length + n + AUDIO_APPEND_TAIL.length);
  AUDIO_APPEND_HEAD.copy(out, 0);
  if (typeof base64 === 'string') out.write(base64, AUDIO_APPEND_HEAD.length, n, 'latin1');
  else out.set(base64, AUDIO_APPEND_HEAD.length);
  AUDIO_APPEND_TAIL.copy(out, AUDIO_APPEND_HEAD.length + n);
  return out;
}

const AUDIO_DELTA_TYPES = ['"type":"response.output_audio.delta"', '"type":"response.audio.delta"'];
const DELTA_FIELD = Buffer.from('"delta":"');
const QUOTE = 0x22;
/** How far into an event its type is looked for (it leads every provider event). */
export const EVENT_HEAD_CHARS = 160;

/** The first characters of a raw provider event, where its `type` is, for cheap checks without parsing. */
export function eventHead(raw: Buffer): string {
  return raw.toString('latin1', 0, Math.min(raw.length, EVENT_HEAD_CHARS));
}

const EQUALS = 0x3d;

/**
 * True when `bytes` are standard padded base64 (RFC 4648 §4, as `isStandardBase64` of `@rtv/protocol` for
 * strings): the alphabet only, length a multiple of 4, `=` only as the last one or two bytes. No string and
 * no regex ({@link base64RunEnd}): it runs on every audio delta (about 6 KB per 100 ms chunk).
 */
export function isBase64Bytes(bytes: Uint8Array): boolean {
  const n = bytes.length;
  if ((n & 3) !== 0) return false;
  let end = n;
  if (n > 0 && bytes[n - 1] === EQUALS) end = bytes[n - 2] === EQUALS ? n - 2 : n - 1;
  return base64RunEnd(bytes, 0, end) === end;
}

/**
 * Fast path for the most frequent provider event: returns the base64 of an audio delta (a view into `raw`)
 * without parsing the JSON, or undefined for any other event. The event type must appear in `head` (see
 * {@link eventHead}). The value ends at the next quote; it is returned only when it is clean base64
 * ({@link isBase64Bytes}), since it is copied as is into the client's frame and the bus line that carries it
 * (newline-separated). Anything else (a raw control character, a JSON escape such as `\n` or `\"`, which ends
 * the cut at the escaped quote) is left to the caller's full parse, which drops a delta that is not base64.
 */
export function extractAudioDelta(raw: Buffer, head: string = eventHead(raw)): Buffer | undefined {
  if (!head.includes(AUDIO_DELTA_TYPES[0]!) && !head.includes(AUDIO_DELTA_TYPES[1]!)) return undefined;
  const start = raw.indexOf(DELTA_FIELD);
  if (start === -1) return undefined;
  const from = start + DELTA_FIELD.length;
  const end = raw.indexOf(QUOTE, from);
  if (end === -1) return undefined;
  const delta = raw.subarray(from, end);
  return isBase64Bytes(delta) ? delta : undefined;
}

/** Provider events that carry text for the client's `response.delta`, both shapes. */
export const TEXT_DELTA_EVENTS: ReadonlySet<string> = new Set([
  'response.output_audio_transcript.delta',
  'response.output_text.delta',
  'response.audio_transcript.delta',
  'response.text.delta',
]);

/** Provider events that close a text/transcript part, with the field holding the full text. */
export const TEXT_DONE_EVENTS: ReadonlyMap<string, string> = new Map([
  ['response.output_audio_transcript.done', 'transcript'],
  ['response.output_text.done', 'text'],
  ['response.audio_transcript.done', 'transcript'],
  ['response.text.done', 'text'],
]);

/** A provider error as the client sees it: a public code, our own message, and the provider's parameter. */
export interface PublicError {
  code: ErrorCode;
  message: string;
  /** The provider's name of the rejected parameter (`upstream_invalid_request` only), when it gave a safe one. */
  param?: string;
}

/** Rejections of a request the worker makes that have their own public code and wording. */
const SPECIFIC_ERRORS: Readonly<Record<string, PublicError>> = {
  conversation_already_has_active_response: {
    code: 'conversation_busy',
    message: 'A response is already in progress; wait for response.done or cancel it',
  },
  response_cancel_not_active: { code: 'invalid_message', message: 'There is no active response to cancel' },
  input_audio_buffer_commit_empty: {
    code: 'invalid_message',
    message: 'Not enough audio to commit (at least 100 ms is needed)',
  },
};

/** What the provider's validation codes say about `param`, in our words. */
const INVALID_REQUEST_WORDING: Readonly<Record<string, string>> = {
  unknown_parameter: 'does not accept the parameter',
  missing_required_parameter: 'requires the parameter',
  string_above_max_length: 'found too long a value for',
  cannot_update_voice: 'cannot change the voice once it has spoken, so it rejected',
};

/** Parameter paths look like `session.tools[0].parameters`; anything else is not passed on. */
const SAFE_PARAM = /^[A-Za-z0-9_.[\]-]{1,200}$/;

/**
 * Maps a provider error (`error.code`, `error.type`, `error.param`) to the public code. Provider messages can
 * quote internals (hosts, keys), so they are never passed on: every message here is the worker's own, naming
 * the provider's parameter for invalid requests. `session_expired` is not mapped: the session is renewed.
 */
export function publicErrorFor(
  providerCode: string | null | undefined,
  providerType: string | null | undefined,
  providerParam?: string | null,
): PublicError {
  const code = providerCode ?? '';
  const specific = SPECIFIC_ERRORS[code];
  if (specific) return { ...specific };
  if (
    code === 'rate_limit_exceeded' ||
    providerType === 'rate_limit_error' ||
    providerType === 'rate_limit_exceeded'
  )
    return {
      code: 'upstream_rate_limited',
      message: 'The speech provider rate-limited this session; retry after a backoff',
    };
  if (code === 'server_error' || providerType === 'server_error')
    return { code: 'upstream_server_error', message: 'The speech provider failed with a server error' };
  if (providerType === 'invalid_request_error') {
    const param =
      typeof providerParam === 'string' && SAFE_PARAM.test(providerParam) ? providerParam : undefined;
    const wording = INVALID_REQUEST_WORDING[code] ?? 'rejected the value of';
    return {
      code: 'upstream_invalid_request',
      message: param
        ? `The speech provider ${wording} ${param}`
        : 'The speech provider rejected a request for this session as invalid',
      ...(param ? { param } : {}),
    };
  }
  return { code: 'upstream_error', message: 'The speech provider reported an error' };
}
