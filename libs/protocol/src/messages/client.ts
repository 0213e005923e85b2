import { type Static, type TSchema, Type } from '@sinclair/typebox';
import {
  audioField,
  CallIdField,
  EventIdField,
  InputAudioTranscriptionField,
  InstructionsField,
  LanguageField,
  MAX_FUNCTION_OUTPUT_CHARS,
  MaxOutputTokensField,
  ModalitiesField,
  NoiseReductionField,
  SpeedField,
  strictObject,
  TemperatureField,
  TextField,
  TimestampField,
  ToolChoiceField,
  ToolsField,
  TurnDetectionField,
  VoiceField,
  withRule,
} from './fields.js';

/**
 * Requests (client → server). Seed shapes are kept exactly; extensions only add optional fields or
 * new message types. Every object is closed (unknown fields are errors), so a field sent at the wrong
 * nesting level is reported by name instead of being silently ignored.
 */

const eventId = Type.Optional(EventIdField);

/** `session.update` (seed): change the session configuration; only the fields present change. */
export const ClientSessionUpdate = strictObject(
  {
    type: Type.Literal('session.update'),
    event_id: eventId,
    session_update: strictObject(
      {
        voice: Type.Optional(VoiceField),
        language: Type.Optional(LanguageField),
        instructions: Type.Optional(InstructionsField),
        temperature: Type.Optional(TemperatureField),
        max_response_output_tokens: Type.Optional(MaxOutputTokensField),
        turn_detection: Type.Optional(TurnDetectionField),
        modalities: Type.Optional(ModalitiesField),
        tools: Type.Optional(ToolsField),
        tool_choice: Type.Optional(ToolChoiceField),
        input_audio_noise_reduction: Type.Optional(NoiseReductionField),
        speed: Type.Optional(SpeedField),
        input_audio_transcription: Type.Optional(InputAudioTranscriptionField),
      },
      'Fields to change; an empty object changes nothing and returns the current session.',
    ),
  },
  'Change the session configuration; only the fields present change.',
);
export type ClientSessionUpdate = Static<typeof ClientSessionUpdate>;

function conversationItemInput(audioPattern: boolean) {
  return strictObject(
    {
      type: Type.Literal('conversation.item.input'),
      event_id: eventId,
      conversation_item_input: Type.Union([
        strictObject(
          { type: Type.Literal('input_audio_buffer'), audio: audioField(audioPattern) },
          'A chunk of microphone audio appended to the input buffer.',
        ),
        strictObject(
          {
            type: Type.Literal('input_text'),
            text: TextField,
            interrupt: Type.Optional(
              Type.Boolean({
                description:
                  'true: cancel and truncate the reply in progress first; false (default): a text sent during a reply is answered after it.',
              }),
            ),
          },
          'A complete user text turn.',
        ),
        strictObject(
          {
            type: Type.Literal('function_call_output'),
            call_id: CallIdField,
            output: Type.String({
              maxLength: MAX_FUNCTION_OUTPUT_CHARS,
              description: 'Result of the function call for the model, usually JSON.',
            }),
            respond: Type.Optional(
              Type.Boolean({
                description: 'true (default): the server asks the model for the follow-up response.',
              }),
            ),
          },
          'The result of a function the model called (response.function_call).',
        ),
      ]),
    },
    'Send a chunk of input audio, a user text turn, or the result of a function call.',
  );
}

/**
 * `conversation.item.input` (seed): a chunk of input audio, or a user text turn; extensions: the
 * `function_call_output` variant and `input_text.interrupt`.
 */
export const ClientConversationItemInput = conversationItemInput(true);
export type ClientConversationItemInput = Static<typeof ClientConversationItemInput>;
/** One `conversation_item_input` variant (audio, text or function call output). */
export type ConversationItemInput = ClientConversationItemInput['conversation_item_input'];
/** The `function_call_output` variant of `conversation_item_input` (extension). */
export type FunctionCallOutputInput = Extract<ConversationItemInput, { type: 'function_call_output' }>;

/**
 * The same message without the base64 pattern. `parseClientFrame` validates with this variant and then
 * checks the audio itself: a faster scan than the anchored pattern, and a distinct `invalid_audio`
 * code. A test checks both variants accept the same audio strings.
 */
export const ClientConversationItemInputHotPath = conversationItemInput(false);

/** `ping` (seed): liveness check; the server answers `pong`. */
export const ClientPing = strictObject(
  {
    type: Type.Literal('ping'),
    event_id: eventId,
    ping: strictObject({ timestamp: TimestampField }),
  },
  'Liveness check; the server answers with pong.',
);
export type ClientPing = Static<typeof ClientPing>;

/** `input_audio_buffer.commit` (extension): end the user turn when turn detection is off. */
export const ClientInputAudioBufferCommit = strictObject(
  {
    type: Type.Literal('input_audio_buffer.commit'),
    event_id: eventId,
  },
  'End the user turn: commit the buffered input audio (turn detection off).',
);
export type ClientInputAudioBufferCommit = Static<typeof ClientInputAudioBufferCommit>;

/** `response.create` (extension): ask for a response when turn detection is off. */
export const ClientResponseCreate = strictObject(
  {
    type: Type.Literal('response.create'),
    event_id: eventId,
  },
  'Ask the model to respond now (turn detection off).',
);
export type ClientResponseCreate = Static<typeof ClientResponseCreate>;

/** `response.cancel` (extension): stop the response in progress (barge-in with VAD off). */
export const ClientResponseCancel = strictObject(
  {
    type: Type.Literal('response.cancel'),
    event_id: eventId,
  },
  'Stop the response in progress.',
);
export type ClientResponseCancel = Static<typeof ClientResponseCancel>;

/**
 * `response.truncate` (extension): after a barge-in, tell the model how much of its last spoken reply the
 * user actually heard, so the conversation context matches what was played (the provider's
 * `conversation.item.truncate`).
 */
export const ClientResponseTruncate = strictObject(
  {
    type: Type.Literal('response.truncate'),
    event_id: eventId,
    audio_end_ms: withRule(
      Type.Integer({
        minimum: 0,
        maximum: 3_600_000,
        description: 'Milliseconds of the last reply that were played.',
      }),
      'must be an integer number of milliseconds from 0 to 3600000',
    ),
  },
  'Tell the model how much of its last spoken reply was heard (after a barge-in).',
);
export type ClientResponseTruncate = Static<typeof ClientResponseTruncate>;

/** Every request, discriminated on `type`. */
export type ClientMessage =
  | ClientSessionUpdate
  | ClientConversationItemInput
  | ClientPing
  | ClientInputAudioBufferCommit
  | ClientResponseCreate
  | ClientResponseCancel
  | ClientResponseTruncate;

export type ClientMessageType = ClientMessage['type'];

/** Schema of each request type, and whether the type comes from the seed protocol or is an extension. */
export const CLIENT_MESSAGES: { readonly [K in ClientMessageType]: { schema: TSchema; seed: boolean } } = {
  'session.update': { schema: ClientSessionUpdate, seed: true },
  'conversation.item.input': { schema: ClientConversationItemInput, seed: true },
  ping: { schema: ClientPing, seed: true },
  'input_audio_buffer.commit': { schema: ClientInputAudioBufferCommit, seed: false },
  'response.create': { schema: ClientResponseCreate, seed: false },
  'response.cancel': { schema: ClientResponseCancel, seed: false },
  'response.truncate': { schema: ClientResponseTruncate, seed: false },
};

/** Every request type, seed types first. */
export const CLIENT_MESSAGE_TYPES = Object.freeze(
  Object.keys(CLIENT_MESSAGES),
) as readonly ClientMessageType[];

/** The union of all requests, for the published `client-message.json`. */
export const ClientMessageSchema = Type.Union(
  [
    ClientSessionUpdate,
    ClientConversationItemInput,
    ClientPing,
    ClientInputAudioBufferCommit,
    ClientResponseCreate,
    ClientResponseCancel,
    ClientResponseTruncate,
  ],
  { description: 'Any message a client may send.' },
);
