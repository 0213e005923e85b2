/**
 * One soak session: streams numbered 20 ms frames in real time and keeps the session alive the way the SDK
 * (libs/client RealtimeVoiceClient) does: numbered server messages (`seq=1`), resume with the session id,
 * `last_seq` and the one-use token after any resumable close, reconnect delays from the SDK's own
 * `reconnectDelay` and the close-code table, a ping heartbeat, and no audio queued while disconnected (a frame
 * that cannot go out is counted as not sent and never numbered). Beyond the SDK it acts on the
 * `server_draining` notice as the notice asks: it leaves at once (close 4002) and resumes elsewhere, so no frame
 * is in flight when the draining gateway closes.
 *
 * Every frame carries the session index and its number (bench/load/frames.ts); the echo engine returns it,
 * so each echo says which frame came back. The client records which frames came back how often and every
 * gap of more than {@link GAP_RECORD_MS} between the first echoes of frames (what a listener hears as a pause).
 */
import { DEFAULT_RECONNECT, reconnectDelay } from '@rtv/client';
import { CloseCode, closeCodeInfo } from '@rtv/protocol';
import WebSocket from 'ws';
import { audioMessage, FRAME_MS, readProbe } from './frames.js';

/** Frames are 20 ms apart: gaps shorter than this are jitter, not pauses, and are not recorded. */
export const GAP_RECORD_MS = 100;
/** The SDK's send-buffer bound: audio beyond it is dropped rather than queued. */
const MAX_BUFFERED_BYTES = 1_048_576;
const CONNECT_TIMEOUT_MS = 10_000;
const HEARTBEAT_MS = 15_000;
const PING_TIMEOUT_MS = 5_000;

/** Milliseconds since the soak started streaming. */
export type Clock = () => number;

/** A stretch without a new frame echoed. */
export interface EchoGap {
  startMs: number;
  endMs: number;
}

/** Something that happened to the connection, for the timeline of the report. */
export interface ClientEvent {
  atMs: number;
  kind: 'close' | 'error' | 'notice' | 'resumed' | 'ended' | 'new-session';
  detail: string;
}

interface CreatedSession {
  id: string;
  resume_token?: string;
}

/** A growable byte-per-frame counter (echo counts, capped at 255). */
class FrameCounts {
  private counts = new Uint8Array(4096);
  private sentAt = new Float64Array(4096);

  markSent(n: number, atMs: number): void {
    this.grow(n);
    this.sentAt[n] = atMs;
  }

  /** Counts an echo of `n`; returns true when it is the first. */
  echo(n: number): boolean {
    this.grow(n);
    const before = this.counts[n]!;
    this.counts[n] = Math.min(255, before + 1);
    return before === 0;
  }

  seen(n: number): boolean {
    return n < this.counts.length && this.counts[n]! > 0;
  }

  /** Frames below `sent` never echoed, with their send times. */
  missing(sent: number): Array<{ frame: number; sentAtMs: number }> {
    const out: Array<{ frame: number; sentAtMs: number }> = [];
    for (let n = 0; n < sent; n++) {
      if (this.counts[n] === 0) out.push({ frame: n, sentAtMs: Math.round(this.sentAt[n]!) });
    }
    return out;
  }

  private grow(n: number): void {
    if (n < this.counts.length) return;
    const size = Math.max(n + 1, this.counts.length * 2);
    const counts = new Uint8Array(size);
    counts.set(this.counts);
    const sentAt = new Float64Array(size);
    sentAt.set(this.sentAt);
    this.counts = counts;
    this.sentAt = sentAt;
  }
}

/** The `seq` a gateway appends as the last member of a numbered message (`…,"seq":123}`). */
function tailSeq(data: Buffer): number | undefined {
  const tail = data.toString('latin1', Math.max(0, data.length - 32));
  const m = /,"seq":(\d+)\}$/.exec(tail);
  return m ? Number(m[1]) : undefined;
}

export class SoakClient {
  readonly userId: string;
  /** Frames put on an open socket (numbered 0 … sent − 1). */
  sent = 0;
  /** Distinct frames echoed at least once. */
  echoed = 0;
  repeated = 0;
  misrouted = 0;
  /**
   * Echoes of frames not seen before that came with a `seq` at or below one already received, so the client
   * dropped them as repeats (the SDK does the same). Non-zero means the server numbered new messages with old
   * seqs, and those frames count as lost.
   */
  staleSeqNewFrames = 0;
  /** Frames due while the client had no open session (dropped, as the SDK drops them). */
  notSent = 0;
  reconnects = 0;
  readonly sessionIds: string[] = [];
  readonly gaps: EchoGap[] = [];
  readonly events: ClientEvent[] = [];
  /** Times the session could not be continued (refused resume, terminal close, reconnects exhausted). */
  readonly ended: ClientEvent[] = [];
  lastProgressMs: number | undefined;

  private readonly frames = new FrameCounts();
  private ws: WebSocket | undefined;
  private open = false;
  private sid: string | undefined;
  private token: string | undefined;
  private lastSeq = 0;
  private resuming = false;
  private resumable = false;
  private moving = false;
  private attempt = 0;
  private gateway: number;
  private stopped = false;
  private due = 0;
  private streamFromMs = 0;
  private streamTimer: NodeJS.Timeout | undefined;
  private connectTimer: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private pingDeadline: NodeJS.Timeout | undefined;
  private firstOpen: { resolve: () => void; reject: (err: Error) => void } | undefined;

  constructor(
    readonly index: number,
    private readonly wsUrls: string[],
    private readonly clock: Clock,
  ) {
    this.userId = `soak_${index}`;
    this.gateway = index % wsUrls.length;
  }

  /** Opens the first session on the client's home gateway; rejects if that fails (no retry). */
  connect(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.firstOpen = { resolve, reject };
      this.openSocket();
    });
  }

  /** Streams one frame every 20 ms of the soak clock from now on; late timers catch up. */
  startStreaming(): void {
    this.streamFromMs = this.clock();
    this.due = 0;
    this.streamTimer = setInterval(() => this.sendDue(), FRAME_MS);
  }

  stopStreaming(): void {
    clearInterval(this.streamTimer);
    this.sendDue();
  }

  /** Frames sent but never echoed (so far), with their send times. */
  missing(): Array<{ frame: number; sentAtMs: number }> {
    return this.frames.missing(this.sent);
  }

  /** Ends the session (close 1000) and stops reconnecting. */
  async close(): Promise<void> {
    this.stopped = true;
    clearInterval(this.streamTimer);
    this.stopTimers();
    const ws = this.ws;
    if (!ws || ws.readyState === WebSocket.CLOSED) return;
    const closed = new Promise((r) => ws.once('close', r));
    ws.close(CloseCode.Normal, 'soak over');
    const timer = setTimeout(() => ws.terminate(), 2000);
    await closed;
    clearTimeout(timer);
  }

  private sendDue(): void {
    const due = Math.floor((this.clock() - this.streamFromMs) / FRAME_MS) + 1;
    for (; this.due < due; this.due++) {
      const ws = this.ws;
      if (!this.open || ws?.readyState !== WebSocket.OPEN || ws.bufferedAmount > MAX_BUFFERED_BYTES) {
        this.notSent++;
        continue;
      }
      const n = this.sent++;
      const at = this.clock();
      this.frames.markSent(n, at);
      ws.send(audioMessage(this.index, n, at));
    }
  }

  private openSocket(): void {
    this.resuming = this.resumable && this.sid !== undefined && this.token !== undefined;
    const query = new URLSearchParams({ seq: '1' });
    const protocols = ['rtv.v1'];
    if (this.resuming) {
      query.set('resume', this.sid!);
      if (this.lastSeq > 0) query.set('last_seq', String(this.lastSeq));
      protocols.push(`rtv.resume.${this.token}`);
    } else {
      this.lastSeq = 0;
    }
    const ws = new WebSocket(`${this.wsUrls[this.gateway]}/${this.userId}?${query}`, protocols, {
      perMessageDeflate: false,
      handshakeTimeout: CONNECT_TIMEOUT_MS,
    });
    this.ws = ws;
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (this.ws === ws && !isBinary) this.onMessage(data);
    });
    ws.on('error', () => {
      // followed by 'close' (1006 when the connection failed or dropped)
    });
    ws.once('close', (code: number, reason: Buffer) => this.onClose(ws, code, reason.toString()));
    this.connectTimer = setTimeout(() => ws.terminate(), CONNECT_TIMEOUT_MS);
  }

  private onMessage(data: Buffer): void {
    const probe = readProbe(data);
    const seq = tailSeq(data);
    if (seq !== undefined && (probe || !data.includes('"session.created"'))) {
      // A replay after a resume may repeat the last few messages: dropped by seq, as the SDK drops them.
      if (seq <= this.lastSeq) {
        if (probe?.index === this.index && !this.frames.seen(probe.seq)) this.staleSeqNewFrames++;
        return;
      }
      this.lastSeq = seq;
    }
    if (probe) {
      if (probe.index !== this.index) this.misrouted++;
      else this.onEcho(probe.seq);
      return;
    }
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(data.toString('utf8')) as Record<string, unknown>;
    } catch {
      this.note('error', 'not JSON');
      return;
    }
    this.onControl(message);
  }

  private onEcho(frame: number): void {
    if (!this.frames.echo(frame)) {
      this.repeated++;
      return;
    }
    this.echoed++;
    const now = this.clock();
    if (this.lastProgressMs !== undefined && now - this.lastProgressMs > GAP_RECORD_MS) {
      this.gaps.push({ startMs: this.lastProgressMs, endMs: now });
    }
    this.lastProgressMs = now;
  }

  private onControl(m: Record<string, unknown>): void {
    switch (m.type) {
      case 'session.created':
        this.onCreated(m.session as CreatedSession);
        break;
      case 'session.notice': {
        const code = (m.notice as { code?: string } | undefined)?.code ?? '?';
        this.note('notice', code);
        if (code === 'server_draining') this.leave();
        break;
      }
      case 'error':
        this.note('error', (m.error as { code?: string } | undefined)?.code ?? '?');
        break;
      case 'pong':
        clearTimeout(this.pingDeadline);
        break;
    }
  }

  private onCreated(session: CreatedSession): void {
    clearTimeout(this.connectTimer);
    if (this.resuming && session.id === this.sid) this.note('resumed', session.id);
    else if (this.sid !== undefined) this.note('new-session', session.id);
    if (session.id !== this.sid) this.sessionIds.push(session.id);
    this.sid = session.id;
    this.token = session.resume_token;
    this.open = true;
    this.attempt = 0;
    this.startHeartbeat();
    this.firstOpen?.resolve();
    this.firstOpen = undefined;
  }

  /** The gateway is draining: close this socket (the session is kept) and resume on the next gateway now. */
  private leave(): void {
    const ws = this.ws;
    if (!ws || this.moving) return;
    this.moving = true;
    this.open = false;
    ws.close(CloseCode.ClientReconnecting, 'gateway draining');
    // A gateway that does not answer the close frame must not hold the move up.
    setTimeout(() => ws.terminate(), 2000);
  }

  private onClose(ws: WebSocket, code: number, reason: string): void {
    if (this.ws !== ws) return;
    this.ws = undefined;
    this.open = false;
    this.stopTimers();
    this.note('close', `${code}${reason ? ` ${reason}` : ''}`);
    if (this.stopped) return;
    if (this.firstOpen) {
      this.firstOpen.reject(
        new Error(`${this.userId}: first connect failed (close ${code} ${reason})`.trim()),
      );
      this.firstOpen = undefined;
      return;
    }
    this.reconnects++;
    this.scheduleReconnect(code);
  }

  /** What the SDK does after a close, plus a new session when the old one cannot be continued. */
  private scheduleReconnect(code: number): void {
    const info = closeCodeInfo(code);
    this.gateway = (this.gateway + 1) % this.wsUrls.length;
    if (this.moving) {
      this.moving = false;
      this.resumable = true;
      setTimeout(() => this.reopen(), 0);
      return;
    }
    this.attempt++;
    const refused = this.resuming && code === CloseCode.SessionNotFound;
    const delay = refused ? undefined : reconnectDelay(info, this.attempt, DEFAULT_RECONNECT);
    if (delay === undefined) {
      const why = refused ? 'resume refused (4001)' : info.reconnect ? 'reconnects exhausted' : info.name;
      this.endSession(`${why}, close ${code}`);
      return;
    }
    this.resumable = info.resume;
    setTimeout(() => this.reopen(), delay);
  }

  /** The session is lost to this client: counted, and a new one started so the load goes on. */
  private endSession(reason: string): void {
    const event: ClientEvent = { atMs: Math.round(this.clock()), kind: 'ended', detail: reason };
    this.ended.push(event);
    this.events.push(event);
    this.resumable = false;
    this.attempt = 0;
    setTimeout(() => this.reopen(), DEFAULT_RECONNECT.initialDelayMs);
  }

  private reopen(): void {
    if (!this.stopped) this.openSocket();
  }

  private startHeartbeat(): void {
    clearInterval(this.heartbeat);
    this.heartbeat = setInterval(() => {
      const ws = this.ws;
      if (!ws || !this.open) return;
      ws.send(JSON.stringify({ type: 'ping', ping: { timestamp: Date.now() / 1000 } }));
      clearTimeout(this.pingDeadline);
      // No pong: the socket is dead without knowing it. Drop it and resume, as the SDK does.
      this.pingDeadline = setTimeout(() => ws.terminate(), PING_TIMEOUT_MS);
    }, HEARTBEAT_MS);
  }

  private stopTimers(): void {
    clearTimeout(this.connectTimer);
    clearInterval(this.heartbeat);
    clearTimeout(this.pingDeadline);
  }

  private note(kind: ClientEvent['kind'], detail: string): void {
    this.events.push({ atMs: Math.round(this.clock()), kind, detail });
  }
}
