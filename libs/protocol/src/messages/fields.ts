import {
  type Static,
  type TObject,
  type TProperties,
  type TSchema,
  type TString,
  Type,
} from '@sinclair/typebox';
import { BASE64_PATTERN } from '../base64.js';

/**
 * Schemas for the fields shared by requests and responses. Each carries a `description` (published in
 * the JSON Schema files) and, where the generic error wording would be unhelpful, a rule text used in
 * error messages ("must be …").
 */

// Symbol keys survive TypeBox's cloning but never reach JSON.stringify, so the rule text stays out of
// the published JSON Schema files.
const RULE = Symbol('rtv.protocol.rule');

type WithRule = { [RULE]?: string };

/** Attaches the rule text an error message uses when `schema` rejects a value. */
export function withRule<T extends TSchema>(schema: T, rule: string): T {
  (schema as T & WithRule)[RULE] = rule;
  return schema;
}

/** The rule text attached by {@link withRule}, if any. */
export function ruleOf(schema: TSchema): string | undefined {
  return (schema as TSchema & WithRule)[RULE];
}

/** An object that rejects unknown fields: every message in the protocol is closed. */
export function strictObject<T extends TProperties>(properties: T, description?: string): TObject<T> {
  return Type.Object(properties, {
    additionalProperties: false,
    ...(description === undefined ? {} : { description }),
  });
}

/** Voices the speech model offers. */
export const VOICES = [
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
export type Voice = (typeof VOICES)[number];

export const VoiceField = withRule(
  Type.Union(
    VOICES.map((voice) => Type.Literal(voice)),
    { description: 'Voice of the spoken replies.' },
  ),
  `must be one of ${VOICES.join(', ')}`,
);

/** BCP-47-like language tag: a 2–3 letter language, then up to three subtags. */
export const LANGUAGE_PATTERN = '^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8}){0,3}$';

export const LanguageField = withRule(
  Type.String({ pattern: LANGUAGE_PATTERN, description: 'BCP-47 language tag, e.g. "en" or "pt-BR".' }),
  'must be a BCP-47 language tag such as "en" or "pt-BR"',
);

export const MAX_INSTRUCTIONS_CHARS = 32_768;

export const InstructionsField = Type.String({
  maxLength: MAX_INSTRUCTIONS_CHARS,
  description: 'System instructions for the model; "" clears them.',
});

export const TemperatureField = Type.Number({
  minimum: 0.6,
  maximum: 1.2,
  description: 'Sampling temperature, 0.6–1.2 (the provider range); default 0.8.',
});

export const MAX_OUTPUT_TOKENS = 4096;

export const MaxOutputTokensField = withRule(
  Type.Union([Type.Integer({ minimum: 1, maximum: MAX_OUTPUT_TOKENS }), Type.Literal('inf')], {
    description: `Output token cap per response: an integer 1–${MAX_OUTPUT_TOKENS}, or "inf".`,
  }),
  `must be an integer from 1 to ${MAX_OUTPUT_TOKENS} or the string "inf"`,
);

export const ModalitiesField = withRule(
  Type.Union(
    [Type.Tuple([Type.Literal('text')]), Type.Tuple([Type.Literal('audio'), Type.Literal('text')])],
    { description: 'Reply modalities: ["text"] for text only, ["audio","text"] for speech with transcript.' },
  ),
  'must be ["text"] or ["audio","text"]',
);
export type Modalities = Static<typeof ModalitiesField>;

const CreateResponseField = Type.Boolean({
  description: 'Whether the end of a detected turn starts a response automatically; default true.',
});
const InterruptResponseField = Type.Boolean({
  description: 'Whether detected speech cancels the response in progress (barge-in); default true.',
});

export const MIN_IDLE_TIMEOUT_MS = 5000;
export const MAX_IDLE_TIMEOUT_MS = 30_000;

export const ServerVadField = strictObject(
  {
    type: Type.Literal('server_vad'),
    threshold: Type.Optional(
      Type.Number({ minimum: 0, maximum: 1, description: 'Speech probability threshold, 0–1.' }),
    ),
    silence_duration_ms: Type.Optional(
      Type.Integer({ minimum: 100, maximum: 5000, description: 'Silence that ends a turn, in ms.' }),
    ),
    prefix_padding_ms: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 2000, description: 'Audio kept before detected speech, in ms.' }),
    ),
    // Extension fields (protocol 1.x additions).
    idle_timeout_ms: Type.Optional(
      withRule(
        Type.Union(
          [Type.Integer({ minimum: MIN_IDLE_TIMEOUT_MS, maximum: MAX_IDLE_TIMEOUT_MS }), Type.Null()],
          {
            description: `After a reply, silence this long (${MIN_IDLE_TIMEOUT_MS}–${MAX_IDLE_TIMEOUT_MS} ms) makes the model prompt the user; null turns it off.`,
          },
        ),
        `must be an integer from ${MIN_IDLE_TIMEOUT_MS} to ${MAX_IDLE_TIMEOUT_MS}, or null`,
      ),
    ),
    create_response: Type.Optional(CreateResponseField),
    interrupt_response: Type.Optional(InterruptResponseField),
  },
  'Server-side voice activity detection: the server commits turns and starts responses.',
);
export type ServerVad = Static<typeof ServerVadField>;

/** How readily semantic VAD ends a turn. */
export const VAD_EAGERNESS = ['low', 'medium', 'high', 'auto'] as const;
export type VadEagerness = (typeof VAD_EAGERNESS)[number];

export const SemanticVadField = strictObject(
  {
    type: Type.Literal('semantic_vad'),
    eagerness: Type.Optional(
      withRule(
        Type.Union(
          VAD_EAGERNESS.map((value) => Type.Literal(value)),
          {
            description: 'How soon the model ends the user turn: low waits longest; auto (default) = medium.',
          },
        ),
        `must be one of ${VAD_EAGERNESS.join(', ')}`,
      ),
    ),
    create_response: Type.Optional(CreateResponseField),
    interrupt_response: Type.Optional(InterruptResponseField),
  },
  'Semantic voice activity detection: the model judges from the words whether the user has finished.',
);
export type SemanticVad = Static<typeof SemanticVadField>;

export const TurnDetectionField = withRule(
  Type.Union([Type.Null(), ServerVadField, SemanticVadField], {
    description:
      'null for manual turns (client commits and requests responses), or server VAD or semantic VAD settings.',
  }),
  'must be null or an object {"type":"server_vad" | "semantic_vad", …}',
);
export type TurnDetection = Static<typeof TurnDetectionField>;

// Function tools -----------------------------------------------------------------------------------------

/** Most function tools one session may declare. */
export const MAX_TOOLS = 128;
/** Tool names: what the provider accepts. */
export const TOOL_NAME_PATTERN = '^[a-zA-Z0-9_-]{1,64}$';
export const MAX_TOOL_DESCRIPTION_CHARS = 1024;
/** Largest `parameters` JSON Schema of one tool, as serialized JSON (checked by the parser). */
export const MAX_TOOL_PARAMETERS_CHARS = 16_384;
/** Deepest nesting of a tool's `parameters` (objects and arrays), checked by the parser. */
export const MAX_TOOL_PARAMETERS_DEPTH = 32;

export const ToolNameField = withRule(
  Type.String({ pattern: TOOL_NAME_PATTERN, description: 'Function name: 1–64 of a-z, A-Z, 0-9, _ and -.' }),
  'must be 1–64 characters from a-z, A-Z, 0-9, "_" and "-"',
);

export const FunctionToolField = strictObject(
  {
    type: Type.Literal('function'),
    name: ToolNameField,
    description: Type.Optional(
      Type.String({
        maxLength: MAX_TOOL_DESCRIPTION_CHARS,
        description: 'What the function does and when to call it (for the model).',
      }),
    ),
    parameters: Type.Optional(
      Type.Record(Type.String(), Type.Unknown(), {
        description: `JSON Schema of the arguments object; at most ${MAX_TOOL_PARAMETERS_CHARS} characters as JSON, nested at most ${MAX_TOOL_PARAMETERS_DEPTH} levels.`,
      }),
    ),
  },
  'A function the model may call; the client runs it and returns the result as function_call_output.',
);
export type FunctionTool = Static<typeof FunctionToolField>;

export const ToolsField = Type.Array(FunctionToolField, {
  maxItems: MAX_TOOLS,
  description: `Function tools the model may call (at most ${MAX_TOOLS}); [] removes them all.`,
});

export const ToolChoiceField = withRule(
  Type.Union(
    [
      Type.Literal('auto'),
      Type.Literal('none'),
      Type.Literal('required'),
      strictObject({ type: Type.Literal('function'), name: ToolNameField }, 'Force a call of this function.'),
    ],
    {
      description:
        'Whether the model calls tools: "auto" (default), "none", "required", or {"type":"function","name":…}.',
    },
  ),
  'must be "auto", "none", "required" or {"type":"function","name":…}',
);
export type ToolChoice = Static<typeof ToolChoiceField>;

// Input audio ------------------------------------------------------------------------------------------

export const NOISE_REDUCTION_TYPES = ['near_field', 'far_field'] as const;

export const NoiseReductionField = withRule(
  Type.Union(
    [
      Type.Null(),
      strictObject({
        type: withRule(
          Type.Union(
            NOISE_REDUCTION_TYPES.map((value) => Type.Literal(value)),
            {
              description:
                'near_field for headsets and phones held close, far_field for laptop or room mics.',
            },
          ),
          `must be one of ${NOISE_REDUCTION_TYPES.join(', ')}`,
        ),
      }),
    ],
    {
      description:
        'Noise reduction of the input audio before VAD and the model; null (default) turns it off.',
    },
  ),
  'must be null or {"type":"near_field" | "far_field"}',
);
export type NoiseReduction = Static<typeof NoiseReductionField>;

export const MIN_SPEED = 0.25;
export const MAX_SPEED = 1.5;

export const SpeedField = Type.Number({
  minimum: MIN_SPEED,
  maximum: MAX_SPEED,
  description: `Speed of the spoken replies, ${MIN_SPEED}–${MAX_SPEED}; default 1.`,
});

/** Models that transcribe the user's speech (`input_audio_transcription.model`). */
export const TRANSCRIPTION_MODELS = ['whisper-1', 'gpt-4o-mini-transcribe', 'gpt-4o-transcribe'] as const;
export type TranscriptionModel = (typeof TRANSCRIPTION_MODELS)[number];

export const MAX_TRANSCRIPTION_PROMPT_CHARS = 1024;

export const InputAudioTranscriptionField = withRule(
  Type.Union(
    [
      Type.Null(),
      strictObject({
        model: Type.Optional(
          withRule(
            Type.Union(
              TRANSCRIPTION_MODELS.map((model) => Type.Literal(model)),
              { description: 'Transcription model; default gpt-4o-mini-transcribe.' },
            ),
            `must be one of ${TRANSCRIPTION_MODELS.join(', ')}`,
          ),
        ),
        language: Type.Optional(LanguageField),
        prompt: Type.Optional(
          Type.String({
            maxLength: MAX_TRANSCRIPTION_PROMPT_CHARS,
            description: 'Hint for the transcriber: expected words, names, style.',
          }),
        ),
      }),
    ],
    {
      description:
        'Transcription of the user speech (sent as conversation.item.transcript); null turns it off. On by default.',
    },
  ),
  'must be null or an object {"model"?, "language"?, "prompt"?}',
);
export type InputAudioTranscription = Static<typeof InputAudioTranscriptionField>;

export const TimestampField = Type.Number({ description: 'Unix time in seconds, as a float.' });

export const EventIdField = Type.String({
  minLength: 1,
  maxLength: 64,
  description: 'Client-chosen id of this request, echoed in an error about it.',
});

export const MAX_TEXT_CHARS = 16_384;

export const TextField = withRule(
  Type.String({
    minLength: 1,
    maxLength: MAX_TEXT_CHARS,
    pattern: '\\S',
    description: 'User text; must contain a non-whitespace character.',
  }),
  'must not be empty or whitespace only',
);

/**
 * Base64 PCM16 audio (24 kHz mono, little-endian). `pattern` is false for the hot-path variant, whose
 * caller checks the alphabet with a faster scan and reports `invalid_audio` itself.
 */
export function audioField(pattern: boolean): TString {
  const description = 'PCM16 audio, 24 kHz mono little-endian, as standard padded base64.';
  return pattern
    ? withRule(
        Type.String({
          minLength: 1,
          pattern: BASE64_PATTERN,
          contentEncoding: 'base64',
          contentMediaType: 'audio/pcm',
          description,
        }),
        'must be non-empty standard base64',
      )
    : Type.String({ description });
}

export const TokenCountField = Type.Integer({ minimum: 0, description: 'Number of tokens.' });

export const MillisecondsField = Type.Integer({
  minimum: 0,
  description: 'Position in the session input audio, in milliseconds.',
});

/** Id of a function call, as in `response.function_call` and `function_call_output`. */
export const CallIdField = Type.String({
  minLength: 1,
  maxLength: 64,
  description: 'Id of the function call (from response.function_call).',
});

/** Largest `function_call_output.output`, in characters. */
export const MAX_FUNCTION_OUTPUT_CHARS = 65_536;
