import { ErrorCode } from './codes.js';
import type { FunctionTool, InputAudioTranscription, ToolChoice, TurnDetection } from './messages/fields.js';
import type { ResponseStatus, SessionCreatedInfo, SessionInfo, Usage } from './messages/server.js';
import type { NoticeCode } from './notice-codes.js';
import type { FrameError } from './parse.js';
import { PROTOCOL_VERSION } from './version.js';

/**
 * Builders for server → client frames. The per-chunk ones (audio, delta, done, pong, speech events)
 * concatenate strings: audio base64 is spliced in as is, never re-serialised, and only free text goes
 * through JSON.stringify for escaping. Key order follows the seed examples. Every builder's output
 * validates against the response schemas (tested).
 */

/** Current time as Unix seconds with millisecond precision, the protocol's timestamp format. */
export function nowSeconds(): number {
  return Date.now() / 1000;
}

/**
 * `response.audio`. `audio` must already be standard base64 (the provider's audio delta, passed through);
 * it is not checked here because this runs for every outbound audio chunk.
 */
export function encodeResponseAudio(audio: string, timestamp: number = nowSeconds()): string {
  return `{"type":"response.audio","response":{"audio":"${audio}","timestamp":${finite(timestamp)}}}`;
}

const RESPONSE_AUDIO_HEAD = Buffer.from('{"type":"response.audio","response":{"audio":"');

/**
 * {@link encodeResponseAudio} as bytes, from base64 that is already bytes (a view into a provider event): one
 * copy, no string. Byte for byte the same output. `prefix` (ASCII) is written before the frame: a bus line's
 * header, so the frame is built inside its line rather than copied into it.
 */
export function encodeResponseAudioBytes(
  audio: Uint8Array,
  timestamp: number = nowSeconds(),
  prefix = '',
): Buffer {
  const tail = `","timestamp":${finite(timestamp)}}}`;
  const head = prefix.length + RESPONSE_AUDIO_HEAD.length;
  const out = Buffer.allocUnsafe(head + audio.byteLength + tail.length);
  out.write(prefix, 0, 'latin1');
  RESPONSE_AUDIO_HEAD.copy(out, prefix.length);
  out.set(audio, head);
  out.write(tail, head + audio.byteLength, 'latin1');
  return out;
}

/** `response.delta`: a piece of reply text or of the reply audio's transcript. */
export function encodeResponseDelta(content: string, timestamp: number = nowSeconds()): string {
  return `{"type":"response.delta","response":{"delta":{"content":${JSON.stringify(content)}},"timestamp":${finite(timestamp)}}}`;
}

/** Extension fields of `response.done`. */
export interface ResponseDoneExtra {
  /** How the response ended; `cancelled` after barge-in or `response.cancel`. */
  readonly status?: ResponseStatus;
  /** Response id, so a client can correlate a reply with server logs. */
  readonly id?: string;
}

/**
 * `response.done` with the response's token usage. `usage.input_token_details` and
 * `usage.output_token_details` (extension) are emitted when given, with only their defined counts.
 */
export function encodeResponseDone(
  usage: Usage,
  timestamp: number = nowSeconds(),
  extra?: ResponseDoneExtra,
): string {
  let details = '';
  const input = usage.input_token_details;
  if (input !== undefined) {
    details += `,"input_token_details":{${counts([
      ['cached_tokens', input.cached_tokens],
      ['text_tokens', input.text_tokens],
      ['audio_tokens', input.audio_tokens],
    ])}}`;
  }
  const output = usage.output_token_details;
  if (output !== undefined) {
    details += `,"output_token_details":{${counts([
      ['text_tokens', output.text_tokens],
      ['audio_tokens', output.audio_tokens],
    ])}}`;
  }
  let tail = '';
  if (extra?.status !== undefined) tail += `,"status":"${extra.status}"`;
  if (extra?.id !== undefined) tail += `,"id":${JSON.stringify(extra.id)}`;
  return `{"type":"response.done","response":{"usage":{"input_tokens":${count(usage.input_tokens)},"output_tokens":${count(usage.output_tokens)}${details}},"timestamp":${finite(timestamp)}${tail}}}`;
}

/** `"a":1,"b":2` for the defined counts, in the given order. */
function counts(entries: ReadonlyArray<readonly [string, number | undefined]>): string {
  let out = '';
  for (const [key, value] of entries) {
    if (value === undefined) continue;
    out += `${out === '' ? '' : ','}"${key}":${count(value)}`;
  }
  return out;
}

/**
 * `response.function_call` (extension): the model called a function tool and its arguments are complete.
 * `args` is the arguments JSON text exactly as the model produced it (escaped here as a JSON string).
 */
export function encodeFunctionCall(
  callId: string,
  name: string,
  args: string,
  timestamp: number = nowSeconds(),
): string {
  return `{"type":"response.function_call","response":{"call_id":${JSON.stringify(callId)},"name":${JSON.stringify(name)},"arguments":${JSON.stringify(args)},"timestamp":${finite(timestamp)}}}`;
}

/**
 * `conversation.item.transcript` (extension): user speech transcription for input item `itemId`. Send the
 * pieces with `final` false, then the whole transcript once with `final` true.
 */
export function encodeTranscript(
  itemId: string,
  text: string,
  final: boolean,
  timestamp: number = nowSeconds(),
): string {
  return `{"type":"conversation.item.transcript","conversation_item_transcript":{"item_id":${JSON.stringify(itemId)},"role":"user","text":${JSON.stringify(text)},"final":${final ? 'true' : 'false'}},"timestamp":${finite(timestamp)}}`;
}

/**
 * `pong`, with `timestamp` at the top level as in the seed. The protocol echoes the `ping.timestamp`
 * (so a client measures the round trip without keeping state); the default is only for ad-hoc use.
 */
export function encodePong(timestamp: number = nowSeconds()): string {
  return `{"type":"pong","timestamp":${finite(timestamp)}}`;
}

/** Further fields of `error` (extension), for {@link encodeError}. */
export interface ErrorExtra {
  /**
   * The provider's name of the parameter it rejected (e.g. `session.tools[0].parameters`), for the
   * `upstream_*` codes. Not a path in the client's request: that is `field`.
   */
  readonly param?: string;
}

/**
 * `error`. The message defaults to the code's registry message; pass `field` (dotted path) when one
 * request field is at fault, `eventId` when the failing request carried an `event_id`, and
 * `extra.param` when the provider named the parameter it rejected.
 */
export function encodeError(
  code: ErrorCode,
  message: string = ErrorCode[code].message,
  field?: string,
  eventId?: string,
  extra?: ErrorExtra,
): string {
  let tail = '';
  if (field !== undefined) tail += `,"field":${JSON.stringify(field)}`;
  if (eventId !== undefined) tail += `,"event_id":${JSON.stringify(eventId)}`;
  if (extra?.param !== undefined) tail += `,"param":${JSON.stringify(extra.param)}`;
  return `{"type":"error","error":{"code":"${code}","message":${JSON.stringify(message)}${tail}}}`;
}

/** `error` for a rejected client frame, straight from a parse result. */
export function encodeFrameError(error: FrameError): string {
  return encodeError(error.code, error.message, error.field, error.eventId);
}

/**
 * `session.update` with the effective configuration. Only the known fields are copied, in a fixed
 * order, so a richer internal session object cannot leak extra fields to the client.
 */
export function encodeSessionUpdate(session: SessionInfo): string {
  const out: Record<string, unknown> = { id: session.id, voice: session.voice, language: session.language };
  copyConfig(session, out);
  return `{"type":"session.update","session":${JSON.stringify(out)}}`;
}

/**
 * `session.created`, the first frame on every connection (extension). `protocol_version` defaults to
 * {@link PROTOCOL_VERSION}; configuration fields, when given, tell the client the initial settings.
 */
export function encodeSessionCreated(
  session: Omit<SessionCreatedInfo, 'protocol_version'> & { readonly protocol_version?: string },
  timestamp: number = nowSeconds(),
): string {
  const out: Record<string, unknown> = { id: session.id, user_id: session.user_id };
  if (session.resume_token !== undefined) out['resume_token'] = session.resume_token;
  out['protocol_version'] = session.protocol_version ?? PROTOCOL_VERSION;
  if (session.voice !== undefined) out['voice'] = session.voice;
  if (session.language !== undefined) out['language'] = session.language;
  copyConfig(session, out);
  return `{"type":"session.created","session":${JSON.stringify(out)},"timestamp":${finite(timestamp)}}`;
}

type ConfigExtension = Pick<
  SessionInfo,
  | 'instructions'
  | 'temperature'
  | 'max_response_output_tokens'
  | 'modalities'
  | 'turn_detection'
  | 'tools'
  | 'tool_choice'
  | 'input_audio_noise_reduction'
  | 'speed'
  | 'input_audio_transcription'
>;

function copyConfig(from: ConfigExtension, out: Record<string, unknown>): void {
  if (from.instructions !== undefined) out['instructions'] = from.instructions;
  if (from.temperature !== undefined) out['temperature'] = from.temperature;
  if (from.max_response_output_tokens !== undefined) {
    out['max_response_output_tokens'] = from.max_response_output_tokens;
  }
  if (from.modalities !== undefined) out['modalities'] = from.modalities;
  if (from.turn_detection !== undefined) out['turn_detection'] = copyTurnDetection(from.turn_detection);
  if (from.tools !== undefined) out['tools'] = from.tools.map(copyTool);
  if (from.tool_choice !== undefined) out['tool_choice'] = copyToolChoice(from.tool_choice);
  if (from.input_audio_noise_reduction !== undefined) {
    const nr = from.input_audio_noise_reduction;
    out['input_audio_noise_reduction'] = nr === null ? null : { type: nr.type };
  }
  if (from.speed !== undefined) out['speed'] = from.speed;
  if (from.input_audio_transcription !== undefined) {
    out['input_audio_transcription'] = copyTranscription(from.input_audio_transcription);
  }
}

function copyTurnDetection(value: TurnDetection): TurnDetection {
  if (value === null) return null;
  if (value.type === 'semantic_vad') {
    const out: Extract<TurnDetection, { type: 'semantic_vad' }> = { type: 'semantic_vad' };
    if (value.eagerness !== undefined) out.eagerness = value.eagerness;
    if (value.create_response !== undefined) out.create_response = value.create_response;
    if (value.interrupt_response !== undefined) out.interrupt_response = value.interrupt_response;
    return out;
  }
  const out: Extract<TurnDetection, { type: 'server_vad' }> = { type: 'server_vad' };
  if (value.threshold !== undefined) out.threshold = value.threshold;
  if (value.silence_duration_ms !== undefined) out.silence_duration_ms = value.silence_duration_ms;
  if (value.prefix_padding_ms !== undefined) out.prefix_padding_ms = value.prefix_padding_ms;
  if (value.idle_timeout_ms !== undefined) out.idle_timeout_ms = value.idle_timeout_ms;
  if (value.create_response !== undefined) out.create_response = value.create_response;
  if (value.interrupt_response !== undefined) out.interrupt_response = value.interrupt_response;
  return out;
}

// `parameters` is the client's own JSON Schema, passed through whole; the parser bounded its size.
function copyTool(tool: FunctionTool): FunctionTool {
  const out: FunctionTool = { type: 'function', name: tool.name };
  if (tool.description !== undefined) out.description = tool.description;
  if (tool.parameters !== undefined) out.parameters = tool.parameters;
  return out;
}

function copyToolChoice(choice: ToolChoice): ToolChoice {
  return typeof choice === 'string' ? choice : { type: 'function', name: choice.name };
}

function copyTranscription(value: InputAudioTranscription): InputAudioTranscription {
  if (value === null) return null;
  const out: Exclude<InputAudioTranscription, null> = {};
  if (value.model !== undefined) out.model = value.model;
  if (value.language !== undefined) out.language = value.language;
  if (value.prompt !== undefined) out.prompt = value.prompt;
  return out;
}

/** `input_audio_buffer.speech_started` (extension): the user started talking, in ms of input audio. */
export function encodeSpeechStarted(audioStartMs: number, timestamp: number = nowSeconds()): string {
  return `{"type":"input_audio_buffer.speech_started","audio_start_ms":${count(audioStartMs)},"timestamp":${finite(timestamp)}}`;
}

/** `input_audio_buffer.speech_stopped` (extension): the user stopped talking, in ms of input audio. */
export function encodeSpeechStopped(audioEndMs: number, timestamp: number = nowSeconds()): string {
  return `{"type":"input_audio_buffer.speech_stopped","audio_end_ms":${count(audioEndMs)},"timestamp":${finite(timestamp)}}`;
}

/** `session.notice` (extension). `code` is snake_case; see `NoticeCode` for the defined ones. */
export function encodeNotice(
  code: NoticeCode | (string & Record<never, never>),
  message: string,
  timestamp: number = nowSeconds(),
): string {
  return `{"type":"session.notice","notice":{"code":${JSON.stringify(code)},"message":${JSON.stringify(message)}},"timestamp":${finite(timestamp)}}`;
}

// A NaN or Infinity would produce a frame no JSON parser accepts: fail loudly at the source instead.
function finite(n: number): number {
  if (!Number.isFinite(n)) throw new TypeError(`timestamp must be a finite number, got ${n}`);
  return n;
}

function count(n: number): number {
  if (!Number.isSafeInteger(n) || n < 0) throw new TypeError(`expected a non-negative integer, got ${n}`);
  return n;
}
