import { ConfigError, createLogger, installShutdown } from '@rtv/service-kit';
import { buildDemoAssets } from './build.js';
import { loadDemoConfig } from './config.js';
import { startDemoServer } from './server.js';

try {
  const config = loadDemoConfig();
  const log = createLogger('demo-web', config.RTV_LOG_LEVEL);
  const assets = await buildDemoAssets();
  const server = await startDemoServer({
    host: config.RTV_DEMO_HOST,
    port: config.RTV_DEMO_PORT,
    gatewayUrl: config.RTV_DEMO_GATEWAY_URL,
    assets,
    log,
  });
  installShutdown(log, () => server.close());
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exit(2);
  }
  console.error('demo page server failed to start:', err instanceof Error ? err.message : err);
  process.exit(1);
}
