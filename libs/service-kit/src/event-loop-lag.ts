import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';

export interface EventLoopLagGuardOptions {
  /** Event-loop delay above which the process counts as overloaded; 0: never. */
  maxLagMs: number;
  /** Length of one measuring window: a delay seen in the last full window still counts. @defaultValue 500 */
  windowMs?: number;
}

/**
 * Watches this process's event-loop delay, so a saturated service takes on no new work until it catches up and
 * the work it already carries (live calls, the timers that keep their leases) keeps its turn. The worker defers
 * new sessions while it is overloaded (`RTV_INTAKE_MAX_LAG_MS`); the gateway refuses new connections
 * (`RTV_GATEWAY_MAX_LAG_MS`).
 *
 * The delay is Node's own histogram (`monitorEventLoopDelay`), read every window: overloaded while the current
 * or the previous window saw a delay above the bound.
 */
export class EventLoopLagGuard {
  private readonly histogram: IntervalHistogram;
  private readonly windowMs: number;
  private previousMaxMs = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: EventLoopLagGuardOptions) {
    this.windowMs = opts.windowMs ?? 500;
    this.histogram = monitorEventLoopDelay({ resolution: 10 });
  }

  start(): void {
    if (this.opts.maxLagMs <= 0 || this.timer) return;
    this.histogram.enable();
    this.timer = setInterval(() => {
      this.previousMaxMs = this.histogram.max / 1e6;
      this.histogram.reset();
    }, this.windowMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.histogram.disable();
  }

  /** The longest event-loop delay of the current and the previous window, in ms. */
  get lagMs(): number {
    if (!this.timer) return 0;
    return Math.max(this.previousMaxMs, this.histogram.max / 1e6);
  }

  overloaded(): boolean {
    return this.opts.maxLagMs > 0 && this.lagMs > this.opts.maxLagMs;
  }
}
