/**
 * Bounds how many provider connects one worker runs at once. A burst of new sessions (a deploy, a gateway
 * failover, thousands of clients reconnecting) would otherwise start thousands of WebSocket handshakes in
 * the same moment: the event loop stalls, BullMQ leases lapse, the health route stops answering and the
 * handshakes time out together. Waiters are served first come, first served; the connect timeout of an
 * attempt starts when it gets its turn, not while it waits.
 */
export class ConnectGate {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    readonly limit: number,
    /** Told the number of waiting connects whenever it changes (a gauge). */
    private readonly onWaiting?: (waiting: number) => void,
  ) {}

  /** Connects running and waiting now (for metrics and tests). */
  get load(): { active: number; waiting: number } {
    return { active: this.active, waiting: this.waiting.length };
  }

  /** Runs `connect` once a slot is free; the slot is released when it settles. */
  async run<T>(connect: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) {
      await new Promise<void>((resolve) => {
        this.waiting.push(resolve);
        this.onWaiting?.(this.waiting.length);
      });
    } else this.active++;
    try {
      return await connect();
    } finally {
      const next = this.waiting.shift();
      // The slot passes straight to the next waiter, so `active` never dips below the limit under a queue.
      if (next) {
        this.onWaiting?.(this.waiting.length);
        next();
      } else this.active--;
    }
  }
}
