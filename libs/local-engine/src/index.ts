/**
 * A local, protocol-faithful stand-in for the OpenAI Realtime API (WebSocket transport), so the product,
 * its tests and its benchmarks run offline against the same client code that talks to the provider.
 *
 * Defaults follow today's provider: GA shape only (beta → `beta_api_shape_disabled`, close 4000, unless
 * `allowBetaShape`), retired preview models refused with `invalid_model` (see {@link RETIRED_MODELS}), audio
 * streamed faster than real time (`pace: true` paces it), and the Azure GA path `/openai/v1/realtime` served
 * beside `/v1/realtime`. Input transcription, when a session enables it, reports the documented stand-in
 * `[speech 2.34 s]` (see {@link describeAudio}); function calls follow the rule in {@link planToolCall}.
 * The package README lists every deliberate difference from the provider.
 */
export type { InjectedError } from './connection.js';
export { type LocalEngine, type LocalEngineOptions, startLocalEngine } from './engine.js';
export {
  AZURE_REALTIME_PATH,
  type HandshakeInfo,
  isRealtimeModel,
  isRetiredModel,
  RETIRED_MODELS,
} from './handshake.js';
export {
  composeReply,
  describeAudio,
  parseSpeechTranscript,
  planToolCall,
  replyToAudio,
  replyToFunctionOutput,
  replyToText,
} from './reply.js';
export type { TtsMode } from './tts.js';
