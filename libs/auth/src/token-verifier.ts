import {
  createRemoteJWKSet,
  decodeProtectedHeader,
  type JWTPayload,
  type JWTVerifyOptions,
  jwtVerify,
} from 'jose';
import { createApiKeyVerifier } from './api-keys.js';
import {
  type ClaimRules,
  checkHs256,
  checkWithKeySet,
  type ImmediateVerdict,
  KeyObjectCache,
  type SetKey,
} from './jwt-immediate.js';
import { type AuthFailureReason, type AuthResult, deny } from './result.js';
import { JWT_SCOPES } from './scopes.js';
import { isAnonymousUserId, isValidUserId } from './user-id.js';
import type { TokenVerifier, TokenVerifierOptions } from './verifier-options.js';

// Three base64url segments; the last is empty for an unsecured (`alg: none`) token, which must still be
// recognised as a JWT so it is refused as one.
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

// Algorithms are pinned per key type: the shared secret only ever verifies HS256 and the JWKS only
// RS256/ES256. A token's header chooses the key type, never the algorithm used with a given key.
const SECRET_ALGORITHMS = ['HS256'];
const JWKS_ALGORITHMS = ['RS256', 'ES256'];

/**
 * Builds the verifier for bearer credentials: HS256 JWTs against a shared secret, RS256/ES256 JWTs
 * against the identity provider's JWKS, and static API keys. Throws on unusable options (at start),
 * never on a bad credential.
 */
export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  const secret =
    typeof options.jwtSecret === 'string' ? new TextEncoder().encode(options.jwtSecret) : options.jwtSecret;
  if (secret !== undefined && secret.byteLength < 32) {
    throw new RangeError('jwtSecret must be at least 32 bytes (RFC 7518 §3.2)');
  }
  const issuer = listOf(options.issuer);
  const audience = listOf(options.audience);
  if (options.jwksUrl !== undefined && (issuer === undefined || audience === undefined)) {
    throw new TypeError('jwksUrl requires issuer and audience');
  }
  const clockSkewMs = options.clockSkewMs ?? 30_000;
  if (!(clockSkewMs >= 0)) throw new RangeError('clockSkewMs must be >= 0');
  const userClaim = options.userClaim ?? 'sub';
  if (userClaim === '') throw new TypeError('userClaim must not be empty');
  const now = options.now ?? Date.now;

  const jwks =
    options.jwksUrl === undefined
      ? undefined
      : createRemoteJWKSet(new URL(options.jwksUrl), {
          cooldownDuration: options.jwks?.cooldownMs ?? 30_000,
          cacheMaxAge: options.jwks?.cacheMaxAgeMs ?? 600_000,
          timeoutDuration: options.jwks?.timeoutMs ?? 5_000,
        });
  const apiKeys = options.apiKeys?.length ? createApiKeyVerifier(options.apiKeys) : undefined;

  const claims: JWTVerifyOptions = {
    clockTolerance: clockSkewMs / 1000,
    // A token without `exp` would be valid forever; nobody means to issue one for a voice session.
    requiredClaims: ['exp'],
    ...(issuer === undefined ? {} : { issuer }),
    ...(audience === undefined ? {} : { audience }),
  };

  const toResult = (payload: JWTPayload): AuthResult => {
    const userId = payload[userClaim];
    if (!isValidUserId(userId)) return deny('bad_user_claim');
    // `anon:alice` is who connects anonymously as /realtime/alice; a token must not act as that caller.
    if (isAnonymousUserId(userId)) return deny('reserved_user_id');
    return {
      ok: true,
      userId,
      via: 'jwt',
      scopes: JWT_SCOPES,
      expiresAt: (payload.exp as number) * 1000,
      claims: payload,
    };
  };

  const rules: ClaimRules = { issuer, audience, clockSkewMs };
  // The key set is refetched ahead of its expiry while tokens keep coming, so `verifyNow` rarely finds it stale.
  const keysMaxAgeMs = options.jwks?.cacheMaxAgeMs ?? 600_000;
  const keysCooldownMs = options.jwks?.cooldownMs ?? 30_000;
  let keysFetchedAt = Number.NEGATIVE_INFINITY;
  let keysTriedAt = Number.NEGATIVE_INFINITY;
  const refreshKeys = async (): Promise<void> => {
    if (jwks === undefined) return;
    keysTriedAt = Date.now();
    try {
      await jwks.reload();
      keysFetchedAt = Date.now();
    } catch {
      // Unreachable for now: the tokens that need the set go to `verify`, which reports jwks_unavailable.
    }
  };
  const refreshAhead = (): void => {
    const at = Date.now();
    if (jwks?.reloading || at - keysTriedAt < keysCooldownMs || at - keysFetchedAt < keysMaxAgeMs / 2) return;
    void refreshKeys();
  };
  const keyObjects = new KeyObjectCache();
  /** What a credential's shape alone decides (an API key, a malformed token), else its JWT header's `alg`. */
  const triage = (token: string): AuthResult | { alg: unknown } => {
    if (!JWT_SHAPE.test(token)) return apiKeys ? apiKeys(token) : deny('malformed');
    try {
      return { alg: decodeProtectedHeader(token).alg };
    } catch {
      return deny('malformed');
    }
  };
  const fromVerdict = (verdict: ImmediateVerdict): AuthResult | undefined => {
    if (verdict === undefined) return undefined;
    return 'reason' in verdict ? deny(verdict.reason) : toResult(verdict.payload);
  };

  return {
    refreshKeys,

    verifyNow(token: string): AuthResult | undefined {
      const first = triage(token);
      if ('ok' in first) return first;
      const { alg } = first;
      if (secret !== undefined && alg === 'HS256')
        return fromVerdict(checkHs256(token, secret, rules, now()));
      if (jwks !== undefined && typeof alg === 'string' && JWKS_ALGORITHMS.includes(alg)) {
        refreshAhead();
        const set = jwks.fresh ? jwks.jwks() : undefined;
        if (!set) return undefined;
        return fromVerdict(checkWithKeySet(token, set.keys as SetKey[], keyObjects, rules, now()));
      }
      return deny(secret === undefined && jwks === undefined ? 'not_configured' : 'alg_not_allowed');
    },

    async verify(token: string): Promise<AuthResult> {
      const first = triage(token);
      if ('ok' in first) return first;
      const { alg } = first;
      const verifyOptions = { ...claims, currentDate: new Date(now()) };
      try {
        if (secret !== undefined && alg === 'HS256') {
          const { payload } = await jwtVerify(token, secret, {
            ...verifyOptions,
            algorithms: SECRET_ALGORITHMS,
          });
          return toResult(payload);
        }
        if (jwks !== undefined && typeof alg === 'string' && JWKS_ALGORITHMS.includes(alg)) {
          const { payload } = await jwtVerify(token, jwks, { ...verifyOptions, algorithms: JWKS_ALGORITHMS });
          return toResult(payload);
        }
      } catch (err) {
        return deny(failureReason(err, alg !== 'HS256'));
      }
      // `none`, an algorithm outside the pinned sets, or one whose key type is not configured.
      return deny(secret === undefined && jwks === undefined ? 'not_configured' : 'alg_not_allowed');
    },
  };
}

/** Maps a jose failure to a reason by its stable `code` (a brand check, not `instanceof`). */
function failureReason(err: unknown, viaJwks: boolean): AuthFailureReason {
  const e = err as { code?: unknown; claim?: unknown };
  switch (e?.code) {
    case 'ERR_JWT_EXPIRED':
      return 'expired';
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      if (e.claim === 'nbf') return 'not_yet_valid';
      if (e.claim === 'iss') return 'bad_issuer';
      if (e.claim === 'aud') return 'bad_audience';
      return 'bad_claims';
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return 'bad_signature';
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
    case 'ERR_JOSE_NOT_SUPPORTED':
      return 'alg_not_allowed';
    case 'ERR_JWKS_NO_MATCHING_KEY':
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
    case 'ERR_JWK_INVALID':
      return 'unknown_key';
    case 'ERR_JWKS_TIMEOUT':
    case 'ERR_JWKS_INVALID':
      return 'jwks_unavailable';
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
      return 'malformed';
    default:
      // Anything else while a remote key set was involved is the fetch failing (refused connection,
      // non-200 answer); otherwise the token was unreadable.
      return viaJwks ? 'jwks_unavailable' : 'malformed';
  }
}

function listOf(value: string | readonly string[] | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const list = typeof value === 'string' ? [value] : [...value];
  return list.length === 0 ? undefined : list;
}
