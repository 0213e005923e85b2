/**
 * OpenAI Realtime API (WebSocket transport): the upstream provider protocol, GA and beta shapes side by side.
 *
 * This is the protocol our session workers speak to the provider (or to the local engine that stands in for
 * it). It is NOT our public client protocol and must never be re-exported as such.
 *
 * GA (since 2025-08-28) is the shape to implement. The beta shape (`OpenAI-Beta: realtime=v1` header or the
 * `openai-beta.realtime-v1` subprotocol) is kept so stand-ins can speak or reject it; the live service now
 * answers it with `beta_api_shape_disabled` and close 4000. Unions are open: the provider adds events and
 * fields without notice, so consumers must ignore what they do not know.
 */

// ---------------------------------------------------------------------------------------------------------
// Shapes, handshake and close codes
// ---------------------------------------------------------------------------------------------------------

/** Which generation of the wire protocol a connection speaks. */
export type RealtimeApiShape = 'ga' | 'beta';

/** Handshake tokens. The key subprotocol exists because browsers cannot set an `Authorization` header. */
export const REALTIME_HANDSHAKE = {
  path: '/v1/realtime',
  /** `OpenAI-Beta`, lower-cased as Node's `IncomingMessage.headers` exposes it. */
  betaHeaderName: 'openai-beta',
  betaHeaderValue: 'realtime=v1',
  subprotocol: 'realtime',
  betaSubprotocol: 'openai-beta.realtime-v1',
  apiKeySubprotocolPrefix: 'openai-insecure-api-key.',
} as const;

/**
 * Close codes the provider uses. Fatal errors arrive as an `error` event immediately followed by a close whose
 * reason is `"<error.type>.<error.code>"` (or just the type when the code is null).
 */
export const REALTIME_CLOSE_CODES = {
  /** Bad or missing API key: do not retry with the same key. */
  auth: 3000,
  /** Request shape: missing/invalid model, invalid intent, beta shape disabled. Retrying cannot help. */
  requestShape: 4000,
  /** Session hit its maximum duration (60 min in GA): reconnect and replay context. */
  sessionExpired: 1001,
} as const;
export type RealtimeCloseCode = (typeof REALTIME_CLOSE_CODES)[keyof typeof REALTIME_CLOSE_CODES];

/** The GA model ids named in the SDK types; the service also accepts later `gpt-realtime-*` ids. */
export const CURRENT_REALTIME_MODELS = [
  'gpt-realtime',
  'gpt-realtime-2025-08-28',
  'gpt-realtime-mini',
  'gpt-realtime-mini-2025-10-06',
] as const;

/**
 * The preview (beta-era) model ids, all retired by OpenAI in 2025: the service answers them with `invalid_model`
 * and close 4000. The seed's default, `gpt-4o-realtime-preview-2024-10-01`, is one of them.
 */
export const RETIRED_REALTIME_MODELS = [
  'gpt-4o-realtime-preview',
  'gpt-4o-realtime-preview-2024-10-01',
  'gpt-4o-realtime-preview-2024-12-17',
  'gpt-4o-realtime-preview-2025-06-03',
  'gpt-4o-mini-realtime-preview',
  'gpt-4o-mini-realtime-preview-2024-12-17',
] as const;

/** Model ids named in the SDK types, current and retired. */
export const REALTIME_MODELS = [...CURRENT_REALTIME_MODELS, ...RETIRED_REALTIME_MODELS] as const;
export type RealtimeModel = (typeof REALTIME_MODELS)[number] | (string & {});

/** The client event types a GA server accepts, in the order its own `invalid_value` message lists them. */
export const REALTIME_CLIENT_EVENT_TYPES = [
  'session.update',
  'session.close',
  'input_audio_buffer.append',
  'session.input_audio_buffer.append',
  'input_audio_buffer.commit',
  'input_audio_buffer.clear',
  'conversation.item.create',
  'conversation.item.truncate',
  'conversation.item.delete',
  'conversation.item.retrieve',
  'response.create',
  'response.cancel',
] as const;
export type RealtimeClientEventType = (typeof REALTIME_CLIENT_EVENT_TYPES)[number];

// ---------------------------------------------------------------------------------------------------------
// Session configuration
// ---------------------------------------------------------------------------------------------------------

/** GA audio format. PCM is 16-bit little-endian mono and only 24 kHz is accepted. */
export type RealtimeAudioFormat =
  | { type: 'audio/pcm'; rate?: 24000 }
  | { type: 'audio/pcmu' }
  | { type: 'audio/pcma' };
/** Beta audio format names (renamed in GA, see {@link GA_TO_BETA_AUDIO_FORMAT}). */
export type BetaAudioFormat = 'pcm16' | 'g711_ulaw' | 'g711_alaw';

export const REALTIME_VOICES = [
  'alloy',
  'ash',
  'ballad',
  'coral',
  'echo',
  'sage',
  'shimmer',
  'verse',
  'marin',
  'cedar',
] as const;
export type RealtimeVoice = (typeof REALTIME_VOICES)[number] | (string & {});

export interface ServerVadTurnDetection {
  type: 'server_vad';
  /** 0..1; higher needs louder audio to count as speech. Default 0.5. */
  threshold?: number;
  /** Audio kept before detected speech, included in `audio_start_ms`. Default 300. */
  prefix_padding_ms?: number;
  /** Silence that ends a turn, included in `audio_end_ms`. Default 200 on live sessions (docs say 500). */
  silence_duration_ms?: number;
  /** GA only: no speech for this long after a response → `input_audio_buffer.timeout_triggered`. */
  idle_timeout_ms?: number | null;
  create_response?: boolean;
  interrupt_response?: boolean;
}
export interface SemanticVadTurnDetection {
  type: 'semantic_vad';
  eagerness?: 'low' | 'medium' | 'high' | 'auto';
  create_response?: boolean;
  interrupt_response?: boolean;
}
/** `null` disables VAD: the client commits and requests responses itself. */
export type RealtimeTurnDetection = ServerVadTurnDetection | SemanticVadTurnDetection | null;

export interface RealtimeTranscriptionConfig {
  model?:
    | 'whisper-1'
    | 'gpt-4o-mini-transcribe'
    | 'gpt-4o-transcribe'
    | 'gpt-4o-transcribe-diarize'
    | (string & {});
  language?: string | null;
  prompt?: string | null;
}
export type RealtimeNoiseReduction = { type: 'near_field' | 'far_field' } | null;

export interface RealtimeFunctionTool {
  type: 'function';
  name: string;
  /** At most 1024 characters (`string_above_max_length` otherwise). */
  description?: string;
  /** JSON Schema of the arguments. */
  parameters?: Record<string, unknown>;
}
export interface RealtimeMcpTool {
  type: 'mcp';
  server_label: string;
  [k: string]: unknown;
}
export type RealtimeTool = RealtimeFunctionTool | RealtimeMcpTool;
export type RealtimeToolChoice =
  | 'auto'
  | 'none'
  | 'required'
  | { type: 'function'; name: string }
  | { type: 'mcp'; server_label: string; name?: string };

/** `"inf"` or 1..4096. GA name `max_output_tokens`; beta session name `max_response_output_tokens`. */
export type RealtimeMaxTokens = number | 'inf';

/**
 * GA session object as sent in `session.update` (all fields optional except `type`) and returned in
 * `session.created|updated` (all fields present). Beta-era top-level fields (`modalities`, `voice`,
 * `input_audio_format`, `turn_detection`, `temperature`, …) are rejected here as `unknown_parameter`.
 */
export interface RealtimeSessionConfig {
  /** Required in every GA `session.update` (`missing_required_parameter` on `session.type` otherwise). */
  type: 'realtime' | 'transcription';
  model?: RealtimeModel;
  /** Renamed from beta `modalities`. Exactly one of `["audio"]` (audio + transcript) or `["text"]`. */
  output_modalities?: ['audio'] | ['text'];
  instructions?: string;
  /** Renamed/nested from beta flat `input_audio_*`, `output_audio_format`, `turn_detection`, `voice`, `speed`. */
  audio?: {
    input?: {
      format?: RealtimeAudioFormat;
      transcription?: RealtimeTranscriptionConfig | null;
      noise_reduction?: RealtimeNoiseReduction;
      turn_detection?: RealtimeTurnDetection;
    };
    output?: { format?: RealtimeAudioFormat; voice?: RealtimeVoice; speed?: number };
  };
  tools?: RealtimeTool[];
  tool_choice?: RealtimeToolChoice;
  /** Renamed from beta `max_response_output_tokens`. */
  max_output_tokens?: RealtimeMaxTokens;
  truncation?:
    | 'auto'
    | 'disabled'
    | { type: 'retention_ratio'; retention_ratio: number; token_limits?: { post_instructions?: number } };
  tracing?: 'auto' | { workflow_name?: string; group_id?: string; metadata?: Record<string, unknown> } | null;
  prompt?: { id: string; version?: string; variables?: Record<string, unknown> } | null;
  include?: 'item.input_audio_transcription.logprobs'[] | null;
}

/** The full effective GA session the server reports. */
export interface RealtimeSession extends Required<Omit<RealtimeSessionConfig, 'audio'>> {
  object: 'realtime.session' | 'realtime.transcription_session';
  /** `sess_` + 21 base62 characters. */
  id: string;
  /** Epoch seconds: session start + maximum duration. */
  expires_at: number;
  audio: {
    input: {
      format: RealtimeAudioFormat;
      transcription: RealtimeTranscriptionConfig | null;
      noise_reduction: RealtimeNoiseReduction;
      turn_detection: RealtimeTurnDetection;
    };
    output: { format: RealtimeAudioFormat; voice: RealtimeVoice; speed: number };
  };
}

/** Beta flat session (no `type`; fields renamed in GA per {@link GA_TO_BETA_SESSION_FIELD}). */
export interface BetaRealtimeSessionConfig {
  model?: RealtimeModel;
  /** `["text","audio"]` (default: audio with transcript) or `["text"]`. */
  modalities?: ('text' | 'audio')[];
  instructions?: string;
  voice?: RealtimeVoice;
  input_audio_format?: BetaAudioFormat;
  output_audio_format?: BetaAudioFormat;
  input_audio_transcription?: RealtimeTranscriptionConfig | null;
  input_audio_noise_reduction?: RealtimeNoiseReduction;
  turn_detection?: Omit<ServerVadTurnDetection, 'idle_timeout_ms'> | SemanticVadTurnDetection | null;
  tools?: RealtimeTool[];
  tool_choice?: RealtimeToolChoice;
  /** 0.6..1.2, default 0.8. Dropped in GA. */
  temperature?: number;
  max_response_output_tokens?: RealtimeMaxTokens;
  speed?: number;
  tracing?: RealtimeSessionConfig['tracing'];
}
export interface BetaRealtimeSession extends Required<BetaRealtimeSessionConfig> {
  object: 'realtime.session';
  id: string;
  expires_at: number;
}

// ---------------------------------------------------------------------------------------------------------
// Conversation items
// ---------------------------------------------------------------------------------------------------------

export type RealtimeInputContent =
  | { type: 'input_text'; text: string }
  | { type: 'input_audio'; audio?: string; transcript?: string | null }
  | { type: 'input_image'; image_url: string; detail?: 'auto' | 'low' | 'high' };
/** Assistant content. GA `output_text`/`output_audio` are beta `text`/`audio`. */
export type RealtimeOutputContent =
  | { type: 'output_text'; text: string }
  | { type: 'output_audio'; audio?: string; transcript: string | null };
export type BetaOutputContent =
  | { type: 'text'; text: string }
  | { type: 'audio'; audio?: string; transcript: string | null };

export type RealtimeItemStatus = 'completed' | 'incomplete' | 'in_progress';

export interface RealtimeMessageItem {
  id?: string;
  /** `"realtime.item"`; GA wires omit it, beta wires send it. */
  object?: 'realtime.item';
  type: 'message';
  role: 'user' | 'assistant' | 'system';
  status?: RealtimeItemStatus;
  content: (RealtimeInputContent | RealtimeOutputContent | BetaOutputContent)[];
}
export interface RealtimeFunctionCallItem {
  id?: string;
  object?: 'realtime.item';
  type: 'function_call';
  status?: RealtimeItemStatus;
  call_id: string;
  name: string;
  /** JSON-encoded arguments. */
  arguments: string;
}
export interface RealtimeFunctionCallOutputItem {
  id?: string;
  object?: 'realtime.item';
  type: 'function_call_output';
  status?: RealtimeItemStatus;
  call_id: string;
  output: string;
}
export type RealtimeItem =
  | RealtimeMessageItem
  | RealtimeFunctionCallItem
  | RealtimeFunctionCallOutputItem
  | { type: string; id?: string; [k: string]: unknown };

/** Content part wrapper in `response.content_part.*`: the GA wire still uses the beta names here. */
export type RealtimeContentPart = { type: 'audio'; transcript: string } | { type: 'text'; text: string };

// ---------------------------------------------------------------------------------------------------------
// Responses, usage, errors, rate limits
// ---------------------------------------------------------------------------------------------------------

export interface RealtimeUsage {
  total_tokens: number;
  /** Includes cached tokens. */
  input_tokens: number;
  output_tokens: number;
  /** Beta carried only `cached_tokens`, `text_tokens`, `audio_tokens` here. */
  input_token_details: {
    text_tokens: number;
    audio_tokens: number;
    image_tokens?: number;
    cached_tokens: number;
    cached_tokens_details?: { text_tokens: number; audio_tokens: number; image_tokens?: number };
  };
  output_token_details: { text_tokens: number; audio_tokens: number };
}

export type RealtimeResponseStatus = 'in_progress' | 'completed' | 'cancelled' | 'incomplete' | 'failed';
export type RealtimeResponseStatusDetails =
  | null
  | { type: 'cancelled'; reason: 'turn_detected' | 'client_cancelled' }
  | { type: 'incomplete'; reason: 'max_output_tokens' | 'content_filter' }
  | { type: 'failed'; error: { type: string; code: string | null; message?: string } };

/** GA response object. Beta used `modalities`, flat `voice`/`output_audio_format` and `temperature`. */
export interface RealtimeResponse {
  object: 'realtime.response';
  /** `resp_` + 21 base62 characters. */
  id: string;
  status: RealtimeResponseStatus;
  status_details: RealtimeResponseStatusDetails;
  output: RealtimeItem[];
  /** `null` for out-of-band responses (`conversation: "none"`). */
  conversation_id: string | null;
  output_modalities?: ['audio'] | ['text'];
  max_output_tokens?: RealtimeMaxTokens;
  audio?: { output: { format: RealtimeAudioFormat; voice: RealtimeVoice } };
  /** `null` until `response.done`. */
  usage: RealtimeUsage | null;
  metadata: Record<string, string> | null;
  /** Beta only. */
  modalities?: ('text' | 'audio')[];
  voice?: RealtimeVoice;
  output_audio_format?: BetaAudioFormat;
  temperature?: number;
}

/** Parameters of `response.create`. Beta used `modalities`, `voice`, `output_audio_format`, `temperature`. */
export interface RealtimeResponseCreateParams {
  output_modalities?: ['audio'] | ['text'];
  instructions?: string;
  tools?: RealtimeTool[];
  tool_choice?: RealtimeToolChoice;
  max_output_tokens?: RealtimeMaxTokens;
  audio?: { output?: { format?: RealtimeAudioFormat; voice?: RealtimeVoice } };
  /** `"auto"` writes to the default conversation; `"none"` is out-of-band. */
  conversation?: 'auto' | 'none';
  input?: RealtimeItem[];
  metadata?: Record<string, string> | null;
  modalities?: ('text' | 'audio')[];
  voice?: RealtimeVoice;
  output_audio_format?: BetaAudioFormat;
  temperature?: number;
  max_response_output_tokens?: RealtimeMaxTokens;
}

/** Error codes seen on the wire (the field is open: the provider adds codes). */
export const REALTIME_ERROR_CODES = [
  'invalid_api_key',
  'invalid_model',
  'missing_model',
  'invalid_intent',
  'beta_api_shape_disabled',
  'session_expired',
  'invalid_json',
  'invalid_event',
  'invalid_value',
  'invalid_type',
  'unknown_parameter',
  'missing_required_parameter',
  'string_above_max_length',
  'integer_below_min_value',
  'integer_above_max_value',
  'decimal_below_min_value',
  'decimal_above_max_value',
  'input_audio_buffer_commit_empty',
  'conversation_already_has_active_response',
  'response_cancel_not_active',
  'item_create_duplicate_item_id',
  'item_not_found',
  'cannot_update_voice',
  'server_error',
] as const;
export type RealtimeErrorCode = (typeof REALTIME_ERROR_CODES)[number] | (string & {});

export interface RealtimeErrorDetails {
  /** e.g. `invalid_request_error`, `server_error`. */
  type: string;
  code: RealtimeErrorCode | null;
  message: string;
  /** Dotted path of the offending parameter, e.g. `session.audio.input.format.rate`. */
  param: string | null;
  /** The failing client event's `event_id`, or null when it had none. */
  event_id: string | null;
}

export interface RealtimeRateLimit {
  name: 'requests' | 'tokens' | (string & {});
  limit: number;
  remaining: number;
  reset_seconds: number;
}

// ---------------------------------------------------------------------------------------------------------
// Client events
// ---------------------------------------------------------------------------------------------------------

/** A client event: `event_id` is optional and echoed only as `error.event_id` when the event fails. */
export type ClientEvent<T extends string, P = unknown> = { type: T; event_id?: string } & P;

export type SessionUpdateEvent = ClientEvent<
  'session.update',
  { session: RealtimeSessionConfig | BetaRealtimeSessionConfig }
>;
/** `audio` is base64 in the session's input format, at most 15 MiB per event. Never acknowledged. */
export type InputAudioBufferAppendEvent = ClientEvent<'input_audio_buffer.append', { audio: string }>;
/** Needs at least 100 ms buffered (`input_audio_buffer_commit_empty` otherwise). */
export type InputAudioBufferCommitEvent = ClientEvent<'input_audio_buffer.commit'>;
export type InputAudioBufferClearEvent = ClientEvent<'input_audio_buffer.clear'>;
/** `previous_item_id`: `"root"` inserts first, an unknown id is an error, absent appends. */
export type ConversationItemCreateEvent = ClientEvent<
  'conversation.item.create',
  { item: RealtimeItem; previous_item_id?: string | null }
>;
/** `audio_end_ms` = milliseconds of assistant audio actually played; the unheard transcript is dropped. */
export type ConversationItemTruncateEvent = ClientEvent<
  'conversation.item.truncate',
  { item_id: string; content_index: number; audio_end_ms: number }
>;
export type ConversationItemDeleteEvent = ClientEvent<'conversation.item.delete', { item_id: string }>;
export type ConversationItemRetrieveEvent = ClientEvent<'conversation.item.retrieve', { item_id: string }>;
export type ResponseCreateEvent = ClientEvent<'response.create', { response?: RealtimeResponseCreateParams }>;
export type ResponseCancelEvent = ClientEvent<'response.cancel', { response_id?: string }>;

/** Anything else: unions stay open so new provider events still type-check. */
export interface UnknownRealtimeEvent {
  type: string;
  [k: string]: unknown;
}

export type RealtimeClientEvent =
  | SessionUpdateEvent
  | InputAudioBufferAppendEvent
  | InputAudioBufferCommitEvent
  | InputAudioBufferClearEvent
  | ConversationItemCreateEvent
  | ConversationItemTruncateEvent
  | ConversationItemDeleteEvent
  | ConversationItemRetrieveEvent
  | ResponseCreateEvent
  | ResponseCancelEvent;

// ---------------------------------------------------------------------------------------------------------
// Server events
// ---------------------------------------------------------------------------------------------------------

/** A server event: `event_id` is `event_` + 21 base62 characters, server-generated. */
export type ServerEvent<T extends string, P = unknown> = { type: T; event_id: string } & P;

/** The four fields that locate a delta within a response. */
export interface ResponseContentLocator {
  response_id: string;
  item_id: string;
  output_index: number;
  content_index: number;
}
type ItemPayload = { previous_item_id: string | null; item: RealtimeItem };
type OutputItemPayload = { response_id: string; output_index: number; item: RealtimeItem };
type FunctionCallPayload = { response_id: string; item_id: string; output_index: number; call_id: string };
type TokenUsage = {
  type: 'tokens';
  input_tokens: number;
  output_tokens: number;
  total_tokens: number;
  input_token_details?: { text_tokens: number; audio_tokens: number };
};

export type ErrorEvent = ServerEvent<'error', { error: RealtimeErrorDetails }>;
export type SessionCreatedEvent = ServerEvent<
  'session.created',
  { session: RealtimeSession | BetaRealtimeSession }
>;
/** Carries the full effective config; does not echo the client `event_id`. */
export type SessionUpdatedEvent = ServerEvent<
  'session.updated',
  { session: RealtimeSession | BetaRealtimeSession }
>;
/** GA: an item entered the conversation (model output may still be `in_progress` with empty content). */
export type ConversationItemAddedEvent = ServerEvent<'conversation.item.added', ItemPayload>;
/** GA: the item is final (audio bytes omitted). No beta twin. */
export type ConversationItemDoneEvent = ServerEvent<'conversation.item.done', ItemPayload>;
/** Beta's single item event, replaced in GA by `conversation.item.added` + `.done`. */
export type ConversationItemCreatedEvent = ServerEvent<'conversation.item.created', ItemPayload>;
export type ConversationItemTruncatedEvent = ServerEvent<
  'conversation.item.truncated',
  { item_id: string; content_index: number; audio_end_ms: number }
>;
export type ConversationItemDeletedEvent = ServerEvent<'conversation.item.deleted', { item_id: string }>;
export type ConversationItemRetrievedEvent = ServerEvent<
  'conversation.item.retrieved',
  { item: RealtimeItem }
>;
export type InputAudioTranscriptionDeltaEvent = ServerEvent<
  'conversation.item.input_audio_transcription.delta',
  { item_id: string; content_index: number; delta: string }
>;
export type InputAudioTranscriptionCompletedEvent = ServerEvent<
  'conversation.item.input_audio_transcription.completed',
  {
    item_id: string;
    content_index: number;
    transcript: string;
    usage?: TokenUsage | { type: 'duration'; seconds: number };
  }
>;
/** `audio_start_ms`: offset in appended audio (sample count, not wall clock), prefix padding included. */
export type SpeechStartedEvent = ServerEvent<
  'input_audio_buffer.speech_started',
  { audio_start_ms: number; item_id: string }
>;
/** `audio_end_ms`: offset in appended audio, trailing silence included. */
export type SpeechStoppedEvent = ServerEvent<
  'input_audio_buffer.speech_stopped',
  { audio_end_ms: number; item_id: string }
>;
export type InputAudioBufferCommittedEvent = ServerEvent<
  'input_audio_buffer.committed',
  { previous_item_id: string | null; item_id: string }
>;
export type InputAudioBufferClearedEvent = ServerEvent<'input_audio_buffer.cleared'>;
export type ResponseCreatedEvent = ServerEvent<'response.created', { response: RealtimeResponse }>;
export type ResponseDoneEvent = ServerEvent<'response.done', { response: RealtimeResponse }>;
export type ResponseOutputItemAddedEvent = ServerEvent<'response.output_item.added', OutputItemPayload>;
export type ResponseOutputItemDoneEvent = ServerEvent<'response.output_item.done', OutputItemPayload>;
export type ResponseContentPartAddedEvent = ServerEvent<
  'response.content_part.added',
  ResponseContentLocator & { part: RealtimeContentPart }
>;
export type ResponseContentPartDoneEvent = ServerEvent<
  'response.content_part.done',
  ResponseContentLocator & { part: RealtimeContentPart }
>;
/** GA text deltas carry an `obfuscation` padding string that clients must ignore. */
type TextDelta = ResponseContentLocator & { delta: string; obfuscation?: string };
/** GA name; beta `response.text.delta`. */
export type ResponseOutputTextDeltaEvent = ServerEvent<'response.output_text.delta', TextDelta>;
/** GA name; beta `response.text.done`. */
export type ResponseOutputTextDoneEvent = ServerEvent<
  'response.output_text.done',
  ResponseContentLocator & { text: string }
>;
/** GA name; beta `response.audio.delta`. `delta` is base64 audio in the session's output format. */
export type ResponseOutputAudioDeltaEvent = ServerEvent<
  'response.output_audio.delta',
  ResponseContentLocator & { delta: string }
>;
/** GA name; beta `response.audio.done`. */
export type ResponseOutputAudioDoneEvent = ServerEvent<'response.output_audio.done', ResponseContentLocator>;
/** GA name; beta `response.audio_transcript.delta`. */
export type ResponseOutputAudioTranscriptDeltaEvent = ServerEvent<
  'response.output_audio_transcript.delta',
  TextDelta
>;
/** GA name; beta `response.audio_transcript.done`. */
export type ResponseOutputAudioTranscriptDoneEvent = ServerEvent<
  'response.output_audio_transcript.done',
  ResponseContentLocator & { transcript: string }
>;
export type ResponseFunctionCallArgumentsDeltaEvent = ServerEvent<
  'response.function_call_arguments.delta',
  FunctionCallPayload & { delta: string }
>;
/** GA adds `name`. */
export type ResponseFunctionCallArgumentsDoneEvent = ServerEvent<
  'response.function_call_arguments.done',
  FunctionCallPayload & { arguments: string; name?: string }
>;
/** GA wires send it after `response.done` with one `tokens` entry; beta sent it after `response.created`. */
export type RateLimitsUpdatedEvent = ServerEvent<'rate_limits.updated', { rate_limits: RealtimeRateLimit[] }>;

/** Beta twins of the renamed GA events: same payloads, old names. */
type Renamed<E extends { type: string }, T extends string> = Omit<E, 'type'> & { type: T };
export type BetaResponseTextDeltaEvent = Renamed<ResponseOutputTextDeltaEvent, 'response.text.delta'>;
export type BetaResponseTextDoneEvent = Renamed<ResponseOutputTextDoneEvent, 'response.text.done'>;
export type BetaResponseAudioDeltaEvent = Renamed<ResponseOutputAudioDeltaEvent, 'response.audio.delta'>;
export type BetaResponseAudioDoneEvent = Renamed<ResponseOutputAudioDoneEvent, 'response.audio.done'>;
export type BetaResponseAudioTranscriptDeltaEvent = Renamed<
  ResponseOutputAudioTranscriptDeltaEvent,
  'response.audio_transcript.delta'
>;
export type BetaResponseAudioTranscriptDoneEvent = Renamed<
  ResponseOutputAudioTranscriptDoneEvent,
  'response.audio_transcript.done'
>;

/** Events both shapes send under the same name. */
export type RealtimeCommonServerEvent =
  | ErrorEvent
  | SessionCreatedEvent
  | SessionUpdatedEvent
  | ConversationItemTruncatedEvent
  | ConversationItemDeletedEvent
  | ConversationItemRetrievedEvent
  | InputAudioTranscriptionDeltaEvent
  | InputAudioTranscriptionCompletedEvent
  | SpeechStartedEvent
  | SpeechStoppedEvent
  | InputAudioBufferCommittedEvent
  | InputAudioBufferClearedEvent
  | ResponseCreatedEvent
  | ResponseDoneEvent
  | ResponseOutputItemAddedEvent
  | ResponseOutputItemDoneEvent
  | ResponseContentPartAddedEvent
  | ResponseContentPartDoneEvent
  | ResponseFunctionCallArgumentsDeltaEvent
  | ResponseFunctionCallArgumentsDoneEvent
  | RateLimitsUpdatedEvent;

export type RealtimeServerEvent =
  | RealtimeCommonServerEvent
  | ConversationItemAddedEvent
  | ConversationItemDoneEvent
  | ResponseOutputTextDeltaEvent
  | ResponseOutputTextDoneEvent
  | ResponseOutputAudioDeltaEvent
  | ResponseOutputAudioDoneEvent
  | ResponseOutputAudioTranscriptDeltaEvent
  | ResponseOutputAudioTranscriptDoneEvent;

export type BetaRealtimeServerEvent =
  | RealtimeCommonServerEvent
  | ConversationItemCreatedEvent
  | BetaResponseTextDeltaEvent
  | BetaResponseTextDoneEvent
  | BetaResponseAudioDeltaEvent
  | BetaResponseAudioDoneEvent
  | BetaResponseAudioTranscriptDeltaEvent
  | BetaResponseAudioTranscriptDoneEvent;

/** Any server event, known or not. Narrow on `type` before trusting the payload. */
export type AnyRealtimeServerEvent = RealtimeServerEvent | BetaRealtimeServerEvent | UnknownRealtimeEvent;

// ---------------------------------------------------------------------------------------------------------
// GA ↔ beta name tables
// ---------------------------------------------------------------------------------------------------------

/**
 * Server event renames, GA → beta. `conversation.item.added` maps to beta's single `conversation.item.created`;
 * `conversation.item.done` has no beta twin (`null`: a beta server simply does not send it).
 */
export const GA_TO_BETA_EVENT = {
  'conversation.item.added': 'conversation.item.created',
  'conversation.item.done': null,
  'response.output_text.delta': 'response.text.delta',
  'response.output_text.done': 'response.text.done',
  'response.output_audio.delta': 'response.audio.delta',
  'response.output_audio.done': 'response.audio.done',
  'response.output_audio_transcript.delta': 'response.audio_transcript.delta',
  'response.output_audio_transcript.done': 'response.audio_transcript.done',
} as const;
export type GaRenamedEvent = keyof typeof GA_TO_BETA_EVENT;

/** Server event renames, beta → GA (the inverse of {@link GA_TO_BETA_EVENT} without the dropped event). */
export const BETA_TO_GA_EVENT = {
  'conversation.item.created': 'conversation.item.added',
  'response.text.delta': 'response.output_text.delta',
  'response.text.done': 'response.output_text.done',
  'response.audio.delta': 'response.output_audio.delta',
  'response.audio.done': 'response.output_audio.done',
  'response.audio_transcript.delta': 'response.output_audio_transcript.delta',
  'response.audio_transcript.done': 'response.output_audio_transcript.done',
} as const;
export type BetaRenamedEvent = keyof typeof BETA_TO_GA_EVENT;

/** Assistant content type renames inside items (content *parts* in `response.content_part.*` keep beta names). */
export const GA_TO_BETA_CONTENT_TYPE = { output_text: 'text', output_audio: 'audio' } as const;

/** Audio format renames: GA format objects → beta strings. */
export const GA_TO_BETA_AUDIO_FORMAT = {
  'audio/pcm': 'pcm16',
  'audio/pcmu': 'g711_ulaw',
  'audio/pcma': 'g711_alaw',
} as const;
export const BETA_TO_GA_AUDIO_FORMAT = {
  pcm16: 'audio/pcm',
  g711_ulaw: 'audio/pcmu',
  g711_alaw: 'audio/pcma',
} as const;

/**
 * Session field renames, GA dotted path → beta flat field. Beta `temperature` has no GA field; GA `type`,
 * `truncation`, `prompt` and `include` have no beta field.
 */
export const GA_TO_BETA_SESSION_FIELD = {
  output_modalities: 'modalities',
  'audio.input.format': 'input_audio_format',
  'audio.input.transcription': 'input_audio_transcription',
  'audio.input.noise_reduction': 'input_audio_noise_reduction',
  'audio.input.turn_detection': 'turn_detection',
  'audio.output.format': 'output_audio_format',
  'audio.output.voice': 'voice',
  'audio.output.speed': 'speed',
  max_output_tokens: 'max_response_output_tokens',
} as const;
