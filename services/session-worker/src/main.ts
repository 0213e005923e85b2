import { ConfigError, createLogger, installShutdown, shutdownOptionsFrom } from '@rtv/service-kit';
import { startSessionWorker } from './app.js';
import { loadWorkerConfig } from './config.js';

try {
  const config = loadWorkerConfig();
  const log = createLogger('session-worker', config.RTV_LOG_LEVEL);
  const worker = await startSessionWorker(config, log);
  installShutdown(log, () => worker.stop(), shutdownOptionsFrom(config));
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exit(2);
  }
  console.error('session worker failed to start:', err instanceof Error ? err.message : err);
  process.exit(1);
}
