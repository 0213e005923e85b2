// Known signals and measurements for the audio tests: a resampled or encoded sine must still be a sine of
// the same frequency and amplitude, which a least-squares fit and a zero-crossing count tell exactly.

export function sine(rate: number, frequency: number, amplitude: number, seconds: number): Float32Array {
  const out = new Float32Array(Math.round(rate * seconds));
  for (let i = 0; i < out.length; i++) out[i] = amplitude * Math.sin((2 * Math.PI * frequency * i) / rate);
  return out;
}

export interface SineFit {
  /** Frequency from interpolated zero crossings, in Hz. */
  frequency: number;
  /** Amplitude of the best-fitting sine at `expectedHz`. */
  amplitude: number;
  /** RMS of what the fitted sine does not explain, relative to its amplitude (distortion + noise). */
  residual: number;
}

/** Measures `x` (sampled at `rate`) against a sine of `expectedHz`, skipping `skip` samples of filter warm-up. */
export function fitSine(x: ArrayLike<number>, rate: number, expectedHz: number, skip = 200): SineFit {
  const start = skip;
  const end = x.length - skip;
  let first = -1;
  let last = -1;
  let crossings = 0;
  for (let i = start + 1; i < end; i++) {
    const a = x[i - 1]!;
    const b = x[i]!;
    if (a < 0 && b >= 0) {
      const at = i - 1 + a / (a - b);
      if (first < 0) first = at;
      else crossings++;
      last = at;
    }
  }
  const frequency = crossings > 0 ? (crossings * rate) / (last - first) : 0;
  let s = 0;
  let c = 0;
  const n = end - start;
  for (let i = start; i < end; i++) {
    const phase = (2 * Math.PI * expectedHz * i) / rate;
    s += x[i]! * Math.sin(phase);
    c += x[i]! * Math.cos(phase);
  }
  const a = (2 * s) / n;
  const b = (2 * c) / n;
  const amplitude = Math.hypot(a, b);
  let err = 0;
  for (let i = start; i < end; i++) {
    const phase = (2 * Math.PI * expectedHz * i) / rate;
    const e = x[i]! - (a * Math.sin(phase) + b * Math.cos(phase));
    err += e * e;
  }
  return { frequency, amplitude, residual: Math.sqrt(err / n) / (amplitude || 1) };
}

export function rms(x: ArrayLike<number>, start = 0, end = x.length): number {
  let sum = 0;
  for (let i = start; i < end; i++) sum += x[i]! * x[i]!;
  return Math.sqrt(sum / Math.max(1, end - start));
}

/** Runs `x` through `process` in blocks of `block` samples (the 128-frame render quantum by default). */
export function inBlocks(
  x: Float32Array,
  process: (block: Float32Array) => Float32Array,
  block = 128,
): Float32Array {
  const parts: Float32Array[] = [];
  for (let i = 0; i < x.length; i += block) parts.push(process(x.subarray(i, i + block)));
  return concat(parts);
}

export function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}
