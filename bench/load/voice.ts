/**
 * The voice load of one generator process: its share of sessions, each streaming a 20 ms frame every 20 ms
 * in real time, and the echoes' round trips. Sessions are spread over 20 one-millisecond send slots by
 * their global index, so the whole fleet's frames are evenly spread in time across processes too. The same
 * numbered audio goes out as seed `conversation.item.input` messages or, on the OpenAI-compatible route, as
 * `input_audio_buffer.append` events; only the framing differs.
 */
import WebSocket from 'ws';
import { Histogram, type HistogramData } from '../lib/histogram.js';
import type { VoiceRoute } from '../report/types.js';
import {
  ConnectFailure,
  closeAll,
  closeReason,
  connect,
  errorCode,
  type OpenManyResult,
  openMany,
  rampDelay,
  sessionTarget,
} from './connect.js';
import { FRAME_CODECS, FRAME_MS, type FrameCodec } from './frames.js';

export interface VoiceOpenArgs {
  /**
   * Seed route: the base WebSocket URL, to which the session's user id is appended (`…/realtime/bench_<index>`).
   * OpenAI-compatible route: the full URL (`…/v1/realtime?model=gpt-realtime`); each session then presents its
   * own gateway credential, `Authorization: Bearer bench-<index>`.
   */
  url: string;
  /** The protocol the sessions speak (default seed). */
  route?: VoiceRoute;
  count: number;
  /** Global index of this process's first session. */
  firstIndex: number;
  localAddress?: string;
  concurrency: number;
  /** Per session: connect plus the first echo (the stack must bind it and open its provider socket). */
  timeoutMs: number;
  /**
   * Remote mode: gateway credentials, taken in turn by session index and sent as `Authorization: Bearer …`; the
   * URL is then used as given on both routes.
   */
  tokens?: string[];
  /** Remote mode on the anonymous route: the user `--url` named; each session connects as `<user>-bench_<n>`. */
  user?: string;
  /** Remote mode: PEM of a private CA for `wss://`. */
  ca?: string;
  /** Connects spread over this long, by global index out of `total` (0: as fast as `concurrency` allows). */
  rampMs?: number;
  /** Sessions of the whole step, over every generator process (for the ramp). */
  total?: number;
}

export interface VoiceWindow {
  windowMs: number;
  /** Frames sent inside the measured window, and how many of them came back (also after the window). */
  sent: number;
  received: number;
  lost: number;
  /** Echoes that arrived during the window, whatever their send time: the throughput achieved. */
  receivedDuringWindow: number;
  /** Echoes at or below a seq already seen on the session (repeated or reordered). */
  outOfOrder: number;
  /** Echoes carrying another session's index: delivered to the wrong client. */
  misrouted: number;
  /** Sessions whose socket closed before the end. */
  closedEarly: number;
  /** Those closes by code and reason (`"1011 internal error"`), with how many sessions got each. */
  closeReasons: Record<string, number>;
  rtt: HistogramData;
  /** How late frames left against their real-time schedule: the generator's own lag. */
  sendLag: HistogramData;
}

/** Frame number of the readiness probe; never part of a measured window. */
const READY_SEQ = 0xffffffff;
const SLOTS = FRAME_MS;

interface Session {
  ws: WebSocket;
  index: number;
  nextSeq: number;
  /** First seq of the measured window (Infinity before it opens). */
  windowFirst: number;
  received: number;
  lastSeq: number;
  ready?: () => void;
}

export class VoiceLoad {
  private sessions: Session[] = [];
  private slots: Session[][] = Array.from({ length: SLOTS }, () => []);
  private timer: NodeJS.Timeout | undefined;
  private t0 = 0;
  private slot = 0;
  private windowOpen = false;
  private markAt = 0;
  private rtt = new Histogram();
  private sendLag = new Histogram();
  private receivedDuringWindow = 0;
  private outOfOrder = 0;
  private misrouted = 0;
  private closedEarly = 0;
  private closeReasons: Record<string, number> = {};
  private stopping = false;
  /** The framing of the sessions open now (every session of a step uses the same route). */
  private codec: FrameCodec = FRAME_CODECS.seed;

  async open(args: VoiceOpenArgs): Promise<OpenManyResult> {
    this.codec = FRAME_CODECS[args.route ?? 'seed'];
    const total = args.total ?? args.count;
    return openMany(
      args.count,
      args.concurrency,
      (i) => this.openOne(args, args.firstIndex + i),
      (i) => rampDelay(args.firstIndex + i, total, args.rampMs ?? 0),
    );
  }

  /** Starts streaming on every open session (warm-up: nothing is recorded until `mark`). */
  start(): void {
    this.t0 = performance.now();
    this.slot = 0;
    this.timer = setInterval(this.tick, 1);
  }

  /** Opens the measured window. */
  mark(): void {
    for (const s of this.sessions) s.windowFirst = s.nextSeq;
    this.rtt = new Histogram();
    this.sendLag = new Histogram();
    this.receivedDuringWindow = this.outOfOrder = this.misrouted = 0;
    this.markAt = performance.now();
    this.windowOpen = true;
  }

  /** Stops sending, waits up to `drainMs` for the window's echoes, and reports the window. */
  async stop(drainMs: number): Promise<VoiceWindow> {
    clearInterval(this.timer);
    const windowMs = performance.now() - this.markAt;
    this.windowOpen = false;
    let sent = 0;
    for (const s of this.sessions) sent += s.nextSeq - Math.min(s.windowFirst, s.nextSeq);
    const received = () => this.sessions.reduce((t, s) => t + s.received, 0);
    const deadline = performance.now() + drainMs;
    while (received() < sent && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const got = received();
    return {
      windowMs: Math.round(windowMs),
      sent,
      received: got,
      lost: sent - got,
      receivedDuringWindow: this.receivedDuringWindow,
      outOfOrder: this.outOfOrder,
      misrouted: this.misrouted,
      closedEarly: this.closedEarly,
      closeReasons: { ...this.closeReasons },
      rtt: this.rtt.toJSON(),
      sendLag: this.sendLag.toJSON(),
    };
  }

  async close(): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    await closeAll(this.sessions.map((s) => s.ws));
    this.sessions = [];
    this.slots = Array.from({ length: SLOTS }, () => []);
    this.stopping = false;
    this.closedEarly = 0;
    this.closeReasons = {};
  }

  private async openOne(args: VoiceOpenArgs, index: number): Promise<void> {
    const route = args.route ?? 'seed';
    const target = sessionTarget(
      { url: args.url, route, tokens: args.tokens, user: args.user },
      index,
      'bench_',
    );
    const ws = await connect(target.url, {
      localAddress: args.localAddress,
      timeoutMs: args.timeoutMs,
      headers: target.headers,
      ca: args.ca,
    });
    const s: Session = {
      ws,
      index,
      nextSeq: 0,
      windowFirst: Number.POSITIVE_INFINITY,
      received: 0,
      lastSeq: -1,
    };
    // The last error before the first echo says why a session was refused after the upgrade (`rate_limited`
    // then 1008, `model_not_allowed` then 4403).
    let lastError: string | undefined;
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) return;
      if (s.ready) lastError = errorCode(data) ?? lastError;
      this.onMessage(s, data);
    });
    // Ready means the whole path answers: for the stack, a worker has bound the session and its provider
    // socket is open. Frames before that would measure session setup, not streaming.
    await new Promise<void>((resolve, reject) => {
      const onClose = (code: number, reason: Buffer) => {
        clearTimeout(timer);
        s.ready = undefined;
        const detail = `${code} ${reason.toString()}`.trim();
        reject(
          new ConnectFailure(
            closeReason(code, lastError),
            `closed by the server before the first echo (${detail}${lastError ? `, after error ${lastError}` : ''})`,
          ),
        );
      };
      const timer = setTimeout(() => {
        ws.off('close', onClose);
        s.ready = undefined;
        ws.terminate();
        reject(
          new ConnectFailure(
            'no echo',
            `no echo within ${args.timeoutMs} ms (the voice scenario needs a provider in echo mode)`,
          ),
        );
      }, args.timeoutMs);
      s.ready = () => {
        clearTimeout(timer);
        ws.off('close', onClose);
        resolve();
      };
      ws.once('close', onClose);
      ws.send(this.codec.message(index, READY_SEQ, performance.now()));
    });
    ws.once('close', (code: number, reason: Buffer) => {
      if (this.stopping) return;
      this.closedEarly++;
      const key = `${code} ${reason.toString()}`.trim();
      this.closeReasons[key] = (this.closeReasons[key] ?? 0) + 1;
    });
    this.sessions.push(s);
    this.slots[index % SLOTS]!.push(s);
  }

  private onMessage(s: Session, data: Buffer): void {
    const probe = this.codec.readProbe(data);
    if (!probe) return;
    const now = performance.now();
    if (probe.index !== s.index) {
      this.misrouted++;
      return;
    }
    if (probe.seq === READY_SEQ) {
      s.ready?.();
      s.ready = undefined;
      return;
    }
    if (this.windowOpen) this.receivedDuringWindow++;
    if (probe.seq <= s.lastSeq) this.outOfOrder++;
    else s.lastSeq = probe.seq;
    if (probe.seq >= s.windowFirst) {
      s.received++;
      this.rtt.record((now - probe.sentAt) * 1000);
    }
  }

  /** Sends every slot that has come due since the last tick; a late loop catches up, and the lag is recorded. */
  private readonly tick = (): void => {
    const now = performance.now();
    const due = Math.floor(now - this.t0);
    for (; this.slot <= due; this.slot++) {
      const scheduled = this.t0 + this.slot;
      for (const s of this.slots[this.slot % SLOTS]!) {
        if (s.ws.readyState !== WebSocket.OPEN) continue;
        const sentAt = performance.now();
        s.ws.send(this.codec.message(s.index, s.nextSeq++, sentAt));
        if (this.windowOpen) this.sendLag.record((sentAt - scheduled) * 1000);
      }
    }
  };
}
