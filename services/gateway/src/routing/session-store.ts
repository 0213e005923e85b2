import {
  type EnsureJobResult,
  ensureSessionJob,
  SESSION_JOB_NAME,
  type SessionJobData,
  type SessionRecords,
  sessionJobOptions,
} from '@rtv/bus';
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
    await this.queue.add(SESSION_JOB_NAME, data, sessionJobOptions(data.sid));
  }

  /**
   * Makes sure the session has a job a worker can claim (after Redis lost it, or the lease lapsed in an
   * outage); an existing waiting, delayed or active one is left alone. See `ensureSessionJob`.
   */
  ensureJob(data: SessionJobData): Promise<EnsureJobResult> {
    return ensureSessionJob(this.queue, data);
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
