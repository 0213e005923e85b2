import type { Keys, RedisClient, SessionJobData } from '@rtv/bus';
import type { Logger } from '@rtv/service-kit';
import { Queue, Worker } from 'bullmq';
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
  const worker = new Worker<SessionJobData, string>(keys.queueName, (job, token) => host.runJob(job, token), {
    connection: opts.connection,
    prefix: keys.bullPrefix,
    concurrency: config.RTV_WORKER_CAPACITY,
    lockDuration: leaseMs,
    // Renewing at a quarter of the lease leaves three renewals of slack for a busy event loop.
    lockRenewTime: Math.floor(leaseMs / 4),
    stalledInterval: Math.max(500, Math.floor(leaseMs / 2)),
    maxStalledCount: 1000,
    drainDelay: 1,
  });
  worker.on('error', (err) => log.warn({ err: err.message }, 'queue worker error'));
  // A lease that could not be renewed is re-established if nobody else took it (SessionHost.onLockRenewalFailed).
  worker.on('lockRenewalFailed', (jobIds: string[]) => host.onLockRenewalFailed(jobIds));
  worker.on('failed', (job, err) => log.warn({ sid: job?.id, err: err.message }, 'session job failed'));
  return worker;
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
