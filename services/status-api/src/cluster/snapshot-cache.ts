import { withTimeout } from '@rtv/service-kit';

export interface SnapshotCacheOptions<T> {
  read: () => Promise<T>;
  /**
   * A finished read is reused for this long. Prometheus replicas, dashboards and load-balancer probes all
   * hit the status API; sharing one read keeps its Redis cost flat however many of them there are.
   * @defaultValue 1000
   */
  maxAgeMs?: number;
  /** A read that takes longer fails (Redis half-away must not hang probes). @defaultValue 2000 */
  timeoutMs?: number;
  now?: () => number;
}

/**
 * Coalesces cluster reads: callers that arrive while a read is in flight share it (a `/metrics` scrape asks
 * once per gauge, all at the same time), and a finished read is reused for `maxAgeMs`. Failures are not
 * cached: the next caller tries again.
 */
export class SnapshotCache<T> {
  private current: { value: Promise<T>; settledAt: number | undefined } | undefined;
  private readonly maxAgeMs: number;
  private readonly timeoutMs: number;
  private readonly now: () => number;

  constructor(private readonly opts: SnapshotCacheOptions<T>) {
    this.maxAgeMs = opts.maxAgeMs ?? 1000;
    this.timeoutMs = opts.timeoutMs ?? 2000;
    this.now = opts.now ?? Date.now;
  }

  get(): Promise<T> {
    const current = this.current;
    // With maxAgeMs 0 a finished read is never reused, not even within the millisecond it settled in.
    const fresh = (settledAt: number) => this.maxAgeMs > 0 && this.now() - settledAt <= this.maxAgeMs;
    if (current && (current.settledAt === undefined || fresh(current.settledAt))) {
      return current.value;
    }
    const entry: { value: Promise<T>; settledAt: number | undefined } = {
      value: withTimeout(
        this.opts.read(),
        this.timeoutMs,
        `cluster read timed out after ${this.timeoutMs} ms`,
      ),
      settledAt: undefined,
    };
    this.current = entry;
    entry.value.then(
      () => {
        entry.settledAt = this.now();
      },
      () => {
        if (this.current === entry) this.current = undefined;
      },
    );
    return entry.value;
  }

  /** The latest read, or undefined when it failed (for callers that report failure as data). */
  getOrUndefined(): Promise<T | undefined> {
    return this.get().catch(() => undefined);
  }
}
