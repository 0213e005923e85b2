import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';

/** Whether this worker should take on new sessions now (see {@link IntakeGuard}). */
export interface Intake {
  overloaded(): boolean;
}

export interface IntakeGuardOptions {
  /** Event-loop delay above which new sessions are deferred (`RTV_INTAKE_MAX_LAG_MS`); 0 never defers. */
  maxLagMs: number;
  /** Length of one measuring window: a delay seen in the last full window still counts. @defaultValue 500 */
  windowMs?: number;
}

/**
 * Watches this process's event-loop delay so a worker that is saturated stops taking on new sessions until it
 * catches up. A burst of session set-ups (claims, provider handshakes) can keep the loop busy for seconds; the
 * lease renewals of the sessions already running here (BullMQ lock timers) then fire late, their leases lapse,
 * and live calls are parked or lost. A deferred session waits in the queue instead, where this worker or a less
 * busy one takes it a moment later.
 *
 * The delay is Node's own histogram (`monitorEventLoopDelay`), read every window: overloaded while the current
 * or the previous window saw a delay above the bound.
 */
export class IntakeGuard implements Intake {
  private readonly histogram: IntervalHistogram;
  private readonly windowMs: number;
  private previousMaxMs = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: IntakeGuardOptions) {
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
