import type { ClientSession } from './client-session.js';

/**
 * The sessions whose client socket is open on this gateway, by session id: at most one socket per session
 * (a resume on a newer socket replaces the older one). This class is the only code that changes the map;
 * the router, the lifecycle, the heartbeat and the admin server reach it through these methods.
 */
export class ClientSessionRegistry {
  private readonly bySid = new Map<string, ClientSession>();

  /** Registers `session` for its sid, replacing whichever session was registered for it before. */
  add(session: ClientSession): void {
    this.bySid.set(session.sid, session);
  }

  /**
   * Unregisters `session` if it is still the one registered for its sid; returns whether it was. A socket
   * that was superseded by a newer one for the same session therefore never unregisters its successor.
   */
  remove(session: ClientSession): boolean {
    if (this.bySid.get(session.sid) !== session) return false;
    this.bySid.delete(session.sid);
    return true;
  }

  get(sid: string): ClientSession | undefined {
    return this.bySid.get(sid);
  }

  /** Whether `session` (this object, not just its sid) is the registered one. */
  holds(session: ClientSession): boolean {
    return this.bySid.get(session.sid) === session;
  }

  count(): number {
    return this.bySid.size;
  }

  /** Bytes of unacknowledged client frames held by every registered session (for the replay-bytes gauge). */
  unackedBytes(): number {
    let bytes = 0;
    for (const session of this.bySid.values()) bytes += session.unackedBytes();
    return bytes;
  }

  /** The same, with how many sessions hold any (for the gateway-wide replay budget). */
  replayTotals(): { bytes: number; holders: number } {
    let bytes = 0;
    let holders = 0;
    for (const session of this.bySid.values()) {
      const held = session.unackedBytes();
      bytes += held;
      if (held > 0) holders++;
    }
    return { bytes, holders };
  }

  /**
   * The registered sessions, in registration order. Live: a session removed during the iteration is skipped
   * if not reached yet. Use {@link snapshot} when the loop itself closes sessions.
   */
  values(): IterableIterator<ClientSession> {
    return this.bySid.values();
  }

  /** A copy of the registered sessions, for loops that remove as they go (closing a socket unregisters it). */
  snapshot(): ClientSession[] {
    return [...this.bySid.values()];
  }
}
