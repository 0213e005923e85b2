export { type BusWriter, MemoryBusWriter } from './bus-writer.js';
export { FRAME_CHUNK_BYTES, FrameChunkPool, FrameRing } from './frame-ring.js';
export { Heartbeat, type HeartbeatOptions } from './heartbeat.js';
export {
  cutForJson,
  type FittedHistoryItem,
  fitHistoryItem,
  HISTORY_ITEM_MAX_BYTES,
  HISTORY_MAX_BYTES,
} from './history-budget.js';
export { randomId } from './ids.js';
export { createKeys, type Keys, SESSIONS_QUEUE } from './keys.js';
export {
  createRedis,
  isCluster,
  type RedisClient,
  type RedisConnectionOptions,
  type RedisCredentials,
  type RedisMode,
  RedisSettingsError,
  type RedisTopology,
  reconnectDelayMs,
  redisCredentialsFromEnv,
  redisTarget,
  redisTopologyFromEnv,
  redisTopologyOf,
  waitReady,
} from './redis.js';
export {
  type EnsureJobResult,
  ensureSessionJob,
  SESSION_JOB_NAME,
  sessionJobOptions,
} from './session-jobs.js';
export {
  type AttachRefusal,
  type AttachRequest,
  type AttachResult,
  type ClientSideRestore,
  DEFAULT_SESSION_TTL_MS,
  type DetachRequest,
  HISTORY_MAX_ITEMS,
  type HistoryAppendResult,
  type HistoryItem,
  isSessionId,
  newSessionId,
  type ProgressEntry,
  type RestoreResult,
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
export {
  type TokenBudget,
  type TokenBudgetState,
  TokenBudgets,
  type TokenBudgetsOptions,
} from './token-budgets.js';
