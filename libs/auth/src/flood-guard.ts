/**
 * Decides what happens to a client that keeps breaking a limit: a few `rate_limited` warnings, then a
 * close with 1008. Pure and clock-injected, one per connection, a few numbers of state.
 */
export interface FloodGuardOptions {
  /**
   * Warnings sent before the connection is closed. A well-behaved client that overshoots once gets one
   * warning and slows down; a flood uses them up and is closed.
   * @defaultValue 5
   */
  readonly maxWarnings?: number;
  /**
   * One strike is forgiven per this many ms, so occasional overshoots spread over a long session never
   * add up to a close.
   * @defaultValue 10_000
   */
  readonly forgiveMs?: number;
  /**
   * After a warning, further refused frames within this window are dropped without another warning or
   * strike: the client needs a round trip to react, and answering every frame of a flood with an error
   * would turn its flood into ours.
   * @defaultValue 250
   */
  readonly quietMs?: number;
}

/**
 * `warn`: drop the frame and send a `rate_limited` error. `drop`: drop it silently. `close`: close the
 * connection with 1008 (returned again on every later call, so a racing caller cannot reopen the gate).
 */
export type FloodDecision = 'warn' | 'drop' | 'close';

export class FloodGuard {
  private readonly maxWarnings: number;
  private readonly forgiveMs: number;
  private readonly quietMs: number;
  private strikes = 0;
  private lastStrikeMs = Number.NEGATIVE_INFINITY;
  private closed = false;

  constructor(options: FloodGuardOptions = {}) {
    this.maxWarnings = options.maxWarnings ?? 5;
    this.forgiveMs = options.forgiveMs ?? 10_000;
    this.quietMs = options.quietMs ?? 250;
    if (!Number.isInteger(this.maxWarnings) || this.maxWarnings < 0) {
      throw new RangeError('maxWarnings must be an integer >= 0');
    }
    if (!(this.forgiveMs > 0)) throw new RangeError('forgiveMs must be > 0');
    if (!(this.quietMs >= 0)) throw new RangeError('quietMs must be >= 0');
  }

  /** Records one refused frame at `nowMs` and says what to do with it. */
  onRefused(nowMs: number): FloodDecision {
    if (this.closed) return 'close';
    const sinceLast = nowMs - this.lastStrikeMs;
    if (sinceLast < this.quietMs) return 'drop';
    if (sinceLast > 0) this.strikes = Math.max(0, this.strikes - sinceLast / this.forgiveMs);
    this.strikes += 1;
    this.lastStrikeMs = nowMs;
    if (this.strikes > this.maxWarnings) {
      this.closed = true;
      return 'close';
    }
    return 'warn';
  }

  /** Strikes currently held (fractional while being forgiven), for tests and debugging. */
  get pendingStrikes(): number {
    return this.strikes;
  }
}
