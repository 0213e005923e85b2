/** What the budget reads: the replay bytes every session holds now, and how many sessions hold any. */
export interface ReplayHoldings {
  replayTotals(): { bytes: number; holders: number };
}

/** The question a session asks before keeping a frame for replay. */
export interface ReplayAdmission {
  /** Whether a session that holds `held` bytes for replay may keep `adding` more. */
  admits(held: number, adding: number): boolean;
}

/**
 * The gateway-wide bound on replay memory (`RTV_GATEWAY_REPLAY_MAX_BYTES`). Each session's ring has its own
 * bound, but many sessions in long turns (an owner acknowledges a turn only when it ends) or a Redis outage (no
 * acknowledgements at all) add up to more than the pod's memory, and an out-of-memory kill ends every session on
 * the gateway. While the sessions together hold less than `maxBytes`, every frame is kept; above it, a session
 * may still keep frames up to an equal share of the budget (`maxBytes` ÷ sessions holding frames), and one
 * above its share is refused, as at its own ring's bound (`replay_buffer_full`, close 1013). The ones that hold
 * most are refused first, and a session that just started talking is not.
 *
 * The total is read from the live sessions every `refreshMs` (so nothing can leak from the count), plus what
 * was admitted since, which keeps a burst between two readings from overshooting.
 */
export class GatewayReplayBudget implements ReplayAdmission {
  private bytes = 0;
  private holders = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly holdings: ReplayHoldings,
    readonly maxBytes: number,
    private readonly refreshMs = 50,
  ) {}

  admits(held: number, adding: number): boolean {
    const fits =
      this.bytes + adding <= this.maxBytes || held + adding <= this.maxBytes / Math.max(1, this.holders);
    if (fits) this.bytes += adding;
    return fits;
  }

  /** Reads the sessions' holdings again (the timer does, every `refreshMs`). */
  refresh(): void {
    const totals = this.holdings.replayTotals();
    this.bytes = totals.bytes;
    this.holders = totals.holders;
  }

  start(): void {
    this.refresh();
    this.timer ??= setInterval(() => this.refresh(), this.refreshMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
