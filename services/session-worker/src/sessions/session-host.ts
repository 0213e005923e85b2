import type { BusWriter, Keys, ProgressEntry, SessionJobData, SessionRecords, SessionState } from '@rtv/bus';
import { type BusLine, decodeBatch, encodeAckLine } from '@rtv/protocol';
import type { Logger } from '@rtv/service-kit';
import { DelayedError, type Job, type Queue } from 'bullmq';
import type { WorkerMetrics } from '../metrics.js';
import type { GatewaysAlive } from './gateway-liveness.js';
import { LeaseRecovery } from './lease-recovery.js';
import type { EndReason, SessionRunner } from './session-runner.js';

/** Whether this worker should take on new sessions now (an `EventLoopLagGuard` of `@rtv/service-kit`). */
export interface Intake {
  overloaded(): boolean;
}

/** What the host needs of a runner: the part of `SessionRunner` it drives. */
export type HostedRunner = Pick<
  SessionRunner,
  | 'state'
  | 'sid'
  | 'appliedSeq'
  | 'ackableSeq'
  | 'savedSeq'
  | 'done'
  | 'start'
  | 'apply'
  | 'detach'
  | 'resume'
  | 'resendAfter'
  | 'reclaim'
  | 'end'
  | 'uncommittedTurnBytes'
>;

/** The part of a BullMQ job the processor uses. */
export type SessionJob = Pick<Job<SessionJobData>, 'data' | 'moveToDelayed' | 'attemptsStarted'>;

export interface SessionHostDeps {
  workerId: string;
  keys: Keys;
  records: SessionRecords;
  writer: BusWriter;
  metrics: WorkerMetrics;
  log: Logger;
  /** Whether the gateways a session is bound to still beat (see `gatewayLiveness`). */
  gatewaysAlive: GatewaysAlive;
  /** Builds the runner of a session this worker has just claimed. */
  createRunner: (state: SessionState) => HostedRunner;
  /** How often applied client seqs are saved and acknowledged (`RTV_PROGRESS_INTERVAL_MS`). */
  progressIntervalMs: number;
  /**
   * Re-creates this worker's in-stream if Redis lost it (`StreamReader.maintain`). Awaited before a parked
   * session is re-adopted: its bind makes the gateway replay the frames it holds, which must find the stream.
   */
  ensureInStream?: () => Promise<unknown>;
  /** The session queue (same name and prefix as the BullMQ worker): a lost lease's job is put back here. */
  queue: Queue<SessionJobData>;
  /** How long a session whose lease was lost keeps running while it is claimed again (`RTV_LEASE_RECOVERY_MS`). */
  leaseRecoveryMs: number;
  /** Says when this worker is too busy to take on a new session (an `EventLoopLagGuard`); without it, never. */
  intake?: Intake;
  /** How long a deferred new session waits before it is offered again, before jitter. @defaultValue 500 */
  deferMs?: number;
}

/** Deferrals remembered (to tell a deferred new session from a takeover when it comes back) at most this long. */
const DEFERRAL_MEMORY_MS = 60_000;

/** A session whose applied seq moved since its last save, with the seq being saved now. */
type MovedSession = ProgressEntry & { runner: HostedRunner };

/**
 * Owns the session runners of this worker process (DESIGN §4–5): routes the gateway lines of its in-stream to
 * them, runs each claimed session for as long as its BullMQ job (its lease) is active, saves and acknowledges
 * progress for all of them on one timer, keeps sessions whose lease lapsed in a Redis outage until it is
 * re-established (a {@link LeaseRecovery}), lets go of sessions a newer owner took, detaches sessions whose
 * gateway died, and hands every session over when the worker drains.
 *
 * The BullMQ processor ({@link runJob}) lives here rather than in a queue module: the job is the lease, so its
 * lifetime is the session's lifetime here, and a hand-off is one ordered step of the session's end — save the
 * runner's applied seq in its record, then put the job back (`moveToDelayed` + `DelayedError`) — that needs
 * the runner and the records together. The queue wiring (lease timings, events) is in `session-queue.ts`.
 */
export class SessionHost {
  private readonly runners = new Map<string, HostedRunner>();
  /** Sessions whose job's processor call is running in this worker (one call per job id at a time). */
  private readonly processing = new Set<string>();
  /** New sessions this worker deferred, and when: a deferred job comes back as a later attempt. */
  private readonly deferred = new Map<string, number>();
  private readonly recovery: LeaseRecovery;
  private progressTimer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: SessionHostDeps) {
    this.recovery = new LeaseRecovery({
      ...deps,
      settleMs: deps.progressIntervalMs,
      boundMs: deps.leaseRecoveryMs,
    });
  }

  /** Sessions this worker runs now. */
  count(): number {
    return this.runners.size;
  }

  /** Bytes of the user turns in progress its sessions keep for a fresh provider session (for the gauge). */
  uncommittedTurnBytes(): number {
    let bytes = 0;
    for (const runner of this.runners.values()) bytes += runner.uncommittedTurnBytes();
    return bytes;
  }

  /** One batch of gateway lines from this worker's in-stream; lines for sessions not held here are ignored. */
  onBatch(batch: Buffer, entryId: string): void {
    const ageS = entryAgeSeconds(entryId);
    // Every client frame of the batch took the same path: one record counts them all.
    let frames = 0;
    decodeBatch(
      batch,
      (line) => {
        if (line.op === 'F') frames++;
        this.applyLine(line);
      },
      (_raw, why) => this.deps.log.warn({ why }, 'malformed bus line skipped'),
    );
    if (frames > 0 && ageS >= 0) this.deps.metrics.framePath.record(ageS, frames);
  }

  /**
   * The BullMQ processor: claims the session (a new epoch) and runs it while the job is its lease. Resolves
   * with the end reason (`gone` when the record no longer exists), or `lease_lost` as soon as the lease is
   * lost and the runner is parked (it runs on; see {@link onLockRenewalFailed}); a hand-off puts the job back
   * for another worker and throws BullMQ's `DelayedError`. A session this worker holds parked is re-adopted:
   * the same runner, with the new epoch, and no second provider session.
   */
  async runJob(job: SessionJob, token?: string): Promise<string> {
    const sid = job.data.sid;
    if (this.processing.has(sid)) return this.waitForOlderCall(job, token);
    if (this.shouldDefer(job)) return this.deferStart(job, token);
    this.deferred.delete(sid);
    this.processing.add(sid);
    try {
      const claimed = await this.deps.records.claim(sid, this.deps.workerId);
      if (!claimed) return 'gone';
      // A record re-created after Redis lost it may not say when the session began; the job always does.
      if (!claimed.createdMs) claimed.createdMs = job.data.createdMs;
      if (this.recovery.holds(sid)) await this.deps.ensureInStream?.().catch(() => undefined);
      const runner = this.recovery.reclaim(claimed) ?? this.adopt(await this.checkGateway(claimed));
      const outcome = await Promise.race([runner.done, this.recovery.untilParked(runner)]);
      if (outcome === 'handoff') return this.handOff(runner, job, token);
      return outcome === 'parked' ? 'lease_lost' : outcome;
    } finally {
      this.processing.delete(sid);
    }
  }

  /**
   * Whether to put a job back rather than start its session now: only a session that never ran (its job's first
   * attempt, or one this worker deferred before), and only while the worker is overloaded. A session that ran
   * somewhere already (a takeover after a worker died, a hand-off, a re-claim) is a call in progress: it is
   * always taken.
   */
  private shouldDefer(job: SessionJob): boolean {
    const { intake } = this.deps;
    if (!intake?.overloaded() || this.recovery.holds(job.data.sid)) return false;
    return (job.attemptsStarted ?? 0) <= 1 || this.deferred.has(job.data.sid);
  }

  /**
   * Puts a new session's job back for about `deferMs` (with jitter, so deferred sessions do not come back
   * together): this worker, once it caught up, or a less busy one takes it then. Nothing was claimed, so the
   * session has no owner meanwhile and its gateway keeps its frames.
   */
  private async deferStart(job: SessionJob, token: string | undefined): Promise<never> {
    const now = Date.now();
    if (this.deferred.size > 1000) {
      for (const [sid, at] of this.deferred) if (now - at > DEFERRAL_MEMORY_MS) this.deferred.delete(sid);
    }
    this.deferred.set(job.data.sid, now);
    this.deps.metrics.sessionStartsDeferred.inc();
    const base = this.deps.deferMs ?? 500;
    await job.moveToDelayed(now + base / 2 + Math.random() * base, token);
    throw new DelayedError();
  }

  /**
   * A job for a session whose older job this worker still processes: Redis lost the old job and someone put it
   * back (the gateway's recovery, or the stalled check) before this worker noticed the lost lock. BullMQ tracks
   * locks by job id, so the two calls must not overlap (the older one's end would stop renewing the new lock):
   * the runner is parked now, which ends the older call, and the new job waits one progress interval in the
   * delayed set; when it comes back this worker re-adopts the parked runner.
   */
  private async waitForOlderCall(job: SessionJob, token: string | undefined): Promise<never> {
    const runner = this.runners.get(job.data.sid);
    if (runner && !this.recovery.isParked(runner)) this.recovery.park(runner);
    await job.moveToDelayed(Date.now() + this.deps.progressIntervalMs, token);
    throw new DelayedError();
  }

  /**
   * BullMQ could not renew these jobs' locks (Redis lost them, or was away longer than the lease). The
   * sessions are parked, not ended: their processor calls return so BullMQ lets go of the old jobs, while the
   * runners and their provider connections stay, still getting their client frames (nobody newer owns them
   * yet), until this worker claims them again or learns that another worker did (see {@link LeaseRecovery}).
   */
  onLockRenewalFailed(jobIds: readonly string[]): void {
    for (const sid of jobIds) {
      const runner = this.runners.get(sid);
      if (runner) this.recovery.park(runner);
    }
  }

  /**
   * The progress tick (DESIGN §4.1): saves the applied seq of every session that moved, in one pipeline, then
   * acknowledges it to the session's gateway (so it can drop replay data). A session a newer owner took ends
   * with `lease_lost`. Idle sessions cost nothing.
   */
  async saveProgress(): Promise<void> {
    const moved = this.movedSessions();
    if (moved.length === 0) return;
    let lost: string[];
    try {
      lost = await this.deps.records.saveProgress(moved);
    } catch (err) {
      this.deps.log.warn({ err: (err as Error).message }, 'progress write failed');
      return;
    }
    this.settleProgress(moved, new Set(lost));
  }

  /**
   * Runs {@link saveProgress} and a lease-recovery step for parked sessions every `progressIntervalMs` until
   * {@link stopProgressTimer}.
   */
  startProgressTimer(): void {
    if (this.progressTimer) return;
    this.progressTimer = setInterval(() => {
      void this.saveProgress();
      this.recovery.tick();
    }, this.deps.progressIntervalMs);
    this.progressTimer.unref();
  }

  stopProgressTimer(): void {
    clearInterval(this.progressTimer);
    this.progressTimer = undefined;
  }

  /**
   * Sessions whose gateway stopped beating (it was killed, not drained) start their resume grace here: a
   * client that reconnects elsewhere resumes them, otherwise they end instead of holding a provider socket.
   * Their records are marked detached too (the dead gateway could not), since a token alone resumes only a
   * detached session.
   */
  async detachFromDeadGateways(): Promise<void> {
    const byGateway = this.runnersByGateway();
    if (byGateway.size === 0) return;
    const gatewayIds = [...byGateway.keys()];
    const alive = await this.deps.gatewaysAlive(gatewayIds);
    gatewayIds.forEach((gid, i) => {
      if (alive[i] !== false) return;
      for (const runner of byGateway.get(gid) ?? []) {
        runner.detach(gid);
        runner.state.clientAttached = false;
        this.markDetached(runner.sid, gid);
      }
    });
  }

  /** Records that the client of `sid` at the dead gateway `gatewayId` is gone (unless it attached elsewhere). */
  private markDetached(sid: string, gatewayId: string): void {
    this.deps.records.markDetached(sid, { gatewayId }).catch((err: Error) => {
      this.deps.log.warn({ sid, err: err.message }, 'could not mark the session detached');
    });
  }

  /**
   * Draining: ends every session with `handoff`; each job then saves its progress and goes back to the queue
   * for the other workers (DESIGN §5). Stop taking jobs first.
   */
  handOffAll(): void {
    this.deps.log.info({ sessions: this.runners.size }, 'draining: handing sessions over');
    for (const runner of this.runners.values()) runner.end('handoff');
  }

  private applyLine(line: BusLine): void {
    switch (line.op) {
      case 'F':
        this.runners.get(line.sid)?.apply(line.seq, line.kind, line.payload);
        return;
      case 'E':
        this.runners.get(line.sid)?.end(line.reason === 'client_gone' ? 'client_gone' : 'client_closed');
        return;
      case 'D':
        this.routeDetach(line.sid, line.gid);
        return;
      case 'R':
        this.routeResume(line.sid, line.gid, line.lastSeq);
        return;
      case 'S':
        this.runners.get(line.sid)?.resendAfter(line.gid, line.afterSeq);
        return;
      default:
        return;
    }
  }

  /** The client's socket at `gatewayId` dropped; the held state follows (a restored record says so too). */
  private routeDetach(sid: string, gatewayId: string): void {
    const runner = this.runners.get(sid);
    if (!runner) return;
    runner.detach(gatewayId);
    if (gatewayId === runner.state.gatewayId) runner.state.clientAttached = false;
  }

  private routeResume(sid: string, gatewayId: string, lastSeq: number): void {
    const runner = this.runners.get(sid);
    if (!runner) return;
    runner.resume(gatewayId, lastSeq);
    runner.state.clientAttached = true;
  }

  /**
   * A newly claimed session whose gateway is gone (a whole-stack restart, a gateway that died) has no client
   * to bind to: it starts detached and ends after the resume grace unless its client resumes elsewhere.
   */
  private async checkGateway(state: SessionState): Promise<SessionState> {
    if (!state.clientAttached) return state;
    const [alive] = await this.deps.gatewaysAlive([state.gatewayId]);
    if (alive === false) {
      state.clientAttached = false;
      this.markDetached(state.sid, state.gatewayId);
    }
    return state;
  }

  /**
   * Registers and starts the runner of a claimed session (replacing one this worker still held and did not
   * park: the newer claim wins).
   */
  private adopt(state: SessionState): HostedRunner {
    const { metrics } = this.deps;
    // This worker may take back a session whose lease it lost (a stall): the newer claim wins here too.
    this.runners.get(state.sid)?.end('lease_lost');
    const runner = this.deps.createRunner(state);
    this.runners.set(state.sid, runner);
    metrics.sessions.set(this.runners.size);
    metrics.sessionsStarted.inc({ kind: state.epoch > 1 ? 'takeover' : 'new' });
    this.deps.log.info({ sid: state.sid, userId: state.userId, epoch: state.epoch }, 'session claimed');
    void runner.start();
    void this.untilEnded(runner, performance.now());
    return runner;
  }

  /**
   * Waits for the session to end here — across any number of lost and re-established leases — then forgets
   * it and, unless it goes on elsewhere (hand-off, lease lost), deletes its record.
   */
  private async untilEnded(runner: HostedRunner, startedAt: number): Promise<void> {
    const { metrics, log } = this.deps;
    const sid = runner.sid;
    const reason: EndReason = await runner.done;
    this.recovery.forget(runner);
    metrics.sessionDuration.observe((performance.now() - startedAt) / 1000);
    if (this.runners.get(sid) === runner) this.runners.delete(sid);
    metrics.sessions.set(this.runners.size);
    metrics.sessionsEnded.inc({ reason });
    log.info({ sid, reason }, 'session ended here');
    if (reason === 'handoff' || reason === 'lease_lost') return;
    await this.deps.records
      .remove(sid)
      .catch((err: Error) => log.warn({ sid, err: err.message }, 'session cleanup failed'));
  }

  /**
   * Persists what was applied, then puts the job back so another worker claims it (epoch + 1). The gateway
   * replays whatever is not acknowledged; the next owner drops what is.
   */
  private async handOff(runner: HostedRunner, job: SessionJob, token: string | undefined): Promise<never> {
    const { metrics } = this.deps;
    try {
      await this.deps.records.saveProgress([
        { state: runner.state, seq: runner.ackableSeq, workerId: this.deps.workerId },
      ]);
      await job.moveToDelayed(Date.now(), token);
      metrics.handoffs.inc({ result: 'ok' });
    } catch (err) {
      metrics.handoffs.inc({ result: 'failed' });
      throw err;
    }
    throw new DelayedError();
  }

  /** Sessions to save; parked ones are left to the lease recovery (their epoch is about to be superseded). */
  private movedSessions(): MovedSession[] {
    const moved: MovedSession[] = [];
    for (const runner of this.runners.values()) {
      if (this.recovery.isParked(runner)) continue;
      const seq = runner.ackableSeq;
      if (seq > runner.savedSeq) {
        moved.push({ state: runner.state, seq, workerId: this.deps.workerId, runner });
      }
    }
    return moved;
  }

  /** After a progress write: acknowledges what was saved, lets go of the sessions a newer owner took. */
  private settleProgress(moved: readonly MovedSession[], lost: ReadonlySet<string>): void {
    const { keys, writer, metrics, log } = this.deps;
    for (const { state, seq, runner } of moved) {
      if (lost.has(state.sid)) {
        metrics.leaseLost.inc();
        log.warn({ sid: state.sid, epoch: state.epoch }, 'a newer owner took the session: letting go');
        runner.end('lease_lost');
        continue;
      }
      runner.savedSeq = Math.max(runner.savedSeq, seq);
      writer.write(keys.gatewayOut(state.gatewayId), encodeAckLine(state.sid, state.epoch, seq));
    }
  }

  private runnersByGateway(): Map<string, HostedRunner[]> {
    const byGateway = new Map<string, HostedRunner[]>();
    for (const runner of this.runners.values()) {
      const list = byGateway.get(runner.state.gatewayId) ?? [];
      list.push(runner);
      byGateway.set(runner.state.gatewayId, list);
    }
    return byGateway;
  }
}

/** Seconds since the gateway wrote a stream entry (its id starts with the write time in ms); -1 if unknown. */
function entryAgeSeconds(entryId: string): number {
  const writtenMs = Number(entryId.slice(0, entryId.indexOf('-')));
  return writtenMs > 0 ? Math.max(0, Date.now() - writtenMs) / 1000 : -1;
}
