import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { ERROR_CODES } from '../codes.js';
import {
  audioField,
  InstructionsField,
  LanguageField,
  MaxOutputTokensField,
  MillisecondsField,
  ModalitiesField,
  strictObject,
  TemperatureField,
  TimestampField,
  TokenCountField,
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
      usage: strictObject({ input_tokens: TokenCountField, output_tokens: TokenCountField }),
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
  | ServerSessionNotice;

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
  ],
  { description: 'Any message a server may send.' },
);
