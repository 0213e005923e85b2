import type { SessionRecords, StreamReader } from '@rtv/bus';
import { DEFAULT_SESSION_CONFIG } from '@rtv/protocol';
import type { Logger } from '@rtv/service-kit';
import type { GatewayMetrics } from '../metrics.js';
import type { ClientSession } from './client-session.js';
import type { ClientSessionRegistry } from './session-registry.js';
import type { SessionRouter } from './session-router.js';
import type { SessionStore } from './session-store.js';

/** What the recovery asks of the connection layer (`SessionLifecycle`) when it is done with a session. */
export interface RecoveryEndings {
  /** The normal detach of a session whose socket closed meanwhile: the owner's `D` line, the record marked. */
  detach(session: ClientSession): void;
  /** The session did not run again in time: `session_recovery_failed`, then close 1013 (the client resumes). */
  fail(session: ClientSession): void;
}

export interface SessionRecoveryDeps {
  gatewayId: string;
  registry: ClientSessionRegistry;
  store: Pick<SessionStore, 'ensureJob'> & { readonly records: Pick<SessionRecords, 'restoreClientSide'> };
  reader: Pick<StreamReader, 'maintain'>;
  router: Pick<SessionRouter, 'resendUnackedOf' | 'watchBinds' | 'requestResume'>;
  endings: RecoveryEndings;
  metrics: GatewayMetrics;
  log: Logger;
  /** `RTV_REDIS_RECOVERY_MS`: how long sessions may take to run again once Redis answers. */
  boundMs: number;
  /** Pause before a failed step (Redis flapping) is tried again. @defaultValue 250 */
  retryMs?: number;
}

/** One session that lived through the outage and does not run again yet. */
interface Waiting {
  /** Its owner's epoch when the outage began: a bind with a newer one means it runs again. */
  epochAtOutage: number;
  /** Its socket closed meanwhile: it stays registered, with its frames, until it runs again. */
  held: boolean;
}

/** Gauges are sampled this often while sessions wait (frames keep arriving on the open ones). */
const SAMPLE_MS = 1000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Gets the sessions that were live on this gateway through a Redis outage running again (DESIGN §5, "Redis
 * restart"). Redis may come back empty: then nobody but this gateway knows the client side of each record and
 * that the session needs a job. So once Redis answers, the out-stream is re-created first (binds must be able
 * to reach us), then every registered session's record is restored with what the gateway knows, its job made
 * to exist again, and its unacknowledged frames re-sent to the owner it had.
 *
 * A session runs again when a bind with an epoch newer than the one it had when the outage began arrives (the
 * worker re-claimed it; the router's bind replays the unacknowledged frames), or when its lease was never
 * lost (the job is active, the record names the same owner and epoch). A session that does not within
 * `boundMs` of Redis answering gets `session_recovery_failed` and close 1013. Restore calls that fail (Redis
 * flapping) are retried until then. The bound runs from the first `start` after an outage; a flap neither
 * resets nor extends it.
 *
 * Nothing accepted is lost when a socket closes meanwhile: {@link holdClosed} keeps its session registered
 * with its frames, and the normal detach follows once it runs again (its frames reached the owner first) or
 * once the bound passes (its frames are given up, counted and logged). Until then the record says attached,
 * so a resume gets `session_in_use` and retries, which keeps the old frames ahead of the new connection's.
 */
export class SessionRecovery {
  private readonly waiting = new Map<ClientSession, Waiting>();
  private redisDown = false;
  /** The bound of the recovery under way (undefined: none). */
  private deadline: NodeJS.Timeout | undefined;
  /** Counts restore passes; a pass stops when a newer one starts or the bound passes. */
  private pass = 0;
  private restoring = false;
  private sampler: NodeJS.Timeout | undefined;
  /** Set by {@link dispose}: the gateway is going, sessions are no longer kept. */
  private stopped = false;
  private readonly retryMs: number;

  constructor(private readonly deps: SessionRecoveryDeps) {
    this.retryMs = deps.retryMs ?? 250;
    deps.router.watchBinds((session) => this.onBind(session));
  }

  /** Redis became unreachable: every session registered now must run again once it is back. */
  beginOutage(): void {
    if (this.stopped) return;
    this.redisDown = true;
    for (const session of this.deps.registry.values()) this.track(session);
    this.sample();
  }

  /** Redis answers again: restore what it may have lost, and give the sessions `boundMs` to run again. */
  start(): void {
    this.redisDown = false;
    if (this.stopped) return;
    for (const session of this.deps.registry.values()) this.track(session);
    if (this.deadline === undefined) {
      this.deadline = setTimeout(() => this.expire(), this.deps.boundMs);
      this.deadline.unref();
    }
    const pass = ++this.pass;
    this.restoring = true;
    void this.recover(pass).finally(() => {
      if (pass !== this.pass) return;
      this.restoring = false;
      this.finishIfDone();
    });
  }

  /**
   * A socket closed with a resumable code. While Redis is down or the session does not run again yet, the
   * session is kept (registered, its frames in the ring) and detached later; returns false when the caller
   * should detach it now.
   */
  holdClosed(session: ClientSession): boolean {
    if (this.stopped) return false;
    if (this.redisDown) this.track(session);
    const entry = this.waiting.get(session);
    if (!entry) return false;
    entry.held = true;
    this.deps.log.info(
      { sid: session.sid, frames: session.unackedCount() },
      'socket closed during a Redis outage: session kept until it runs again',
    );
    this.sample();
    return true;
  }

  /** Whether `session` is waiting to run again (its bind timer must not end it meanwhile: the bound will). */
  waitsFor(session: ClientSession): boolean {
    return this.waiting.has(session);
  }

  /**
   * Stops recovering (shutdown, before the sockets are closed; tests): nothing waits any more, and a socket
   * that closes from now on is detached at once. Sessions already held are left to `closeAll`.
   */
  dispose(): void {
    this.stopped = true;
    for (const session of this.waiting.keys()) session.forwardHeld = false;
    this.waiting.clear();
    clearTimeout(this.deadline);
    this.deadline = undefined;
    this.pass++;
    this.restoring = false;
    this.stopSampler();
  }

  private track(session: ClientSession): void {
    if (this.waiting.has(session)) return;
    this.waiting.set(session, { epochAtOutage: session.epoch, held: false });
    // Writes during the outage may be lost; new frames wait in the ring until it is replayed in order.
    session.forwardHeld = true;
    if (this.sampler === undefined) {
      this.sampler = setInterval(() => this.sample(), SAMPLE_MS);
      this.sampler.unref();
    }
  }

  /** The out-stream first (a bind must be able to reach us), then every session's record, job and frames. */
  private async recover(pass: number): Promise<void> {
    if (!(await this.retry(pass, 'out-stream', () => this.deps.reader.maintain()))) return;
    const sessions = this.deps.registry.snapshot();
    await Promise.all(sessions.map((s) => this.retry(pass, s.sid, () => this.restore(s, pass))));
  }

  /** Runs `step` until it succeeds; false when the pass ended first (the bound passed, or a newer pass). */
  private async retry(pass: number, what: string, step: () => Promise<unknown>): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      if (pass !== this.pass) return false;
      try {
        await step();
        return true;
      } catch (err) {
        // Once per step at warn: a flapping Redis would otherwise log a line per session every retry.
        const log = attempt === 1 ? this.deps.log.warn : this.deps.log.debug;
        log.call(
          this.deps.log,
          { what, attempt, err: (err as Error).message },
          'recovery step failed; retrying',
        );
        await sleep(this.retryMs);
      }
    }
  }

  /**
   * Puts back what the gateway knows of one session, makes its job exist, and settles it if its lease was
   * never lost (its unacknowledged frames then go to the owner, oldest first; a bind replays them otherwise). The record says attached for a held session
   * too: the gateway still speaks for it until its frames are through (then the normal detach marks it).
   */
  private async restore(session: ClientSession, pass: number): Promise<void> {
    const { registry, store, gatewayId } = this.deps;
    if (!registry.holds(session)) return;
    const record = await store.records.restoreClientSide(session.sid, {
      userId: session.userId,
      gatewayId,
      createdMs: session.createdAt,
      generation: session.generation,
      attached: true,
      epoch: session.epoch,
      config: session.config ?? DEFAULT_SESSION_CONFIG,
    });
    const data = { sid: session.sid, userId: session.userId, gatewayId, createdMs: session.createdAt };
    const job = await store.ensureJob(data);
    if (pass !== this.pass || !registry.holds(session)) return;
    const leaseKept =
      !record.created &&
      session.owner !== undefined &&
      record.owner === session.owner &&
      record.epoch === session.epoch &&
      job.state === 'active' &&
      job.locked;
    if (leaseKept) this.settle(session, 'lease kept');
    else if (record.owner !== undefined && record.epoch > session.epoch && job.state === 'active') {
      await this.askForBind(session, record.owner);
    }
  }

  /**
   * The owner re-claimed the session before this gateway's out-stream was back, so its bind went nowhere (writers
   * never create a stream). Ask it to bind again and replay what this socket missed, as a resume at this gateway
   * does; throwing until the bind arrives makes {@link retry} ask again (the owner's in-stream may be missing too).
   */
  private async askForBind(session: ClientSession, owner: string): Promise<void> {
    this.deps.router.requestResume(owner, session.sid, this.deps.gatewayId, session.deliveredSeq);
    await sleep(this.retryMs * 4);
    if (this.waiting.has(session) && this.deps.registry.holds(session)) {
      throw new Error('the owner has not bound the session here yet');
    }
  }

  private onBind(session: ClientSession): void {
    const entry = this.waiting.get(session);
    if (entry && session.epoch > entry.epochAtOutage) this.settle(session, 'bound');
  }

  /** The session runs again: a held one is detached now that its frames were sent to the owner. */
  private settle(session: ClientSession, how: string): void {
    const entry = this.waiting.get(session);
    if (!entry) return;
    this.waiting.delete(session);
    session.forwardHeld = false;
    // A bind replayed the ring already; a kept lease gets it now, oldest first, before any new frame.
    if (how === 'lease kept') this.deps.router.resendUnackedOf(session);
    this.deps.metrics.sessionRecoveries.inc({ result: 'reestablished' });
    this.deps.log.info(
      { sid: session.sid, how, owner: session.owner, epoch: session.epoch, held: entry.held },
      'session re-established after a Redis outage',
    );
    if (entry.held) this.deps.endings.detach(session);
    this.sample();
    this.finishIfDone();
  }

  /** The bound passed: every session still waiting is told (open) or detached with its frames given up (held). */
  private expire(): void {
    this.deadline = undefined;
    this.pass++;
    this.restoring = false;
    this.prune();
    const failed = [...this.waiting];
    this.waiting.clear();
    let givenUp = 0;
    for (const [session, entry] of failed) {
      session.forwardHeld = false;
      const frames = session.unackedCount();
      givenUp += frames;
      this.deps.metrics.sessionRecoveries.inc({ result: 'failed' });
      this.deps.log.warn(
        { sid: session.sid, frames, held: entry.held },
        'session not re-established in time after a Redis outage; its unacknowledged frames are given up',
      );
      if (entry.held) this.deps.endings.detach(session);
      else this.deps.endings.fail(session);
    }
    this.deps.metrics.recoveryFramesGivenUp.inc(givenUp);
    this.sample();
    this.finishIfDone();
  }

  /** Ends the recovery once every session settled and the restore pass is through. */
  private finishIfDone(): void {
    this.prune();
    if (this.waiting.size > 0 || this.restoring) return;
    clearTimeout(this.deadline);
    this.deadline = undefined;
    this.stopSampler();
  }

  /**
   * Forgets sessions that left the registry meanwhile: ended by the client (1000), never bound and closed, or
   * taken over by a resume. A held one's frames are given up with it.
   */
  private prune(): void {
    for (const [session, entry] of this.waiting) {
      if (this.deps.registry.holds(session)) continue;
      this.waiting.delete(session);
      session.forwardHeld = false;
      if (entry.held) this.deps.metrics.recoveryFramesGivenUp.inc(session.unackedCount());
    }
  }

  private sample(): void {
    this.prune();
    let open = 0;
    let held = 0;
    let frames = 0;
    for (const [session, entry] of this.waiting) {
      if (entry.held) held++;
      else open++;
      frames += session.unackedCount();
    }
    const { metrics } = this.deps;
    metrics.recoveringSessions.set({ socket: 'open' }, open);
    metrics.recoveringSessions.set({ socket: 'closed' }, held);
    metrics.recoveringFrames.set(frames);
  }

  private stopSampler(): void {
    clearInterval(this.sampler);
    this.sampler = undefined;
  }
}
