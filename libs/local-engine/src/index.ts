/**
 * A local, protocol-faithful stand-in for the OpenAI Realtime API (WebSocket transport), so the product,
 * its tests and its benchmarks run offline against the same client code that talks to the provider.
 */
export type { InjectedError } from './connection.js';
export { type LocalEngine, type LocalEngineOptions, startLocalEngine } from './engine.js';
export { isRealtimeModel } from './handshake.js';
export { composeReply, replyToAudio, replyToText } from './reply.js';
export type { TtsMode } from './tts.js';
