import { HISTORY_ITEM_MAX_BYTES, HISTORY_MAX_BYTES, SESSION_ENV } from '@rtv/bus';
import {
  COMMON_ENV,
  ConfigError,
  type ConfigOf,
  type EnvSchema,
  isLoopbackHost,
  loadConfig,
} from '@rtv/service-kit';

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
    doc: 'Session lease (BullMQ lock); renewed every quarter of it. A dead worker’s sessions move within about 1.5× this',
  },
  RTV_INTAKE_MAX_LAG_MS: {
    type: 'int',
    min: 0,
    max: 60_000,
    default: 250,
    doc: 'Event-loop delay above which this worker defers new sessions (puts their jobs back in the queue for a moment) so the leases of the sessions it runs are renewed in time; sessions it already ran (takeovers, re-claims) are never deferred. 0 never defers',
  },
  RTV_LEASE_RECOVERY_MS: {
    type: 'int',
    min: 500,
    max: 600_000,
    default: 10_000,
    doc: 'How long a session whose lease was lost in a Redis outage keeps running here (provider connection kept) while the worker puts its record and job back and claims it again; past it the client gets session_recovery_failed and close 1013, and resumes',
  },
  RTV_PROVIDER_CONNECT_CONCURRENCY: {
    type: 'int',
    min: 1,
    max: 10_000,
    default: 64,
    doc: 'Provider connects this worker runs at once; a burst of new sessions queues behind them instead of stalling the worker',
  },
  RTV_PROVIDER_POOL_SIZE: {
    type: 'int',
    min: 0,
    max: 1000,
    default: 2,
    doc: 'Warm provider connections this worker keeps open (past session.created) for new sessions of its default model, so they skip the provider handshake; each serves one session and is replaced. 0 turns the pool off. Refills go through RTV_PROVIDER_CONNECT_CONCURRENCY only when a slot is free',
  },
  RTV_PROVIDER_POOL_MAX_AGE_S: {
    type: 'int',
    min: 10,
    max: 1800,
    default: 600,
    doc: 'A warm provider connection not taken within this many seconds is closed and replaced, so the session that takes one has most of the provider’s session cap (60 min OpenAI, 30 min Azure) ahead of it (a session renews its provider session RTV_PROVIDER_RENEW_MS after the provider opened it, warm time included)',
  },
  RTV_LOCAL_ENGINE_HANDSHAKE_MS: {
    type: 'int',
    min: 0,
    max: 60_000,
    default: 0,
    doc: 'Local engine only: wait this long after the upgrade before session.created, like the provider’s session opening (a few hundred ms), for benchmarks and tests of the provider pool',
  },
  RTV_MAX_SESSION_S: {
    type: 'int',
    min: 0,
    default: 4 * 3600,
    doc: 'Longest a session may last from its creation, resumes included; then session_expired and close 4408 (0 = no limit). Set it like the gateways’ RTV_MAX_SESSION_S',
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
  RTV_HISTORY_MAX_BYTES: {
    type: 'int',
    min: 4096,
    max: 64 * 1024 * 1024,
    default: HISTORY_MAX_BYTES,
    doc: 'Bytes of conversation history kept in Redis per session (stored JSON); the oldest items are dropped to stay within it. Redis needs about this much per live session on top of its other keys',
  },
  RTV_HISTORY_ITEM_MAX_BYTES: {
    type: 'int',
    min: 1024,
    max: 16 * 1024 * 1024,
    default: HISTORY_ITEM_MAX_BYTES,
    doc: 'Bytes of one stored history item: a longer text, transcript or function result is cut on a character boundary and marked truncated (at most RTV_HISTORY_MAX_BYTES)',
  },
  RTV_PROVIDER_QUEUE_MAX_BYTES: {
    type: 'int',
    min: 16 * 1024,
    max: 64 * 1024 * 1024,
    default: 2 * 1024 * 1024,
    doc: 'Bytes of client audio and function results held per session while the provider (re)connects (about 30 s of speech); beyond it they are dropped and the client gets rate_limited once per connect',
  },
  RTV_PROVIDER_RENEW_MS: {
    type: 'int',
    min: 1000,
    default: 55 * 60_000,
    doc: 'Renew the provider session after this long, before the provider’s 60-minute cap (invisible to clients)',
  },
  RTV_PROVIDER_RETRY_BUDGET_S: {
    type: 'int',
    min: 1,
    max: 3600,
    default: 30,
    doc: 'How long a provider outage is retried (capped at 5 s, full-jitter exponential backoff) before the client gets upstream_unavailable and a resumable close; the client is told upstream_reconnecting and upstream_recovered meanwhile. A fatal refusal (bad key, unknown or retired model, disabled shape) is never retried',
  },
  RTV_UNCOMMITTED_TURN_MAX_BYTES: {
    type: 'int',
    min: 0,
    max: 64 * 1024 * 1024,
    default: 2 * 1024 * 1024,
    doc: 'Bytes of the user turn in progress (audio appended since the last commit, about 30 s of speech) kept per session and re-sent to a new provider session after a reconnect, before the frames queued meanwhile; the oldest audio is dropped beyond it, 0 keeps none. The owner also holds back its acknowledgement of that much of the turn, so the gateway can replay it to a new owner after a worker failover: keep the gateways’ RTV_REPLAY_MAX_BYTES larger',
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
  RTV_PROVIDER: {
    type: 'enum',
    values: ['openai', 'azure'],
    default: 'openai',
    doc: 'Speech provider: openai (OpenAI Realtime with OPENAI_API_KEY; without a key the built-in local engine) or azure (Azure OpenAI GA realtime: AZURE_OPENAI_ENDPOINT, AZURE_OPENAI_DEPLOYMENT and one of AZURE_OPENAI_API_KEY, AZURE_OPENAI_AD_TOKEN_FILE)',
  },
  OPENAI_API_KEY: {
    type: 'string',
    secret: true,
    doc: 'OpenAI key (RTV_PROVIDER=openai), sent as a bearer token; when unset the worker starts the built-in local engine and uses it',
  },
  OPENAI_REALTIME_MODEL: {
    type: 'string',
    pattern: /^[A-Za-z0-9._:-]{1,128}$/,
    default: 'gpt-realtime',
    doc: 'Realtime model id (RTV_PROVIDER=openai and the local engine). The seed default gpt-4o-realtime-preview-2024-10-01 is retired by OpenAI, like every realtime preview id: it is refused with invalid_model, which ends sessions without retrying',
  },
  OPENAI_REALTIME_URL: {
    type: 'url',
    protocols: ['ws', 'wss'],
    default: 'wss://api.openai.com/v1/realtime',
    doc: 'Realtime WebSocket endpoint (RTV_PROVIDER=openai; ignored while the local engine is in use)',
  },
  RTV_PROVIDER_SHAPE: {
    type: 'enum',
    values: ['ga', 'beta', 'auto'],
    default: 'ga',
    doc: 'Provider wire shape: ga (the current interface of OpenAI, Azure OpenAI and the local engine) or beta (adds OpenAI-Beta: realtime=v1; only for third-party endpoints that still speak it: OpenAI refuses it with beta_api_shape_disabled). auto is accepted as a legacy value and means ga',
  },
  AZURE_OPENAI_ENDPOINT: {
    type: 'url',
    protocols: ['https', 'http'],
    doc: 'Azure OpenAI resource endpoint, https://RESOURCE.openai.azure.com (RTV_PROVIDER=azure); the worker connects to wss://RESOURCE.openai.azure.com/openai/v1/realtime?model=DEPLOYMENT. http:// only for loopback test servers',
  },
  AZURE_OPENAI_DEPLOYMENT: {
    type: 'string',
    pattern: /^[A-Za-z0-9._-]{1,64}$/,
    doc: 'Azure OpenAI deployment of a realtime model (e.g. gpt-realtime), sent as model= (RTV_PROVIDER=azure)',
  },
  AZURE_OPENAI_API_KEY: {
    type: 'string',
    secret: true,
    doc: 'Azure OpenAI key, sent as the api-key header (RTV_PROVIDER=azure; set this or AZURE_OPENAI_AD_TOKEN_FILE)',
  },
  AZURE_OPENAI_AD_TOKEN_FILE: {
    type: 'string',
    doc: 'File holding a Microsoft Entra ID access token, read again at every provider connect and sent as Authorization: Bearer, so a sidecar can rotate it (replace the file atomically); a missing or empty file fails the connect as auth_failed (RTV_PROVIDER=azure; set this or AZURE_OPENAI_API_KEY)',
  },
  RTV_ENGINE_MODE: {
    type: 'enum',
    values: ['speech', 'echo'],
    default: 'speech',
    doc: 'Local engine mode: speech (replies with synthesized speech) or echo (returns input audio; benchmarks)',
  },
} as const satisfies EnvSchema;

export type WorkerConfig = ConfigOf<typeof WORKER_ENV>;

/**
 * Loads and validates the worker's configuration: every variable on its own (`loadConfig`), then the provider
 * settings together. All problems are reported at once, each naming its variable.
 */
export function loadWorkerConfig(env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  let config: WorkerConfig | undefined;
  const problems: string[] = [];
  try {
    config = loadConfig('session-worker', WORKER_ENV, env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(...err.problems);
  }
  problems.push(...providerProblems(env));
  if (problems.length > 0 || !config) throw new ConfigError('session-worker', problems);
  return config;
}

const AZURE_VARS = [
  'AZURE_OPENAI_ENDPOINT',
  'AZURE_OPENAI_DEPLOYMENT',
  'AZURE_OPENAI_API_KEY',
  'AZURE_OPENAI_AD_TOKEN_FILE',
] as const;

/** What is wrong with the provider variables taken together (each one alone is checked by `loadConfig`). */
function providerProblems(env: NodeJS.ProcessEnv): string[] {
  const value = (name: string) => env[name]?.trim() ?? '';
  const problems: string[] = [];
  if (value('RTV_PROVIDER') !== 'azure') {
    problems.push(...realtimeUrlProblems(value('OPENAI_REALTIME_URL'), value('OPENAI_API_KEY')));
    // Without RTV_PROVIDER=azure these would be ignored and, with no OPENAI_API_KEY, the worker would quietly
    // serve the local engine's stand-in voice.
    const stray = AZURE_VARS.filter((name) => value(name));
    if (stray.length > 0 && (value('RTV_PROVIDER') || 'openai') === 'openai')
      problems.push(
        `${stray.join(', ')} set but RTV_PROVIDER is openai: set RTV_PROVIDER=azure to use Azure OpenAI, or unset the AZURE_OPENAI_* variables`,
      );
    return problems;
  }
  const need = (name: string, what: string) => {
    if (!value(name)) problems.push(`${name} is required with RTV_PROVIDER=azure (${what})`);
  };
  need('AZURE_OPENAI_ENDPOINT', 'the resource endpoint, https://RESOURCE.openai.azure.com');
  need('AZURE_OPENAI_DEPLOYMENT', 'the deployment name of a realtime model, sent as model=');
  const endpoint = value('AZURE_OPENAI_ENDPOINT');
  if (endpoint && URL.canParse(endpoint)) problems.push(...endpointProblems(new URL(endpoint)));
  const key = value('AZURE_OPENAI_API_KEY');
  const tokenFile = value('AZURE_OPENAI_AD_TOKEN_FILE');
  if (key && tokenFile)
    problems.push(
      'AZURE_OPENAI_API_KEY and AZURE_OPENAI_AD_TOKEN_FILE are both set: set exactly one (the api-key header, or an Entra ID token file)',
    );
  if (!key && !tokenFile)
    problems.push(
      'AZURE_OPENAI_API_KEY or AZURE_OPENAI_AD_TOKEN_FILE is required with RTV_PROVIDER=azure (the credential)',
    );
  if (value('RTV_PROVIDER_SHAPE') === 'beta')
    problems.push('RTV_PROVIDER_SHAPE=beta: the Azure OpenAI GA endpoint speaks the GA shape only; use ga');
  return problems;
}

function endpointProblems(url: URL): string[] {
  const shown = `AZURE_OPENAI_ENDPOINT=${JSON.stringify(url.origin + url.pathname)}`;
  const problems: string[] = [];
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname))
    problems.push(
      `${shown}: http:// is accepted for loopback test servers only (the credential would travel in clear)`,
    );
  if (/\/openai(\/|$)/.test(url.pathname) || url.search || url.hash)
    problems.push(
      `${shown}: give the resource endpoint only (https://RESOURCE.openai.azure.com): the worker appends /openai/v1/realtime?model=DEPLOYMENT`,
    );
  return problems;
}

/**
 * The OpenAI key travels as a bearer token in the upgrade request: over plain `ws://` anyone on the path reads
 * it. `ws://` is for loopback test servers (the local engine, fakes) only; without a key it is not sent.
 */
function realtimeUrlProblems(raw: string, key: string): string[] {
  if (!raw || !key || !URL.canParse(raw)) return [];
  const url = new URL(raw);
  if (url.protocol !== 'ws:' || isLoopbackHost(url.hostname)) return [];
  return [
    `OPENAI_REALTIME_URL=${JSON.stringify(url.origin + url.pathname)}: ws:// would send OPENAI_API_KEY in clear; use wss:// (ws:// is accepted for loopback test servers only: 127.0.0.0/8, ::1, localhost)`,
  ];
}
