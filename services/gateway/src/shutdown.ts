import type { UserConnectionLimiter } from '@rtv/auth';
import type { BusWriter, Heartbeat, StreamReader } from '@rtv/bus';
import type { AdminServer, EventLoopLagGuard } from '@rtv/service-kit';
import type { Queue } from 'bullmq';
import type { GatewayReadiness } from './readiness.js';
import type { GatewayRedis } from './redis-connections.js';
import type { GatewayReplayBudget } from './routing/replay-budget.js';
import type { SessionRecovery } from './routing/session-recovery.js';
import type { ClientSessionRegistry } from './routing/session-registry.js';
import type { RealtimeServer } from './ws/realtime-server.js';
import type { SessionLifecycle } from './ws/session-lifecycle.js';

/** Everything the gateway stops, in the order it was started. */
export interface GatewayParts {
  readiness: GatewayReadiness;
  server: RealtimeServer;
  registry: ClientSessionRegistry;
  lifecycle: SessionLifecycle;
  /** Stopped before the sockets close: a closing socket's session is then detached, not kept. */
  recovery: Pick<SessionRecovery, 'dispose'>;
  userLimiter: UserConnectionLimiter;
  overload: Pick<EventLoopLagGuard, 'stop'>;
  writer: BusWriter;
  heartbeat: Heartbeat;
  reader: StreamReader;
  replayBudget: Pick<GatewayReplayBudget, 'stop'>;
  queue: Queue;
  admin: AdminServer;
  redis: GatewayRedis;
  /** How long clients are warned before they are closed (0: close at once). */
  drainGraceMs: number;
}

/**
 * Drain and stop (DESIGN §5): not ready, no new sockets, clients warned, then closed with `code` (1012) so they
 * resume on another gateway; their sessions are detached (kept by the owners), not ended. Then the gateway's
 * Redis state is released. {@link stop} is idempotent: every call gets the same promise.
 */
export class GatewayShutdown {
  private stopped: Promise<void> | undefined;

  constructor(private readonly parts: GatewayParts) {}

  stop(code: number): Promise<void> {
    this.stopped ??= this.run(code);
    return this.stopped;
  }

  private async run(code: number): Promise<void> {
    await this.drainClients(code);
    await this.release();
  }

  /** Stops taking sockets, warns the clients for the grace period, closes them and waits for their records. */
  private async drainClients(code: number): Promise<void> {
    const { readiness, server, registry, lifecycle, recovery, drainGraceMs } = this.parts;
    readiness.startDraining();
    server.stopListening();
    if (registry.count() > 0 && drainGraceMs > 0) {
      lifecycle.announceDrain();
      await new Promise((r) => setTimeout(r, drainGraceMs));
    }
    recovery.dispose();
    lifecycle.closeAll(code, 'server restarting: resume the session');
    await lifecycle.settle();
    lifecycle.dispose();
  }

  /** Gives back user slots, flushes the bus, leaves the gateway registry and closes every connection. */
  private async release(): Promise<void> {
    const { userLimiter, overload, writer, heartbeat, reader, replayBudget, queue, admin, redis, server } =
      this.parts;
    overload.stop();
    replayBudget.stop();
    void userLimiter.stop();
    await userLimiter.releaseAll().catch(() => undefined);
    await writer.drain().catch(() => undefined);
    await heartbeat.stop();
    await reader.stop(true);
    await queue.close();
    await admin.close();
    await Promise.allSettled([redis.commands.quit(), redis.queue.quit()]);
    server.close();
  }
}
