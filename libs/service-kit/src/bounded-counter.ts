import type { Counter, LabelValues } from 'prom-client';
import { TalliedCounter } from './tallied-metrics.js';

/** The part of a counter the call sites use, with its label values passed through a bounding function. */
export interface BoundedCounter<T extends string> {
  inc(labels: LabelValues<T>, value?: number): void;
  /**
   * A child bound to `labels` for hot paths: the values are bounded once, here, not on every `inc` (and for a
   * {@link TalliedCounter}, its tally: an addition per `inc`).
   */
  labels(labels: LabelValues<T>): { inc(value?: number): void };
}

/**
 * Wraps a counter whose label values come from outside the process (a client's close code, a provider's
 * error codes or event types): every value goes through `bound` first, so a hostile or buggy peer cannot
 * create new series (DESIGN §7: bounded label sets).
 */
export function boundedCounter<T extends string>(
  counter: Counter<T>,
  bound: (labels: LabelValues<T>) => LabelValues<T>,
): BoundedCounter<T> {
  return {
    inc: (labels, value) => counter.inc(bound(labels), value),
    labels: (labels) =>
      counter instanceof TalliedCounter ? counter.tally(bound(labels)) : counter.labels(bound(labels)),
  };
}
