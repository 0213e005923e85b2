import type { BusWriter, Keys, ProgressEntry, SessionJobData, SessionRecords, SessionState } from '@rtv/bus';
import { type BusLine, decodeBatch, encodeAckLine } from '@rtv/protocol';
import type { Logger } from '@rtv/service-kit';
import { DelayedError, type Job } from 'bullmq';
import type { WorkerMetrics } from '../metrics.js';
import type { GatewaysAlive } from './gateway-liveness.js';
import type { EndReason, SessionRunner } from './session-runner.js';

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
  | 'end'
>;

/** The part of a BullMQ job the processor uses. */
export type SessionJob = Pick<Job<SessionJobData>, 'data' | 'moveToDelayed'>;

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
}

/** A session whose applied seq moved since its last save, with the seq being saved now. */
type MovedSession = ProgressEntry & { runner: HostedRunner };

/**
 * Owns the session runners of this worker process (DESIGN §4–5): routes the gateway lines of its in-stream to
 * them, runs each claimed session for as long as its BullMQ job (its lease) is active, saves and acknowledges
 * progress for all of them on one timer, lets go of sessions whose lease is lost, detaches sessions whose
 * gateway died, and hands every session over when the worker drains.
 *
 * The BullMQ processor ({@link runJob}) lives here rather than in a queue module: the job is the lease, so its
 * lifetime is the session's lifetime here, and a hand-off is one ordered step of the session's end — save the
 * runner's applied seq in its record, then put the job back (`moveToDelayed` + `DelayedError`) — that needs
 * the runner and the records together. The queue wiring (lease timings, events) is in `session-queue.ts`.
 */
export class SessionHost {
  private readonly runners = new Map<string, HostedRunner>();
  private progressTimer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: SessionHostDeps) {}

  /** Sessions this worker runs now. */
  count(): number {
    return this.runners.size;
  }

  /** One batch of gateway lines from this worker's in-stream; lines for sessions not held here are ignored. */
  onBatch(batch: Buffer, entryId: string): void {
    const ageS = entryAgeSeconds(entryId);
    decodeBatch(
      batch,
      (line) => this.applyLine(line, ageS),
      (_raw, why) => this.deps.log.warn({ why }, 'malformed bus line skipped'),
    );
  }

  /**
   * The BullMQ processor: claims the session (a new epoch), runs it until it ends, then cleans up. Resolves
   * with the end reason (`gone` when the record no longer exists); a hand-off puts the job back for another
   * worker and throws BullMQ's `DelayedError`.
   */
  async runJob(job: SessionJob, token?: string): Promise<string> {
    const state = await this.claim(job.data.sid);
    if (!state) return 'gone';
    // A record re-created after Redis lost it may not say when the session began; the job always does.
    if (!state.createdMs) state.createdMs = job.data.createdMs;
    const runner = this.adopt(state);
    const reason = await this.runToEnd(runner);
    if (reason === 'handoff') return this.handOff(runner, job, token);
    if (reason !== 'lease_lost') {
      await this.deps.records
        .remove(state.sid)
        .catch((err: Error) =>
          this.deps.log.warn({ sid: state.sid, err: err.message }, 'session cleanup failed'),
        );
    }
    return reason;
  }

  /**
   * BullMQ could not renew these jobs' locks: the leases may already be someone else's, so those sessions go
   * now rather than at the next progress write (an idle session would never make one).
   */
  onLockRenewalFailed(jobIds: readonly string[]): void {
    for (const sid of jobIds) {
      const runner = this.runners.get(sid);
      if (!runner) continue;
      this.deps.metrics.leaseLost.inc();
      this.deps.log.warn({ sid }, 'session lease could not be renewed: letting go');
      runner.end('lease_lost');
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

  /** Runs {@link saveProgress} every `progressIntervalMs` until {@link stopProgressTimer}. */
  startProgressTimer(): void {
    if (this.progressTimer) return;
    this.progressTimer = setInterval(() => void this.saveProgress(), this.deps.progressIntervalMs);
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

  private applyLine(line: BusLine, ageS: number): void {
    switch (line.op) {
      case 'F':
        if (ageS >= 0) this.deps.metrics.framePath.observe(ageS);
        this.runners.get(line.sid)?.apply(line.seq, line.kind, line.payload);
        return;
      case 'E':
        this.runners.get(line.sid)?.end(line.reason === 'client_gone' ? 'client_gone' : 'client_closed');
        return;
      case 'D':
        this.runners.get(line.sid)?.detach(line.gid);
        return;
      case 'R':
        this.runners.get(line.sid)?.resume(line.gid, line.lastSeq);
        return;
      default:
        return;
    }
  }

  /**
   * Takes the session's record for this worker. A session whose gateway is gone (a whole-stack restart, a
   * gateway that died) has no client to bind to: it starts detached and ends after the resume grace unless
   * its client resumes elsewhere.
   */
  private async claim(sid: string): Promise<SessionState | undefined> {
    const state = await this.deps.records.claim(sid, this.deps.workerId);
    if (!state) return undefined;
    if (state.clientAttached) {
      const [alive] = await this.deps.gatewaysAlive([state.gatewayId]);
      if (alive === false) {
        state.clientAttached = false;
        this.markDetached(sid, state.gatewayId);
      }
    }
    return state;
  }

  /** Registers the runner of a claimed session (replacing one this worker still held: the newer claim wins). */
  private adopt(state: SessionState): HostedRunner {
    const { metrics } = this.deps;
    // This worker may take back a session whose lease it lost (a stall): the newer claim wins here too.
    this.runners.get(state.sid)?.end('lease_lost');
    const runner = this.deps.createRunner(state);
    this.runners.set(state.sid, runner);
    metrics.sessions.set(this.runners.size);
    metrics.sessionsStarted.inc({ kind: state.epoch > 1 ? 'takeover' : 'new' });
    this.deps.log.info({ sid: state.sid, userId: state.userId, epoch: state.epoch }, 'session claimed');
    return runner;
  }

  /** Starts the runner and waits for it to end, then forgets it. */
  private async runToEnd(runner: HostedRunner): Promise<EndReason> {
    const { metrics } = this.deps;
    const sid = runner.sid;
    void runner.start();
    const startedAt = performance.now();
    const reason = await runner.done;
    metrics.sessionDuration.observe((performance.now() - startedAt) / 1000);
    if (this.runners.get(sid) === runner) this.runners.delete(sid);
    metrics.sessions.set(this.runners.size);
    metrics.sessionsEnded.inc({ reason });
    this.deps.log.info({ sid, reason }, 'session ended here');
    return reason;
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

  private movedSessions(): MovedSession[] {
    const moved: MovedSession[] = [];
    for (const runner of this.runners.values()) {
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
