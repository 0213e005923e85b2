import type { SessionJobData, SessionRecords } from '@rtv/bus';
import type { SessionConfig } from '@rtv/protocol';
import type { Queue } from 'bullmq';

/**
 * The gateway's side of a session's records: the session record (`SessionRecords`, libs/bus) and the BullMQ
 * job whose active state is the owner's lease. Called once per connection, never per frame.
 */
export class SessionStore {
  constructor(
    readonly records: SessionRecords,
    private readonly queue: Queue<SessionJobData>,
  ) {}

  /** Writes the record, then queues the job a worker claims. */
  async create(data: SessionJobData, config: SessionConfig): Promise<void> {
    await this.records.create(data, config);
    await this.queue.add('session', data, {
      jobId: data.sid,
      removeOnComplete: true,
      removeOnFail: { age: 3600, count: 1000 },
      attempts: 1,
    });
  }

  /**
   * Removes a session that no worker has bound yet. A job that a worker took meanwhile stays: that worker
   * binds, the gateway no longer knows the session and answers with an end line.
   */
  async discardUnbound(sid: string): Promise<void> {
    await this.queue.remove(sid).catch(() => 0);
    await this.records.remove(sid);
  }
}
