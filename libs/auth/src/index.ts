/**
 * @rtv/auth: authentication and abuse limits as a library. Credential extraction, JWT and API-key
 * verification with scopes, the `anon:` namespace of anonymous callers, production-safe defaults, the
 * origin allowlist, per-connection token buckets and flood decisions, new connections per address, the cluster-wide per-user connection cap (Redis), and a JSON depth check. Everything but
 * the Redis cap is pure and takes the clock from its caller. Threat model: docs/security.md.
 */
export {
  API_KEY_SCOPE_SEPARATOR,
  type ApiKeyEntry,
  createApiKeyVerifier,
  formatApiKeyEntry,
  generateApiKey,
  hashApiKey,
  parseApiKeys,
} from './api-keys.js';
export {
  ConcurrentConnectionCounter,
  type ConcurrentConnectionLimits,
  type ConcurrentLimit,
  ConnectionSlot,
  type SlotResult,
} from './concurrent-connections.js';
export {
  BEARER_SUBPROTOCOL_PREFIX,
  type CredentialSources,
  type ExtractedCredentials,
  type ExtractOptions,
  extractCredentials,
  MAX_TOKEN_CHARS,
  offeredSubprotocols,
  RESUME_SUBPROTOCOL_PREFIX,
  RTV_SUBPROTOCOL,
  resumeTokenFromSubprotocols,
  selectSubprotocol,
} from './credentials.js';
export {
  type AppliedDefault,
  AUTH_ENV,
  type AuthConfig,
  type AuthSettings,
  authSettingsFromConfig,
  isProductionEnv,
} from './env.js';
export { type FloodDecision, FloodGuard, type FloodGuardOptions } from './flood-guard.js';
export {
  addressKey,
  FailedUpgradeLimiter,
  type FailedUpgradeLimiterOptions,
  NewConnectionLimiter,
  type NewConnectionLimiterOptions,
} from './ip-limiter.js';
export { DEFAULT_MAX_JSON_DEPTH, jsonDepthExceeds, valueDepthExceeds } from './json-depth.js';
export {
  compileOriginAllowlist,
  isOriginAllowed,
  type OriginAllowlist,
  type OriginWildcard,
} from './origin.js';
export {
  RequestRateLimiter,
  type RequestRateLimiterOptions,
  type RequestVerdict,
  STATUS_RATE_ENV,
} from './request-rate.js';
export {
  AUTH_FAILURE_REASONS,
  type AuthFailure,
  type AuthFailureReason,
  type AuthResult,
  type AuthSuccess,
  deny,
} from './result.js';
export {
  DEFAULT_API_KEY_SCOPES,
  isScope,
  JWT_SCOPES,
  mayReadHistory,
  requireScope,
  SCOPES,
  type Scope,
} from './scopes.js';
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
  type AddressEvidence,
  type ClientAddress,
  type ClientAddressSource,
  normalizeHop,
  TRUSTED_PROXIES_ENV,
  TrustedProxies,
  trustedProxiesFromConfig,
} from './trusted-proxy.js';
export {
  type AcquireResult,
  UserConnectionLimiter,
  type UserConnectionLimiterOptions,
} from './user-connections.js';
export {
  ANONYMOUS_USER_PREFIX,
  anonymousUserId,
  isAnonymousUserId,
  isSessionUserId,
  isValidUserId,
  USER_ID_PATTERN,
} from './user-id.js';
export type { TokenVerifier, TokenVerifierOptions } from './verifier-options.js';
