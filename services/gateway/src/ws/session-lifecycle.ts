import {
  ConnectionRateLimiter,
  type ConnectionRateLimits,
  FloodGuard,
  type UserConnectionLimiter,
} from '@rtv/auth';
import type { SessionRecords } from '@rtv/bus';
import {
  CloseCode,
  closeCodeInfo,
  DEFAULT_SESSION_CONFIG,
  type ErrorCode,
  encodeError,
  encodeNotice,
  encodeSessionCreated,
  NoticeCode,
  PROTOCOL_VERSION,
} from '@rtv/protocol';
import type { Logger } from '@rtv/service-kit';
import { type GatewayMetrics, serverFrameType } from '../metrics.js';
import {
  type ClientSession,
  type ClientSessionLimits,
  closeClientSocket,
  type ResumeRequest,
} from '../routing/client-session.js';
import type { ResumeTokens } from '../routing/resume-tokens.js';
import type { ClientSessionRegistry } from '../routing/session-registry.js';
import type { SessionRouter } from '../routing/session-router.js';
import type { SessionStore } from '../routing/session-store.js';

/** What the lifecycle uses of the session store (`SessionStore` in production). */
export type LifecycleStore = Pick<SessionStore, 'create' | 'discardUnbound'> & {
  readonly records: Pick<SessionRecords, 'attach' | 'markDetached'>;
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
  /** Longest a connection may stay open (0 = unlimited). */
  maxSessionMs: number;
}

/** Client frame seqs of attach generation g start at g · 2³², above every earlier connection's. */
const GENERATION_STRIDE = 2 ** 32;

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
   * Ends connections older than the maximum session duration (session_expired, then close 4408) and those
   * whose access token has expired (unauthorized, then close 4401: a new token is needed, so the client must
   * not reconnect on its own).
   */
  private endExpired(): void {
    const now = Date.now();
    const oldest = this.deps.maxSessionMs > 0 ? now - this.deps.maxSessionMs : Number.NEGATIVE_INFINITY;
    for (const session of this.deps.registry.values()) {
      if (session.closed) continue;
      if (session.openedAt <= oldest) {
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
    const { deps } = this;
    if (!this.admit(session, route)) return;
    this.sendCreated(session, true);
    this.armBindTimer(session);
    deps.store
      .create(
        { sid: session.sid, userId: session.userId, gatewayId: deps.gatewayId, createdMs: session.openedAt },
        { ...DEFAULT_SESSION_CONFIG },
      )
      .catch((err: Error) => {
        deps.log.error({ err: err.message, sid: session.sid }, 'could not create session');
        this.fail(
          session,
          'service_unavailable',
          'The session could not be created; try again later',
          CloseCode.TryAgainLater,
        );
      });
  }

  openResumed(session: ClientSession, resume: ResumeRequest, route: string): void {
    const { deps } = this;
    if (!deps.accepting()) {
      this.refuse(session);
      return;
    }
    const verdict = resume.valid
      ? deps.tokens.verify(resume.token, session.sid, session.userId)
      : 'malformed';
    if (verdict !== 'ok') {
      deps.metrics.resumesRejected.inc({ reason: verdict });
      this.fail(
        session,
        'session_not_found',
        'This session cannot be resumed: it is unknown, expired or not yours',
        CloseCode.SessionNotFound,
      );
      return;
    }
    // A newer socket for the same session wins: the older one is closed without ending the session.
    const previous = deps.registry.get(session.sid);
    if (previous && previous !== session) {
      previous.superseded = true;
      deps.registry.remove(previous);
      this.close(previous, CloseCode.Normal, 'superseded by a newer connection');
    }
    deps.metrics.connections.inc();
    deps.metrics.connectionsTotal.inc({ route });
    deps.registry.add(session);
    deps.store.records.attach(session.sid, session.userId, deps.gatewayId).then(
      (attached) => {
        if (session.closed) return;
        if (!attached) {
          deps.metrics.resumesRejected.inc({ reason: 'not_found' });
          this.fail(
            session,
            'session_not_found',
            'This session cannot be resumed: it has ended',
            CloseCode.SessionNotFound,
          );
          return;
        }
        deps.metrics.resumes.inc();
        session.resumedFrom = attached.owner;
        session.seq = attached.generation * GENERATION_STRIDE;
        this.sendCreated(session, false);
        this.armBindTimer(session);
        const lastSeq = resume.lastSeq ?? attached.clientSeq;
        if (attached.owner) deps.router.requestResume(attached.owner, session.sid, deps.gatewayId, lastSeq);
        deps.log.info({ sid: session.sid, owner: attached.owner, lastSeq }, 'session resumed');
      },
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
    if (session.superseded || !deps.registry.holds(session)) return;
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
    deps.router.detach(session);
    const write = deps.store.records.markDetached(session.sid, session.deliveredSeq).catch((err: Error) => {
      deps.log.warn({ err: err.message, sid: session.sid }, 'could not mark session detached');
    });
    this.inflight.add(write);
    void write.finally(() => this.inflight.delete(write));
  }

  /** Tells every client the gateway is going away; `closeAll` follows after the drain grace. */
  announceDrain(): void {
    for (const session of this.deps.registry.values()) {
      this.send(session, encodeNotice('server_draining', NoticeCode.server_draining.message));
    }
  }

  closeAll(code: number, reason: string): void {
    for (const session of this.deps.registry.snapshot()) this.close(session, code, reason);
  }

  /** Tells every client a dependency is degraded (once per outage). */
  announceDegraded(): void {
    for (const session of this.deps.registry.values()) {
      this.send(session, encodeError('service_unavailable', 'Session storage is unreachable; retrying'));
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
    session.rate ??= new ConnectionRateLimiter(this.deps.connectionRate, now);
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
        encodeError(
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
  refuseAfterUpgrade(session: ClientSession, code: number, message: string): void {
    session.closed = true;
    const errorCode: ErrorCode =
      code === CloseCode.TooManyConnections ? 'rate_limited' : 'service_unavailable';
    this.deps.metrics.errors.inc({ code: errorCode });
    this.deps.metrics.closes.inc({ code: String(code) });
    session.ws?.send(encodeError(errorCode, message), false);
    session.ws?.end(code, message.slice(0, 100));
  }

  private refuse(session: ClientSession): void {
    session.closed = true;
    this.deps.metrics.closes.inc({ code: String(CloseCode.TryAgainLater) });
    session.ws?.end(CloseCode.TryAgainLater, 'service unavailable, retry later');
  }

  /** The first message on every socket; a new session also carries its initial configuration. */
  private sendCreated(session: ClientSession, withConfig: boolean): void {
    this.send(
      session,
      encodeSessionCreated({
        id: session.sid,
        user_id: session.userId,
        resume_token: this.deps.tokens.issue(session.sid, session.userId),
        protocol_version: PROTOCOL_VERSION,
        ...(withConfig ? DEFAULT_SESSION_CONFIG : {}),
      }),
    );
  }

  private armBindTimer(session: ClientSession): void {
    session.bindTimer = setTimeout(() => {
      session.bindTimer = undefined;
      if (session.owner !== undefined || session.closed) return;
      this.deps.log.warn({ sid: session.sid }, 'no worker bound the session in time');
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
    this.send(session, encodeError(code, message));
    this.close(session, closeCode, message.slice(0, 100));
  }
}
