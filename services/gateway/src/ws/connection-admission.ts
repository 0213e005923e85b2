import {
  authSettingsFromConfig,
  ConcurrentConnectionCounter,
  type ConnectionRateLimits,
  createTokenVerifier,
  FailedUpgradeLimiter,
  NewConnectionLimiter,
  trustedProxiesFromConfig,
  UserConnectionLimiter,
} from '@rtv/auth';
import type { Keys, RedisClient } from '@rtv/bus';
import { EventLoopLagGuard, type Logger } from '@rtv/service-kit';
import type { GatewayConfig } from '../config.js';
import type { GatewayMetrics } from '../metrics.js';
import type { ClientSessionLimits } from '../routing/client-session.js';
import type { UpgradeDeps } from './upgrade.js';

export interface ConnectionAdmission {
  /** What `handleUpgrade` decides with: credentials, origins, per-address and per-user limits. */
  upgrade: UpgradeDeps;
  /** Per-connection message and byte rates, spent by every client frame. */
  connectionRate: ConnectionRateLimits;
  /** The event-loop watch behind `upgrade.overload`; stopped with the gateway. */
  overload: EventLoopLagGuard;
}

/**
 * Who may connect and how fast (DESIGN §4.6, docs/security.md), from the configuration: the token verifier
 * (none when no secret, JWKS or API key is configured, which refuses the authenticated route), the per-address
 * and cluster-wide per-user connection limits, and the per-connection rates. Starts the per-user lease renewal.
 */
export function createConnectionAdmission(
  config: GatewayConfig,
  redis: RedisClient,
  keys: Keys,
  sessionLimits: ClientSessionLimits,
  metrics: GatewayMetrics,
  log: Logger,
): ConnectionAdmission {
  const auth = authSettingsFromConfig(config, { maxFrameBytes: config.RTV_MAX_FRAME_BYTES }, 'gateway');
  const verifierConfigured =
    auth.verifier.jwtSecret !== undefined ||
    auth.verifier.jwksUrl !== undefined ||
    (auth.verifier.apiKeys?.length ?? 0) > 0;
  if (!verifierConfigured) {
    log.warn(
      'no RTV_AUTH_JWT_SECRET, RTV_AUTH_JWKS_URL or RTV_AUTH_API_KEYS: the authenticated route refuses every connection',
    );
  }
  // Which exposure defaults were chosen and why, so an operator sees from the log what a deployment serves.
  for (const applied of auth.appliedDefaults) {
    log.info({ variable: applied.variable, value: applied.value }, applied.message);
  }
  if (auth.allowAnonymous) {
    log.info(
      'the anonymous route /api/v1/streaming/realtime/{user_id} is on; its callers act as anon:{user_id}',
    );
  }
  const userLimiter = new UserConnectionLimiter({
    redis,
    keys,
    maxPerUser: auth.maxConnectionsPerUser,
    onError: (err: Error) => log.warn({ err: err.message }, 'per-user connection lease renewal failed'),
  });
  userLimiter.start();
  const overload = new EventLoopLagGuard({ maxLagMs: config.RTV_GATEWAY_MAX_LAG_MS });
  overload.start();
  const verifier = verifierConfigured ? createTokenVerifier(auth.verifier) : undefined;
  // With the key set at hand, identity-provider tokens are verified, and upgraded, within the upgrade handler.
  void verifier?.refreshKeys();
  const upgrade: UpgradeDeps = {
    auth,
    verifier,
    userLimiter,
    ipLimiter: new NewConnectionLimiter({ maxPerWindow: auth.maxNewConnectionsPerIp }),
    failedUpgrades: new FailedUpgradeLimiter({
      maxPerWindow: config.RTV_MAX_FAILED_UPGRADES_PER_IP,
      windowMs: 60_000,
    }),
    connections: new ConcurrentConnectionCounter({
      maxPerAddress: config.RTV_MAX_CONNECTIONS_PER_IP,
      maxTotal: config.RTV_MAX_CONNECTIONS_PER_GATEWAY,
    }),
    trustedProxies: trustedProxiesFromConfig('gateway', config.RTV_TRUSTED_PROXIES),
    overload,
    redisReady: () => redis.status === 'ready',
    tokenExpiryGraceMs: config.RTV_CLOSE_ON_TOKEN_EXPIRY ? (auth.verifier.clockSkewMs ?? 30_000) : undefined,
    metrics,
    log,
    sessionLimits,
  };
  return { upgrade, connectionRate: auth.connectionRate, overload };
}
