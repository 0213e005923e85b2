import type { RedisClient } from '@rtv/bus';

/**
 * Whether the gateway takes new sessions: not while it drains (set once, by stop) and not while Redis is
 * unreachable. Read by admission (1013 refusals), `/readyz`, the heartbeat and the Redis outage watch.
 */
export class GatewayReadiness {
  private drainStarted = false;

  constructor(private readonly redis: Pick<RedisClient, 'status'>) {}

  get draining(): boolean {
    return this.drainStarted;
  }

  /** From now on no new session is accepted and `/readyz` answers 503. */
  startDraining(): void {
    this.drainStarted = true;
  }

  accepting(): boolean {
    return !this.drainStarted && this.redis.status === 'ready';
  }
}
