import type { Modalities, TurnDetection, Voice } from './messages/fields.js';

/**
 * A session's effective configuration in public-protocol terms (seed fields plus extensions). The gateway
 * writes it into the session hash when the session is created; the owning worker reads it, applies the
 * client's `session.update`s to it and writes it back, so any later owner starts from the same settings.
 */
export interface SessionConfig {
  voice: Voice;
  language: string;
  instructions?: string;
  temperature: number;
  max_response_output_tokens: number | 'inf';
  modalities: Modalities;
  turn_detection?: TurnDetection;
}

/** Session defaults from the seed's "Model Configuration" (voice, language, temperature, max tokens). */
export const DEFAULT_SESSION_CONFIG: Readonly<SessionConfig> = Object.freeze({
  voice: 'alloy',
  language: 'en',
  temperature: 0.8,
  max_response_output_tokens: 4096,
  modalities: ['audio', 'text'] satisfies Modalities,
});
