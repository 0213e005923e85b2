import type { ConnectionRateLimiter, ConnectionRateLimits, ConnectionSlot, FloodGuard } from '@rtv/auth';
import { FrameRing } from '@rtv/bus';
import {
  CloseCode,
  type ErrorCode,
  encodeClientFrameLine,
  type FrameKind,
  type SessionConfig,
} from '@rtv/protocol';
import { type ClientDialect, SEED_DIALECT } from './client-dialect.js';
import type { ReplayAdmission } from './replay-budget.js';
import type { CredentialKind } from './resume-tokens.js';
import type { ServerFrameGap } from './server-frame-gap.js';

/**
 * What the gateway does with a client's socket: the part of uWS's `WebSocket` it uses. The uWS socket satisfies
 * it as it is; a unit test can stand in a plain object that records what was sent.
 */
export interface ClientSocket {
  send(message: string | Uint8Array, isBinary: boolean): unknown;
  end(code: number, reason: string): void;
  /** Runs `cb` with the socket's writes batched into one syscall. */
  cork(cb: () => void): unknown;
  getBufferedAmount(): number;
}

/** What uWS keeps per socket: the session, created at upgrade, and a resume request if there was one. */
export interface SocketData {
  session: ClientSession;
  resume?: ResumeRequest;
  /** Set when the upgrade was admitted only to be closed with this code and message (e.g. 4429). */
  refuse?: { code: number; message: string; errorCode?: ErrorCode };
  /** The per-user slot is still to be taken (synchronous upgrades take it right after open). */
  slotPending?: boolean;
  /** The open-connection slot of the client's address on this gateway, released when the socket closes. */
  connectionSlot?: ConnectionSlot | undefined;
  /**
   * A `resume_token` query parameter: refused (the token belongs in the `rtv.resume.<token>` subprotocol) and
   * treated as leaked.
   */
  urlResumeToken?: string;
}

/** `?resume=<sid>&last_seq=…` and the `rtv.resume.<token>` subprotocol entry, as copied at upgrade. */
export interface ResumeRequest {
  /** The session id had the right form. */
  valid: boolean;
  /** The token from the subprotocol entry ('' when there was none or it was malformed). */
  token: string;
  /** Last server seq the client saw (it asked for `seq` numbering); else the gateway's record is used. */
  lastSeq: number | undefined;
}

/**
 * A frame {@link ClientSession.record} took: the numbered line to forward, and whether the replay ring kept a
 * copy (not when the one frame is larger than the whole replay budget).
 */
export interface RecordedFrame {
  line: Buffer;
  kept: boolean;
}

/**
 * Why {@link ClientSession.record} refused a frame: `pending_full`, no owner yet and the pending budget is
 * spent; `replay_full`, keeping it would push an unacknowledged frame out of the replay ring; `replay_budget`,
 * the gateway's sessions together hold their budget and this one holds more than its share of it.
 */
export type RecordRefusal = 'pending_full' | 'replay_full' | 'replay_budget';

export interface ClientSessionLimits {
  pendingMaxFrames: number;
  replayMaxBytes: number;
  /** The gateway-wide replay budget (`RTV_GATEWAY_REPLAY_MAX_BYTES`); none in unit tests that do not need one. */
  replayBudget?: ReplayAdmission;
}

/**
 * Gateway-side state of one client session: the socket, who owns the session (worker id + epoch), the
 * numbering of client frames, frames waiting for a first owner, and frames not yet acknowledged by the owner
 * (kept for replay to a new owner, DESIGN §4.3). Everything is bounded.
 */
export class ClientSession {
  ws: ClientSocket | undefined;
  closed = false;
  /** Worker id that owns the session, once bound. */
  owner: string | undefined;
  epoch = 0;
  /** Last client frame number assigned. */
  seq = 0;
  /** Highest seq the owner acknowledged as applied. */
  ackedSeq = 0;
  /**
   * Frames are kept in the ring but not written to the owner: set while a Redis outage may have lost earlier
   * writes, until the session runs again and the ring is replayed in order. An owner applies any seq above the
   * last it applied, so a new frame that overtook a lost one would make the lost one a "repeat".
   */
  forwardHeld = false;
  /** Seq of the last server frame delivered to the client (seqs grow across owners; repeats are dropped). */
  deliveredSeq = 0;
  /** Server frames held above a gap in their seqs until the owner sends the missing ones again. */
  serverGap: ServerFrameGap | undefined;
  /** The client asked for a top-level `seq` on every server message (`?seq=1`), to resume precisely. */
  wantSeq = false;
  /** A newer connection resumed this session here: this socket's close must not end or detach it. */
  superseded = false;
  /** Messages/s and bytes/s buckets of this connection, and what happens when they run dry. */
  rate: ConnectionRateLimiter | undefined;
  flood: FloodGuard | undefined;
  /** Owner named by the session store when this socket resumed the session (its bind may still be on the way). */
  resumedFrom: string | undefined;
  /** How this connection proved who it is; a resume token is bound to it. */
  credential: CredentialKind = 'anonymous';
  /**
   * When the session was created (Unix ms): the socket's open time for a new session, the record's for a
   * resumed one. The maximum session length counts from here, so resuming never extends it.
   */
  createdAt: number;
  /** The session record's attach generation for this connection (0 for a new session); its token names it. */
  generation = 0;
  /** When the credential stops holding (JWT `exp` plus the clock-skew allowance, Unix ms); 0: never. */
  credentialExpiresAt = 0;
  /** The cluster-wide per-user connection slot this socket holds (released on close). */
  leaseId: string | undefined;
  bindTimer: NodeJS.Timeout | undefined;
  /**
   * The configuration the session was created with (new sessions on this gateway; a resumed one does not
   * know it). Put back into the record if Redis loses it (`SessionRecovery`); the owner's, when it restores
   * the record too, wins.
   */
  config: SessionConfig | undefined;
  /** This session's own maximum duration (the OpenAI-compatible policy's class); else the gateway's. */
  maxDurationMs: number | undefined;
  /** This connection's own message rate (the OpenAI-compatible policy's class); else the gateway's. */
  rateOverride: Pick<ConnectionRateLimits, 'messagesPerS' | 'messageBurst'> | undefined;
  /** The protocol the client speaks, for what the gateway says itself (errors, notices, the first message). */
  dialect: ClientDialect = SEED_DIALECT;
  /** Unacknowledged lines, copied into a ring made at the first frame (idle sessions have none). */
  private replay: FrameRing | undefined;
  private pendingCount = 0;

  constructor(
    readonly sid: string,
    readonly userId: string,
    readonly route: 'anonymous' | 'authenticated',
    readonly openedAt: number,
    private readonly limits: ClientSessionLimits,
  ) {
    this.createdAt = openedAt;
  }

  /**
   * Numbers a frame and remembers it until acknowledged. Refused without using up a seq (see
   * {@link RecordRefusal}): a frame is never taken at the price of one the owner has not acknowledged yet,
   * since those are what a new owner is replayed (DESIGN §4.3). The bus line is built here, for the seq it gets
   * (no callback per frame).
   */
  record(kind: FrameKind, payload: string | Uint8Array): RecordedFrame | RecordRefusal {
    if (this.owner === undefined && this.pendingCount >= this.limits.pendingMaxFrames) return 'pending_full';
    const seq = this.seq + 1;
    const bytes = encodeClientFrameLine(this.sid, seq, kind, payload);
    this.replay ??= new FrameRing(this.limits.replayMaxBytes);
    if (this.replay.evictionsFor(bytes.byteLength) > 0) return 'replay_full';
    const budget = this.limits.replayBudget;
    if (budget !== undefined && !budget.admits(this.replay.size.bytes, bytes.byteLength))
      return 'replay_budget';
    this.seq = seq;
    if (this.owner === undefined) this.pendingCount++;
    // The line itself goes to the writer and dies young; the ring keeps a copy until the owner acks it.
    const kept = this.replay.push(seq, bytes) === 0;
    return { line: bytes, kept };
  }

  /** Drops entries the owner has applied. */
  ack(seq: number): void {
    if (seq <= this.ackedSeq) return;
    this.ackedSeq = seq;
    this.replay?.dropThrough(seq);
  }

  /** Bytes of the lines not acknowledged yet (what the replay ring holds). */
  unackedBytes(): number {
    return this.replay?.size.bytes ?? 0;
  }

  /** How many lines are not acknowledged yet (no copies made). */
  unackedCount(): number {
    return this.replay?.size.frames ?? 0;
  }

  /** Lines not yet acknowledged, oldest first (copies): sent to a (new) owner when it binds. */
  unacked(): Buffer[] {
    return this.replay?.all() ?? [];
  }

  bind(owner: string, epoch: number): void {
    this.owner = owner;
    this.epoch = epoch;
    this.pendingCount = 0;
  }
}

/**
 * Closes the session's socket with `code` unless it is already closed; the socket's close handler does the rest.
 * 4409 (a worker's close line: the same user resumed the session on another gateway) evicts instead.
 */
export function closeClientSocket(session: ClientSession, code: number, reason: string): void {
  if (code === CloseCode.SessionResumedElsewhere) {
    evictClientSocket(session);
    return;
  }
  if (session.closed || !session.ws) return;
  session.ws.end(code, reason);
}

/**
 * The same user resumed this session on another connection: this socket no longer speaks for it. It is told
 * so (`session_resumed_elsewhere`) and closed with 4409, which tells it not to resume; being superseded, its
 * close neither ends nor detaches the session.
 */
export function evictClientSocket(session: ClientSession): void {
  session.superseded = true;
  if (session.closed || !session.ws) return;
  const notice = session.dialect.notice('session_resumed_elsewhere');
  if (notice !== undefined) session.ws.send(notice, false);
  session.ws.end(CloseCode.SessionResumedElsewhere, 'session resumed elsewhere');
}
