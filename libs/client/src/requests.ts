import type { SessionInfo } from '@rtv/protocol';
import type { SessionUpdate } from './client-types.js';
import { RealtimeClientError } from './errors.js';

type Timer = ReturnType<typeof setTimeout>;

interface PendingPing {
  resolve: (rttMs: number) => void;
  reject: (err: RealtimeClientError) => void;
  started: number;
  timer: Timer;
}

interface PendingUpdate {
  eventId: string;
  update: SessionUpdate;
  resolve: (config: SessionInfo) => void;
  reject: (err: RealtimeClientError) => void;
  timer: Timer;
}

/**
 * Requests that wait for an answer: pings (answered by `pong`, matched by the echoed timestamp) and session
 * updates (answered in request order by `session.update`, or by an `error` naming their `event_id`).
 */
export class PendingRequests {
  readonly #pings = new Map<number, PendingPing>();
  readonly #updates: PendingUpdate[] = [];
  #lastPingTs = 0;
  #eventSeq = 0;

  /** A ping timestamp no other pending ping has: the pong echoes it, so it is also the key. */
  nextPingTimestamp(): number {
    this.#lastPingTs = Math.max(Date.now() / 1000, this.#lastPingTs + 0.001);
    return this.#lastPingTs;
  }

  /** Waits for the pong of the ping sent with `timestamp`; resolves with the round trip in ms. */
  ping(timestamp: number, timeoutMs: number): Promise<number> {
    const started = performance.now();
    return new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pings.delete(timestamp);
        reject(new RealtimeClientError('ping_timeout', `no pong within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pings.set(timestamp, { resolve, reject, started, timer });
    });
  }

  /** Settles the ping `timestamp` answers; returns its round trip, or undefined for an unknown pong. */
  pong(timestamp: number): number | undefined {
    const ping = this.#pings.get(timestamp);
    if (ping === undefined) return undefined;
    this.#pings.delete(timestamp);
    clearTimeout(ping.timer);
    const rtt = performance.now() - ping.started;
    ping.resolve(rtt);
    return rtt;
  }

  /** A fresh `event_id` for a session update. */
  nextEventId(): string {
    return `rtv-upd-${++this.#eventSeq}`;
  }

  /** Waits for the answer to the session update sent with `eventId`. */
  update(eventId: string, update: SessionUpdate, timeoutMs: number): Promise<SessionInfo> {
    return new Promise<SessionInfo>((resolve, reject) => {
      const entry: PendingUpdate = {
        eventId,
        update,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#remove(entry);
          reject(
            new RealtimeClientError('request_timeout', `no answer to session.update within ${timeoutMs} ms`),
          );
        }, timeoutMs),
      };
      this.#updates.push(entry);
    });
  }

  /** A `session.update` answer arrived: it settles the oldest update. Returns what that update asked for. */
  updateAnswered(config: SessionInfo): SessionUpdate | undefined {
    const entry = this.#updates.shift();
    if (entry === undefined) return undefined;
    clearTimeout(entry.timer);
    entry.resolve(config);
    return entry.update;
  }

  /**
   * An `error` arrived: it fails the update it names by `event_id`. One that names a `session_update` field
   * but carries no `event_id` (a server that does not echo it) belongs to the oldest update, since answers
   * keep request order.
   */
  updateFailed(failure: RealtimeClientError): void {
    const { eventId, field } = failure;
    const entry =
      eventId !== undefined
        ? this.#updates.find((u) => u.eventId === eventId)
        : field?.startsWith('session_update')
          ? this.#updates[0]
          : undefined;
    if (entry === undefined) return;
    this.#remove(entry);
    entry.reject(failure);
  }

  /** The connection is gone: nothing pending will be answered. */
  rejectAll(err: RealtimeClientError): void {
    for (const ping of this.#pings.values()) {
      clearTimeout(ping.timer);
      ping.reject(err);
    }
    this.#pings.clear();
    for (const entry of this.#updates.splice(0)) {
      clearTimeout(entry.timer);
      entry.reject(err);
    }
  }

  #remove(entry: PendingUpdate): void {
    clearTimeout(entry.timer);
    const index = this.#updates.indexOf(entry);
    if (index >= 0) this.#updates.splice(index, 1);
  }
}
