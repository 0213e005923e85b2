import type { EventEmitter } from 'node:events';
import type { StreamReader } from '@rtv/bus';
import type { Logger } from '@rtv/service-kit';
import type { SessionRouter } from './routing/session-router.js';
import type { SessionLifecycle } from './ws/session-lifecycle.js';

export interface RedisOutageWatchDeps {
  /** The command connection: its `close` and `ready` events mark an outage's start and end. */
  redis: EventEmitter;
  readiness: { readonly draining: boolean };
  lifecycle: Pick<SessionLifecycle, 'announceDegraded'>;
  reader: Pick<StreamReader, 'maintain'>;
  router: Pick<SessionRouter, 'resendUnacked'>;
  log: Logger;
}

/**
 * A Redis outage as the clients see it: open clients hear about it once; when Redis is back, the out-stream is
 * re-created if it was lost and unacknowledged frames are sent again (writes during the outage were dropped;
 * owners drop what they already applied). New sessions are refused meanwhile by {@link GatewayReadiness}.
 */
export class RedisOutageWatch {
  private down = false;

  constructor(private readonly deps: RedisOutageWatchDeps) {}

  start(): void {
    this.deps.redis.on('close', () => this.onClose());
    this.deps.redis.on('ready', () => this.onReady());
  }

  /** The connection dropped: announce the outage once (not while draining: those clients are going anyway). */
  onClose(): void {
    if (this.down || this.deps.readiness.draining) return;
    this.down = true;
    this.deps.log.warn('redis unreachable: refusing new sessions (1013) until it is back');
    this.deps.lifecycle.announceDegraded();
  }

  /** The connection is back after an outage: repair the out-stream and resend what owners may have missed. */
  onReady(): void {
    if (!this.down) return;
    this.down = false;
    this.deps.log.info('redis reachable again');
    void this.deps.reader.maintain().catch(() => undefined);
    this.deps.router.resendUnacked();
  }
}
