export {
  hasEspeak,
  makeSpeechWav,
  makeSyntheticSpeech,
  mixToMono,
  type PcmAudio,
  PROTOCOL_SAMPLE_RATE,
  pcm16FromBytes,
  pcm16ToBytes,
  pcmFrames,
  readWav,
  resamplePcm16,
  type SpeechClip,
  type SpeechOptions,
  toMonoAt,
  writeWav,
} from './audio/index.js';
export { freePort } from './net.js';
export { PrivateRedis, redisAnswers } from './private-redis.js';
export { seededRandom } from './random.js';
export { type RawUpgradeOptions, type RawUpgradeReply, rawUpgrade } from './raw-upgrade.js';
export {
  createTestRedis,
  deleteKeysWithPrefix,
  type TestRedis,
  testRedisUrl,
  testRunId,
  uniquePrefix,
} from './redis.js';
export {
  type RedisClusterHandle,
  type RedisClusterNode,
  type RedisClusterOptions,
  startRedisCluster,
} from './redis-cluster.js';
export {
  type RedisSentinelHandle,
  type RedisSentinelOptions,
  type RedisSentinelProcess,
  startRedisSentinel,
} from './redis-sentinel.js';
export {
  REPO_ROOT,
  runServiceToExit,
  type ServiceExit,
  type SpawnedService,
  type SpawnServiceOptions,
  spawnService,
} from './spawn.js';
export { makeTlsCertificates, type TlsCertificates } from './tls-certs.js';
export { type WaitForOptions, waitFor } from './wait.js';
export { type WsClose, type WsConnectOptions, type WsMessage, WsTestClient } from './ws-client.js';
