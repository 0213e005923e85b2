export { FrameRing } from './frame-ring.js';
export { Heartbeat, type HeartbeatOptions } from './heartbeat.js';
export { randomId } from './ids.js';
export { createKeys, type Keys, SESSIONS_QUEUE } from './keys.js';
export { createRedis, type RedisConnectionOptions, reconnectDelayMs, waitReady } from './redis.js';
export { StreamReader, type StreamReaderOptions } from './stream-reader.js';
export { StreamWriter, type StreamWriterOptions } from './stream-writer.js';
