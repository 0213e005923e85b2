import type { Logger } from '@rtv/service-kit';
import type { WorkerMetrics } from '../metrics.js';
import type { ConnectGate } from './connect-gate.js';
import type { ProviderAuth } from './provider-auth.js';
import { ProviderConnection, type ProviderConnectionOptions } from './provider-connection.js';
import { eventHead } from './provider-events.js';
import { failureOf, type ProviderFailure } from './provider-failure.js';
import { RetryBudget } from './retry-budget.js';

/** What a provider connection is opened for: a warm connection serves only a session with the same target. */
export type PoolTarget = Pick<ProviderConnectionOptions, 'url' | 'model' | 'apiKey' | 'auth' | 'shape'>;

/** A provider connection that is open and has received `session.created`, handed to exactly one session. */
export interface WarmConnection {
  conn: ProviderConnection;
  /** The provider's `session.created`, as the connect received it (the fresh path hands the same to the session). */
  created: string;
}

/** Where a new session looks for a warm provider connection before it opens one itself. */
export interface WarmConnectionSource {
  /**
   * Removes and returns an open warm connection for `target`, or undefined (a miss: none warm, none open, or
   * another target). A connection taken is never given back: the session closes it when it ends.
   */
  take(target: PoolTarget): WarmConnection | undefined;
}

export interface ProviderPoolOptions {
  /** The worker's default provider target (the seed route's, and the OpenAI-compatible route's default model). */
  target: PoolTarget;
  /** Warm connections to keep (`RTV_PROVIDER_POOL_SIZE`); 0 keeps none. */
  size: number;
  /**
   * A warm connection older than this is closed and replaced (`RTV_PROVIDER_POOL_MAX_AGE_S`), well before the
   * provider's session cap, so a session that takes one still has most of the provider session ahead of it.
   */
  maxAgeMs: number;
  /** The worker's connect gate: refills run through it, and only while it has a free slot and no waiter. */
  connectGate: ConnectGate;
  metrics: WorkerMetrics;
  log: Logger;
  /** Told each refill's outcome, like a session's connect (the worker's `ProviderHealth`). */
  onConnect?: (ok: boolean, failure?: ProviderFailure) => void;
  /** Handshake + `session.created` must complete within this. @defaultValue 10000 */
  connectTimeoutMs?: number;
  /** First refill retry delay after a failure; doubles per failure up to {@link retryCapMs}. @defaultValue 1000 */
  retryBaseMs?: number;
  /** Longest wait between two failed refills (and the wait after a fatal refusal). @defaultValue 30000 */
  retryCapMs?: number;
  /** How often a refill deferred for a busy connect gate looks again. @defaultValue 200 */
  busyRecheckMs?: number;
}

interface PoolEntry extends WarmConnection {
  /** Closes the connection once it reached the maximum age. */
  recycleTimer: NodeJS.Timeout;
}

/**
 * Warm provider connections of one worker: up to `size` connections to the default target, open and past
 * `session.created`, so a new session skips the TLS + WebSocket handshake and the wait for the provider session.
 * A session takes one for itself and never gives it back (a warm connection never carries two users'
 * conversations); the pool then opens a replacement. Refills run one at a time through the worker's
 * {@link ConnectGate}, only when it has a free slot and nobody waits, so client connects go first; failed refills
 * back off with capped full-jitter delays (see {@link RetryBudget}), so an outage is not met with a stream of
 * connects. A connection that closes, or sends anything, while it waits is dropped (the session must see what a
 * fresh connection shows it: `session.created`, then the answers to its own events). `close()` ends refills and
 * closes every warm connection.
 */
export class ProviderPool implements WarmConnectionSource {
  private readonly warm: PoolEntry[] = [];
  private refilling = false;
  private closed = false;
  private retryTimer: NodeJS.Timeout | undefined;
  /** The connection a refill is opening, closed at once by `close()`. */
  private opening: ProviderConnection | undefined;
  private backoff: RetryBudget;

  constructor(private readonly opts: ProviderPoolOptions) {
    this.backoff = this.newBackoff();
  }

  /** Warm connections now. */
  get size(): number {
    return this.warm.length;
  }

  /** Starts filling the pool. */
  start(): void {
    this.refill();
  }

  take(target: PoolTarget): WarmConnection | undefined {
    const { metrics } = this.opts;
    if (this.closed || !sameTarget(target, this.opts.target)) {
      metrics.providerPoolTakes.inc({ outcome: 'miss' });
      return undefined;
    }
    let taken: PoolEntry | undefined;
    while (!taken && this.warm.length > 0) {
      const entry = this.warm.shift() as PoolEntry;
      clearTimeout(entry.recycleTimer);
      // Its close may not have been seen yet: a connection that is not open is dropped, never handed out.
      if (entry.conn.isOpen) taken = entry;
      else entry.conn.close();
    }
    metrics.providerPoolSize.set(this.warm.length);
    metrics.providerPoolTakes.inc({ outcome: taken ? 'hit' : 'miss' });
    // A connection served a session: the provider works, later failures start from short delays again.
    if (taken) this.backoff = this.newBackoff();
    this.refill();
    if (!taken) return undefined;
    return { conn: taken.conn, created: taken.created };
  }

  /** Stops refilling and closes every warm connection (worker drain or shutdown). Idempotent. */
  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.opening?.close();
    for (const entry of this.warm.splice(0)) this.discard(entry);
    this.opts.metrics.providerPoolSize.set(0);
  }

  /** Opens one more warm connection when one is missing, the gate has room and no retry delay runs. */
  private refill(): void {
    if (this.closed || this.refilling || this.retryTimer) return;
    if (this.warm.length >= this.opts.size) return;
    const { active, waiting } = this.opts.connectGate.load;
    if (waiting > 0 || active >= this.opts.connectGate.limit) {
      // Client connects first: look again shortly rather than queue behind (or ahead of) them.
      this.retryLater(this.opts.busyRecheckMs ?? 200);
      return;
    }
    this.refilling = true;
    void this.openOne().finally(() => {
      this.refilling = false;
      this.refill();
    });
  }

  private async openOne(): Promise<void> {
    const { metrics } = this.opts;
    // Set when the provider sent something, or closed, before the connection joined the pool.
    let spoiled = false;
    const conn: ProviderConnection = new ProviderConnection(
      { ...this.opts.target, connectTimeoutMs: this.opts.connectTimeoutMs ?? 10_000 },
      {
        onEvent: (raw) => {
          if (!this.onIdleEvent(conn, raw)) spoiled = true;
        },
        onClose: (code) => {
          if (!this.onIdleClose(conn, code)) spoiled = true;
        },
      },
    );
    this.opening = conn;
    let started = performance.now();
    try {
      // The gate had a free slot and no waiter just now, and nothing ran since: this runs at once.
      const created = await this.opts.connectGate.run(() => {
        started = performance.now();
        return conn.connect();
      });
      if (this.closed || spoiled || !conn.isOpen) {
        conn.close();
        this.waitAfterDiscard();
        return;
      }
      metrics.upstreamConnect.observe((performance.now() - started) / 1000);
      metrics.providerPoolRefills.inc({ outcome: 'ok' });
      this.opts.onConnect?.(true);
      const recycleTimer = setTimeout(() => this.recycle(conn), this.opts.maxAgeMs);
      recycleTimer.unref();
      this.warm.push({ conn, created, recycleTimer });
      metrics.providerPoolSize.set(this.warm.length);
    } catch (err) {
      conn.close();
      if (!this.closed) this.refillFailed(err);
    } finally {
      this.opening = undefined;
    }
  }

  /** Counts a failed refill, tells the provider health, and waits before the next one. */
  private refillFailed(err: unknown): void {
    const failure = failureOf(err);
    this.opts.metrics.providerPoolRefills.inc({ outcome: 'failed' });
    this.opts.onConnect?.(false, failure);
    // A fatal refusal (key, model) is the same next time: wait the longest, in case an operator fixes it.
    const delay = failure.fatal ? (this.opts.retryCapMs ?? 30_000) : this.nextDelay();
    this.opts.log.warn(
      { failure: failure.kind, detail: failure.detail, retryInMs: delay },
      'provider pool refill failed',
    );
    this.retryLater(delay);
  }

  /** A warm connection reached the maximum age: closed and replaced. */
  private recycle(conn: ProviderConnection): void {
    const index = this.warm.findIndex((entry) => entry.conn === conn);
    if (index === -1) return;
    const [entry] = this.warm.splice(index, 1);
    this.discard(entry as PoolEntry);
    this.opts.metrics.providerPoolRecycled.inc();
    this.opts.metrics.providerPoolSize.set(this.warm.length);
    // It lived its full time unused: the provider keeps connections, and refills start from short delays again.
    this.backoff = this.newBackoff();
    this.refill();
  }

  /**
   * The provider closed a connection while it waited in the pool (an idle timeout, a restart): replaced.
   * False when the connection was not in the pool (still joining it).
   */
  private onIdleClose(conn: ProviderConnection, code: number): boolean {
    if (!this.remove(conn)) return false;
    this.opts.log.info({ code }, 'a warm provider connection closed while idle: replacing it');
    this.waitAfterDiscard();
    return true;
  }

  /**
   * The provider sent something after `session.created` on a connection nobody uses yet. A session taking it
   * would see an event a fresh connection does not show, so the connection is dropped and replaced. False
   * when the connection was not in the pool (still joining it).
   */
  private onIdleEvent(conn: ProviderConnection, raw: Buffer): boolean {
    if (!this.remove(conn)) return false;
    const type = /"type"\s*:\s*"([a-z_.]{1,64})"/.exec(eventHead(raw))?.[1] ?? 'unknown';
    this.opts.log.warn({ type }, 'a warm provider connection got an event while idle: dropped');
    conn.close();
    this.waitAfterDiscard();
    return true;
  }

  /** Takes `conn` out of the pool; false when it was not there (taken, recycled, closed). */
  private remove(conn: ProviderConnection): boolean {
    const index = this.warm.findIndex((entry) => entry.conn === conn);
    if (index === -1) return false;
    const [entry] = this.warm.splice(index, 1);
    clearTimeout((entry as PoolEntry).recycleTimer);
    this.opts.metrics.providerPoolSize.set(this.warm.length);
    return true;
  }

  private discard(entry: PoolEntry): void {
    clearTimeout(entry.recycleTimer);
    entry.conn.close();
  }

  /**
   * A warm connection was lost before any session used it. The replacement waits like a failed refill: a
   * provider that drops idle connections, or sends them events, at once would otherwise get a connect loop.
   */
  private waitAfterDiscard(): void {
    this.retryLater(this.nextDelay());
  }

  /**
   * The next wait after a failure or a discard: capped full jitter, growing until a warm connection serves a
   * session or reaches its maximum age. At least `retryBaseMs`: full jitter alone may draw 0.
   */
  private nextDelay(): number {
    const base = this.opts.retryBaseMs ?? 1000;
    return Math.max(base, this.backoff.nextDelay() ?? base);
  }

  private retryLater(delayMs: number): void {
    if (this.closed || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.refill();
    }, delayMs);
    this.retryTimer.unref();
  }

  /** Refill failures have no time budget (the pool keeps trying), only growing delays. */
  private newBackoff(): RetryBudget {
    return new RetryBudget({
      budgetMs: Number.POSITIVE_INFINITY,
      baseMs: this.opts.retryBaseMs ?? 1000,
      capMs: this.opts.retryCapMs ?? 30_000,
    });
  }
}

/** Same endpoint, model, shape and credential: a connection opened for one serves the other. */
export function sameTarget(a: PoolTarget, b: PoolTarget): boolean {
  return (
    a.url === b.url &&
    a.model === b.model &&
    a.shape === b.shape &&
    (a.apiKey ?? '') === (b.apiKey ?? '') &&
    sameAuth(a.auth, b.auth)
  );
}

function sameAuth(a: ProviderAuth | undefined, b: ProviderAuth | undefined): boolean {
  if (!a || !b) return a === b;
  if (a.type === 'bearer-file' || b.type === 'bearer-file')
    return a.type === b.type && (a as { path: string }).path === (b as { path: string }).path;
  return a.type === b.type && a.key === b.key;
}
