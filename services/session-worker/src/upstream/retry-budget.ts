export interface RetryBudgetOptions {
  /** How long an outage is retried, from its first failed attempt's start. */
  budgetMs: number;
  /** Ceiling of the first delay; it doubles per attempt up to {@link capMs}. */
  baseMs: number;
  /** Ceiling of any one delay, so a provider that comes back is found again within about this long. */
  capMs: number;
  /** A number in [0, 1): the jitter. @defaultValue Math.random */
  random?: () => number;
}

/**
 * When to retry a retryable provider failure, on a time budget rather than a count: a count of fast
 * attempts runs out in a couple of seconds, before a restarting provider is back, while a budget says how long
 * an outage the sessions ride out (`RTV_PROVIDER_RETRY_BUDGET_S`). Delays use full jitter (uniform in
 * `[0, min(cap, base·2ⁿ)]`): the sessions of a worker that all lost the provider at once spread their
 * reconnects instead of arriving together. The last delay is cut to end when the budget does, so one final
 * attempt still happens at the end of the budget.
 */
export class RetryBudget {
  private readonly startedAt: number;
  private delays = 0;

  /** `now` is a millisecond clock (injectable so tests run on a fake one); the budget starts now. */
  constructor(
    private readonly opts: RetryBudgetOptions,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.startedAt = now();
  }

  /** Milliseconds of the budget left (0 when spent). */
  get remainingMs(): number {
    return Math.max(0, this.opts.budgetMs - (this.now() - this.startedAt));
  }

  /** The delay before the next attempt, or undefined when the budget is spent: give up. */
  nextDelay(): number | undefined {
    const remaining = this.remainingMs;
    if (remaining <= 0) return undefined;
    const ceiling = Math.min(this.opts.capMs, this.opts.baseMs * 2 ** this.delays);
    this.delays++;
    const jittered = Math.floor((this.opts.random ?? Math.random)() * ceiling);
    return Math.min(jittered, remaining);
  }
}
