import type { Scope } from './scopes.js';

/**
 * The outcome of checking a caller's credentials. The gateway maps a failure to an HTTP 401/403 at upgrade
 * with the body "unauthorized" only: `reason` is for logs and the `reason` label of a metric, never for
 * the client, so a prober learns nothing about which check failed.
 */
export type AuthResult = AuthSuccess | AuthFailure;

export interface AuthSuccess {
  readonly ok: true;
  /** The caller's user id, already checked against {@link USER_ID_PATTERN} and outside `anon:`. */
  readonly userId: string;
  /** Which credential proved it: a JWT, or a static server-to-server API key. */
  readonly via: 'jwt' | 'api_key';
  /**
   * What the credential may do beyond its own user's sessions (see `scopes.ts`): a JWT always has
   * `sessions:connect` only; an API key has the scopes configured for it.
   */
  readonly scopes: readonly Scope[];
  /**
   * The verified JWT's claims (absent for API keys), for settings that depend on them such as the
   * OpenAI-compatible route's policy class.
   */
  readonly claims?: Readonly<Record<string, unknown>>;
  /**
   * When the credential stops being valid (Unix ms), from the JWT's `exp`. A gateway may end the session
   * then, so a revoked user cannot keep a socket open forever on a token that has since expired.
   */
  readonly expiresAt?: number;
}

export interface AuthFailure {
  readonly ok: false;
  /** 401: no usable credential (missing, malformed, expired, wrong signature). 403: valid but not allowed. */
  readonly status: 401 | 403;
  readonly reason: AuthFailureReason;
}

/**
 * Short internal words for why a credential was refused: a bounded set, so it is safe as a metric label.
 * Renaming one breaks dashboards; add new words instead.
 */
export const AUTH_FAILURE_REASONS = [
  // credential transport (extractCredentials)
  'missing',
  'malformed',
  'multiple_credentials',
  'query_token_disabled',
  'protocol_missing',
  // JWT
  'expired',
  'not_yet_valid',
  'bad_issuer',
  'bad_audience',
  'bad_claims',
  'bad_signature',
  'alg_not_allowed',
  'unknown_key',
  'jwks_unavailable',
  'bad_user_claim',
  // a verified credential whose user id starts with `anon:`, the anonymous route's namespace
  'reserved_user_id',
  // API keys
  'unknown_api_key',
  // a verified credential without the scope the action needs (an API key without `sessions:connect`)
  'scope',
  // configuration
  'not_configured',
] as const;

export type AuthFailureReason = (typeof AUTH_FAILURE_REASONS)[number];

/** Builds a failure result; the one place statuses are attached to reasons. */
export function deny(reason: AuthFailureReason): AuthFailure {
  // 403 is kept for credentials that verified but name no acceptable user or lack the scope: retrying with
  // the same credential cannot help, and an operator reading the logs should look at the identity provider
  // or the key's configuration.
  return { ok: false, status: FORBIDDEN_REASONS.has(reason) ? 403 : 401, reason };
}

const FORBIDDEN_REASONS: ReadonlySet<AuthFailureReason> = new Set([
  'bad_user_claim',
  'reserved_user_id',
  'scope',
]);
