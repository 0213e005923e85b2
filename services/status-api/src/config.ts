import {
  AUTH_ENV,
  authSettingsFromConfig,
  createTokenVerifier,
  STATUS_RATE_ENV,
  type TokenVerifier,
  TRUSTED_PROXIES_ENV,
} from '@rtv/auth';
import { COMMON_ENV, type ConfigOf, type EnvSchema, loadConfig } from '@rtv/service-kit';

export const STATUS_ENV = {
  ...COMMON_ENV,
  // Callers of the session history route authenticate like clients of the gateway's authenticated route.
  // Only the credential variables: the gateway's origin list and connection limits mean nothing here.
  RTV_AUTH_JWT_SECRET: AUTH_ENV.RTV_AUTH_JWT_SECRET,
  RTV_AUTH_JWKS_URL: AUTH_ENV.RTV_AUTH_JWKS_URL,
  RTV_AUTH_ISSUER: AUTH_ENV.RTV_AUTH_ISSUER,
  RTV_AUTH_AUDIENCE: AUTH_ENV.RTV_AUTH_AUDIENCE,
  RTV_AUTH_USER_CLAIM: AUTH_ENV.RTV_AUTH_USER_CLAIM,
  RTV_AUTH_API_KEYS: AUTH_ENV.RTV_AUTH_API_KEYS,
  ...TRUSTED_PROXIES_ENV,
  ...STATUS_RATE_ENV,
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

/**
 * Every AUTH_ENV variable at its default: the status API does not read the gateway-only ones, but the shared
 * settings parser takes the whole set.
 */
const AUTH_DEFAULTS = loadConfig('status-api', AUTH_ENV, {});

/**
 * The session history route's token verifier, or undefined when no credential kind is configured. Built by
 * the gateway's own settings parser so both services refuse the same bad configuration (a JWT secret under
 * 32 bytes, a JWKS URL without issuer and audience, malformed API keys, an unknown scope, a key id in the
 * `anon:` namespace) with a `ConfigError` that names the variable and never its value. The keys' scopes
 * decide here who reads other users' history (`history:read`).
 */
export function verifierFromConfig(config: StatusConfig): TokenVerifier | undefined {
  // The frame limit only sizes the gateway's per-connection byte burst, which the status API has none of.
  const { verifier } = authSettingsFromConfig(
    { ...AUTH_DEFAULTS, ...config },
    { maxFrameBytes: 0 },
    'status-api',
  );
  const configured =
    verifier.jwtSecret !== undefined || verifier.jwksUrl !== undefined || (verifier.apiKeys?.length ?? 0) > 0;
  return configured ? createTokenVerifier(verifier) : undefined;
}
