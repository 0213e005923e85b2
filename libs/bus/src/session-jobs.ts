import type { JobsOptions, Queue } from 'bullmq';
import type { SessionJobData } from './session-record.js';

/** BullMQ job name of a session's lease. */
export const SESSION_JOB_NAME = 'session';

/**
 * Options of every session job: the job id is the session id (one lease per session; adding it again is a
 * no-op), a finished job is removed so the id can be used again, and a session is never retried by BullMQ (a
 * lost lease is recovered by the stalled check or by {@link ensureSessionJob}).
 */
export function sessionJobOptions(sid: string): JobsOptions {
  return {
    jobId: sid,
    removeOnComplete: true,
    removeOnFail: { age: 3600, count: 1000 },
    attempts: 1,
  };
}

/**
 * What {@link ensureSessionJob} did: the job was there (`state`: BullMQ's `waiting`, `active`, `delayed`, …),
 * was added, or replaced a finished one.
 */
export type EnsureJobResult =
  | { outcome: 'present'; state: string; locked: boolean }
  | { outcome: 'added' | 'replaced'; state: 'waiting'; locked: false };

/**
 * Makes sure the session has a job a worker can claim, after Redis lost data: adds it when missing, replaces a
 * failed or completed one (a lease whose owner lost it mid-outage may end up there), and leaves a waiting,
 * delayed or active one alone (an active job without a lock is moved back by BullMQ's stalled check).
 * Idempotent: the gateway and the owner may both call it.
 */
export async function ensureSessionJob(
  queue: Queue<SessionJobData>,
  data: SessionJobData,
): Promise<EnsureJobResult> {
  const state = await queue.getJobState(data.sid);
  if (state === 'failed' || state === 'completed') {
    await queue.remove(data.sid).catch(() => 0);
    await queue.add(SESSION_JOB_NAME, data, sessionJobOptions(data.sid));
    return { outcome: 'replaced', state: 'waiting', locked: false };
  }
  if (state !== 'unknown') return { outcome: 'present', state, locked: await jobLocked(queue, data.sid) };
  await queue.add(SESSION_JOB_NAME, data, sessionJobOptions(data.sid));
  return { outcome: 'added', state: 'waiting', locked: false };
}

/**
 * Whether a worker holds the job's lock now. An active job whose lock expired during an outage (Redis kept its
 * data, but not past the lock's TTL) is still listed as active until BullMQ's stalled check moves it: only the
 * lock says the lease was never lost. BullMQ keeps it at `<queue key>:<job id>:lock`.
 */
async function jobLocked(queue: Queue<SessionJobData>, sid: string): Promise<boolean> {
  const client = await queue.client;
  return (await client.get(queue.toKey(`${sid}:lock`))) !== null;
}
