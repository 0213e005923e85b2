/**
 * A log-linear latency histogram (the HDR idea, fixed precision): values are recorded in whole
 * microseconds, exactly below 256 µs and within 0.8 % above. Load-generator processes each fill one and
 * send its sparse form to the orchestrator, which merges them; samples are never shipped one by one.
 */

/** 128 sub-buckets per power of two: ≤ 1/128 relative error. */
const SUB_BITS = 7;
const SUB = 1 << SUB_BITS;
/** Values are clamped here (about 35 minutes in µs), far beyond any round trip worth recording. */
const MAX_VALUE = 2 ** 31 - 1;
const BUCKETS = (31 - SUB_BITS + 1) * SUB;

/** A histogram in transferable form: `[bucket, count]` pairs plus the exact extremes. */
export interface HistogramData {
  buckets: Array<[number, number]>;
  count: number;
  sumUs: number;
  minUs: number;
  maxUs: number;
}

/** Percentiles in milliseconds, as reports show them. */
export interface LatencySummary {
  count: number;
  meanMs: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
}

function bucketOf(us: number): number {
  const v = Math.min(MAX_VALUE, Math.max(0, Math.round(us)));
  if (v < SUB * 2) return v;
  const shift = 31 - Math.clz32(v) - SUB_BITS;
  return (shift + 1) * SUB + ((v >>> shift) - SUB);
}

/** The middle of a bucket's range, so reported percentiles are not biased low. */
function bucketValue(bucket: number): number {
  if (bucket < SUB * 2) return bucket;
  const shift = Math.floor(bucket / SUB) - 1;
  const lower = ((bucket % SUB) + SUB) * 2 ** shift;
  return lower + 2 ** shift / 2;
}

export class Histogram {
  private readonly counts = new Float64Array(BUCKETS);
  count = 0;
  private sumUs = 0;
  private minUs = Number.POSITIVE_INFINITY;
  private maxUs = 0;

  /** Records one value in microseconds. */
  record(us: number): void {
    this.counts[bucketOf(us)]! += 1;
    this.count++;
    this.sumUs += us;
    if (us < this.minUs) this.minUs = us;
    if (us > this.maxUs) this.maxUs = us;
  }

  merge(data: HistogramData): void {
    for (const [bucket, n] of data.buckets) this.counts[bucket]! += n;
    this.count += data.count;
    this.sumUs += data.sumUs;
    if (data.count > 0) {
      this.minUs = Math.min(this.minUs, data.minUs);
      this.maxUs = Math.max(this.maxUs, data.maxUs);
    }
  }

  /** The value at percentile `p` (0–100) in microseconds; 0 when empty. */
  percentileUs(p: number): number {
    if (this.count === 0) return 0;
    if (p >= 100) return this.maxUs;
    const rank = Math.max(1, Math.ceil((p / 100) * this.count));
    let seen = 0;
    for (let b = 0; b < BUCKETS; b++) {
      seen += this.counts[b]!;
      // Bucket midpoints can overshoot the exact maximum in the top bucket.
      if (seen >= rank) return Math.min(bucketValue(b), this.maxUs);
    }
    return this.maxUs;
  }

  summary(): LatencySummary {
    const ms = (us: number) => Math.round(us) / 1000;
    return {
      count: this.count,
      meanMs: this.count === 0 ? 0 : ms(this.sumUs / this.count),
      p50Ms: ms(this.percentileUs(50)),
      p90Ms: ms(this.percentileUs(90)),
      p99Ms: ms(this.percentileUs(99)),
      maxMs: ms(this.count === 0 ? 0 : this.maxUs),
    };
  }

  toJSON(): HistogramData {
    const buckets: Array<[number, number]> = [];
    for (let b = 0; b < BUCKETS; b++) if (this.counts[b]! > 0) buckets.push([b, this.counts[b]!]);
    return {
      buckets,
      count: this.count,
      sumUs: this.sumUs,
      minUs: this.count === 0 ? 0 : this.minUs,
      maxUs: this.maxUs,
    };
  }
}
