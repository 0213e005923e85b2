/** One chunk of captured audio, ready to send. */
export interface Pcm16Chunk {
  /** PCM16 little-endian bytes: exactly `chunkSamples` samples, fewer only for a flushed remainder. */
  bytes: Uint8Array;
  /** Largest absolute sample value, 0–1. */
  peak: number;
  /** Root mean square level, 0–1 (a full-scale sine is about 0.707). */
  rms: number;
}

/**
 * Cuts a stream of PCM16 samples into fixed-duration chunks (the protocol recommends 20–100 ms: small enough
 * for low latency, large enough to keep per-frame overhead low) and measures each chunk's level for meters.
 *
 * Self-contained: the capture worklet is generated from this class's source text (see `worklets.ts`).
 */
export class Pcm16Chunker {
  // `declare`d fields, assigned in the constructor: see Resampler for why.
  declare readonly chunkSamples: number;
  declare private bytes: Uint8Array;
  declare private view: DataView;
  declare private filled: number;
  declare private sumSquares: number;
  declare private peak: number;

  constructor(sampleRate: number, chunkMs: number) {
    const samples = Math.round((sampleRate * chunkMs) / 1000);
    if (!(samples >= 1) || !Number.isFinite(samples)) {
      throw new RangeError(`a chunk of ${chunkMs} ms at ${sampleRate} Hz holds no sample`);
    }
    this.chunkSamples = samples;
    this.bytes = new Uint8Array(samples * 2);
    this.view = new DataView(this.bytes.buffer);
    this.filled = 0;
    this.sumSquares = 0;
    this.peak = 0;
  }

  /** Samples waiting for the current chunk to fill. */
  get pending(): number {
    return this.filled;
  }

  /** Appends samples; calls `emit` for every chunk they complete, in order. */
  push(samples: Int16Array, emit: (chunk: Pcm16Chunk) => void): void {
    for (let i = 0; i < samples.length; i++) {
      const v = samples[i]!;
      this.view.setInt16(this.filled * 2, v, true);
      const a = v < 0 ? -v / 32768 : v / 32767;
      this.sumSquares += a * a;
      if (a > this.peak) this.peak = a;
      this.filled++;
      if (this.filled === this.chunkSamples) this.emitCurrent(emit);
    }
  }

  /** Emits the partial chunk, if any: the end of a push-to-talk turn must not wait for a full chunk. */
  flush(emit: (chunk: Pcm16Chunk) => void): void {
    if (this.filled > 0) this.emitCurrent(emit);
  }

  /** Drops the partial chunk. */
  reset(): void {
    this.filled = 0;
    this.sumSquares = 0;
    this.peak = 0;
  }

  private emitCurrent(emit: (chunk: Pcm16Chunk) => void): void {
    const n = this.filled;
    // The full buffer is handed over (it may be transferred to another thread), so start a fresh one.
    const bytes = n === this.chunkSamples ? this.bytes : this.bytes.slice(0, n * 2);
    const chunk = { bytes, peak: this.peak, rms: Math.sqrt(this.sumSquares / n) };
    if (n === this.chunkSamples) {
      this.bytes = new Uint8Array(this.chunkSamples * 2);
      this.view = new DataView(this.bytes.buffer);
    }
    this.reset();
    emit(chunk);
  }
}
