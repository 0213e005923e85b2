import type { BusWriter, Keys } from '@rtv/bus';
import {
  type BusLine,
  CloseCode,
  decodeBatch,
  encodeDetachLine,
  encodeEndLine,
  encodeResendLine,
  encodeResumeLine,
  type FrameKind,
} from '@rtv/protocol';
import type { Logger } from '@rtv/service-kit';
import { errorCodeOf, type GatewayMetrics, serverFrameType } from '../metrics.js';
import type { ClientSession, RecordRefusal } from './client-session.js';
import { followsInOrder, ServerFrameGap } from './server-frame-gap.js';
import type { ClientSessionRegistry } from './session-registry.js';

export interface SessionRouterDeps {
  gatewayId: string;
  keys: Keys;
  /** `StreamWriter` in production; `MemoryBusWriter` in unit tests. */
  writer: BusWriter;
  /** The sessions open on this gateway; the router looks them up and unregisters them on end or detach. */
  registry: ClientSessionRegistry;
  metrics: GatewayMetrics;
  log: Logger;
  maxBackpressureBytes: number;
  /** Called when a worker ends a session (or the session must be closed for another reason). */
  closeClient: (session: ClientSession, code: number, reason: string) => void;
  /**
   * How long server frames above a gap in their seqs wait for the owner to send the missing ones again before
   * they go out anyway (1 s).
   */
  serverGapWaitMs?: number;
}

/** What became of a client frame handed to {@link SessionRouter.forward}. */
export type ForwardOutcome = 'accepted' | RecordRefusal;

/**
 * Routes frames between client sockets and session owners.
 *
 * Client → worker: each frame is numbered and written with the batched writer to the owner's in-stream, or
 * held until a worker binds the session. Worker → client: the gateway's out-stream is read in batches; each
 * batch is grouped per socket and sent inside one `cork`, so a burst costs one syscall per socket.
 * Ownership is fenced by epoch (DESIGN §4.8): a bind with a newer epoch re-routes the session and replays what
 * the previous owner had not acknowledged; frames from an older epoch are dropped.
 */
export class SessionRouter {
  private readonly sentByType = new Map<
    string,
    { frames: { inc(n: number): void }; bytes: { inc(n: number): void } }
  >();

  private readonly bindWatchers: Array<(session: ClientSession) => void> = [];

  constructor(private readonly deps: SessionRouterDeps) {}

  /**
   * Calls `watcher` after every bind that took effect (a first owner, or a newer epoch), once the frames the
   * owner had not acknowledged were written to its stream. `SessionRecovery` learns this way that a session
   * runs again after a Redis outage.
   */
  watchBinds(watcher: (session: ClientSession) => void): void {
    this.bindWatchers.push(watcher);
  }

  /** The client ended the session (or never got an owner): unregister it and tell the owner to end it. */
  remove(session: ClientSession, reason: string): void {
    if (!this.deps.registry.remove(session)) return;
    if (session.bindTimer) clearTimeout(session.bindTimer);
    session.serverGap?.dispose();
    if (session.owner !== undefined) {
      this.write(this.deps.keys.workerIn(session.owner), encodeEndLine(session.sid, reason));
    }
  }

  /** The client's socket dropped without ending the session: the owner keeps it for the resume grace. */
  detach(session: ClientSession): void {
    if (!this.deps.registry.remove(session)) return;
    if (session.bindTimer) clearTimeout(session.bindTimer);
    session.serverGap?.dispose();
    if (session.owner !== undefined)
      this.write(this.deps.keys.workerIn(session.owner), encodeDetachLine(session.sid, this.deps.gatewayId));
  }

  /** A resumed client is attached here: ask the owner to route to this gateway and replay after `lastSeq`. */
  requestResume(owner: string, sid: string, gatewayId: string, lastSeq: number): void {
    this.write(this.deps.keys.workerIn(owner), encodeResumeLine(sid, gatewayId, lastSeq));
  }

  /** Re-sends every unacknowledged frame to the owners (after Redis came back: writes may have been lost). */
  resendUnacked(): void {
    for (const session of this.deps.registry.values()) this.resendUnackedOf(session);
  }

  /** Re-sends one session's unacknowledged frames to its owner, if it has one; returns how many. */
  resendUnackedOf(session: ClientSession): number {
    if (session.owner === undefined) return 0;
    const stream = this.deps.keys.workerIn(session.owner);
    const lines = session.unacked();
    for (const line of lines) this.write(stream, line);
    return lines.length;
  }

  /**
   * Numbers and forwards one client frame, or says why it was refused: no owner yet and the pending budget
   * spent, or a replay ring that could keep it only by dropping an unacknowledged frame (the caller tells the
   * client). Both refusals and frames too large to keep a copy of count as replay overflow.
   */
  forward(session: ClientSession, kind: FrameKind, payload: string | Uint8Array): ForwardOutcome {
    const recorded = session.record(kind, payload);
    if (recorded === 'pending_full') return recorded;
    if (recorded === 'replay_full' || recorded === 'replay_budget' || !recorded.kept) {
      this.deps.metrics.replayOverflow.inc();
    }
    if (recorded === 'replay_full' || recorded === 'replay_budget') return recorded;
    if (session.owner !== undefined && !session.forwardHeld) {
      this.write(this.deps.keys.workerIn(session.owner), recorded.line);
    }
    return 'accepted';
  }

  /**
   * Handles one batch read from this gateway's out-stream; `id` is its stream entry id. Messages are delivered
   * per socket after the whole batch is decoded, and close lines only after that, so the error a worker sends
   * just before closing a session (a fatal provider failure, say) reaches the client first.
   */
  onBatch(batch: Buffer, id = '0-0'): void {
    let outgoing: Map<ClientSession, Buffer[]> | undefined;
    let closing: Array<{ session: ClientSession; code: number; reason: string }> | undefined;
    const writtenMs = Number(id.slice(0, id.indexOf('-')));
    const ageS = writtenMs > 0 ? Math.max(0, Date.now() - writtenMs) / 1000 : -1;
    // Lines that went to a client: every one of them took the same path as the batch, so one record counts them.
    let delivered = 0;
    decodeBatch(
      batch,
      (line) => {
        if (line.op === 'X') {
          this.deps.metrics.busLinesIn.tally({ op: line.op }).inc();
          const session = this.deps.registry.get(line.sid);
          if (session && line.epoch >= session.epoch) {
            closing ??= [];
            closing.push({ session, code: line.code, reason: line.reason });
          }
          return;
        }
        const payloads = this.apply(line);
        if (payloads === undefined || payloads.length === 0) return;
        delivered++;
        outgoing ??= new Map();
        const session = this.deps.registry.get(line.sid)!;
        const list = outgoing.get(session);
        if (list) list.push(...payloads);
        else outgoing.set(session, payloads);
      },
      (raw, why) => this.deps.log.warn({ why, bytes: raw.length }, 'malformed bus line skipped'),
    );
    if (delivered > 0 && ageS >= 0) this.deps.metrics.framePath.record(ageS, delivered);
    if (outgoing) for (const [session, payloads] of outgoing) this.deliver(session, payloads);
    if (closing) for (const c of closing) this.deps.closeClient(c.session, c.code, c.reason);
  }

  /** Applies a control line; returns the payloads to deliver for message lines. */
  private apply(line: BusLine): Buffer[] | undefined {
    this.deps.metrics.busLinesIn.tally({ op: line.op }).inc();
    const session = this.deps.registry.get(line.sid);
    switch (line.op) {
      case 'B':
        if (session) this.bind(session, line);
        // The client left before a worker picked the session up: tell that worker to let go.
        else this.write(this.deps.keys.workerIn(line.wid), encodeEndLine(line.sid, 'client_gone'));
        return undefined;
      case 'M':
        return session ? this.admitServerFrame(session, line) : undefined;
      case 'A':
        if (session && line.epoch >= session.epoch) session.ack(line.seq);
        return undefined;
      default:
        // Gateway-bound streams never carry F/E lines; a misrouted one is ignored.
        return undefined;
    }
  }

  /**
   * A worker owns the session from `line.epoch` on: route client frames to its stream and replay what no
   * owner has acknowledged yet. A bind that is not newer than the current owner's is ignored.
   */
  private bind(session: ClientSession, line: BindLine): void {
    const { metrics, keys } = this.deps;
    if (line.epoch <= session.epoch && session.owner !== undefined) {
      // The owner binds again: it saw a gap in the frames of its stream (writes lost when a Redis master failed
      // over, say). Everything not acknowledged goes again; it drops the repeats by seq.
      if (line.epoch === session.epoch && line.wid === session.owner && !session.forwardHeld) {
        const unacked = session.unacked();
        for (const pending of unacked) this.write(keys.workerIn(line.wid), pending);
        metrics.replayedFrames.inc(unacked.length);
      }
      return;
    }
    const first = session.owner === undefined;
    session.bind(line.wid, line.epoch);
    if (first) {
      if (session.bindTimer) clearTimeout(session.bindTimer);
      session.bindTimer = undefined;
      metrics.bindLatency.observe((Date.now() - session.openedAt) / 1000);
    }
    const stream = keys.workerIn(line.wid);
    const unacked = session.unacked();
    for (const pending of unacked) this.write(stream, pending);
    if (!first) {
      metrics.failovers.inc();
      metrics.replayedFrames.inc(unacked.length);
      this.deps.log.info({ sid: session.sid, owner: line.wid, epoch: line.epoch }, 'session re-bound');
    }
    for (const watcher of this.bindWatchers) watcher(session);
  }

  /**
   * What a server frame lets go to the client: nothing when it is stale or a repeat, or when it arrived above a
   * gap in the seqs (it is held, and the owner asked once to send the missing frames again); else the frame and
   * any held frames it now connects to, in seq order.
   */
  private admitServerFrame(session: ClientSession, line: MessageLine): Buffer[] | undefined {
    if (session.closed) return undefined;
    // Server frame seqs grow across owners (epoch · 2³² + n): older epochs are fenced off, repeats dropped.
    if (line.epoch < session.epoch || line.seq <= session.deliveredSeq) {
      this.deps.metrics.staleDropped.inc();
      return undefined;
    }
    const gap = session.serverGap;
    if (gap === undefined) {
      if (followsInOrder(session.deliveredSeq, line.seq))
        return [this.admitted(session, line.seq, line.payload)];
      return this.openGap(session, line);
    }
    if (line.seq !== session.deliveredSeq + 1) {
      if (!gap.hold(line.seq, line.payload)) return this.closeGap(session, 'skipped');
      return undefined;
    }
    const out = [this.admitted(session, line.seq, line.payload)];
    const following = gap.takeFollowing(session.deliveredSeq);
    for (const [seq, payload] of following.frames) out.push(this.admitted(session, seq, payload));
    if (gap.size === 0) this.closeGap(session, 'filled');
    return out;
  }

  /** Records a frame as delivered and returns what goes to the socket (with `seq` when the client asked). */
  private admitted(session: ClientSession, seq: number, payload: Buffer): Buffer {
    session.deliveredSeq = seq;
    return session.wantSeq ? withSeq(payload, seq) : payload;
  }

  /**
   * A frame came above the next expected seq: frames were lost on the way (written while Redis was away, or
   * lost when a master failed over). It is held, and the owner is asked to send again what came after the last
   * delivered frame; if that does not fill the gap in time, the held frames go out in order anyway.
   */
  private openGap(session: ClientSession, line: MessageLine): undefined {
    const gap = new ServerFrameGap();
    gap.hold(line.seq, line.payload);
    session.serverGap = gap;
    if (session.owner !== undefined) {
      const request = encodeResendLine(session.sid, this.deps.gatewayId, session.deliveredSeq);
      this.write(this.deps.keys.workerIn(session.owner), request);
    }
    gap.timer = setTimeout(() => {
      const held = this.closeGap(session, 'skipped');
      if (held.length > 0) this.deliver(session, held);
    }, this.deps.serverGapWaitMs ?? 1000);
    gap.timer.unref();
    return undefined;
  }

  /** Ends the wait for a gap: what is still held goes out in seq order (none when the gap was filled). */
  private closeGap(session: ClientSession, outcome: 'filled' | 'skipped'): Buffer[] {
    const gap = session.serverGap;
    if (gap === undefined) return [];
    gap.dispose();
    session.serverGap = undefined;
    this.deps.metrics.serverFrameGaps.inc({ outcome });
    if (session.closed || !this.deps.registry.holds(session)) return [];
    return gap.takeAll().map(([seq, payload]) => this.admitted(session, seq, payload));
  }

  /** Sends payloads (views into the batch just read; uWS copies them) to one socket in one cork. */
  private deliver(session: ClientSession, payloads: Buffer[]): void {
    const ws = session.ws;
    if (!ws || session.closed) return;
    const { metrics } = this.deps;
    if (ws.getBufferedAmount() > this.deps.maxBackpressureBytes) {
      metrics.slowConsumers.inc();
      metrics.limitRejections.inc({ kind: 'send_buffer' });
      this.deps.closeClient(session, CloseCode.PolicyViolation, 'slow consumer: send buffer full');
      return;
    }
    ws.cork(() => {
      for (const p of payloads) ws.send(p, false);
    });
    this.countSent(payloads);
  }

  /** Sent frames and bytes by type, counted once per type per delivery rather than once per frame. */
  private countSent(payloads: Buffer[]): void {
    const { metrics } = this.deps;
    let lastType = '';
    let frames = 0;
    let bytes = 0;
    const flush = () => {
      if (frames === 0) return;
      let child = this.sentByType.get(lastType);
      if (!child) {
        child = {
          frames: metrics.framesOut.tally({ type: lastType }),
          bytes: metrics.bytesOut.tally({ type: lastType }),
        };
        this.sentByType.set(lastType, child);
      }
      child.frames.inc(frames);
      child.bytes.inc(bytes);
    };
    for (const p of payloads) {
      const type = serverFrameType(p);
      if (type !== lastType) {
        flush();
        lastType = type;
        frames = 0;
        bytes = 0;
      }
      frames++;
      bytes += p.length;
      if (type === 'error') metrics.errors.inc({ code: errorCodeOf(p.toString()) });
    }
    flush();
  }

  private write(stream: string, line: Buffer): void {
    this.deps.metrics.busLinesOut.tally().inc();
    this.deps.writer.write(stream, line);
  }
}

type BindLine = Extract<BusLine, { op: 'B' }>;
type MessageLine = Extract<BusLine, { op: 'M' }>;

/** A server frame (a JSON object) with `"seq":n` added as its last member. */
function withSeq(payload: Buffer, seq: number): Buffer {
  const tail = `,"seq":${seq}}`;
  const out = Buffer.allocUnsafe(payload.length - 1 + tail.length);
  payload.copy(out, 0, 0, payload.length - 1);
  out.write(tail, payload.length - 1, 'latin1');
  return out;
}
