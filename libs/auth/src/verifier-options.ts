import type { ApiKeyEntry } from './api-keys.js';
import type { AuthResult } from './result.js';

/**
 * How {@link createTokenVerifier} checks bearer credentials. Configure at least one of `jwtSecret`,
 * `jwksUrl` and `apiKeys`; with none, every credential is refused (`not_configured`).
 */
export interface TokenVerifierOptions {
  /**
   * Shared secret for HS256 tokens (`RTV_AUTH_JWT_SECRET`), at least 32 bytes as RFC 7518 §3.2 requires.
   * Only HS256 tokens are checked against it: a token naming any other algorithm never reaches it, which
   * is what stops a public key being used as an HMAC secret.
   */
  readonly jwtSecret?: string | Uint8Array;
  /**
   * JWKS endpoint of the identity provider for RS256/ES256 tokens (`RTV_AUTH_JWKS_URL`). Requires
   * `issuer` and `audience`: a provider signs tokens for many applications with the same keys.
   */
  readonly jwksUrl?: string | URL;
  /** Accepted `iss` value(s) (`RTV_AUTH_ISSUER`); the claim is then required. */
  readonly issuer?: string | readonly string[];
  /** Accepted `aud` value(s) (`RTV_AUTH_AUDIENCE`); the claim is then required. */
  readonly audience?: string | readonly string[];
  /**
   * Claim that holds the user id (`RTV_AUTH_USER_CLAIM`). Its value must be a string that satisfies the
   * user-id rule, else the token is refused with 403.
   * @defaultValue 'sub'
   */
  readonly userClaim?: string;
  /**
   * Allowance for clock differences between the token issuer and this host, applied to `exp` and `nbf`.
   * @defaultValue 30_000
   */
  readonly clockSkewMs?: number;
  /** Static server-to-server keys (`RTV_AUTH_API_KEYS`, see `parseApiKeys`). */
  readonly apiKeys?: readonly ApiKeyEntry[];
  /** Caching of the remote key set. */
  readonly jwks?: {
    /**
     * After a successful fetch, a token with an unknown `kid` triggers no new fetch for this long, so a
     * client spraying random key ids cannot turn the gateway into a load generator against the identity
     * provider. Rotation still works: providers publish a new key well before signing with it.
     * @defaultValue 30_000
     */
    readonly cooldownMs?: number;
    /** Keys are refetched when older than this. @defaultValue 600_000 */
    readonly cacheMaxAgeMs?: number;
    /** A fetch slower than this fails the verification (`jwks_unavailable`). @defaultValue 5_000 */
    readonly timeoutMs?: number;
  };
  /** Clock for `exp`/`nbf` checks, in Unix ms; tests pin it. @defaultValue Date.now */
  readonly now?: () => number;
}

/** Verifies one bearer credential: a JWT, or a static API key. Never throws for a bad credential. */
export interface TokenVerifier {
  verify(token: string): Promise<AuthResult>;
  /**
   * The same verdict within the call, or `undefined` when it needs {@link verify}: a key set not fetched
   * yet (or stale), or a token form only jose judges. API keys and HS256 tokens are always answered here.
   */
  verifyNow(token: string): AuthResult | undefined;
  /**
   * Fetches the JWKS now (nothing without one), so the tokens its keys signed are answered by
   * {@link verifyNow}; a gateway calls it at start. Never rejects: a failed fetch leaves those tokens to
   * {@link verify}. While tokens keep coming, `verifyNow` also refetches the set once it is half its
   * `cacheMaxAgeMs` old, in the background.
   */
  refreshKeys(): Promise<void>;
}
