import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { ERROR_CODES } from '../codes.js';
import {
  audioField,
  CallIdField,
  InputAudioTranscriptionField,
  InstructionsField,
  LanguageField,
  MaxOutputTokensField,
  MillisecondsField,
  ModalitiesField,
  NoiseReductionField,
  SpeedField,
  strictObject,
  TemperatureField,
  TimestampField,
  TokenCountField,
  ToolChoiceField,
  ToolNameField,
  ToolsField,
  TurnDetectionField,
  VoiceField,
  withRule,
} from './fields.js';

/**
 * Responses (server → client). Seed shapes are kept exactly, including the odd ones (`pong` carries
 * `timestamp` at the top level). The schemas are closed so tests catch a builder that emits a stray
 * field; clients should still ignore fields they do not know, since later minor versions may add some.
 */

const sessionId = Type.String({ minLength: 1, maxLength: 128, description: 'Session id.' });

/**
 * Extension: present on every server message when the client connected with `?seq=1`. Increases across the
 * whole session (also across worker failover), so a resuming client passes the last one it saw as `last_seq`.
 */
const SeqField = Type.Optional(
  Type.Integer({
    minimum: 1,
    description: 'Server message number (only with ?seq=1); pass the last one as last_seq to resume.',
  }),
);

// The effective configuration beyond the seed's voice and language (extension fields).
const configExtension = {
  instructions: Type.Optional(InstructionsField),
  temperature: Type.Optional(TemperatureField),
  max_response_output_tokens: Type.Optional(MaxOutputTokensField),
  modalities: Type.Optional(ModalitiesField),
  turn_detection: Type.Optional(TurnDetectionField),
  tools: Type.Optional(ToolsField),
  tool_choice: Type.Optional(ToolChoiceField),
  input_audio_noise_reduction: Type.Optional(NoiseReductionField),
  speed: Type.Optional(SpeedField),
  input_audio_transcription: Type.Optional(InputAudioTranscriptionField),
};

/** `session.update` (seed): the session configuration now in effect, sent after every update. */
export const ServerSessionUpdate = strictObject(
  {
    type: Type.Literal('session.update'),
    seq: SeqField,
    session: strictObject({
      id: sessionId,
      voice: VoiceField,
      language: LanguageField,
      ...configExtension,
    }),
  },
  'The session configuration now in effect, sent after every session.update request.',
);
export type ServerSessionUpdate = Static<typeof ServerSessionUpdate>;
/** The `session` object of {@link ServerSessionUpdate}. */
export type SessionInfo = ServerSessionUpdate['session'];

/** `response.audio` (seed): a chunk of reply audio, base64 PCM16 24 kHz mono. */
export const ServerResponseAudio = strictObject(
  {
    type: Type.Literal('response.audio'),
    seq: SeqField,
    response: strictObject({ audio: audioField(true), timestamp: TimestampField }),
  },
  'A chunk of reply audio.',
);
export type ServerResponseAudio = Static<typeof ServerResponseAudio>;

/** `response.delta` (seed): a piece of the reply text, or of the transcript of the reply audio. */
export const ServerResponseDelta = strictObject(
  {
    type: Type.Literal('response.delta'),
    seq: SeqField,
    response: strictObject({
      delta: strictObject({ content: Type.String({ description: 'Text to append to the reply.' }) }),
      timestamp: TimestampField,
    }),
  },
  'A piece of the reply text, or of the transcript of the reply audio.',
);
export type ServerResponseDelta = Static<typeof ServerResponseDelta>;

/** How a response ended (extension field of `response.done`). */
export const RESPONSE_STATUSES = ['completed', 'cancelled', 'incomplete', 'failed'] as const;
export type ResponseStatus = (typeof RESPONSE_STATUSES)[number];

/** `response.done` (seed): the reply is complete; token usage for it. */
export const ServerResponseDone = strictObject(
  {
    type: Type.Literal('response.done'),
    seq: SeqField,
    response: strictObject({
      usage: strictObject({
        input_tokens: TokenCountField,
        output_tokens: TokenCountField,
        // Extension fields.
        input_token_details: Type.Optional(
          strictObject(
            {
              cached_tokens: Type.Optional(TokenCountField),
              text_tokens: Type.Optional(TokenCountField),
              audio_tokens: Type.Optional(TokenCountField),
            },
            'Input tokens by kind; cached_tokens were served from the prompt cache (part of input_tokens).',
          ),
        ),
        output_token_details: Type.Optional(
          strictObject(
            { text_tokens: Type.Optional(TokenCountField), audio_tokens: Type.Optional(TokenCountField) },
            'Output tokens by kind.',
          ),
        ),
      }),
      timestamp: TimestampField,
      // Extension fields.
      status: Type.Optional(
        Type.Union(
          RESPONSE_STATUSES.map((status) => Type.Literal(status)),
          { description: 'How the response ended; "cancelled" after barge-in or response.cancel.' },
        ),
      ),
      id: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'Response id.' })),
    }),
  },
  'The reply is complete, with its token usage.',
);
export type ServerResponseDone = Static<typeof ServerResponseDone>;
export type Usage = ServerResponseDone['response']['usage'];
/** `usage.input_token_details` of `response.done` (extension). */
export type InputTokenDetails = NonNullable<Usage['input_token_details']>;
/** `usage.output_token_details` of `response.done` (extension). */
export type OutputTokenDetails = NonNullable<Usage['output_token_details']>;

/** `error` (seed): something was wrong; the connection stays open unless a close frame follows. */
export const ServerError = strictObject(
  {
    type: Type.Literal('error'),
    seq: SeqField,
    error: strictObject({
      code: withRule(
        Type.Union(
          ERROR_CODES.map((code) => Type.Literal(code)),
          { description: 'Stable error code (see the error code table).' },
        ),
        'must be a registered error code',
      ),
      message: Type.String({ description: 'Human-readable explanation; never contains secrets.' }),
      // Extension fields.
      field: Type.Optional(Type.String({ description: 'Dotted path of the offending request field.' })),
      event_id: Type.Optional(Type.String({ description: 'event_id of the request that failed.' })),
      param: Type.Optional(
        Type.String({
          description:
            "The provider's name of the parameter it rejected (upstream errors); not a path in the client's request.",
        }),
      ),
    }),
  },
  'Something was wrong; the connection stays open unless a close frame follows.',
);
export type ServerError = Static<typeof ServerError>;

/** `pong` (seed): answer to `ping`; `timestamp` sits at the top level, unlike in `ping`. */
export const ServerPong = strictObject(
  {
    type: Type.Literal('pong'),
    seq: SeqField,
    timestamp: TimestampField,
  },
  'Answer to ping.',
);
export type ServerPong = Static<typeof ServerPong>;

/** `session.created` (extension): first message on every connection. */
export const ServerSessionCreated = strictObject(
  {
    type: Type.Literal('session.created'),
    seq: SeqField,
    session: strictObject({
      id: sessionId,
      user_id: Type.String({ minLength: 1, maxLength: 256, description: 'Authenticated user id.' }),
      resume_token: Type.Optional(
        Type.String({ minLength: 1, maxLength: 512, description: 'Secret to resume this session.' }),
      ),
      protocol_version: Type.String({ description: 'Protocol version the server speaks, e.g. "1.0".' }),
      // The initial configuration, so a client need not send session.update just to learn it.
      voice: Type.Optional(VoiceField),
      language: Type.Optional(LanguageField),
      ...configExtension,
    }),
    timestamp: TimestampField,
  },
  'First message on every connection: the session id and how to resume it.',
);
export type ServerSessionCreated = Static<typeof ServerSessionCreated>;
/** The `session` object of {@link ServerSessionCreated}. */
export type SessionCreatedInfo = ServerSessionCreated['session'];

/** `input_audio_buffer.speech_started` (extension): the user started talking (barge-in cue). */
export const ServerSpeechStarted = strictObject(
  {
    type: Type.Literal('input_audio_buffer.speech_started'),
    seq: SeqField,
    audio_start_ms: MillisecondsField,
    timestamp: TimestampField,
  },
  'The user started talking (barge-in cue); audio_start_ms counts from the start of the input audio.',
);
export type ServerSpeechStarted = Static<typeof ServerSpeechStarted>;

/** `input_audio_buffer.speech_stopped` (extension): the user stopped talking. */
export const ServerSpeechStopped = strictObject(
  {
    type: Type.Literal('input_audio_buffer.speech_stopped'),
    seq: SeqField,
    audio_end_ms: MillisecondsField,
    timestamp: TimestampField,
  },
  'The user stopped talking; audio_end_ms counts from the start of the input audio.',
);
export type ServerSpeechStopped = Static<typeof ServerSpeechStopped>;

/** `session.notice` (extension): information about the session itself (recovery, draining, …). */
export const ServerSessionNotice = strictObject(
  {
    type: Type.Literal('session.notice'),
    seq: SeqField,
    notice: strictObject({
      code: withRule(
        Type.String({ pattern: '^[a-z][a-z0-9_]{0,63}$', description: 'Notice code; ignore unknown ones.' }),
        'must be a snake_case code',
      ),
      message: Type.String({ description: 'Human-readable explanation.' }),
    }),
    timestamp: TimestampField,
  },
  'Information about the session itself: recovery, resume, draining.',
);
export type ServerSessionNotice = Static<typeof ServerSessionNotice>;

/**
 * `response.function_call` (extension): the model calls a function tool; sent once the call's arguments are
 * complete. The client runs the function and answers with a `function_call_output` input.
 */
export const ServerResponseFunctionCall = strictObject(
  {
    type: Type.Literal('response.function_call'),
    seq: SeqField,
    response: strictObject({
      call_id: CallIdField,
      name: ToolNameField,
      arguments: Type.String({
        description: 'The arguments as the JSON text the model produced (parse it; it may be invalid).',
      }),
      timestamp: TimestampField,
    }),
  },
  'The model calls a function tool; answer with a function_call_output input.',
);
export type ServerResponseFunctionCall = Static<typeof ServerResponseFunctionCall>;

/**
 * `conversation.item.transcript` (extension): transcription of the user's speech, when
 * `input_audio_transcription` is on. Deltas (`final: false`, `text` is the new piece), then one final
 * message (`final: true`, `text` is the whole transcript) per user item.
 */
export const ServerConversationItemTranscript = strictObject(
  {
    type: Type.Literal('conversation.item.transcript'),
    seq: SeqField,
    conversation_item_transcript: strictObject({
      item_id: Type.String({
        minLength: 1,
        maxLength: 128,
        description: 'Id of the user input item (one spoken turn) the transcript belongs to.',
      }),
      role: Type.Literal('user'),
      text: Type.String({
        description: 'final false: the piece to append; final true: the whole transcript.',
      }),
      final: Type.Boolean({
        description: 'true on the last message of this item, which carries the whole text.',
      }),
    }),
    timestamp: TimestampField,
  },
  "Transcript of the user's speech: pieces as they come, then the whole text with final true.",
);
export type ServerConversationItemTranscript = Static<typeof ServerConversationItemTranscript>;

/** Every response, discriminated on `type`. */
export type ServerMessage =
  | ServerSessionUpdate
  | ServerResponseAudio
  | ServerResponseDelta
  | ServerResponseDone
  | ServerError
  | ServerPong
  | ServerSessionCreated
  | ServerSpeechStarted
  | ServerSpeechStopped
  | ServerSessionNotice
  | ServerResponseFunctionCall
  | ServerConversationItemTranscript;

export type ServerMessageType = ServerMessage['type'];

/** Schema of each response type, and whether it comes from the seed protocol or is an extension. */
export const SERVER_MESSAGES: { readonly [K in ServerMessageType]: { schema: TSchema; seed: boolean } } = {
  'session.update': { schema: ServerSessionUpdate, seed: true },
  'response.audio': { schema: ServerResponseAudio, seed: true },
  'response.delta': { schema: ServerResponseDelta, seed: true },
  'response.done': { schema: ServerResponseDone, seed: true },
  error: { schema: ServerError, seed: true },
  pong: { schema: ServerPong, seed: true },
  'session.created': { schema: ServerSessionCreated, seed: false },
  'input_audio_buffer.speech_started': { schema: ServerSpeechStarted, seed: false },
  'input_audio_buffer.speech_stopped': { schema: ServerSpeechStopped, seed: false },
  'session.notice': { schema: ServerSessionNotice, seed: false },
  'response.function_call': { schema: ServerResponseFunctionCall, seed: false },
  'conversation.item.transcript': { schema: ServerConversationItemTranscript, seed: false },
};

/** Every response type, seed types first. */
export const SERVER_MESSAGE_TYPES = Object.freeze(
  Object.keys(SERVER_MESSAGES),
) as readonly ServerMessageType[];

/** The union of all responses, for the published `server-message.json`. */
export const ServerMessageSchema = Type.Union(
  [
    ServerSessionUpdate,
    ServerResponseAudio,
    ServerResponseDelta,
    ServerResponseDone,
    ServerError,
    ServerPong,
    ServerSessionCreated,
    ServerSpeechStarted,
    ServerSpeechStopped,
    ServerSessionNotice,
    ServerResponseFunctionCall,
    ServerConversationItemTranscript,
  ],
  { description: 'Any message a server may send.' },
);
