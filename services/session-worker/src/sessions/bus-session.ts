import { type BusWriter, FrameRing, type Keys, type SessionState } from '@rtv/bus';
import {
  CloseCode,
  type ErrorCode,
  encodeAckLine,
  encodeAudioMessageLine,
  encodeBindLine,
  encodeCloseLine,
  encodeMessageLine,
  type FrameKind,
  type NoticeCode,
  SERVER_SEQ_EPOCH_STRIDE,
} from '@rtv/protocol';
import type { Logger } from '@rtv/service-kit';
import type { WorkerMetrics } from '../metrics.js';
import type { ProviderFailure } from '../upstream/provider-failure.js';
import { ClientFrameOrder } from './client-frame-order.js';
import { SessionLifetime } from './session-lifetime.js';

/** What every session of a worker uses on the bus side, whatever protocol its client speaks. */
export interface BusSessionDeps {
  keys: Keys;
  writer: BusWriter;
  log: Logger;
  metrics: WorkerMetrics;
  workerId: string;
  /** How long a detached session waits for its client to resume. */
  resumeGraceMs: number;
  /** Longest a session may last from its creation (`RTV_MAX_SESSION_S`; 0 = no limit). */
  maxSessionMs: number;
  /** Bytes of recent server frames kept for resume. */
  resumeBufferBytes: number;
}

export type EndReason =
  | 'client_closed'
  | 'client_gone'
  | 'resume_timeout'
  | 'upstream_failed'
  /** The provider refused the service's configuration (model, key, shape): retrying cannot help. */
  | 'upstream_fatal'
  | 'lease_lost'
  | 'handoff'
  /** The session reached its maximum length (counted from its creation). */
  | 'max_duration'
  /** The user's token budget for the window is spent (OpenAI-compatible route). */
  | 'budget_exhausted';

/** Server frame seqs are `epoch · 2³² + n`: monotonic across owners without any coordination. */
export const EPOCH_STRIDE = SERVER_SEQ_EPOCH_STRIDE;

/**
 * The bus side of one live session on this worker, shared by both client protocols: client frames put back in
 * seq order and applied once ({@link applyInOrder}, the protocol's part), server frames numbered per epoch, kept
 * for resume and sent to the client's gateway ({@link emit}), the bind and acks, detach with a resume grace,
 * resume with replay, re-claiming after a lost lease, the maximum duration, and the end. `done` resolves when
 * the session ends; the BullMQ job (the lease) ends with it.
 *
 * What the client is told (errors, notices) is encoded by the subclass, in the client's own protocol.
 */
export abstract class BusSession {
  readonly done: Promise<EndReason>;
  /** Highest client seq applied (or dropped as a repeat). */
  appliedSeq: number;
  /** appliedSeq at the last progress write; the owner acks and persists only when they differ. */
  savedSeq: number;
  protected outSeq: number;
  protected ended = false;
  protected attached: boolean;
  private resolveDone!: (reason: EndReason) => void;
  private readonly outbound: FrameRing;
  private graceTimer: NodeJS.Timeout | undefined;
  private lifetime: SessionLifetime | undefined;
  /** Client frames put back in seq order when newer ones overtook a replay. */
  private readonly order: ClientFrameOrder;

  constructor(
    readonly state: SessionState,
    private readonly busDeps: BusSessionDeps,
  ) {
    this.appliedSeq = state.lastSeq;
    this.savedSeq = state.lastSeq;
    this.order = new ClientFrameOrder(
      state.lastSeq,
      (seq, kind, payload) => this.applyInOrder(seq, kind, payload),
      {
        onGap: (result, seqs) =>
          busDeps.metrics.clientFrameGaps.inc({ result }, result === 'filled' ? 1 : seqs),
        // Binding again (same epoch) makes the gateway send every frame not acknowledged yet: repeats are
        // dropped by seq, and frames a failed-over Redis lost come back.
        onGapOpened: () => {
          if (this.attached && !this.ended) this.bindAtGateway();
        },
      },
    );
    this.outSeq = state.epoch * EPOCH_STRIDE;
    this.attached = state.clientAttached;
    this.outbound = new FrameRing(busDeps.resumeBufferBytes);
    this.done = new Promise((resolve) => {
      this.resolveDone = resolve;
    });
  }

  get sid(): string {
    return this.state.sid;
  }

  /** The highest client seq that may be acknowledged and saved (a subclass may hold some back). */
  get ackableSeq(): number {
    return this.appliedSeq;
  }

  /**
   * Applies one client frame from the bus (`payload` is a view into the batch; it is copied or parsed by
   * {@link applyInOrder}, never kept). Repeats (seq already applied) are dropped: exactly once.
   */
  apply(seq: number, kind: FrameKind, payload: Buffer): void {
    if (this.ended || !this.order.offer(seq, kind, payload)) this.busDeps.metrics.duplicateFrames.inc();
  }

  /** One client frame, in seq order; `appliedSeq` is set by the caller before. */
  protected abstract applyFrame(seq: number, kind: FrameKind, payload: Buffer): void;

  /** An error in the client's protocol. */
  protected abstract encodeClientError(code: ErrorCode, message?: string): string;

  /** A notice in the client's protocol, or undefined when the client does not get notices. */
  protected abstract encodeClientNotice(code: NoticeCode, message?: string): string | undefined;

  /** Releases what the subclass holds (provider connection, history, timers) once the session ended. */
  protected abstract onEnd(reason: EndReason): void;

  private applyInOrder(seq: number, kind: FrameKind, payload: Buffer): void {
    if (this.ended) return;
    this.appliedSeq = seq;
    this.applyFrame(seq, kind, payload);
  }

  /**
   * Starts the maximum-duration clock and binds the session at its gateway, or (client detached) starts the
   * resume grace, counted from the drop the record names: a takeover does not extend it.
   */
  protected attachOrWait(): void {
    this.lifetime = new SessionLifetime(this.state.createdMs, this.busDeps.maxSessionMs, () => this.expire());
    if (this.attached) {
      this.bindAtGateway();
      return;
    }
    this.busDeps.metrics.sessionsDetached.inc();
    const since = this.state.detachedMs ?? Date.now();
    this.startGrace(Math.max(0, since + this.busDeps.resumeGraceMs - Date.now()));
  }

  /** Acknowledges {@link ackableSeq} on the gateway's stream at once, not at the next checkpoint. */
  protected ackNow(): void {
    const acked = this.ackableSeq;
    if (!this.attached || acked <= 0) return;
    this.busDeps.writer.write(
      this.busDeps.keys.gatewayOut(this.state.gatewayId),
      encodeAckLine(this.sid, this.state.epoch, acked),
    );
  }

  /** The client's socket at `gatewayId` dropped: keep the session for the resume grace period. */
  detach(gatewayId: string): void {
    // A late detach from a gateway the client already left (it resumed elsewhere) is stale.
    if (this.ended || !this.attached || gatewayId !== this.state.gatewayId) return;
    this.attached = false;
    this.busDeps.metrics.sessionsDetached.inc();
    this.startGrace();
  }

  /** The client resumed at `gatewayId`: route there, replay what it missed, acknowledge progress. */
  resume(gatewayId: string, lastSeq: number): void {
    if (this.ended) return;
    const { keys, writer, metrics } = this.busDeps;
    const previous = this.state.gatewayId;
    if (this.attached && previous !== gatewayId) {
      // The same user took the session over from a live socket on another gateway: that socket is told and
      // closed there with 4409 (not ended: the session continues here).
      writer.write(
        keys.gatewayOut(previous),
        encodeCloseLine(
          this.sid,
          this.state.epoch,
          CloseCode.SessionResumedElsewhere,
          'session resumed elsewhere',
        ),
      );
    }
    this.state.gatewayId = gatewayId;
    if (!this.attached) metrics.sessionsDetached.dec();
    this.attached = true;
    if (this.graceTimer) clearTimeout(this.graceTimer);
    this.graceTimer = undefined;
    this.bindAtGateway();
    const { frames, complete } = this.outbound.since(lastSeq);
    metrics.resumes.inc();
    metrics.resumeReplayedFrames.inc(frames.length);
    const stream = keys.gatewayOut(gatewayId);
    for (const [seq, payload] of frames) {
      writer.write(stream, encodeMessageLine(this.sid, this.state.epoch, seq, payload));
    }
    this.notify(
      'session_resumed',
      complete ? undefined : 'Session resumed; some older messages could not be replayed',
    );
  }

  /**
   * The client's gateway saw a gap in this session's server frames (written while Redis was away, or lost when a
   * master failed over) and holds the frames above it: every frame still kept after `afterSeq` goes to it again,
   * with this epoch and its original seq (it drops those it already delivered). Nothing else changes; a request
   * from a gateway the client has left is stale.
   */
  resendAfter(gatewayId: string, afterSeq: number): void {
    if (this.ended || !this.attached || gatewayId !== this.state.gatewayId) return;
    const { keys, writer, metrics } = this.busDeps;
    const { frames } = this.outbound.since(afterSeq);
    metrics.gapResentFrames.inc(frames.length);
    const stream = keys.gatewayOut(gatewayId);
    for (const [seq, payload] of frames) {
      writer.write(stream, encodeMessageLine(this.sid, this.state.epoch, seq, payload));
    }
  }

  /**
   * This worker claimed the session again after its lease lapsed in a Redis outage (`claim`: the new claim;
   * only its epoch is taken). Nothing else was lost here, so the provider connection, the history and every
   * seq stay: the session is bound at its gateway with the new epoch (the gateway replays the client frames it
   * holds unacknowledged; repeats are dropped by seq), every server frame still in the outbound buffer is sent
   * again with the new epoch and its original seq (the gateway drops those it delivered, so what was written
   * while Redis was away reaches the client), and the client is told `session_recovered`. A detached client
   * gets all of it on resume instead. Later frames are numbered from the new epoch's range.
   */
  reclaim(claim: SessionState): void {
    if (this.ended) return;
    this.state.epoch = claim.epoch;
    this.outSeq = Math.max(this.outSeq, claim.epoch * EPOCH_STRIDE);
    if (this.attached) {
      this.bindAtGateway();
      const stream = this.busDeps.keys.gatewayOut(this.state.gatewayId);
      for (const [seq, payload] of this.outbound.since(0).frames) {
        this.busDeps.writer.write(stream, encodeMessageLine(this.sid, claim.epoch, seq, payload));
      }
    }
    this.notify('session_recovered');
  }

  end(reason: EndReason): void {
    if (this.ended) return;
    this.ended = true;
    if (!this.attached) this.busDeps.metrics.sessionsDetached.dec();
    if (this.graceTimer) clearTimeout(this.graceTimer);
    this.lifetime?.dispose();
    this.order.dispose();
    this.onEnd(reason);
    this.resolveDone(reason);
  }

  /** Sends a notice when the client's protocol has them. */
  protected notify(code: NoticeCode, message?: string): void {
    const notice = this.encodeClientNotice(code, message);
    if (notice !== undefined) this.emit(notice);
  }

  /** Tells the client's gateway to close its socket with `code` (the session's end follows separately). */
  protected closeClient(code: number, reason: string): void {
    this.busDeps.writer.write(
      this.busDeps.keys.gatewayOut(this.state.gatewayId),
      encodeCloseLine(this.sid, this.state.epoch, code, reason),
    );
  }

  protected bindAtGateway(): void {
    const stream = this.busDeps.keys.gatewayOut(this.state.gatewayId);
    this.busDeps.writer.write(stream, encodeBindLine(this.sid, this.busDeps.workerId, this.state.epoch));
    const acked = this.ackableSeq;
    if (acked > 0) this.busDeps.writer.write(stream, encodeAckLine(this.sid, this.state.epoch, acked));
  }

  private startGrace(ms = this.busDeps.resumeGraceMs): void {
    if (this.graceTimer) clearTimeout(this.graceTimer);
    this.graceTimer = setTimeout(() => this.end('resume_timeout'), ms);
    this.graceTimer.unref();
  }

  /**
   * The session reached its maximum length: the client is told (`session_expired`) and its gateway closes it
   * with 4408, a terminal close, so it does not resume.
   */
  protected expire(): void {
    if (this.ended) return;
    this.emit(this.encodeClientError('session_expired', 'The session reached its maximum duration'));
    this.closeClient(CloseCode.SessionTimeout, 'session expired');
    this.end('max_duration');
  }

  /**
   * The provider session cannot be (re)opened. A fatal failure (the provider refuses the service's model, key
   * or shape) tells the client not to reconnect; otherwise it may retry later.
   */
  protected fail(failure?: ProviderFailure): void {
    if (this.ended) return;
    if (failure?.fatal) {
      this.emit(this.encodeClientError(failure.code));
      this.closeClient(CloseCode.UpstreamMisconfigured, 'upstream misconfigured');
      this.end('upstream_fatal');
      return;
    }
    this.emit(
      this.encodeClientError('upstream_unavailable', 'The speech provider is unavailable; try again later'),
    );
    this.closeClient(CloseCode.InternalError, 'upstream unavailable');
    this.end('upstream_failed');
  }

  /**
   * Numbers a message for the client (its JSON text, or the UTF-8 bytes of it), keeps it for resume and sends
   * it to the client's gateway.
   */
  protected emit(payload: string | Buffer): void {
    const seq = ++this.outSeq;
    this.outbound.push(seq, payload);
    this.busDeps.metrics.framesToClient.tally().inc();
    if (!this.attached) return;
    this.busDeps.writer.write(
      this.busDeps.keys.gatewayOut(this.state.gatewayId),
      encodeMessageLine(this.sid, this.state.epoch, seq, payload),
    );
  }

  /**
   * {@link emit} for a chunk of reply audio (standard base64 as bytes): the `response.audio` frame is built
   * inside its bus line, one buffer and one copy of the audio, and the resume buffer copies the frame from it.
   */
  protected emitAudio(audio: Uint8Array, timestamp: number): void {
    const seq = ++this.outSeq;
    const { line, payload } = encodeAudioMessageLine(this.sid, this.state.epoch, seq, audio, timestamp);
    this.outbound.push(seq, payload);
    this.busDeps.metrics.framesToClient.tally().inc();
    if (this.attached) this.busDeps.writer.write(this.busDeps.keys.gatewayOut(this.state.gatewayId), line);
  }
}
