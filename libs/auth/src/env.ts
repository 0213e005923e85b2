import { ConfigError, type ConfigOf, type EnvSchema, isLoopbackHost } from '@rtv/service-kit';
import { type ApiKeyEntry, parseApiKeys } from './api-keys.js';
import type { ExtractOptions } from './credentials.js';
import { compileOriginAllowlist, type OriginAllowlist } from './origin.js';
import { type ConnectionRateLimits, DEFAULT_CONNECTION_RATE_LIMITS } from './token-bucket.js';
import type { TokenVerifierOptions } from './verifier-options.js';

/**
 * Environment variables for authentication and abuse limits, to spread into a service's schema
 * (`{ ...COMMON_ENV, ...AUTH_ENV, … }`). `RTV_ALLOW_ANONYMOUS` and `RTV_ALLOWED_ORIGINS` have no fixed
 * default: {@link authSettingsFromConfig} picks safe ones for production and open ones for a laptop.
 */
export const AUTH_ENV = {
  NODE_ENV: {
    type: 'string',
    doc: 'production: the anonymous route is off and browser origins are refused unless RTV_ALLOW_ANONYMOUS / RTV_ALLOWED_ORIGINS say otherwise',
  },
  RTV_AUTH_JWT_SECRET: {
    type: 'string',
    secret: true,
    doc: 'HS256 shared secret for JWTs (at least 32 bytes); unset disables HS256',
  },
  RTV_AUTH_JWKS_URL: {
    type: 'url',
    protocols: ['https', 'http'],
    doc: 'JWKS URL of the identity provider for RS256/ES256 JWTs (https; http only for a loopback host; requires issuer and audience)',
  },
  RTV_AUTH_ISSUER: { type: 'string', doc: 'Accepted JWT iss values, comma-separated' },
  RTV_AUTH_AUDIENCE: { type: 'string', doc: 'Accepted JWT aud values, comma-separated' },
  RTV_AUTH_USER_CLAIM: {
    type: 'string',
    pattern: /^[A-Za-z0-9_.:/-]{1,128}$/,
    default: 'sub',
    doc: 'JWT claim holding the user id',
  },
  RTV_AUTH_API_KEYS: {
    type: 'string',
    secret: true,
    doc: 'Server-to-server API keys, comma-separated: id:sha256hex (scope sessions:connect) or id:sha256hex:scope+scope with scopes sessions:connect, history:read (the keys themselves are never configured)',
  },
  RTV_AUTH_QUERY_TOKENS: {
    type: 'bool',
    default: false,
    doc: 'Accept ?access_token= in the URL (leaks into logs; only for clients that can do nothing else)',
  },
  RTV_ALLOW_ANONYMOUS: {
    type: 'bool',
    doc: 'Serve the seed route /api/v1/streaming/realtime/{user_id} without credentials, as user anon:{user_id}; unset: on only when NODE_ENV is not production and no JWT secret, JWKS URL or API key is configured',
  },
  RTV_ALLOWED_ORIGINS: {
    type: 'string',
    doc: 'Browser origins allowed to connect, comma-separated: exact origins, *.domain wildcards, or *; unset: none with NODE_ENV=production (clients without Origin still connect), else *',
  },
  RTV_MAX_CONNECTIONS_PER_USER: {
    type: 'int',
    min: 1,
    default: 10,
    doc: 'Concurrent connections per user across the whole cluster (close 4429 beyond it)',
  },
  RTV_MAX_NEW_CONNECTIONS_PER_IP: {
    type: 'int',
    min: 1,
    default: 20,
    doc: 'New connections per client address (IPv6: per /64) per second, refused at upgrade with 429',
  },
  RTV_MAX_MESSAGES_PER_S: {
    type: 'int',
    min: 1,
    default: DEFAULT_CONNECTION_RATE_LIMITS.messagesPerS,
    doc: 'Client frames per second per connection (burst: twice as many); rate_limited, then close 1008',
  },
  RTV_MAX_BYTES_PER_S: {
    type: 'int',
    min: 1024,
    default: DEFAULT_CONNECTION_RATE_LIMITS.bytesPerS,
    doc: 'Client bytes per second per connection (audio may burst further); rate_limited, then close 1008',
  },
} as const satisfies EnvSchema;

export type AuthConfig = ConfigOf<typeof AUTH_ENV>;

/** Everything a gateway needs from {@link AUTH_ENV}, parsed and checked. */
export interface AuthSettings {
  /** Options for `createTokenVerifier`. */
  readonly verifier: TokenVerifierOptions;
  /** Options for `extractCredentials`. */
  readonly extract: ExtractOptions;
  readonly allowAnonymous: boolean;
  readonly origins: OriginAllowlist;
  /** The defaults chosen for variables left unset, and why: the gateway logs them at start. */
  readonly appliedDefaults: readonly AppliedDefault[];
  readonly maxConnectionsPerUser: number;
  readonly maxNewConnectionsPerIp: number;
  readonly connectionRate: ConnectionRateLimits;
}

/** A variable left unset, the value chosen for it, and one log line that says why and how to change it. */
export interface AppliedDefault {
  readonly variable: 'RTV_ALLOW_ANONYMOUS' | 'RTV_ALLOWED_ORIGINS';
  readonly value: string;
  readonly message: string;
}

/**
 * Turns loaded config into settings, reporting every problem at once with the variable's name and never
 * its value (two of them hold secrets). `maxFrameBytes` keeps the byte burst at or above the frame limit,
 * so a frame the size limit allows is never refused for its size alone.
 */
export function authSettingsFromConfig(
  config: AuthConfig,
  limits: { maxFrameBytes: number },
  service = 'auth',
): AuthSettings {
  const problems: string[] = [];
  const issuer = list(config.RTV_AUTH_ISSUER);
  const audience = list(config.RTV_AUTH_AUDIENCE);

  const secret = config.RTV_AUTH_JWT_SECRET;
  if (secret !== undefined && Buffer.byteLength(secret, 'utf8') < 32) {
    problems.push('RTV_AUTH_JWT_SECRET=<redacted>: must be at least 32 bytes (RFC 7518 §3.2)');
  }
  if (config.RTV_AUTH_JWKS_URL !== undefined && (issuer.length === 0 || audience.length === 0)) {
    problems.push('RTV_AUTH_JWKS_URL: needs RTV_AUTH_ISSUER and RTV_AUTH_AUDIENCE as well');
  }
  if (config.RTV_AUTH_JWKS_URL !== undefined && !isSecureJwksUrl(config.RTV_AUTH_JWKS_URL)) {
    problems.push(
      'RTV_AUTH_JWKS_URL: must be https:// (http:// only for a loopback host: 127.0.0.0/8, ::1, localhost); ' +
        'a key set fetched over plain http lets anyone on the network path substitute keys and mint tokens that verify',
    );
  }
  let apiKeys: ApiKeyEntry[] = [];
  try {
    apiKeys = parseApiKeys(config.RTV_AUTH_API_KEYS ?? '');
  } catch (err) {
    problems.push(`RTV_AUTH_API_KEYS=<redacted>: ${(err as Error).message}`);
  }
  const exposure = exposureDefaults(config, apiKeys.length > 0);
  let origins: OriginAllowlist = compileOriginAllowlist([]);
  try {
    origins = compileOriginAllowlist(exposure.origins);
  } catch (err) {
    problems.push(`RTV_ALLOWED_ORIGINS: ${(err as Error).message}`);
  }
  if (problems.length > 0) throw new ConfigError(service, problems);

  const bytesPerS = config.RTV_MAX_BYTES_PER_S;
  return {
    verifier: {
      ...(secret === undefined ? {} : { jwtSecret: secret }),
      ...(config.RTV_AUTH_JWKS_URL === undefined ? {} : { jwksUrl: config.RTV_AUTH_JWKS_URL }),
      ...(issuer.length === 0 ? {} : { issuer }),
      ...(audience.length === 0 ? {} : { audience }),
      userClaim: config.RTV_AUTH_USER_CLAIM,
      apiKeys,
    },
    extract: { allowQueryToken: config.RTV_AUTH_QUERY_TOKENS },
    allowAnonymous: exposure.allowAnonymous,
    origins,
    appliedDefaults: exposure.applied,
    maxConnectionsPerUser: config.RTV_MAX_CONNECTIONS_PER_USER,
    maxNewConnectionsPerIp: config.RTV_MAX_NEW_CONNECTIONS_PER_IP,
    connectionRate: {
      messagesPerS: config.RTV_MAX_MESSAGES_PER_S,
      messageBurst: 2 * config.RTV_MAX_MESSAGES_PER_S,
      bytesPerS,
      byteBurst: Math.max(2 * bytesPerS, limits.maxFrameBytes),
      audioBurstBytes: 4 * bytesPerS,
    },
  };
}

/** True for `NODE_ENV=production` (in any case): the one switch deployments already set. */
export function isProductionEnv(nodeEnv: string | undefined): boolean {
  return nodeEnv?.trim().toLowerCase() === 'production';
}

/**
 * What is reachable without credentials when the operator did not say: the anonymous route and every
 * browser origin are a laptop's defaults, and a deployment that forgets to turn them off must not serve
 * them. So the anonymous route is on only with neither `NODE_ENV=production` nor any verifier configured (a
 * verifier means real users exist, whose ids anonymous callers could otherwise claim), and origins are `*`
 * except in production, where browsers are refused until their origins are listed. An explicit value always
 * wins, either way.
 */
function exposureDefaults(
  config: AuthConfig,
  hasApiKeys: boolean,
): { allowAnonymous: boolean; origins: string; applied: AppliedDefault[] } {
  const production = isProductionEnv(config.NODE_ENV);
  const verifiers = [
    config.RTV_AUTH_JWT_SECRET === undefined ? undefined : 'RTV_AUTH_JWT_SECRET',
    config.RTV_AUTH_JWKS_URL === undefined ? undefined : 'RTV_AUTH_JWKS_URL',
    hasApiKeys ? 'RTV_AUTH_API_KEYS' : undefined,
  ].filter((v) => v !== undefined);
  const applied: AppliedDefault[] = [];

  let allowAnonymous = config.RTV_ALLOW_ANONYMOUS;
  if (allowAnonymous === undefined) {
    allowAnonymous = !production && verifiers.length === 0;
    const why = production
      ? 'NODE_ENV=production'
      : verifiers.length > 0
        ? `a verifier is configured (${verifiers.join(', ')})`
        : 'not production and no verifier configured (laptop default)';
    applied.push({
      variable: 'RTV_ALLOW_ANONYMOUS',
      value: String(allowAnonymous),
      message: allowAnonymous
        ? `anonymous route on: ${why}; set RTV_ALLOW_ANONYMOUS=false to turn it off`
        : `anonymous route off: ${why}; set RTV_ALLOW_ANONYMOUS=true to allow it`,
    });
  }

  let origins = config.RTV_ALLOWED_ORIGINS;
  if (origins === undefined) {
    origins = production ? '' : '*';
    applied.push({
      variable: 'RTV_ALLOWED_ORIGINS',
      value: origins,
      message: production
        ? 'browser origins refused: NODE_ENV=production and RTV_ALLOWED_ORIGINS is unset; list your pages there (clients without Origin still connect)'
        : 'every browser origin allowed: NODE_ENV is not production; set RTV_ALLOWED_ORIGINS to list the allowed ones',
    });
  }
  return { allowAnonymous, origins, applied };
}

/**
 * A JWKS decides which signatures are trusted, so it must arrive over TLS; plain http is allowed only to a
 * loopback host, where no one sits on the path (local tests serve a key set on 127.0.0.1). The URL parser
 * normalises hosts first (`127.1` and `0x7f.0.0.1` become `127.0.0.1`, `[0:0::1]` becomes `[::1]`).
 */
function isSecureJwksUrl(value: string | URL): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  if (url.protocol === 'https:') return true;
  if (url.protocol !== 'http:') return false;
  return isLoopbackHost(url.hostname);
}

function list(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}
