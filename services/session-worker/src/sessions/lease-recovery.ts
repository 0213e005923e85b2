import {
  type BusWriter,
  ensureSessionJob,
  type Keys,
  type SessionJobData,
  type SessionRecords,
  type SessionState,
} from '@rtv/bus';
import { CloseCode, encodeCloseLine, encodeError, encodeMessageLine } from '@rtv/protocol';
import type { Logger } from '@rtv/service-kit';
import type { Queue } from 'bullmq';
import type { WorkerMetrics } from '../metrics.js';
import type { HostedRunner } from './session-host.js';

export interface LeaseRecoveryDeps {
  workerId: string;
  keys: Keys;
  records: SessionRecords;
  /** The session queue (same name and prefix as the worker's BullMQ `Worker`), to put a lost job back. */
  queue: Queue<SessionJobData>;
  writer: BusWriter;
  metrics: WorkerMetrics;
  log: Logger;
  /**
   * Least time from parking to the first restore (the progress interval). The processor call of the lost job
   * returns at once when its runner is parked, and BullMQ untracks that job id from lock renewal when it has
   * finished with it; a restore only adds the job back (so that this worker may claim it under the same id)
   * after that.
   */
  settleMs: number;
  /** How long a parked runner waits to be claimed again before it ends (`RTV_LEASE_RECOVERY_MS`). */
  boundMs: number;
}

/** Server frame seqs are `epoch · 2³² + n` (see `SessionRunner`): each owner epoch has its own range. */
const EPOCH_STRIDE = 2 ** 32;

type Parked = { runner: HostedRunner; parkedAt: number; restoring: boolean };

/** How a parked session left the parked set (the `result` label of `leaseRecoveries`). */
type RecoveryResult = 'readopted' | 'superseded' | 'gave_up' | 'ended';

/**
 * Keeps sessions alive through a lost lease (issue 16). When BullMQ cannot renew a session job's lock — Redis
 * restarted empty, or came back after the lock expired — the session itself is fine here: the provider socket
 * is open and the runner holds everything. So the runner is *parked* instead of ended: its processor call
 * returns (BullMQ lets go of the old job), the runner keeps running and keeps getting its client frames, and
 * on each tick its record is put back (`restoreOwnerSide`) and its job is made claimable again
 * (`ensureSessionJob`). When this worker claims the job, {@link reclaim} hands back the same runner, which
 * takes the new epoch. A record with a newer epoch owned by another worker means the session moved on: the
 * runner ends silently (the new owner binds). Past `boundMs` the runner gives up and tells its client to
 * resume (`session_recovery_failed`, close 1013), so a client never waits on a session nobody runs.
 */
export class LeaseRecovery {
  private readonly parked = new Map<string, Parked>();
  /** Resolvers of the processor calls waiting on a runner (see {@link untilParked}). */
  private readonly waiting = new Map<HostedRunner, () => void>();

  constructor(private readonly deps: LeaseRecoveryDeps) {}

  /** Resolves when `runner` is parked (its current lease is lost); stays pending while it holds it. */
  untilParked(runner: HostedRunner): Promise<'parked'> {
    return new Promise((resolve) => this.waiting.set(runner, () => resolve('parked')));
  }

  /** Whether a runner of `sid` is parked here. */
  holds(sid: string): boolean {
    return this.parked.has(sid);
  }

  isParked(runner: HostedRunner): boolean {
    return this.parked.get(runner.sid)?.runner === runner;
  }

  /** The lease of `runner` could not be renewed: its processor call returns, the runner goes on. */
  park(runner: HostedRunner): void {
    if (this.parked.has(runner.sid)) return;
    this.parked.set(runner.sid, { runner, parkedAt: Date.now(), restoring: false });
    this.deps.metrics.sessionsParked.inc();
    this.deps.log.warn(
      { sid: runner.sid, epoch: runner.state.epoch },
      'session lease could not be renewed: keeping the session while the lease is re-established',
    );
    this.waiting.get(runner)?.();
    this.waiting.delete(runner);
  }

  /** This worker claimed `claim.sid` again: the parked runner of it, re-adopted with the new epoch, if any. */
  reclaim(claim: SessionState): HostedRunner | undefined {
    const entry = this.parked.get(claim.sid);
    if (!entry) return undefined;
    this.unpark(entry, 'readopted');
    entry.runner.reclaim(claim);
    this.deps.log.info(
      { sid: claim.sid, epoch: claim.epoch, parkedMs: Date.now() - entry.parkedAt },
      'session re-adopted after its lease was lost',
    );
    return entry.runner;
  }

  /** `runner` ended: forget it (counted as `ended` if it was still parked). */
  forget(runner: HostedRunner): void {
    this.waiting.delete(runner);
    const entry = this.parked.get(runner.sid);
    if (entry?.runner === runner) this.unpark(entry, 'ended');
  }

  /**
   * One recovery step for every parked runner: past the bound it gives up; otherwise (once the old processor
   * call has settled, and unless an attempt is still in flight, e.g. waiting for Redis) it tries again to put
   * the record and the job back. Failures are retried on the next tick.
   */
  tick(now = Date.now()): void {
    for (const entry of [...this.parked.values()]) {
      const parkedFor = now - entry.parkedAt;
      if (parkedFor >= this.deps.boundMs) this.giveUp(entry);
      else if (!entry.restoring && parkedFor >= this.deps.settleMs) {
        entry.restoring = true;
        void this.restore(entry).finally(() => {
          entry.restoring = false;
        });
      }
    }
  }

  /** Puts back the record (unless the session has a newer owner) and the job, so that a worker claims it. */
  private async restore(entry: Parked): Promise<void> {
    const { records, queue, workerId, log } = this.deps;
    const { runner } = entry;
    const state = runner.state;
    try {
      const record = await records.restoreOwnerSide(
        { state, seq: runner.ackableSeq, workerId },
        state.clientAttached,
      );
      if (this.parked.get(runner.sid) !== entry) return; // re-adopted or ended meanwhile
      if (record.epoch > state.epoch && record.owner !== undefined && record.owner !== workerId) {
        this.supersede(entry, record.owner, record.epoch);
        return;
      }
      const { sid, userId, gatewayId, createdMs } = state;
      await ensureSessionJob(queue, { sid, userId, gatewayId, createdMs });
    } catch (err) {
      log.warn({ sid: runner.sid, err: (err as Error).message }, 'lease recovery attempt failed: retrying');
    }
  }

  /** Another worker took the session: end here without a word to the client (the new owner binds). */
  private supersede(entry: Parked, owner: string, epoch: number): void {
    this.unpark(entry, 'superseded');
    this.deps.metrics.leaseLost.inc();
    this.deps.log.warn({ sid: entry.runner.sid, owner, epoch }, 'a newer owner took the parked session');
    entry.runner.end('lease_lost');
  }

  /**
   * Nobody claimed the session within the bound: the client is told (`session_recovery_failed`) and closed
   * with 1013 so that it resumes; the record and job stay, so a worker that claims the job later continues
   * the session (a takeover) and the resume finds it. The error takes the last seq of this owner's epoch
   * range: above anything this runner sent, below anything a later owner sends.
   */
  private giveUp(entry: Parked): void {
    const { runner } = entry;
    const { sid, epoch, gatewayId, clientAttached } = runner.state;
    this.unpark(entry, 'gave_up');
    this.deps.log.warn(
      { sid, epoch },
      'parked session not claimed again in time: telling the client to resume',
    );
    if (clientAttached) {
      const stream = this.deps.keys.gatewayOut(gatewayId);
      const lastSeq = (epoch + 1) * EPOCH_STRIDE - 1;
      this.deps.writer.write(
        stream,
        encodeMessageLine(sid, epoch, lastSeq, encodeError('session_recovery_failed')),
      );
      this.deps.writer.write(
        stream,
        encodeCloseLine(sid, epoch, CloseCode.TryAgainLater, 'session recovery failed'),
      );
    }
    runner.end('lease_lost');
  }

  private unpark(entry: Parked, result: RecoveryResult): void {
    this.parked.delete(entry.runner.sid);
    this.deps.metrics.sessionsParked.dec();
    this.deps.metrics.leaseRecoveries.inc({ result });
  }
}
