export {
  type AdminServer,
  type AdminServerOptions,
  createRegistry,
  startAdminServer,
} from './admin-server.js';
export { type BoundedCounter, boundedCounter } from './bounded-counter.js';
export {
  COMMON_ENV,
  ConfigError,
  type ConfigOf,
  describeConfig,
  type EnvSchema,
  type EnvSpec,
  loadConfig,
} from './config.js';
export { EventLoopLagGuard, type EventLoopLagGuardOptions } from './event-loop-lag.js';
export { createLogger, type Logger } from './logger.js';
export { isLoopbackHost } from './loopback.js';
export {
  installShutdown,
  type ShutdownConfig,
  type ShutdownOptions,
  shutdownOptionsFrom,
} from './shutdown.js';
export { TalliedCounter, TalliedHistogram, Tally } from './tallied-metrics.js';
export { withTimeout } from './timeout.js';
