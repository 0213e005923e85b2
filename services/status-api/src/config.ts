import { AUTH_ENV } from '@rtv/auth';
import { COMMON_ENV, type ConfigOf, type EnvSchema, loadConfig } from '@rtv/service-kit';

export const STATUS_ENV = {
  ...COMMON_ENV,
  // Callers of the session history route authenticate like clients of the gateway's authenticated route.
  RTV_AUTH_JWT_SECRET: AUTH_ENV.RTV_AUTH_JWT_SECRET,
  RTV_AUTH_JWKS_URL: AUTH_ENV.RTV_AUTH_JWKS_URL,
  RTV_AUTH_ISSUER: AUTH_ENV.RTV_AUTH_ISSUER,
  RTV_AUTH_AUDIENCE: AUTH_ENV.RTV_AUTH_AUDIENCE,
  RTV_AUTH_USER_CLAIM: AUTH_ENV.RTV_AUTH_USER_CLAIM,
  RTV_AUTH_API_KEYS: AUTH_ENV.RTV_AUTH_API_KEYS,
  RTV_STATUS_HOST: { type: 'string', default: '0.0.0.0', doc: 'Interface the status API binds to' },
  RTV_STATUS_PORT: {
    type: 'int',
    min: 0,
    max: 65535,
    default: 8090,
    doc: 'Status API port: seed status/health, /metrics, /openapi.json, /healthz, /readyz',
  },
  RTV_STATUS_CACHE_MS: {
    type: 'int',
    min: 0,
    max: 60_000,
    default: 1000,
    doc: 'How long one cluster read from Redis is reused by status, health and /metrics',
  },
  RTV_STATUS_READ_TIMEOUT_MS: {
    type: 'int',
    min: 100,
    max: 60_000,
    default: 2000,
    doc: 'A cluster read slower than this counts as Redis unreachable (health 503 names redis)',
  },
} as const satisfies EnvSchema;

export type StatusConfig = ConfigOf<typeof STATUS_ENV>;

export function loadStatusConfig(env: NodeJS.ProcessEnv = process.env): StatusConfig {
  return loadConfig('status-api', STATUS_ENV, env);
}
