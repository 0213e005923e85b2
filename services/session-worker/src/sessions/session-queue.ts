import type { Keys, RedisClient, SessionJobData } from '@rtv/bus';
import type { Logger } from '@rtv/service-kit';
import { type Job, Queue, Worker } from 'bullmq';
import type { WorkerConfig } from '../config.js';
import type { SessionHost } from './session-host.js';

export interface SessionQueueOptions {
  /** A connection for BullMQ alone (`maxRetriesPerRequest: null`). */
  connection: RedisClient;
  keys: Keys;
  log: Logger;
}

/**
 * Takes session jobs from the queue for `host`, up to `RTV_WORKER_CAPACITY` at once. The BullMQ lock is the
 * session's lease (`RTV_LEASE_MS`): renewed while the session runs; a dead worker's sessions are found by the
 * stalled check and moved to another worker (DESIGN §5).
 */
export function startSessionQueue(
  host: SessionHost,
  config: WorkerConfig,
  opts: SessionQueueOptions,
): Worker<SessionJobData, string> {
  const leaseMs = config.RTV_LEASE_MS;
  const { keys, log } = opts;
  let window: FetchWindow | undefined;
  const process = async (job: Job<SessionJobData, string>, token?: string) => {
    window?.started();
    try {
      return await host.runJob(job, token);
    } finally {
      window?.ended();
    }
  };
  const worker = new Worker<SessionJobData, string>(keys.queueName, process, {
    connection: opts.connection,
    prefix: keys.bullPrefix,
    concurrency: Math.min(config.RTV_WORKER_CAPACITY, FETCH_AHEAD),
    lockDuration: leaseMs,
    // Renewing at a quarter of the lease leaves three renewals of slack for a busy event loop. BullMQ renews a
    // lock once it is older than half of lockRenewTime (its timer runs at that half), so the quarter is this.
    lockRenewTime: Math.floor(leaseMs / 2),
    stalledInterval: Math.max(500, Math.floor(leaseMs / 2)),
    maxStalledCount: 1000,
    drainDelay: 1,
  });
  window = new FetchWindow(worker, config.RTV_WORKER_CAPACITY);
  worker.on('error', (err) => log.warn({ err: err.message }, 'queue worker error'));
  // A lease that could not be renewed is re-established if nobody else took it (SessionHost.onLockRenewalFailed).
  worker.on('lockRenewalFailed', (jobIds: string[]) => host.onLockRenewalFailed(jobIds));
  worker.on('failed', (job, err) => log.warn({ sid: job?.id, err: err.message }, 'session job failed'));
  return worker;
}

/** Jobs a worker may take from the queue ahead of the sessions it has started. */
export const FETCH_AHEAD = 16;

/**
 * Keeps BullMQ from taking a backlog of jobs faster than the sessions start. BullMQ takes jobs one after the other
 * for as long as any are waiting and it is below its concurrency, and only then starts them; a job's lock is
 * renewed only once it has started. Session jobs run for the whole session, so with the concurrency at the
 * worker's capacity a burst of thousands of new sessions was taken for seconds in a row, and the first locks
 * taken expired before their sessions started: the stalled check put them back, and sessions were claimed
 * twice. The concurrency is therefore held at the sessions running plus {@link FETCH_AHEAD}, within the capacity:
 * at most that many jobs are taken and not yet started.
 */
export class FetchWindow {
  private running = 0;

  constructor(
    private readonly worker: { concurrency: number },
    private readonly capacity: number,
    private readonly ahead = FETCH_AHEAD,
  ) {
    this.apply();
  }

  /** A processor call began (a session starts, or a job is put back). */
  started(): void {
    this.running++;
    this.apply();
  }

  /** A processor call returned. */
  ended(): void {
    this.running = Math.max(0, this.running - 1);
    this.apply();
  }

  /** BullMQ's concurrency now: what it may hold, started or only taken. */
  get limit(): number {
    return this.worker.concurrency;
  }

  private apply(): void {
    this.worker.concurrency = Math.max(1, Math.min(this.capacity, this.running + this.ahead));
  }
}

/**
 * The session queue as a producer, on the same name and prefix as the worker of {@link startSessionQueue}:
 * the host puts back the job of a session whose lease was lost with Redis's data (`ensureSessionJob`).
 * `connection` should be a producer connection that fails fast: a recovery attempt during an outage is
 * retried on the next tick rather than queued.
 */
export function openSessionJobQueue(connection: RedisClient, keys: Keys, log: Logger): Queue<SessionJobData> {
  const queue = new Queue<SessionJobData>(keys.queueName, { connection, prefix: keys.bullPrefix });
  queue.on('error', (err) => log.warn({ err: err.message }, 'session queue error'));
  return queue;
}
