/** Bytes of one chunk of a ring's storage. */
export const FRAME_CHUNK_BYTES = 16 * 1024;

/**
 * Chunks that rings let go of, handed to the next ring that needs one. Their memory is already touched, so a
 * session whose backlog grows takes warm pages instead of faulting in fresh ones, and a chunk is never copied
 * to make room. At most `maxFree` chunks are kept aside; the rest are left to the garbage collector.
 */
export class FrameChunkPool {
  private readonly free: Buffer[] = [];

  constructor(private readonly maxFree: number) {}

  take(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafeSlow(FRAME_CHUNK_BYTES);
  }

  give(chunk: Buffer): void {
    if (this.free.length < this.maxFree) this.free.push(chunk);
  }

  /** Chunks kept aside now (for tests and metrics). */
  get size(): number {
    return this.free.length;
  }
}

/** The process's pool: up to 16 MiB of chunks kept aside between sessions. */
const sharedChunks = new FrameChunkPool(1024);

/**
 * Numbered frames of one session kept for replay, bounded by bytes; the oldest go first. The worker keeps
 * its recent server frames in one for resume, the gateway its unacknowledged client frames for a new owner.
 *
 * Frames are copied into byte chunks rather than kept as objects: they live for hundreds of milliseconds to
 * seconds, so keeping each as its own string or Buffer would promote most of them to the old generation and
 * keep the major GC busy. The frames are one byte stream laid over a list of 16 KiB chunks (a frame may span
 * two or more); a ring takes a chunk from a pool shared by the process when the stream reaches past its last
 * one and gives back every chunk wholly before its oldest frame. So a growing backlog costs no copies of what
 * is held and an idle or fully acknowledged session holds no memory. Entries are three numbers each. A frame
 * larger than the whole budget is not kept, and neither is anything before it.
 *
 * Offsets are *virtual*: they only grow; chunk `i` of the list holds bytes from `(firstChunk + i)` × 16 KiB.
 */
export class FrameRing {
  private chunks: Buffer[] = [];
  /** Virtual chunk number of `chunks[0]`. */
  private firstChunk = 0;
  private seqs: number[] = [];
  private starts: number[] = [];
  private lengths: number[] = [];
  private head = 0;
  /** Virtual offset where the next frame goes. */
  private end = 0;
  /** Highest seq evicted so far (0: none). */
  private evictedSeq = 0;

  constructor(
    private readonly maxBytes: number,
    private readonly pool: FrameChunkPool = sharedChunks,
  ) {}

  /**
   * Copies a frame in (seqs must grow). Returns how many older frames were evicted to make room: those that
   * would take the held bytes beyond the budget (a frame too large for the budget counts itself too).
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
    while (this.head < this.seqs.length && this.end + n - this.starts[this.head]! > this.maxBytes) {
      this.evictHead();
    }
    const evicted = this.head - before;
    if (this.head === this.seqs.length) this.clear();
    else this.releaseConsumed();
    this.write(payload, n);
    this.seqs.push(seq);
    this.starts.push(this.end);
    this.lengths.push(n);
    this.end += n;
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
    if (held === 0 || this.maxBytes <= 0) return 0;
    if (bytes > this.maxBytes) return held;
    let evicted = 0;
    for (let i = this.head; i < this.seqs.length && this.end + bytes - this.starts[i]! > this.maxBytes; i++) {
      evicted++;
    }
    return evicted;
  }

  /**
   * Forgets every frame with seq ≤ `seq` (acknowledged by their receiver); they do not count as evicted. The
   * chunks they alone used go back to the pool.
   */
  dropThrough(seq: number): void {
    while (this.head < this.seqs.length && this.seqs[this.head]! <= seq) this.head++;
    if (this.head === this.seqs.length) {
      this.clear();
      return;
    }
    this.releaseConsumed();
    this.maybeCompact();
  }

  /** Bytes the ring holds in chunks (0 before the first frame and whenever it holds none). */
  get capacity(): number {
    return this.chunks.length * FRAME_CHUNK_BYTES;
  }

  /**
   * Frames with seq > `after`, oldest first (copies), and whether the client can have them all: nothing after
   * `after` was evicted (or the client did not say what it has, `after` 0).
   */
  since(after: number): { frames: Array<[number, Buffer]>; complete: boolean } {
    const frames: Array<[number, Buffer]> = [];
    for (let i = this.head; i < this.seqs.length; i++) {
      if (this.seqs[i]! <= after) continue;
      frames.push([this.seqs[i]!, this.read(this.starts[i]!, this.lengths[i]!)]);
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

  /** Copies `n` bytes of `payload` to the stream's end, taking chunks as it reaches past the last one. */
  private write(payload: string | Uint8Array, n: number): void {
    const stop = this.end + n;
    while ((this.firstChunk + this.chunks.length) * FRAME_CHUNK_BYTES < stop)
      this.chunks.push(this.pool.take());
    let index = Math.floor(this.end / FRAME_CHUNK_BYTES) - this.firstChunk;
    let at = this.end % FRAME_CHUNK_BYTES;
    if (at + n <= FRAME_CHUNK_BYTES) {
      const chunk = this.chunks[index]!;
      if (typeof payload === 'string') chunk.write(payload, at, n, 'utf8');
      else chunk.set(payload, at);
      return;
    }
    const bytes = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
    let done = 0;
    while (done < n) {
      const take = Math.min(n - done, FRAME_CHUNK_BYTES - at);
      this.chunks[index]!.set(bytes.subarray(done, done + take), at);
      done += take;
      index++;
      at = 0;
    }
  }

  /** A copy of the `n` bytes from virtual offset `start`. */
  private read(start: number, n: number): Buffer {
    let index = Math.floor(start / FRAME_CHUNK_BYTES) - this.firstChunk;
    let at = start % FRAME_CHUNK_BYTES;
    if (at + n <= FRAME_CHUNK_BYTES) return Buffer.from(this.chunks[index]!.subarray(at, at + n));
    const out = Buffer.allocUnsafe(n);
    let done = 0;
    while (done < n) {
      const take = Math.min(n - done, FRAME_CHUNK_BYTES - at);
      this.chunks[index]!.copy(out, done, at, at + take);
      done += take;
      index++;
      at = 0;
    }
    return out;
  }

  /** Gives back the chunks that end at or before the oldest held frame's first byte. */
  private releaseConsumed(): void {
    const oldest = Math.floor(this.starts[this.head]! / FRAME_CHUNK_BYTES);
    while (this.firstChunk < oldest && this.chunks.length > 0) {
      this.pool.give(this.chunks.shift()!);
      this.firstChunk++;
    }
  }

  private evictHead(): void {
    this.evictedSeq = this.seqs[this.head]!;
    this.head++;
  }

  /** Holds nothing: every chunk goes back, and the next frame starts at the beginning of a fresh chunk. */
  private clear(): void {
    for (const chunk of this.chunks) this.pool.give(chunk);
    this.chunks = [];
    this.seqs = [];
    this.starts = [];
    this.lengths = [];
    this.head = 0;
    this.firstChunk = 0;
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
