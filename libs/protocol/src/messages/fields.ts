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
  },
  'Server-side voice activity detection: the server commits turns and starts responses.',
);

export const TurnDetectionField = withRule(
  Type.Union([Type.Null(), ServerVadField], {
    description: 'null for manual turns (client commits and requests responses), or server VAD settings.',
  }),
  'must be null or an object {"type":"server_vad", …}',
);
export type TurnDetection = Static<typeof TurnDetectionField>;

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
