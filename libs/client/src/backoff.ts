import type { CloseCodeInfo } from '@rtv/protocol';

/** How the client reconnects after a connection is lost. */
export interface ReconnectOptions {
  /**
   * First backoff step. Also bounds the small random delay used for close codes that say "reconnect at
   * once" (1012), so a whole fleet of clients leaving a draining gateway does not arrive in the same instant.
   * @defaultValue 500
   */
  initialDelayMs: number;
  /**
   * Cap on one wait: doubling stops here, so a long outage is probed every few seconds, not every hour.
   * @defaultValue 10_000
   */
  maxDelayMs: number;
  /**
   * Failed attempts in a row before giving up with `reconnect_exhausted`. A connection that reaches
   * `session.created` resets the count. `Infinity` never gives up.
   * @defaultValue 10
   */
  maxAttempts: number;
}

export const DEFAULT_RECONNECT: Readonly<ReconnectOptions> = Object.freeze({
  initialDelayMs: 500,
  maxDelayMs: 10_000,
  maxAttempts: 10,
});

/**
 * Capped exponential backoff with "equal jitter": half of the step is fixed, half random. The fixed half
 * keeps a floor under the wait (pure random jitter can retry at once, again and again); the random half
 * spreads clients that lost their connections together. `attempt` counts from 1.
 */
export function backoffDelay(
  attempt: number,
  options: Pick<ReconnectOptions, 'initialDelayMs' | 'maxDelayMs'>,
  random: () => number = Math.random,
): number {
  const exponent = Math.min(Math.max(attempt - 1, 0), 30);
  const step = Math.min(options.maxDelayMs, options.initialDelayMs * 2 ** exponent);
  return step / 2 + random() * (step / 2);
}

/**
 * What to do after a close, decided by the close code table alone (docs/protocol.md, Close codes):
 * `undefined` means terminal (do not reconnect), otherwise the delay before the next attempt.
 */
export function reconnectDelay(
  close: CloseCodeInfo,
  attempt: number,
  options: ReconnectOptions,
  random: () => number = Math.random,
): number | undefined {
  if (!close.reconnect || attempt > options.maxAttempts) return undefined;
  if (!close.backoff) return random() * options.initialDelayMs;
  return backoffDelay(attempt, options, random);
}
