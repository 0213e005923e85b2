import {
  ConnectionRateLimiter,
  type ConnectionRateLimits,
  FloodGuard,
  type UserConnectionLimiter,
} from '@rtv/auth';
import type { AttachRefusal, AttachResult, SessionRecords, TokenBudgets } from '@rtv/bus';
import {
  CLIENT_SEQ_GENERATION_STRIDE,
  CloseCode,
  closeCodeInfo,
  DEFAULT_SESSION_CONFIG,
  ErrorCode,
} from '@rtv/protocol';
import type { Logger } from '@rtv/service-kit';
import { type GatewayMetrics, serverFrameType } from '../metrics.js';
import {
  type ClientSession,
  type ClientSessionLimits,
  closeClientSocket,
  evictClientSocket,
  type ResumeRequest,
} from '../routing/client-session.js';
import type { ResumeBinding, ResumeTokens } from '../routing/resume-tokens.js';
import type { SessionRecovery } from '../routing/session-recovery.js';
import type { ClientSessionRegistry } from '../routing/session-registry.js';
import type { SessionRouter } from '../routing/session-router.js';
import type { SessionStore } from '../routing/session-store.js';

const NOT_ACCEPTING =
  'This gateway cannot take new sessions right now (draining, or its Redis is unreachable); retry later';

/** What the lifecycle uses of the session store (`SessionStore` in production). */
export type LifecycleStore = Pick<SessionStore, 'create' | 'discardUnbound'> & {
  readonly records: Pick<SessionRecords, 'attach' | 'markDetached' | 'revokeResume'>;
};

export interface SessionLifecycleDeps {
  gatewayId: string;
  router: SessionRouter;
  /** The sessions open on this gateway: the lifecycle registers (and supersedes), the router unregisters. */
  registry: ClientSessionRegistry;
  store: LifecycleStore;
  tokens: ResumeTokens;
  metrics: GatewayMetrics;
  log: Logger;
  sessionLimits: ClientSessionLimits;
  bindTimeoutMs: number;
  /** False while draining or while Redis is unreachable: new sockets are refused with 1013. */
  accepting: () => boolean;
  userLimiter: Pick<UserConnectionLimiter, 'release'>;
  connectionRate: ConnectionRateLimits;
  /** Longest a session may last, counted from its creation, resumes included (0 = unlimited). */
  maxSessionMs: number;
  /**
   * Keeps sessions whose socket closes during a Redis outage until they run again (`SessionRecovery`);
   * without it such a session is detached at once.
   */
  recovery?: Pick<SessionRecovery, 'holdClosed' | 'waitsFor'>;
  /** Token budgets of the OpenAI-compatible route (checked when a session opens). */
  budgets?: Pick<TokenBudgets, 'remaining'>;
}

const BUDGET_SPENT = 'The token budget for this period is spent; try again in the next period';
const RESUME_REFUSED = 'This session cannot be resumed: it is unknown, ended, expired or not yours';

/** What a token is checked against: the session, the user, the route and credential of this connection. */
function bindingOf(session: ClientSession): ResumeBinding {
  return { sid: session.sid, userId: session.userId, route: session.route, credential: session.credential };
}

/**
 * What happens to a session when its socket opens, resumes or closes (DESIGN §5): new sessions are created and
 * queued; a resuming client is re-attached here and the owner replays what it missed; a socket that closes
 * with 1000 ends the session, any other close detaches it for the resume grace period.
 */
export class SessionLifecycle {
  /** Session-store writes still in flight (awaited on shutdown so detaches are recorded). */
  private readonly inflight = new Set<Promise<unknown>>();

  private readonly lifetimeSweep: NodeJS.Timeout;

  constructor(private readonly deps: SessionLifecycleDeps) {
    // One sweep for every connection instead of a timer each: a timer object per idle socket would cost
    // more memory than the rest of its state. It enforces the maximum duration and credential expiry.
    this.lifetimeSweep = setInterval(
      () => this.endExpired(),
      deps.maxSessionMs > 0 ? Math.min(1000, Math.max(50, deps.maxSessionMs / 4)) : 1000,
    );
    this.lifetimeSweep.unref();
  }

  /** Stops the lifetime sweep (shutdown). */
  dispose(): void {
    clearInterval(this.lifetimeSweep);
  }

  /**
   * Ends sessions older than the maximum session duration, counted from the session's creation so resuming
   * does not extend it (session_expired, then close 4408), and connections whose access token has expired
   * (unauthorized, then close 4401: a new token is needed, so the client must not reconnect on its own).
   */
  private endExpired(): void {
    const now = Date.now();
    for (const session of this.deps.registry.values()) {
      if (session.closed) continue;
      const maxMs = session.maxDurationMs ?? this.deps.maxSessionMs;
      if (maxMs > 0 && session.createdAt <= now - maxMs) {
        this.deps.metrics.limitRejections.inc({ kind: 'session_duration' });
        this.fail(
          session,
          'session_expired',
          'The session reached its maximum duration',
          CloseCode.SessionTimeout,
        );
      } else if (session.credentialExpiresAt > 0 && now >= session.credentialExpiresAt) {
        this.fail(
          session,
          'unauthorized',
          'The access token expired; connect again with a fresh token',
          CloseCode.Unauthorized,
        );
      }
    }
  }

  /** Resolves when every session-store write started so far has finished. */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.inflight]);
  }

  send(session: ClientSession, text: string): void {
    if (session.closed || !session.ws) return;
    session.ws.send(text, false);
    const type = serverFrameType(text);
    this.deps.metrics.framesOut.inc({ type });
    this.deps.metrics.bytesOut.inc({ type }, Buffer.byteLength(text));
  }

  close(session: ClientSession, code: number, reason: string): void {
    closeClientSocket(session, code, reason);
  }

  openNew(session: ClientSession, route: string): void {
    const budget = session.config?.openai?.budget;
    if (budget && this.deps.budgets) {
      this.openWithinBudget(session, route, budget);
      return;
    }
    this.openNewNow(session, route);
  }

  /**
   * OpenAI-compatible sessions of a user whose token budget is spent are refused at open (`budget_exhausted`,
   * close 4000); the owner ends a live one once a response spends the rest.
   */
  private openWithinBudget(
    session: ClientSession,
    route: string,
    budget: { tokens: number; windowS: number },
  ): void {
    this.deps.budgets!.remaining(session.userId, budget).then(
      (left) => {
        if (session.closed) return;
        if (left > 0) {
          this.openNewNow(session, route);
          return;
        }
        this.deps.metrics.limitRejections.inc({ kind: 'token_budget' });
        this.fail(session, 'budget_exhausted', BUDGET_SPENT, CloseCode.SessionEnded);
      },
      (err: Error) => {
        this.deps.log.warn({ err: err.message }, 'token budget unavailable');
        this.deps.metrics.setupFailures.inc({ reason: 'storage' });
        if (!session.closed) this.refuse(session);
      },
    );
  }

  private openNewNow(session: ClientSession, route: string): void {
    const { deps } = this;
    if (!this.admit(session, route)) return;
    // Kept on the session too: if Redis loses the record, the recovery puts it back. The OpenAI-compatible
    // route has set its own (the provider session and the policy's limits) at upgrade. The default is one
    // frozen object shared by every session, not a copy each: idle connections are the gateway's memory.
    session.config ??= DEFAULT_SESSION_CONFIG;
    this.sendCreated(session, true);
    this.armBindTimer(session, true);
    deps.store
      .create(
        { sid: session.sid, userId: session.userId, gatewayId: deps.gatewayId, createdMs: session.openedAt },
        session.config,
      )
      .catch((err: Error) => {
        deps.log.error({ err: err.message, sid: session.sid }, 'could not create session');
        deps.metrics.setupFailures.inc({ reason: 'storage' });
        this.fail(
          session,
          'service_unavailable',
          'The session could not be created; try again later',
          CloseCode.TryAgainLater,
        );
      });
  }

  /**
   * A resume: the token must be bound to this session, user, route and credential kind and name the record's
   * current attach generation (each token works once). On the anonymous route the session must be detached (a
   * live socket is never taken over by a token alone: `session_in_use`, close 1013, and nothing changes); on the
   * authenticated route the verified credential of the same user may take it over from a live socket, which is
   * told and closed with 4409.
   */
  openResumed(session: ClientSession, resume: ResumeRequest, route: string): void {
    const { deps } = this;
    if (!deps.accepting()) {
      this.refuse(session);
      return;
    }
    const verdict = resume.valid
      ? deps.tokens.verify(resume.token, bindingOf(session))
      : ({ ok: false, reason: 'malformed' } as const);
    if (!verdict.ok) {
      deps.metrics.resumesRejected.inc({ reason: verdict.reason });
      this.fail(session, 'session_not_found', RESUME_REFUSED, CloseCode.SessionNotFound);
      return;
    }
    const request = {
      userId: session.userId,
      gatewayId: deps.gatewayId,
      generation: verdict.generation,
      takeOver: session.route === 'authenticated',
    };
    deps.store.records.attach(session.sid, request).then(
      (outcome) => this.onAttach(session, resume, route, outcome),
      (err: Error) => {
        deps.log.error({ err: err.message, sid: session.sid }, 'could not resume session');
        this.fail(
          session,
          'service_unavailable',
          'The session could not be resumed; try again later',
          CloseCode.TryAgainLater,
        );
      },
    );
  }

  /** The record's answer to a resume: take the session here, or tell the client why not. */
  private onAttach(
    session: ClientSession,
    resume: ResumeRequest,
    route: string,
    outcome: AttachResult | AttachRefusal,
  ): void {
    const { deps } = this;
    if (outcome.status === 'in_use') {
      deps.metrics.resumesRejected.inc({ reason: 'in_use' });
      this.fail(
        session,
        'session_in_use',
        'The session is still attached to another connection; retry shortly',
        CloseCode.TryAgainLater,
      );
      return;
    }
    if (outcome.status !== 'attached') {
      deps.metrics.resumesRejected.inc({ reason: outcome.status });
      this.fail(session, 'session_not_found', RESUME_REFUSED, CloseCode.SessionNotFound);
      return;
    }
    session.generation = outcome.generation;
    if (session.closed) {
      // Gone while the record moved here: record the drop so the session stays consistent (its grace runs on).
      this.markDetached(session, outcome.clientSeq);
      return;
    }
    this.evictPrevious(session);
    deps.metrics.connections.inc();
    deps.metrics.connectionsTotal.inc({ route });
    deps.registry.add(session);
    deps.metrics.resumes.inc();
    session.resumedFrom = outcome.owner;
    if (outcome.createdMs > 0) session.createdAt = outcome.createdMs;
    session.seq = outcome.generation * CLIENT_SEQ_GENERATION_STRIDE;
    this.sendCreated(session, false);
    this.armBindTimer(session, false);
    const lastSeq = resume.lastSeq ?? outcome.clientSeq;
    if (outcome.owner) deps.router.requestResume(outcome.owner, session.sid, deps.gatewayId, lastSeq);
    deps.log.info({ sid: session.sid, owner: outcome.owner, lastSeq }, 'session resumed');
  }

  /** A socket of this gateway still held the resumed session: it is told and closed (4409), not ended. */
  private evictPrevious(session: ClientSession): void {
    const previous = this.deps.registry.get(session.sid);
    if (!previous || previous === session) return;
    this.deps.registry.remove(previous);
    if (previous.bindTimer) clearTimeout(previous.bindTimer);
    // A closed one is a session held through a Redis outage: its socket was counted out when it closed.
    if (!previous.closed) {
      this.deps.metrics.connections.dec();
      this.deps.metrics.closes.inc({ code: String(CloseCode.SessionResumedElsewhere) });
    }
    evictClientSocket(previous);
  }

  /**
   * A `resume_token` in the query string: URLs land in proxy and access logs, so the token is refused and, if
   * it is genuine, spent (its generation revoked) so a copy taken from a log cannot resume the session.
   */
  refuseUrlToken(session: ClientSession, token: string, resume: ResumeRequest | undefined): void {
    const { deps } = this;
    const verdict = resume?.valid ? deps.tokens.verify(token, bindingOf(session)) : undefined;
    if (verdict?.ok) {
      deps.store.records.revokeResume(session.sid, session.userId, verdict.generation).catch((err: Error) => {
        deps.log.warn({ err: err.message, sid: session.sid }, 'could not revoke a leaked resume token');
      });
    }
    deps.metrics.resumesRejected.inc({ reason: 'token_in_url' });
    session.closed = true;
    deps.metrics.errors.inc({ code: 'invalid_message' });
    deps.metrics.closes.inc({ code: String(CloseCode.SessionNotFound) });
    const message =
      'resume_token must not be sent in the URL: send it as the WebSocket subprotocol rtv.resume.<token>';
    session.ws?.send(
      session.dialect.error('invalid_message', message, undefined, undefined, 'resume_token'),
      false,
    );
    session.ws?.end(CloseCode.SessionNotFound, 'resume_token in the URL');
  }

  onClosed(session: ClientSession, code: number): void {
    const { deps } = this;
    session.closed = true;
    session.ws = undefined;
    if (session.leaseId) {
      const leaseId = session.leaseId;
      session.leaseId = undefined;
      deps.userLimiter.release(session.userId, leaseId).catch((err: Error) => {
        deps.log.warn({ err: err.message }, 'could not release the per-user connection slot');
      });
    }
    if (session.superseded) {
      // Evicted by a resume elsewhere: the session lives on there; only this socket's bookkeeping goes.
      if (!deps.registry.remove(session)) return;
      if (session.bindTimer) clearTimeout(session.bindTimer);
      deps.metrics.connections.dec();
      deps.metrics.closes.inc({ code: String(code) });
      return;
    }
    if (!deps.registry.holds(session)) return;
    deps.metrics.connections.dec();
    deps.metrics.closes.inc({ code: String(code) });
    // A resumed socket that closes before the owner's bind arrived still speaks for a running session: the
    // owner the store named gets the end or detach line.
    if (session.owner === undefined && session.resumedFrom !== undefined) session.owner = session.resumedFrom;
    if (session.owner === undefined) {
      // Never bound: nothing runs yet, so the session simply goes away.
      deps.router.remove(session, 'client_closed');
      deps.store.discardUnbound(session.sid).catch((err: Error) => {
        deps.log.warn({ err: err.message, sid: session.sid }, 'could not discard unbound session');
      });
      return;
    }
    // 1000 and every terminal close (policy, size, expiry, refused resume) end the session; a dropped
    // connection or a resumable close (1001, 1006, 1011, 1012…) keeps it for the resume grace period.
    if (code === CloseCode.Normal || !closeCodeInfo(code).resume) {
      deps.router.remove(session, 'client_closed');
      return;
    }
    // Redis is away, or the session does not run again yet: its unacknowledged frames would be lost with it.
    if (deps.recovery?.holdClosed(session)) return;
    this.detach(session);
  }

  /**
   * The detach of a closed socket's session (at its close, or later for one held through a Redis outage):
   * the owner hears it (`D`, after any frames written for it) and the record is marked. A held session that
   * was resumed elsewhere meanwhile (4409) is only let go.
   */
  detach(session: ClientSession): void {
    const { deps } = this;
    if (!deps.registry.holds(session)) return;
    if (session.superseded) {
      deps.registry.remove(session);
      return;
    }
    deps.router.detach(session);
    this.markDetached(session, session.deliveredSeq);
  }

  /** The session did not run again in time after a Redis outage: the client is told and resumes it. */
  failRecovery(session: ClientSession): void {
    this.fail(
      session,
      'session_recovery_failed',
      ErrorCode.session_recovery_failed.message,
      CloseCode.TryAgainLater,
    );
  }

  /**
   * Records the drop in the session record (only if it still names this connection's gateway and generation),
   * which is what lets a token resume it on the anonymous route.
   */
  private markDetached(session: ClientSession, deliveredSeq: number): void {
    const { deps } = this;
    const write = deps.store.records
      .markDetached(session.sid, { gatewayId: deps.gatewayId, generation: session.generation, deliveredSeq })
      .catch((err: Error) => {
        deps.log.warn({ err: err.message, sid: session.sid }, 'could not mark session detached');
      });
    this.inflight.add(write);
    void write.finally(() => this.inflight.delete(write));
  }

  /** Tells every client the gateway is going away; `closeAll` follows after the drain grace. */
  announceDrain(): void {
    for (const session of this.deps.registry.values()) {
      const notice = session.dialect.notice('server_draining');
      if (notice !== undefined) this.send(session, notice);
    }
  }

  /**
   * Closes every socket. Sessions held through a Redis outage (their socket closed already, see
   * `SessionRecovery`) are detached as they are: the gateway is going, so a resume elsewhere must find them.
   */
  closeAll(code: number, reason: string): void {
    for (const session of this.deps.registry.snapshot())
      if (!session.closed) this.close(session, code, reason);
    for (const session of this.deps.registry.snapshot()) if (session.closed) this.detach(session);
  }

  /** Tells every client a dependency is degraded (once per outage). */
  announceDegraded(): void {
    for (const session of this.deps.registry.values()) {
      this.send(
        session,
        session.dialect.error('service_unavailable', 'Session storage is unreachable; retrying'),
      );
    }
  }

  private admit(session: ClientSession, route: string): boolean {
    if (!this.deps.accepting()) {
      this.refuse(session);
      return false;
    }
    this.deps.metrics.connections.inc();
    this.deps.metrics.connectionsTotal.inc({ route });
    this.deps.registry.add(session);
    return true;
  }

  /**
   * Spends a frame against the connection's buckets. Over the limit the client gets `rate_limited` a few
   * times, then nothing, then close 1008 (the flood guard decides); the frame is dropped either way.
   */
  admitFrame(session: ClientSession, bytes: number, isAudio: boolean): boolean {
    const now = Date.now();
    // Made at the first frame, not at open: idle connections then cost no bucket memory.
    session.rate ??= new ConnectionRateLimiter(
      session.rateOverride
        ? { ...this.deps.connectionRate, ...session.rateOverride }
        : this.deps.connectionRate,
      now,
    );
    const verdict = session.rate.admit(bytes, isAudio, now);
    if (verdict === 'ok') return true;
    this.deps.metrics.limitRejections.inc({
      kind: verdict === 'messages' ? 'messages_per_s' : 'bytes_per_s',
    });
    session.flood ??= new FloodGuard();
    const decision = session.flood.onRefused(now);
    if (decision === 'warn') {
      this.deps.metrics.errors.inc({ code: 'rate_limited' });
      this.send(
        session,
        session.dialect.error(
          'rate_limited',
          `Too many ${verdict === 'messages' ? 'messages' : 'bytes'} per second; slow down`,
        ),
      );
    } else if (decision === 'close') {
      this.fail(session, 'rate_limited', 'Rate limit exceeded repeatedly', CloseCode.PolicyViolation);
    }
    return false;
  }

  /** The upgrade was let through only so the client can read why it is refused (4429, 1013). */
  refuseAfterUpgrade(session: ClientSession, code: number, message: string, refusalCode?: ErrorCode): void {
    session.closed = true;
    const errorCode: ErrorCode =
      refusalCode ?? (code === CloseCode.TooManyConnections ? 'rate_limited' : 'service_unavailable');
    this.deps.metrics.errors.inc({ code: errorCode });
    this.deps.metrics.closes.inc({ code: String(code) });
    session.ws?.send(session.dialect.error(errorCode, message), false);
    session.ws?.end(code, message.slice(0, 100));
  }

  /** A new session this gateway cannot take now (draining, or Redis away): the client is told why, then 1013. */
  private refuse(session: ClientSession): void {
    session.closed = true;
    this.deps.metrics.errors.inc({ code: 'service_unavailable' });
    this.deps.metrics.closes.inc({ code: String(CloseCode.TryAgainLater) });
    session.ws?.send(session.dialect.error('service_unavailable', NOT_ACCEPTING), false);
    session.ws?.end(CloseCode.TryAgainLater, 'service unavailable, retry later');
  }

  /** The first message on every socket; a new session also carries its initial configuration. */
  private sendCreated(session: ClientSession, withConfig: boolean): void {
    const opened = session.dialect.opened({
      sid: session.sid,
      userId: session.userId,
      resumeToken: this.deps.tokens.issue(bindingOf(session), session.generation, session.createdAt),
      isNew: withConfig,
      ...(session.config?.openai ? { model: session.config.openai.model } : {}),
    });
    if (opened !== undefined) this.send(session, opened);
  }

  /** `isNew`: a session being set up (a failure counts against the set-up SLO), not one being resumed. */
  private armBindTimer(session: ClientSession, isNew: boolean): void {
    session.bindTimer = setTimeout(() => {
      session.bindTimer = undefined;
      if (session.owner !== undefined || session.closed) return;
      // Redis was away: the recovery gives it until its own bound to get an owner.
      if (this.deps.recovery?.waitsFor(session)) return;
      this.deps.log.warn({ sid: session.sid }, 'no worker bound the session in time');
      if (isNew) this.deps.metrics.setupFailures.inc({ reason: 'no_worker' });
      this.fail(
        session,
        'service_unavailable',
        'No session worker is available; try again later',
        CloseCode.TryAgainLater,
      );
    }, this.deps.bindTimeoutMs);
  }

  private fail(session: ClientSession, code: ErrorCode, message: string, closeCode: number): void {
    this.deps.metrics.errors.inc({ code });
    this.send(session, session.dialect.error(code, message));
    this.close(session, closeCode, message.slice(0, 100));
  }
}
