export { type BusWriter, MemoryBusWriter } from './bus-writer.js';
export { FrameRing } from './frame-ring.js';
export { Heartbeat, type HeartbeatOptions } from './heartbeat.js';
export { randomId } from './ids.js';
export { createKeys, type Keys, SESSIONS_QUEUE } from './keys.js';
export { createRedis, type RedisConnectionOptions, reconnectDelayMs, waitReady } from './redis.js';
export {
  type AttachResult,
  DEFAULT_SESSION_TTL_MS,
  HISTORY_MAX_ITEMS,
  type HistoryItem,
  isSessionId,
  newSessionId,
  type ProgressEntry,
  SESSION_ENV,
  SessionField,
  type SessionJobData,
  SessionRecords,
  type SessionRecordsOptions,
  type SessionSnapshot,
  type SessionState,
} from './session-record.js';
export { StreamReader, type StreamReaderOptions } from './stream-reader.js';
export { StreamWriter, type StreamWriterOptions } from './stream-writer.js';
