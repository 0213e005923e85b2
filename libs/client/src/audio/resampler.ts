/**
 * Streaming sample-rate converter: band-limited (windowed-sinc) interpolation, so downsampling a 48 kHz
 * microphone to the protocol's 24 kHz filters out what would otherwise alias into the speech band, and
 * upsampling reply audio to the device rate does not add images above 12 kHz.
 *
 * Self-contained on purpose: the AudioWorklet code is generated from this class's source text (see
 * `worklets.ts`), so the class must not refer to anything outside itself but JavaScript built-ins.
 */
export class Resampler {
  // Fields are `declare`d and assigned in the constructor: no field syntax reaches the emitted class, so
  // no bundler can turn it into calls to its own helpers, which would not exist in the worklet scope.
  declare readonly inputRate: number;
  declare readonly outputRate: number;
  /** Input samples advanced per output sample. */
  declare private readonly step: number;
  /** Half the filter length, in input samples: each output sample reads `2 * half` inputs. */
  declare private readonly half: number;
  /** Kernel values for distances 0 … half, `resolution` points per input sample, plus a trailing zero. */
  declare private readonly table: Float32Array;
  declare private readonly resolution: number;
  declare private buffer: Float32Array;
  /** Valid samples in `buffer` (history, then input not yet consumed). */
  declare private length: number;
  /** Fractional index in `buffer` of the next output sample. */
  declare private position: number;

  /**
   * @param zeroCrossings Sinc lobes on each side of the kernel: more is a sharper cut-off and costs more.
   *   With 16, 48 → 24 kHz is flat within 0.01 dB to 9 kHz (−0.4 dB at 10 kHz, −3.8 dB at 10.8 kHz) and at
   *   least 75 dB down from 13 kHz, so nothing audible folds back into the speech band.
   */
  constructor(inputRate: number, outputRate: number, zeroCrossings = 16) {
    if (!(inputRate > 0 && outputRate > 0 && Number.isFinite(inputRate) && Number.isFinite(outputRate))) {
      throw new RangeError(`sample rates must be positive numbers (got ${inputRate} → ${outputRate})`);
    }
    this.inputRate = inputRate;
    this.outputRate = outputRate;
    this.step = inputRate / outputRate;
    // Cut-off relative to the input Nyquist frequency, a little below the lower of the two Nyquists so the
    // transition band ends before it (otherwise the top of the band would still fold back).
    const cutoff = Math.min(1, outputRate / inputRate) * 0.92;
    this.half = Math.ceil(zeroCrossings / cutoff);
    this.resolution = 256;
    const size = this.half * this.resolution;
    this.table = new Float32Array(size + 2);
    for (let i = 0; i <= size; i++) {
      const d = i / this.resolution;
      const x = Math.PI * cutoff * d;
      const sinc = i === 0 ? 1 : Math.sin(x) / x;
      // Blackman window over [-half, half]: about -74 dB side lobes.
      const w = (Math.PI * d) / this.half;
      const window = 0.42 + 0.5 * Math.cos(w) + 0.08 * Math.cos(2 * w);
      this.table[i] = cutoff * sinc * window;
    }
    this.buffer = new Float32Array(4096);
    this.reset();
  }

  /** Forgets buffered input (between utterances or replies), so no old audio leaks into new output. */
  reset(): void {
    // `half` zeros of history let the first output sample sit exactly on the first input sample.
    this.buffer.fill(0, 0, this.half);
    this.length = this.half;
    this.position = this.half;
  }

  /**
   * Returns the output still held back as look-ahead (the end of the stream, followed by the filter's
   * decay), then resets. Call it when a stream ends so its last milliseconds are not lost.
   */
  flush(): Float32Array {
    const tail = this.process(new Float32Array(this.half));
    this.reset();
    return tail;
  }

  /**
   * Converts the next block of input and returns the output it completes. Output lags input by `half`
   * input samples (under 1 ms at 48 kHz), the look-ahead the filter needs.
   */
  process(input: Float32Array): Float32Array {
    if (this.inputRate === this.outputRate) return input.slice();
    if (this.length + input.length > this.buffer.length) {
      const grown = new Float32Array(Math.max(this.buffer.length * 2, this.length + input.length));
      grown.set(this.buffer.subarray(0, this.length));
      this.buffer = grown;
    }
    this.buffer.set(input, this.length);
    this.length += input.length;

    const { buffer, table, half, resolution, step } = this;
    const available = this.length - half - this.position;
    const count = available > 0 ? Math.ceil(available / step) : 0;
    const out = new Float32Array(count);
    let t = this.position;
    let produced = 0;
    while (produced < count && Math.floor(t) + half < this.length) {
      const base = Math.floor(t);
      let sum = 0;
      for (let k = base - half + 1; k <= base + half; k++) {
        const x = Math.abs(t - k) * resolution;
        const i = Math.floor(x);
        const a = table[i]!;
        sum += buffer[k]! * (a + (x - i) * (table[i + 1]! - a));
      }
      out[produced++] = sum;
      t += step;
    }
    // Keep only the history the next output sample still needs.
    const drop = Math.floor(t) - half + 1;
    if (drop > 0) {
      buffer.copyWithin(0, drop, this.length);
      this.length -= drop;
      t -= drop;
    }
    this.position = t;
    return produced === count ? out : out.subarray(0, produced);
  }
}
