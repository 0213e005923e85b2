/**
 * The maximum session length as the owner enforces it: one timer at the session's creation plus the maximum
 * (`RTV_MAX_SESSION_S`). It counts from the record's `created_ms`, so neither a resume nor a move to another
 * worker extends a session; the gateway enforces the same limit on the client's socket, and this catches a
 * session whose client is detached, or whose gateway's clock or setting differs.
 */
export class SessionLifetime {
  private timer: NodeJS.Timeout | undefined;

  /** `maxMs` 0 means no limit; a session already past its end expires on the next turn. */
  constructor(createdMs: number, maxMs: number, onExpired: () => void, nowMs = Date.now()) {
    if (maxMs <= 0 || createdMs <= 0) return;
    this.timer = setTimeout(onExpired, Math.max(0, createdMs + maxMs - nowMs));
    this.timer.unref();
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
