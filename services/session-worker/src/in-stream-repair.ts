import type { EventEmitter } from 'node:events';
import type { StreamReader } from '@rtv/bus';
import type { Logger } from '@rtv/service-kit';

export interface InStreamRepairDeps {
  /** The command connection: its `close` and `ready` events mark an outage's start and end. */
  redis: EventEmitter;
  reader: Pick<StreamReader, 'maintain'>;
  log: Logger;
}

/**
 * Re-creates the worker's in-stream as soon as Redis answers again after an outage, rather than at the next
 * heartbeat. A Redis that restarted empty has no in-stream, and gateways write with `NOMKSTREAM` (only the
 * reader creates a stream): until `maintain()` runs, every client frame for this worker's sessions, parked
 * ones included (see `LeaseRecovery`), is dropped and waits in the gateways' replay buffers. The gateway
 * repairs its out-stream the same way (`RedisOutageWatch`).
 */
export class InStreamRepair {
  private down = false;
  /** When the command connection was last ready again after a close (ms, 0: never). */
  private backAt = 0;

  constructor(private readonly deps: InStreamRepairDeps) {}

  start(): void {
    this.deps.redis.on('close', () => this.onClose());
    this.deps.redis.on('ready', () => this.onReady());
  }

  onClose(): void {
    this.down = true;
  }

  /**
   * Whether Redis was unreachable (or this connection was) less than `ms` ago. A Redis that restarted empty
   * has no gateway heartbeats until each gateway beats again, so a missing heartbeat right after an outage
   * does not mean that gateway died (see worker-heartbeat.ts).
   */
  recentlyBack(ms: number): boolean {
    return this.down || Date.now() - this.backAt < ms;
  }

  /** The connection is back after a close: re-create the in-stream if it was lost. */
  onReady(): void {
    if (!this.down) return;
    this.down = false;
    this.backAt = Date.now();
    this.deps.reader.maintain().catch((err: Error) => {
      this.deps.log.warn({ err: err.message }, 'in-stream repair failed; the heartbeat retries it');
    });
  }
}
