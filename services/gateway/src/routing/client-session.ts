import type { WebSocket } from 'uWebSockets.js';
import type { ConnectionRateLimiter, FloodGuard } from '@rtv/auth';

/** What uWS keeps per socket: the session, created at upgrade, and a resume request if there was one. */
export interface SocketData {
  session: ClientSession;
  resume?: ResumeRequest;
  /** Set when the upgrade was admitted only to be closed with this code and message (e.g. 4429). */
  refuse?: { code: number; message: string };
  /** The per-user slot is still to be taken (synchronous upgrades take it right after open). */
  slotPending?: boolean;
}

/** `?resume=<sid>&resume_token=…&last_seq=…` as copied at upgrade. */
export interface ResumeRequest {
  /** The session id had the right form. */
  valid: boolean;
  token: string;
  /** Last server seq the client saw (it asked for `seq` numbering); else the gateway's record is used. */
  lastSeq: number | undefined;
}

interface ReplayEntry {
  seq: number;
  /** The encoded bus line, kept as the bytes that were written. */
  line: Buffer;
}

export interface ClientSessionLimits {
  pendingMaxFrames: number;
  replayMaxBytes: number;
}

/**
 * Gateway-side state of one client session: the socket, who owns the session (worker id + epoch), the
 * numbering of client frames, frames waiting for a first owner, and frames not yet acknowledged by the owner
 * (kept for replay to a new owner, DESIGN §4.3). Everything is bounded.
 */
export class ClientSession {
  ws: WebSocket<SocketData> | undefined;
  closed = false;
  /** Worker id that owns the session, once bound. */
  owner: string | undefined;
  epoch = 0;
  /** Last client frame number assigned. */
  seq = 0;
  /** Highest seq the owner acknowledged as applied. */
  ackedSeq = 0;
  /** Seq of the last server frame delivered to the client (seqs grow across owners; repeats are dropped). */
  deliveredSeq = 0;
  /** The client asked for a top-level `seq` on every server message (`?seq=1`), to resume precisely. */
  wantSeq = false;
  /** A newer connection resumed this session here: this socket's close must not end or detach it. */
  superseded = false;
  /** Messages/s and bytes/s buckets of this connection, and what happens when they run dry. */
  rate: ConnectionRateLimiter | undefined;
  flood: FloodGuard | undefined;
  /** Owner named by the session store when this socket resumed the session (its bind may still be on the way). */
  resumedFrom: string | undefined;
  /** The cluster-wide per-user connection slot this socket holds (released on close). */
  leaseId: string | undefined;
  bindTimer: NodeJS.Timeout | undefined;
  private replay: ReplayEntry[] = [];
  private replayHead = 0;
  private replayBytes = 0;
  private pendingCount = 0;

  constructor(
    readonly sid: string,
    readonly userId: string,
    readonly route: 'anonymous' | 'authenticated',
    readonly openedAt: number,
    private readonly limits: ClientSessionLimits,
  ) {}

  /**
   * Numbers a frame and remembers it until acknowledged. Returns false when the session has no owner yet and
   * the pending budget is spent (the caller tells the client to slow down or retry).
   * `evicted` counts replay entries dropped to stay within the byte budget.
   */
  record(line: (seq: number) => Buffer): { line: Buffer; evicted: number } | undefined {
    if (this.owner === undefined && this.pendingCount >= this.limits.pendingMaxFrames) return undefined;
    const seq = ++this.seq;
    const text = line(seq);
    if (this.owner === undefined) this.pendingCount++;
    this.replay.push({ seq, line: text });
    this.replayBytes += text.length;
    let evicted = 0;
    while (this.replayBytes > this.limits.replayMaxBytes && this.replayHead < this.replay.length - 1) {
      this.dropHead();
      evicted++;
    }
    return { line: text, evicted };
  }

  /** Drops entries the owner has applied. */
  ack(seq: number): void {
    if (seq <= this.ackedSeq) return;
    this.ackedSeq = seq;
    while (this.replayHead < this.replay.length && this.replay[this.replayHead]!.seq <= seq) this.dropHead();
  }

  /** Lines not yet acknowledged, oldest first: sent to a (new) owner when it binds. */
  unacked(): Buffer[] {
    const out: Buffer[] = [];
    for (let i = this.replayHead; i < this.replay.length; i++) out.push(this.replay[i]!.line);
    return out;
  }

  bind(owner: string, epoch: number): void {
    this.owner = owner;
    this.epoch = epoch;
    this.pendingCount = 0;
  }

  private dropHead(): void {
    const e = this.replay[this.replayHead]!;
    this.replayBytes -= e.line.length;
    this.replay[this.replayHead] = undefined as unknown as ReplayEntry;
    this.replayHead++;
    // Compact now and then instead of shifting on every ack.
    if (this.replayHead > 1024 && this.replayHead * 2 > this.replay.length) {
      this.replay = this.replay.slice(this.replayHead);
      this.replayHead = 0;
    }
  }
}
