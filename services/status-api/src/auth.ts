import { createTokenVerifier, parseApiKeys, type TokenVerifier } from '@rtv/auth';
import { ConfigError } from '@rtv/service-kit';
import type { StatusConfig } from './config.js';

/** The token verifier for the session history route, or undefined when no credential kind is configured. */
export function verifierFromConfig(config: StatusConfig): TokenVerifier | undefined {
  const list = (v: string | undefined) =>
    (v ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  let apiKeys: ReturnType<typeof parseApiKeys>;
  try {
    apiKeys = parseApiKeys(config.RTV_AUTH_API_KEYS ?? '');
  } catch (err) {
    throw new ConfigError('status-api', [`RTV_AUTH_API_KEYS=<redacted>: ${(err as Error).message}`]);
  }
  if (!config.RTV_AUTH_JWT_SECRET && !config.RTV_AUTH_JWKS_URL && apiKeys.length === 0) return undefined;
  const issuer = list(config.RTV_AUTH_ISSUER);
  const audience = list(config.RTV_AUTH_AUDIENCE);
  return createTokenVerifier({
    ...(config.RTV_AUTH_JWT_SECRET ? { jwtSecret: config.RTV_AUTH_JWT_SECRET } : {}),
    ...(config.RTV_AUTH_JWKS_URL ? { jwksUrl: config.RTV_AUTH_JWKS_URL } : {}),
    ...(issuer.length > 0 ? { issuer } : {}),
    ...(audience.length > 0 ? { audience } : {}),
    userClaim: config.RTV_AUTH_USER_CLAIM,
    apiKeys,
  });
}
