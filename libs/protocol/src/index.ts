/**
 * @rtv/protocol: the public realtime-voice protocol. Pure (no I/O): message schemas (seed shapes plus
 * documented extensions), the hot-path frame parser, server frame builders, and the error, close and
 * notice code tables. Human-readable reference: docs/protocol.md.
 */
export { type AudioFrameRange, scanAudioFrame } from './audio-frame.js';
export { BASE64_PATTERN, base64DecodedLength, isStandardBase64 } from './base64.js';
export {
  BUS_ENVELOPE_VERSION,
  type BusLine,
  decodeBatch,
  decodeLine,
  encodeAckLine,
  encodeBatch,
  encodeBindLine,
  encodeClientFrameLine,
  encodeCloseLine,
  encodeDetachLine,
  encodeEndLine,
  encodeMessageLine,
  encodeResumeLine,
  FrameKind,
  type GatewayToWorker,
  type WorkerToGateway,
} from './bus.js';
export {
  CLOSE_CODES,
  CloseCode,
  type CloseCodeInfo,
  type CloseCodeName,
  type CloseCodeSpec,
  closeCodeInfo,
} from './close-codes.js';
export { ERROR_CODES, ErrorCode, type ErrorCodeSpec, isErrorCode } from './codes.js';
export {
  encodeError,
  encodeFrameError,
  encodeNotice,
  encodePong,
  encodeResponseAudio,
  encodeResponseAudioBytes,
  encodeResponseDelta,
  encodeResponseDone,
  encodeSessionCreated,
  encodeSessionUpdate,
  encodeSpeechStarted,
  encodeSpeechStopped,
  nowSeconds,
  type ResponseDoneExtra,
} from './encode.js';
export { type HttpError, type HttpErrorPayload, httpError, httpStatusLine } from './http-error.js';
export { jsonSchemaFiles } from './json-schema.js';
export {
  CLIENT_MESSAGE_TYPES,
  CLIENT_MESSAGES,
  ClientConversationItemInput,
  ClientInputAudioBufferCommit,
  type ClientMessage,
  ClientMessageSchema,
  type ClientMessageType,
  ClientPing,
  ClientResponseCancel,
  ClientResponseCreate,
  ClientResponseTruncate,
  ClientSessionUpdate,
} from './messages/client.js';
export {
  LANGUAGE_PATTERN,
  MAX_INSTRUCTIONS_CHARS,
  MAX_OUTPUT_TOKENS,
  MAX_TEXT_CHARS,
  type Modalities,
  type TurnDetection,
  VOICES,
  type Voice,
} from './messages/fields.js';
export {
  RESPONSE_STATUSES,
  type ResponseStatus,
  SERVER_MESSAGE_TYPES,
  SERVER_MESSAGES,
  ServerError,
  type ServerMessage,
  ServerMessageSchema,
  type ServerMessageType,
  ServerPong,
  ServerResponseAudio,
  ServerResponseDelta,
  ServerResponseDone,
  ServerSessionCreated,
  ServerSessionNotice,
  ServerSessionUpdate,
  ServerSpeechStarted,
  ServerSpeechStopped,
  type SessionCreatedInfo,
  type SessionInfo,
  type Usage,
} from './messages/server.js';
export { NOTICE_CODES, NoticeCode } from './notice-codes.js';
export {
  DEFAULT_FRAME_LIMITS,
  type FrameError,
  type FrameLimits,
  type ParseResult,
  parseClientFrame,
  parseServerFrame,
  type ServerParseResult,
  validateClientMessage,
  validateServerMessage,
} from './parse.js';
export { DEFAULT_SESSION_CONFIG, type SessionConfig } from './session-config.js';
export { PROTOCOL_VERSION } from './version.js';
