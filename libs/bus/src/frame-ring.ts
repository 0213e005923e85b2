/** First size of a session's ring; it doubles (up to the byte budget) while the session keeps talking. */
const INITIAL_CAPACITY = 16 * 1024;

/**
 * Numbered frames of one session kept for replay, bounded by bytes; the oldest go first. The worker keeps
 * its recent server frames in one for resume, the gateway its unacknowledged client frames for a new owner.
 *
 * Frames are copied into one byte ring rather than kept as objects: they live for hundreds of milliseconds
 * to seconds, so keeping each as its own string or Buffer would promote most of them to the old generation
 * and keep the major GC busy. The ring is allocated at the first frame (an idle session costs nothing) and
 * grows by doubling up to the budget; entries are three numbers each. A frame larger than the whole budget
 * is not kept, and neither is anything before it.
 *
 * Each entry has a *virtual* start offset that only grows (its physical position is that modulo the ring's
 * size); a frame that would not fit before the ring's end starts at the next lap instead, and everything
 * that starts more than one ring size before the end of the newest frame has been overwritten (evicted).
 */
export class FrameRing {
  private ring: Buffer | undefined;
  private seqs: number[] = [];
  private starts: number[] = [];
  private lengths: number[] = [];
  private head = 0;
  /** Virtual offset where the next frame goes. */
  private end = 0;
  /** Highest seq evicted so far (0: none). */
  private evictedSeq = 0;

  constructor(private readonly maxBytes: number) {}

  /**
   * Copies a frame in (seqs must grow). Returns how many older frames were evicted to make room (a frame too
   * large for the budget counts itself too).
   */
  push(seq: number, payload: string | Uint8Array): number {
    if (this.maxBytes <= 0) return 1;
    const n = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.byteLength;
    if (n > this.maxBytes) {
      const evicted = this.seqs.length - this.head + 1;
      this.evictedSeq = seq;
      this.clear();
      return evicted;
    }
    const before = this.head;
    let ring = this.ring;
    if (ring === undefined || this.mustGrow(ring, n)) ring = this.grow(n);
    const cap = ring.length;
    let start = this.end;
    const at = start % cap;
    if (at + n > cap) start += cap - at; // does not fit before the end: next lap
    // Frames starting before (start + n - cap) are overwritten by this one or by the skipped tail.
    const keepFrom = start + n - cap;
    while (this.head < this.seqs.length && this.starts[this.head]! < keepFrom) this.evictHead();
    const pos = start % cap;
    if (typeof payload === 'string') ring.write(payload, pos, n, 'utf8');
    else ring.set(payload, pos);
    this.seqs.push(seq);
    this.starts.push(start);
    this.lengths.push(n);
    this.end = start + n;
    const evicted = this.head - before;
    this.maybeCompact();
    return evicted;
  }

  /**
   * How many of the frames held now a push of `bytes` would evict, without pushing anything (0: it fits beside
   * them). The gateway asks before it takes a client frame: losing an unacknowledged one would break "nothing
   * accepted is lost" (DESIGN §4.3), so it refuses the new frame instead. A frame larger than the whole budget
   * evicts every held frame (it is not kept itself either, which {@link push} reports).
   */
  evictionsFor(bytes: number): number {
    const held = this.seqs.length - this.head;
    const ring = this.ring;
    if (held === 0 || ring === undefined || this.maxBytes <= 0) return 0;
    if (bytes > this.maxBytes) return held;
    // As in push: a ring below the budget grows first and its frames are packed from offset 0.
    const grows = this.mustGrow(ring, bytes);
    const cap = grows ? this.grownCapacity(bytes) : ring.length;
    let start = grows ? this.packedBytes() : this.end;
    const at = start % cap;
    if (at + bytes > cap) start += cap - at;
    const keepFrom = start + bytes - cap;
    let evicted = 0;
    let packedStart = 0;
    for (let i = this.head; i < this.seqs.length; i++) {
      if ((grows ? packedStart : this.starts[i]!) >= keepFrom) break;
      evicted++;
      packedStart += this.lengths[i]!;
    }
    return evicted;
  }

  /**
   * Forgets every frame with seq ≤ `seq` (acknowledged by their receiver); they do not count as evicted. A
   * ring that grew for a backlog (acks held up by a failover, say) shrinks again once mostly empty.
   */
  dropThrough(seq: number): void {
    while (this.head < this.seqs.length && this.seqs[this.head]! <= seq) this.head++;
    if (this.head === this.seqs.length)
      this.clear(); // empty: the next frame starts at the beginning
    else this.maybeCompact();
    const ring = this.ring;
    if (ring !== undefined && ring.length > INITIAL_CAPACITY && this.liveBytes() * 8 < ring.length) {
      this.relayout(Math.max(INITIAL_CAPACITY, ring.length / 2));
    }
  }

  /** Bytes the ring holds allocated (0 before the first frame). */
  get capacity(): number {
    return this.ring?.length ?? 0;
  }

  /**
   * Frames with seq > `after`, oldest first (copies), and whether the client can have them all: nothing after
   * `after` was evicted (or the client did not say what it has, `after` 0).
   */
  since(after: number): { frames: Array<[number, Buffer]>; complete: boolean } {
    const frames: Array<[number, Buffer]> = [];
    const ring = this.ring;
    if (ring !== undefined) {
      const cap = ring.length;
      for (let i = this.head; i < this.seqs.length; i++) {
        if (this.seqs[i]! <= after) continue;
        const pos = this.starts[i]! % cap;
        frames.push([this.seqs[i]!, Buffer.from(ring.subarray(pos, pos + this.lengths[i]!))]);
      }
    }
    return { frames, complete: after === 0 || this.evictedSeq <= after };
  }

  /** Every frame kept, oldest first (copies). */
  all(): Buffer[] {
    return this.since(Number.NEGATIVE_INFINITY).frames.map(([, payload]) => payload);
  }

  /** Frames kept and their bytes (for tests and metrics). */
  get size(): { frames: number; bytes: number } {
    return { frames: this.seqs.length - this.head, bytes: this.liveBytes() };
  }

  private liveBytes(): number {
    return this.head < this.seqs.length ? this.end - this.starts[this.head]! : 0;
  }

  /**
   * Whether a push of `n` bytes grows `ring` first: it is below the budget and the frame would overwrite a held
   * one, because the held bytes and `n` exceed it or because the frame does not fit before the ring's end and
   * the next lap starts over the oldest frame. Only a ring at its budget evicts.
   */
  private mustGrow(ring: Buffer, n: number): boolean {
    const cap = ring.length;
    if (cap >= this.maxBytes) return false;
    if (this.liveBytes() + n > cap) return true;
    if (this.head >= this.seqs.length) return false;
    let start = this.end;
    const at = start % cap;
    if (at + n > cap) start += cap - at;
    return this.starts[this.head]! < start + n - cap;
  }

  /** A ring at least twice as large (up to the budget) with the live frames copied to its start. */
  private grow(n: number): Buffer {
    return this.relayout(this.grownCapacity(n));
  }

  /** The size {@link grow} picks to make room for `n` more bytes. */
  private grownCapacity(n: number): number {
    const old = this.ring;
    let cap = old === undefined ? INITIAL_CAPACITY : old.length * 2;
    while (cap < this.liveBytes() + n) cap *= 2;
    return Math.min(this.maxBytes, cap);
  }

  /** Bytes of the frames held, without the gaps a lap leaves (what they take once {@link relayout} packs them). */
  private packedBytes(): number {
    let n = 0;
    for (let i = this.head; i < this.seqs.length; i++) n += this.lengths[i]!;
    return n;
  }

  /** A ring of `cap` bytes with the live frames copied to its start (`cap` ≥ the live bytes). */
  private relayout(cap: number): Buffer {
    const old = this.ring;
    const ring = Buffer.allocUnsafeSlow(cap);
    let pos = 0;
    if (old !== undefined) {
      for (let i = this.head; i < this.seqs.length; i++) {
        const from = this.starts[i]! % old.length;
        old.copy(ring, pos, from, from + this.lengths[i]!);
        this.starts[i] = pos;
        pos += this.lengths[i]!;
      }
    }
    this.end = pos;
    this.ring = ring;
    return ring;
  }

  private evictHead(): void {
    this.evictedSeq = this.seqs[this.head]!;
    this.head++;
  }

  private clear(): void {
    this.seqs = [];
    this.starts = [];
    this.lengths = [];
    this.head = 0;
    this.end = 0;
  }

  private maybeCompact(): void {
    if (this.head > 512 && this.head * 2 > this.seqs.length) this.compact();
  }

  private compact(): void {
    this.seqs = this.seqs.slice(this.head);
    this.starts = this.starts.slice(this.head);
    this.lengths = this.lengths.slice(this.head);
    this.head = 0;
  }
}
