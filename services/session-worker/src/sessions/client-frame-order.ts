import { CLIENT_SEQ_GENERATION_STRIDE, type FrameKind } from '@rtv/protocol';

/** Applies one client frame; `payload` may be a view that dies after the call. */
export type ApplyFrame = (seq: number, kind: FrameKind, payload: Buffer) => void;

export interface ClientFrameOrderOptions {
  /**
   * How long frames above a gap wait for the gap to fill (the gateway's replay after a bind) before they are
   * applied anyway. @defaultValue 1000
   */
  gapWaitMs?: number;
  /** Frames held above a gap before they are applied anyway (bounds the memory). @defaultValue 500 */
  maxHeld?: number;
  /** Told when a gap was filled in order, or given up on (`skipped`: that many seqs never came). */
  onGap?: (result: 'filled' | 'skipped', seqs: number) => void;
  /**
   * Told when frames start waiting above a gap: the owner asks the gateway to send again what it has not
   * acknowledged (writes to its stream can be lost when a Redis master fails over), so the gap fills.
   */
  onGapOpened?: () => void;
}

/**
 * Puts a session's client frames in seq order before they are applied. The gateway numbers a connection's frames
 * one by one, and an owner applies each seq once; a frame that arrives above a gap therefore means earlier ones
 * were overtaken. That happens when ownership moves: a restarted worker with the same id, or an owner that
 * re-claims a session after a Redis outage, reads new frames the gateway still writes to its stream before the
 * gateway's replay of the unacknowledged ones (sent when it sees the bind). Applying the newer frame first would
 * make every replayed one a "repeat" and lose it. So frames above a gap wait, copied, until the gap fills, for at
 * most `gapWaitMs` or `maxHeld` frames; then they are applied anyway (the gap is counted as skipped). The first
 * frame of a newer connection (a resume: seq g · 2³² + 1) never counts as a gap.
 */
export class ClientFrameOrder {
  private readonly held = new Map<number, { kind: FrameKind; payload: Buffer }>();
  private timer: NodeJS.Timeout | undefined;
  private readonly gapWaitMs: number;
  private readonly maxHeld: number;
  /** Frames are held above a gap (reported once it fills or is given up). */
  private gapOpen = false;

  constructor(
    /** Highest seq applied (or given up on) so far. */
    public applied: number,
    private readonly apply: ApplyFrame,
    private readonly opts: ClientFrameOrderOptions = {},
  ) {
    this.gapWaitMs = opts.gapWaitMs ?? 1000;
    this.maxHeld = opts.maxHeld ?? 500;
  }

  /** One frame from the bus: applied now, held above a gap, or a repeat (returns false). */
  offer(seq: number, kind: FrameKind, payload: Buffer): boolean {
    if (seq <= this.applied || this.held.has(seq)) return false;
    if (!this.follows(seq)) {
      this.hold(seq, kind, payload);
      return true;
    }
    this.applied = seq;
    this.apply(seq, kind, payload);
    this.drain();
    return true;
  }

  /** Frames waiting above a gap. */
  get heldCount(): number {
    return this.held.size;
  }

  /** Stops the gap timer (the session ended); held frames are dropped. */
  dispose(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.held.clear();
  }

  /** The next seq in order, or the first frame of a newer connection. */
  private follows(seq: number): boolean {
    return seq === this.applied + 1 || seq % CLIENT_SEQ_GENERATION_STRIDE === 1;
  }

  private hold(seq: number, kind: FrameKind, payload: Buffer): void {
    if (!this.gapOpen) this.opts.onGapOpened?.();
    this.gapOpen = true;
    this.held.set(seq, { kind, payload: Buffer.from(payload) });
    if (this.held.size >= this.maxHeld) {
      this.giveUpGap();
      return;
    }
    this.timer ??= setTimeout(() => this.giveUpGap(), this.gapWaitMs);
  }

  /** Applies held frames while they follow in order; reports a gap that filled. */
  private drain(): void {
    while (this.held.size > 0) {
      const next = this.nextHeld();
      if (next === undefined) return;
      const frame = this.held.get(next)!;
      this.held.delete(next);
      this.applied = next;
      this.apply(next, frame.kind, frame.payload);
    }
    this.settled('filled', 0);
  }

  private nextHeld(): number | undefined {
    if (this.held.has(this.applied + 1)) return this.applied + 1;
    for (const seq of this.held.keys()) if (seq > this.applied && this.follows(seq)) return seq;
    return undefined;
  }

  /** The gap did not fill in time: apply what waits, in order, and count the seqs that never came. */
  private giveUpGap(): void {
    this.timer = undefined;
    const seqs = [...this.held.keys()].sort((a, b) => a - b);
    const missing = seqs.length > 0 ? seqs[0]! - this.applied - 1 : 0;
    for (const seq of seqs) {
      const frame = this.held.get(seq)!;
      this.held.delete(seq);
      if (seq <= this.applied) continue;
      this.applied = seq;
      this.apply(seq, frame.kind, frame.payload);
    }
    this.settled('skipped', missing);
  }

  private settled(result: 'filled' | 'skipped', seqs: number): void {
    if (this.held.size > 0 || !this.gapOpen) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.gapOpen = false;
    this.opts.onGap?.(result, seqs);
  }
}
