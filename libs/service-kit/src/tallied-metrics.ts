import {
  Counter,
  type CounterConfiguration,
  Histogram,
  type HistogramConfiguration,
  type LabelValues,
} from 'prom-client';

/**
 * One labelled series of a {@link TalliedCounter}, held by a hot path: `inc` adds to a plain number, and the
 * counter moves the sum into its series when it is collected (at each scrape).
 */
export class Tally {
  pending = 0;

  constructor(readonly labels: LabelValues<string>) {}

  inc(value = 1): void {
    this.pending += value;
  }
}

/**
 * A prom-client counter whose hot-path increments cost an addition. prom-client's own `inc` (also through
 * `labels(...)`) checks and hashes the label values on every call, which a per-frame count pays thousands of
 * times a second. Take a {@link Tally} once per label set with {@link tally} and keep it; the exposition is the
 * same, read at the scrape. `inc` still works, for the cold paths.
 */
export class TalliedCounter<T extends string = string> extends Counter<T> {
  private readonly tallies = new Map<string, Tally>();
  private readonly names: readonly T[];

  constructor(config: CounterConfiguration<T>) {
    const own = config.collect;
    super({
      ...config,
      collect(this: Counter<T>) {
        (this as TalliedCounter<T>).drain();
        return own?.call(this);
      },
    });
    this.names = config.labelNames ?? [];
  }

  /** The tally of one label set (the same object for the same values); label-less counters take none. */
  tally(labels: LabelValues<T> = {}): Tally {
    const names = this.names;
    const key =
      names.length === 0
        ? ''
        : names.length === 1
          ? String(labels[names[0]!] ?? '')
          : names.map((name) => String(labels[name] ?? '')).join('\u0000');
    let tally = this.tallies.get(key);
    if (!tally) {
      tally = new Tally({ ...labels });
      this.tallies.set(key, tally);
    }
    return tally;
  }

  /** Moves every tally's sum into its series; `get()` and the registry call it through `collect`. */
  drain(): void {
    for (const tally of this.tallies.values()) {
      if (tally.pending === 0) continue;
      const value = tally.pending;
      tally.pending = 0;
      this.inc(tally.labels as LabelValues<T>, value);
    }
  }

  override reset(): void {
    // prom-client's constructor calls reset() before this class's fields exist.
    if (this.tallies) for (const tally of this.tallies.values()) tally.pending = 0;
    super.reset();
  }
}

/** prom-client's record of a label-less histogram's series (what `get()` reads). */
interface HistogramSeries {
  bucketValues: Record<number, number>;
  sum: number;
  count: number;
}

/**
 * A label-less prom-client histogram whose hot path is {@link record}: a bucket search over a small array and
 * three additions, with a count for a run of equal values (every frame of one bus entry has the same age).
 * prom-client's `observe` builds objects, checks and hashes labels on every call. What was recorded goes into
 * the series when it is collected; `observe` still works. The exposition is the same as with `observe`
 * (`libs/service-kit/test/tallied-metrics.test.ts` checks it against a plain histogram).
 */
export class TalliedHistogram extends Histogram<string> {
  private readonly bounds: readonly number[];
  private readonly counts: Float64Array;
  private sum = 0;
  private count = 0;

  constructor(config: HistogramConfiguration<string>) {
    if (config.labelNames && config.labelNames.length > 0) {
      throw new Error(`TalliedHistogram ${config.name} takes no labels`);
    }
    const own = config.collect;
    super({
      ...config,
      collect(this: Histogram<string>) {
        (this as TalliedHistogram).drain();
        return own?.call(this);
      },
    });
    this.bounds = (this as unknown as { upperBounds: number[] }).upperBounds;
    this.counts = new Float64Array(this.bounds.length);
  }

  /** Counts `times` observations of `value` (seconds, say). Non-finite values are ignored. */
  record(value: number, times = 1): void {
    if (!Number.isFinite(value) || times <= 0) return;
    const bounds = this.bounds;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= bounds[i]!) {
        this.counts[i]! += times;
        break;
      }
    }
    this.sum += value * times;
    this.count += times;
  }

  /** Moves what {@link record} counted into the series. */
  drain(): void {
    if (this.count === 0) return;
    const self = this as unknown as { hashMap: Record<string, HistogramSeries | undefined> };
    if (self.hashMap[''] === undefined) this.zero({});
    const series = self.hashMap['']!;
    for (let i = 0; i < this.bounds.length; i++) {
      series.bucketValues[this.bounds[i]!]! += this.counts[i]!;
    }
    series.sum += this.sum;
    series.count += this.count;
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }

  override reset(): void {
    // prom-client's constructor calls reset() before this class's fields exist.
    this.counts?.fill(0);
    this.sum = 0;
    this.count = 0;
    super.reset();
  }
}
