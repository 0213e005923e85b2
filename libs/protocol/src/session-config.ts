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
  /**
   * Set only on sessions of the OpenAI-compatible route (`/v1/realtime`): the client speaks the provider's
   * protocol, so the owner relays provider events instead of translating them (see {@link CompatSessionSettings}).
   * The seed fields above are then unused.
   */
  openai?: CompatSessionSettings;
}

/**
 * What the owner of an OpenAI-compatible session keeps so that any later owner can restore it: the model the
 * policy allowed, the provider-shaped session object (the policy's initial settings with every client
 * `session.update` the gateway let through merged in), and the policy limits that are enforced by the owner.
 */
export interface CompatSessionSettings {
  /** The provider model (or Azure deployment) the session was opened with. */
  model: string;
  /** The provider `session` object to restore: merged partial updates, arrays replaced, `null` kept. */
  session: Record<string, unknown>;
  /** The policy class of the user (a bounded label value). */
  userClass: string;
  /** The client asked for `rtv.*` events (session id and resume token, notices); stock SDKs do not. */
  rtvEvents: boolean;
  /** Tokens the user may spend per window, counted at each `response.done` (absent: no budget). */
  budget?: { tokens: number; windowS: number };
  /**
   * The provider response in progress (its id), between `response.created` and `response.done`: an owner that
   * dies meanwhile leaves it open, and the next owner ends it for the client with a failed `response.done`.
   */
  openResponse?: string;
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
