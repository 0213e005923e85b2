/**
 * @rtv/client: a typed client for the realtime-voice protocol (docs/client.md). Framework-free; the
 * connection runs in browsers and in Node ≥ 20, the audio helpers in browsers (Web Audio, AudioWorklet).
 */

// The protocol types an application needs, so it does not have to depend on @rtv/protocol itself.
export type {
  ClientMessage,
  CloseCodeInfo,
  ErrorCode,
  FunctionCallOutputInput,
  FunctionTool,
  InputTokenDetails,
  OutputTokenDetails,
  ServerConversationItemTranscript,
  ServerMessage,
  ServerMessageType,
  ServerResponseFunctionCall,
  SessionCreatedInfo,
  SessionInfo,
  ToolChoice,
  TurnDetection,
  Usage,
  Voice,
} from '@rtv/protocol';
export {
  type CapturedChunk,
  MicrophoneCapture,
  type MicrophoneOptions,
} from './audio/capture.js';
export { type Pcm16Chunk, Pcm16Chunker } from './audio/chunker.js';
export {
  base64ToBytes,
  bytesToBase64,
  bytesToPcm16,
  floatToPcm16,
  PROTOCOL_SAMPLE_RATE,
  pcm16DurationMs,
  pcm16ToBytes,
  pcm16ToFloat,
} from './audio/pcm16.js';
export { PlaybackQueue, type PlaybackState } from './audio/playback-queue.js';
export { AudioPlayer, type AudioPlayerOptions, type PlaybackStats } from './audio/player.js';
export { Resampler } from './audio/resampler.js';
export {
  type TalkMode,
  VoiceController,
  type VoiceControllerOptions,
  type VoiceEvents,
} from './audio/voice.js';
export { loadWorklets, workletModuleSource } from './audio/worklets.js';
export { backoffDelay, DEFAULT_RECONNECT, type ReconnectOptions, reconnectDelay } from './backoff.js';
export {
  type ClientStats,
  type CloseEvent,
  type ConnectionState,
  type OpenEvent,
  type RealtimeClientEvents,
  type RealtimeClientOptions,
  RealtimeVoiceClient,
  type ReconnectingEvent,
  type ServerMessageEvents,
  type SessionUpdate,
  type TranscriptEvent,
} from './client.js';
export { TypedEmitter, type Unsubscribe } from './emitter.js';
export {
  ClientErrorCode,
  RealtimeClientError,
  type RealtimeClientErrorDetails,
  type RealtimeErrorCode,
} from './errors.js';
export {
  type FunctionCall,
  type FunctionCallHandler,
  type FunctionCallOutputEvent,
  MAX_FUNCTION_OUTPUT_CHARS,
  REMEMBERED_CALLS,
  type SendFunctionOutputOptions,
} from './function-calls.js';
export {
  BEARER_SUBPROTOCOL_PREFIX,
  handshakeFor,
  PROTOCOL_SUBPROTOCOL,
  RESUME_SUBPROTOCOL_PREFIX,
  type WebSocketConstructor,
  type WebSocketLike,
} from './socket.js';
