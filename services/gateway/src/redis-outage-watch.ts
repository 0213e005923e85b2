import type { EventEmitter } from 'node:events';
import type { Logger } from '@rtv/service-kit';
import type { SessionRecovery } from './routing/session-recovery.js';
import type { SessionLifecycle } from './ws/session-lifecycle.js';

export interface RedisOutageWatchDeps {
  /** The command connection: its `close` and `ready` events mark an outage's start and end. */
  redis: EventEmitter;
  readiness: { readonly draining: boolean };
  lifecycle: Pick<SessionLifecycle, 'announceDegraded'>;
  recovery: Pick<SessionRecovery, 'beginOutage' | 'start'>;
  log: Logger;
}

/**
 * A Redis outage as the clients see it: open clients hear about it once; from its start the sessions live now
 * are kept for {@link SessionRecovery}, which gets them running again once Redis is back (re-creating the
 * out-stream, records and jobs it may have lost, and re-sending the frames whose writes were dropped). New
 * sessions are refused meanwhile by {@link GatewayReadiness}.
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
    this.deps.recovery.beginOutage();
    this.deps.lifecycle.announceDegraded();
  }

  /** The connection is back after an outage: get the live sessions running again. */
  onReady(): void {
    if (!this.down) return;
    this.down = false;
    this.deps.log.info('redis reachable again: re-establishing live sessions');
    this.deps.recovery.start();
  }
}
