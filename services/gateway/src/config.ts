import { AUTH_ENV, STATUS_RATE_ENV, TRUSTED_PROXIES_ENV } from '@rtv/auth';
import { SESSION_ENV } from '@rtv/bus';
import { COMMON_ENV, type ConfigOf, type EnvSchema, loadConfig } from '@rtv/service-kit';

export const GATEWAY_ENV = {
  ...COMMON_ENV,
  ...AUTH_ENV,
  ...SESSION_ENV,
  RTV_MAX_SESSION_S: {
    type: 'int',
    min: 0,
    default: 4 * 3600,
    doc: 'Longest a session may last from its creation, resumes included; then session_expired and close 4408 (0 = no limit). Set the workers’ RTV_MAX_SESSION_S to the same value',
  },
  RTV_CLOSE_ON_TOKEN_EXPIRY: {
    type: 'bool',
    default: true,
    doc: 'End an authenticated connection when its JWT expires (exp plus the allowed clock skew): unauthorized, then close 4401',
  },
  RTV_MAX_CONNECTIONS_PER_IP: {
    type: 'int',
    min: 1,
    default: 100,
    doc: 'Open connections per client address (IPv6: per /64) on one gateway, upgrades in progress included; over it HTTP 429 at upgrade',
  },
  RTV_MAX_CONNECTIONS_PER_GATEWAY: {
    type: 'int',
    min: 1,
    default: 10_000,
    doc: 'Open connections on one gateway, upgrades in progress included; over it HTTP 503 at upgrade (another gateway may take it)',
  },
  RTV_GATEWAY_MAX_LAG_MS: {
    type: 'int',
    min: 0,
    max: 60_000,
    default: 1000,
    doc: 'Event-loop delay above which this gateway refuses new connections (HTTP 503 service_unavailable, retry-after 2 s; another gateway may take them) so the calls it carries keep their turn; resumes of live sessions are still let in. 0 never refuses',
  },
  RTV_MAX_FAILED_UPGRADES_PER_IP: {
    type: 'int',
    min: 1,
    default: 60,
    doc: 'Refused upgrades (credentials, origin, path user) per client address per minute; past it the address gets HTTP 429 before any credential is checked',
  },
  ...TRUSTED_PROXIES_ENV,
  ...STATUS_RATE_ENV,
  RTV_GATEWAY_HOST: { type: 'string', default: '0.0.0.0', doc: 'Interface the WebSocket/HTTP port binds to' },
  RTV_GATEWAY_PORT: {
    type: 'int',
    min: 0,
    max: 65535,
    default: 8000,
    doc: 'Public WebSocket + seed HTTP port',
  },
  RTV_GATEWAY_ADMIN_PORT: {
    type: 'int',
    min: 0,
    max: 65535,
    default: 9100,
    doc: 'Admin port: /metrics, /healthz, /readyz',
  },
  RTV_GATEWAY_ID: {
    type: 'string',
    pattern: /^[A-Za-z0-9_.-]{1,64}$/,
    doc: 'Gateway id in Redis (default: gw-<random>); must be unique among live gateways',
  },
  RTV_STATUS_URL: {
    type: 'url',
    protocols: ['http', 'https'],
    default: 'http://127.0.0.1:8090',
    doc: 'Status API base URL; the seed GET …/status and …/health are forwarded to it',
  },
  RTV_MAX_FRAME_BYTES: {
    type: 'int',
    min: 1024,
    max: 16 * 1024 * 1024,
    default: 1024 * 1024,
    doc: 'Largest client frame accepted; larger ones get message_too_large and close 1009',
  },
  RTV_MAX_BACKPRESSURE_BYTES: {
    type: 'int',
    min: 16 * 1024,
    default: 1024 * 1024,
    doc: 'Per-socket send buffer; a client that falls this far behind is closed (slow consumer)',
  },
  RTV_IDLE_TIMEOUT_S: {
    type: 'int',
    min: 8,
    max: 960,
    default: 60,
    doc: 'Close a socket that answers no ping for this long (the gateway pings automatically)',
  },
  RTV_BIND_TIMEOUT_MS: {
    type: 'int',
    min: 100,
    default: 10_000,
    doc: 'How long a new session may wait for a worker before the client gets service_unavailable',
  },
  RTV_PENDING_MAX_FRAMES: {
    type: 'int',
    min: 1,
    default: 500,
    doc: 'Client frames buffered per session before a worker has bound it',
  },
  RTV_REPLAY_MAX_BYTES: {
    type: 'int',
    min: 0,
    default: 4 * 1024 * 1024,
    doc: 'Bytes of unacknowledged client frames kept per session for replay to a new owner (a larger frame is not kept). Keep it larger than the workers’ RTV_UNCOMMITTED_TURN_MAX_BYTES (default 2 MiB): an owner does not acknowledge the audio of the user turn in progress, so that a new owner can re-send it whole after a worker failover',
  },
  RTV_GATEWAY_REPLAY_MAX_BYTES: {
    type: 'int',
    min: 1024,
    default: 512 * 1024 * 1024,
    doc: 'Bytes of unacknowledged client frames all sessions of one gateway may hold for replay together. Above it, a session holding more than an equal share (this ÷ the sessions holding any) is refused its next frame with replay_buffer_full and close 1013 (it resumes), so long turns or a Redis outage cannot run the gateway out of memory. Size it to about half the pod’s memory limit',
  },
  RTV_REDIS_RECOVERY_MS: {
    type: 'int',
    min: 100,
    default: 10_000,
    doc: 'After a Redis outage, how long each live session may take to run again (its record and job restored, an owner bound) from when Redis answers again; past it the client gets session_recovery_failed and close 1013 (resume), and frames held for a closed socket are given up',
  },
  RTV_OPENAI_POLICY: {
    type: 'string',
    doc: 'Policy of the OpenAI-compatible route /v1/realtime, as JSON (docs/openai-compatible.md): per user class the allowed models, pinned and forbidden session fields, a tool allowlist, an instructions prefix, the maximum session length, a token budget and the event rate. Default: any model, nothing pinned, no budget',
  },
  RTV_OPENAI_POLICY_FILE: {
    type: 'string',
    doc: 'A file holding the RTV_OPENAI_POLICY JSON (for a mounted ConfigMap); used when RTV_OPENAI_POLICY is unset',
  },
  RTV_RESUME_SECRET: {
    type: 'string',
    secret: true,
    // A short secret could be guessed offline from one resume token; the Helm chart generates 48 characters.
    minLength: 32,
    doc: 'HMAC secret for resume tokens, shared by all gateways, at least 32 characters (default: generated once and kept in Redis; set it so that whoever can read Redis cannot forge resume tokens)',
  },
  RTV_RESUME_TOKEN_TTL_S: {
    type: 'int',
    min: 60,
    default: 12 * 3600,
    doc: 'Longest a resume token stays valid after it was issued; it also expires at its session’s maximum end (RTV_MAX_SESSION_S) and works once (a fresh one comes with every session.created)',
  },
  RTV_DRAIN_GRACE_MS: {
    type: 'int',
    min: 0,
    max: 600_000,
    default: 3000,
    doc: 'On SIGTERM: time between the server_draining notice and closing sockets with 1012 (resume elsewhere)',
  },
  RTV_STREAM_MAXLEN: {
    type: 'int',
    min: 100,
    default: 5000,
    doc: 'Approximate cap (entries, each a batch) on every bus stream this gateway writes',
  },
  RTV_BUS_FLUSH_MS: {
    type: 'number',
    min: 0,
    max: 50,
    default: 1,
    doc: 'Least time between two bus writes of this gateway: under load a write carries every frame of the interval (fewer Redis round trips, up to this much added latency)',
  },
} as const satisfies EnvSchema;

export type GatewayConfig = ConfigOf<typeof GATEWAY_ENV>;

export function loadGatewayConfig(env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  return loadConfig('gateway', GATEWAY_ENV, env);
}
