import { SERVER_SEQ_EPOCH_STRIDE } from '@rtv/protocol';

/** Most server frames held above one gap; past it the gap is given up and they go out in order. */
export const SERVER_GAP_MAX_FRAMES = 1024;
/** Most bytes held above one gap (about 8 s of 24 kHz audio deltas). */
export const SERVER_GAP_MAX_BYTES = 1024 * 1024;

/**
 * Whether server frame `seq` may go to the client right after `delivered` without waiting for frames in
 * between. Seqs of one owner epoch grow by one per frame (`epoch · 2³² + n`); the first frame a socket gets
 * (a resume replays from what the client saw) and the first frame of a newer epoch start where they start.
 */
export function followsInOrder(delivered: number, seq: number): boolean {
  if (delivered === 0 || seq === delivered + 1) return true;
  return Math.floor(seq / SERVER_SEQ_EPOCH_STRIDE) > Math.floor(delivered / SERVER_SEQ_EPOCH_STRIDE);
}

/**
 * Server frames of one session that arrived above a gap in their seqs, held (copied: they were views into
 * a batch) until the owner has sent the missing ones again or the wait is over. Frames are kept by seq,
 * so a repeat (the owner's re-send includes what is held) replaces nothing and costs nothing.
 */
export class ServerFrameGap {
  private readonly frames = new Map<number, Buffer>();
  private bytes = 0;
  timer: NodeJS.Timeout | undefined;

  /** Holds a frame; false when the hold is full (give the gap up). */
  hold(seq: number, payload: Buffer): boolean {
    if (this.frames.has(seq)) return true;
    if (this.frames.size >= SERVER_GAP_MAX_FRAMES || this.bytes + payload.length > SERVER_GAP_MAX_BYTES) {
      return false;
    }
    this.frames.set(seq, Buffer.from(payload));
    this.bytes += payload.length;
    return true;
  }

  /** Whether frames are still held. */
  get size(): number {
    return this.frames.size;
  }

  /**
   * Takes the held frames that now follow `delivered` without a gap, in order; returns them with the seq of
   * the last one taken (or `delivered` when none).
   */
  takeFollowing(delivered: number): { frames: Array<[number, Buffer]>; delivered: number } {
    const frames: Array<[number, Buffer]> = [];
    let at = delivered;
    for (;;) {
      const next = this.frames.get(at + 1);
      if (next === undefined) break;
      this.frames.delete(at + 1);
      this.bytes -= next.length;
      frames.push([at + 1, next]);
      at++;
    }
    // Frames the re-send made stale (at or below what was delivered) are dropped.
    for (const seq of this.frames.keys()) {
      if (seq <= at) {
        this.bytes -= this.frames.get(seq)!.length;
        this.frames.delete(seq);
      }
    }
    return { frames, delivered: at };
  }

  /** Gives the gap up: every held frame, in seq order; the hold is empty after. */
  takeAll(): Array<[number, Buffer]> {
    const frames = [...this.frames.entries()].sort((a, b) => a[0] - b[0]);
    this.frames.clear();
    this.bytes = 0;
    return frames;
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
