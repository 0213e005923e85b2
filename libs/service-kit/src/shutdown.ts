import type { Logger } from 'pino';

export interface ShutdownOptions {
  /** Hard limit for the whole shutdown; past it the process exits 1. @defaultValue 30000 */
  timeoutMs?: number;
  exit?: (code: number) => void;
}

/** What {@link shutdownOptionsFrom} reads: `RTV_SHUTDOWN_TIMEOUT_S` of `COMMON_ENV`, already validated. */
export interface ShutdownConfig {
  readonly RTV_SHUTDOWN_TIMEOUT_S: number;
}

/**
 * The shutdown limit a service's loaded config sets. The variable lives in `COMMON_ENV`, so every service
 * validates it at start with the rest of its configuration (a bad value stops the start, naming it), and the
 * Helm chart can keep it below the pods' termination grace period.
 */
export function shutdownOptionsFrom(config: ShutdownConfig): ShutdownOptions {
  return { timeoutMs: Math.round(config.RTV_SHUTDOWN_TIMEOUT_S * 1000) };
}

/**
 * SIGTERM/SIGINT → `stop()` once (idempotent: a second signal only logs), exit 0 when it resolves, exit 1
 * when it throws or overruns the hard timeout. Returns the trigger so `main` can also shut down on fatal errors.
 */
export function installShutdown(
  log: Logger,
  stop: (signal: string) => Promise<void>,
  opts: ShutdownOptions = {},
): (reason: string) => Promise<void> {
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  let closing: Promise<void> | undefined;
  const trigger = (reason: string): Promise<void> => {
    if (closing) {
      log.info({ reason }, 'shutdown already in progress');
      return closing;
    }
    log.info({ reason }, 'shutting down');
    const timer = setTimeout(() => {
      log.error({ timeoutMs: opts.timeoutMs ?? 30_000 }, 'shutdown timed out');
      exit(1);
    }, opts.timeoutMs ?? 30_000);
    timer.unref();
    closing = stop(reason).then(
      () => {
        clearTimeout(timer);
        log.info('stopped');
        exit(0);
      },
      (err: unknown) => {
        clearTimeout(timer);
        log.error({ err }, 'shutdown failed');
        exit(1);
      },
    );
    return closing;
  };
  process.on('SIGTERM', () => void trigger('SIGTERM'));
  process.on('SIGINT', () => void trigger('SIGINT'));
  return trigger;
}
