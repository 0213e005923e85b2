/**
 * @rtv/auth: authentication and abuse limits as a library. Credential extraction, JWT and API-key
 * verification, the origin allowlist, per-connection token buckets and flood decisions, new connections
 * per address, the cluster-wide per-user connection cap (Redis), and a JSON depth check. Everything but
 * the Redis cap is pure and takes the clock from its caller. Threat model: docs/security.md.
 */
export {
  type ApiKeyEntry,
  createApiKeyVerifier,
  generateApiKey,
  hashApiKey,
  parseApiKeys,
} from './api-keys.js';
export {
  BEARER_SUBPROTOCOL_PREFIX,
  type CredentialSources,
  type ExtractedCredentials,
  type ExtractOptions,
  extractCredentials,
  MAX_TOKEN_CHARS,
  offeredSubprotocols,
  RTV_SUBPROTOCOL,
  selectSubprotocol,
} from './credentials.js';
export { AUTH_ENV, type AuthConfig, type AuthSettings, authSettingsFromConfig } from './env.js';
export { type FloodDecision, FloodGuard, type FloodGuardOptions } from './flood-guard.js';
export { addressKey, NewConnectionLimiter, type NewConnectionLimiterOptions } from './ip-limiter.js';
export { DEFAULT_MAX_JSON_DEPTH, jsonDepthExceeds, valueDepthExceeds } from './json-depth.js';
export {
  compileOriginAllowlist,
  isOriginAllowed,
  type OriginAllowlist,
  type OriginWildcard,
} from './origin.js';
export {
  AUTH_FAILURE_REASONS,
  type AuthFailure,
  type AuthFailureReason,
  type AuthResult,
  type AuthSuccess,
  deny,
} from './result.js';
export {
  ConnectionRateLimiter,
  type ConnectionRateLimits,
  DEFAULT_CONNECTION_RATE_LIMITS,
  type RateVerdict,
  TokenBucket,
  type TokenBucketOptions,
} from './token-bucket.js';
export { createTokenVerifier } from './token-verifier.js';
export {
  type AcquireResult,
  UserConnectionLimiter,
  type UserConnectionLimiterOptions,
} from './user-connections.js';
export { isValidUserId, USER_ID_PATTERN } from './user-id.js';
export type { TokenVerifier, TokenVerifierOptions } from './verifier-options.js';
