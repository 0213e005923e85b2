import { SESSION_ENV } from '@rtv/bus';
import { COMMON_ENV, type ConfigOf, type EnvSchema, loadConfig } from '@rtv/service-kit';

export const WORKER_ENV = {
  ...COMMON_ENV,
  ...SESSION_ENV,
  RTV_WORKER_ID: {
    type: 'string',
    pattern: /^[A-Za-z0-9_.-]{1,64}$/,
    doc: 'Worker id in Redis (default: wk-<random>); must be unique among live workers',
  },
  RTV_WORKER_CAPACITY: {
    type: 'int',
    min: 1,
    max: 100_000,
    default: 100,
    doc: 'Sessions this worker holds at once (BullMQ concurrency)',
  },
  RTV_WORKER_ADMIN_PORT: {
    type: 'int',
    min: 0,
    max: 65535,
    default: 9200,
    doc: 'Admin port: /metrics, /healthz, /readyz',
  },
  RTV_LEASE_MS: {
    type: 'int',
    min: 1000,
    max: 600_000,
    default: 2000,
    doc: 'Session lease (BullMQ lock); renewed every half of it. A dead worker’s sessions move within about 1.5× this',
  },
  RTV_PROVIDER_CONNECT_CONCURRENCY: {
    type: 'int',
    min: 1,
    max: 10_000,
    default: 64,
    doc: 'Provider connects this worker runs at once; a burst of new sessions queues behind them instead of stalling the worker',
  },
  RTV_RESUME_GRACE_MS: {
    type: 'int',
    min: 0,
    max: 3_600_000,
    default: 60_000,
    doc: 'How long a session whose client dropped waits for the client to resume',
  },
  RTV_RESUME_BUFFER_BYTES: {
    type: 'int',
    min: 0,
    max: 64 * 1024 * 1024,
    default: 256 * 1024,
    doc: 'Recent server messages kept per session for replay on resume (about 4 s of audio)',
  },
  RTV_PROVIDER_RENEW_MS: {
    type: 'int',
    min: 1000,
    default: 55 * 60_000,
    doc: 'Renew the provider session after this long, before the provider’s 60-minute cap (invisible to clients)',
  },
  RTV_PROVIDER_MAX_ATTEMPTS: {
    type: 'int',
    min: 1,
    max: 100,
    default: 5,
    doc: 'Provider connect attempts (with capped, jittered backoff) before the client gets upstream_unavailable',
  },
  RTV_PROGRESS_INTERVAL_MS: {
    type: 'int',
    min: 20,
    max: 10_000,
    default: 200,
    doc: 'How often applied client seqs are acknowledged to gateways and saved (batched for all sessions)',
  },
  RTV_STREAM_MAXLEN: {
    type: 'int',
    min: 100,
    default: 5000,
    doc: 'Approximate cap (entries, each a batch) on every bus stream this worker writes',
  },
  RTV_BUS_FLUSH_MS: {
    type: 'number',
    min: 0,
    max: 50,
    default: 1,
    doc: 'Least time between two bus writes of this worker: under load a write carries every frame of the interval (fewer Redis round trips, up to this much added latency)',
  },
  OPENAI_API_KEY: {
    type: 'string',
    secret: true,
    doc: 'Provider key; when unset the worker starts the built-in local engine and uses it',
  },
  OPENAI_REALTIME_MODEL: {
    type: 'string',
    pattern: /^[A-Za-z0-9._:-]{1,128}$/,
    default: 'gpt-4o-realtime-preview-2024-10-01',
    doc: 'Realtime model id (the seed default is a preview model)',
  },
  OPENAI_REALTIME_URL: {
    type: 'url',
    protocols: ['ws', 'wss'],
    default: 'wss://api.openai.com/v1/realtime',
    doc: 'Realtime WebSocket endpoint (ignored while the local engine is in use)',
  },
  RTV_PROVIDER_SHAPE: {
    type: 'enum',
    values: ['auto', 'ga', 'beta'],
    default: 'auto',
    doc: 'Provider wire shape; auto = beta for preview models (-realtime-preview) off api.openai.com, GA otherwise',
  },
  RTV_ENGINE_MODE: {
    type: 'enum',
    values: ['speech', 'echo'],
    default: 'speech',
    doc: 'Local engine mode: speech (replies with synthesized speech) or echo (returns input audio; benchmarks)',
  },
} as const satisfies EnvSchema;

export type WorkerConfig = ConfigOf<typeof WORKER_ENV>;

export function loadWorkerConfig(env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  return loadConfig('session-worker', WORKER_ENV, env);
}
