import { ConfigError, createLogger, installShutdown, shutdownOptionsFrom } from '@rtv/service-kit';
import { startGateway } from './app.js';
import { loadGatewayConfig } from './config.js';

try {
  const config = loadGatewayConfig();
  const log = createLogger('gateway', config.RTV_LOG_LEVEL);
  const gateway = await startGateway(config, log);
  installShutdown(log, () => gateway.stop(), shutdownOptionsFrom(config));
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exit(2);
  }
  console.error('gateway failed to start:', err instanceof Error ? err.message : err);
  process.exit(1);
}
