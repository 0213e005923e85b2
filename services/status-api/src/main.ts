import { trustedProxiesFromConfig } from '@rtv/auth';
import { redisTopologyOf } from '@rtv/bus';
import { ConfigError, createLogger, installShutdown, shutdownOptionsFrom } from '@rtv/service-kit';
import { buildStatusApi } from './app.js';
import { loadStatusConfig, verifierFromConfig } from './config.js';

try {
  const config = loadStatusConfig();
  const log = createLogger('status-api', config.RTV_LOG_LEVEL);
  const verifier = verifierFromConfig(config);
  if (!verifier)
    log.info('no RTV_AUTH_* credentials configured: the session history route refuses every caller');
  const app = await buildStatusApi({
    ...(verifier ? { verifier } : {}),
    redisUrl: config.REDIS_URL,
    redisTopology: redisTopologyOf(config),
    prefix: config.RTV_REDIS_PREFIX,
    log,
    snapshotMaxAgeMs: config.RTV_STATUS_CACHE_MS,
    readTimeoutMs: config.RTV_STATUS_READ_TIMEOUT_MS,
    statusRatePerS: config.RTV_STATUS_RATE_PER_S,
    trustedProxies: trustedProxiesFromConfig('status-api', config.RTV_TRUSTED_PROXIES),
  });
  await app.listen({ host: config.RTV_STATUS_HOST, port: config.RTV_STATUS_PORT });
  installShutdown(log, () => app.close(), shutdownOptionsFrom(config));
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exit(2);
  }
  console.error('status API failed to start:', err instanceof Error ? err.message : err);
  process.exit(1);
}
