import type {
  FunctionTool,
  InputAudioTranscription,
  Modalities,
  NoiseReduction,
  ToolChoice,
  TurnDetection,
  Voice,
} from './messages/fields.js';

/**
 * A session's effective configuration in public-protocol terms (seed fields plus extensions). The gateway
 * writes it into the session hash when the session is created; the owning worker reads it, applies the
 * client's `session.update`s to it and writes it back, so any later owner starts from the same settings.
 *
 * Optional fields are absent until a client sets them; an absent field means the provider default, except
 * `input_audio_transcription`, whose default (on, see {@link DEFAULT_SESSION_CONFIG}) applies when absent
 * (configurations stored before the field existed lack it).
 */
export interface SessionConfig {
  voice: Voice;
  language: string;
  instructions?: string;
  temperature: number;
  max_response_output_tokens: number | 'inf';
  modalities: Modalities;
  turn_detection?: TurnDetection;
  /** Function tools the model may call; absent or `[]`: none. */
  tools?: FunctionTool[];
  /** Absent: the provider default, `"auto"`. */
  tool_choice?: ToolChoice;
  /** `null` or absent: no noise reduction. */
  input_audio_noise_reduction?: NoiseReduction;
  /** Output speech speed 0.25–1.5; absent: 1. */
  speed?: number;
  /** `null`: user speech is not transcribed. Absent: {@link DEFAULT_INPUT_AUDIO_TRANSCRIPTION}. */
  input_audio_transcription?: InputAudioTranscription;
}

/** Input transcription is on by default, with this model. */
export const DEFAULT_INPUT_AUDIO_TRANSCRIPTION: Readonly<Exclude<InputAudioTranscription, null>> =
  Object.freeze({ model: 'gpt-4o-mini-transcribe' });

/** Session defaults from the seed's "Model Configuration" (voice, language, temperature, max tokens). */
export const DEFAULT_SESSION_CONFIG: Readonly<SessionConfig> = Object.freeze({
  voice: 'alloy',
  language: 'en',
  temperature: 0.8,
  max_response_output_tokens: 4096,
  modalities: ['audio', 'text'] satisfies Modalities,
  input_audio_transcription: DEFAULT_INPUT_AUDIO_TRANSCRIPTION,
});
