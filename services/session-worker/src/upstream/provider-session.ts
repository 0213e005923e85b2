import type { HistoryItem } from '@rtv/bus';
import type { SessionConfig } from '@rtv/protocol';
import type { Logger } from '@rtv/service-kit';
import type { WorkerMetrics } from '../metrics.js';
import type { ConnectGate } from './connect-gate.js';
import {
  type ProviderAuth,
  ProviderConnection,
  type ProviderHandlers,
  type ProviderShape,
} from './provider-connection.js';
import { buildHistoryItem, buildSessionUpdate, eventHead } from './provider-events.js';
import { failureOf, type ProviderFailure } from './provider-failure.js';
import type { WarmConnection, WarmConnectionSource } from './provider-pool.js';
import { RetryBudget } from './retry-budget.js';
import { UncommittedTurn } from './uncommitted-turn.js';

export interface ProviderSessionOptions {
  url: string;
  model: string;
  apiKey?: string | undefined;
  /** Another credential form (Azure OpenAI); wins over `apiKey`. */
  auth?: ProviderAuth | undefined;
  shape: ProviderShape;
  log: Logger;
  /**
   * Every provider event as raw bytes, in order, across reconnects, with its first characters (`eventHead`)
   * already cut for cheap type checks.
   */
  onEvent: (raw: Buffer, head: string) => void;
  /**
   * The `session.created` that opened each provider session (it completes the connect, so it does not reach
   * {@link onEvent}); called before anything is restored into that session.
   */
  onSessionCreated?: (raw: Buffer) => void;
  /** The provider was lost and a reconnect is starting (the client may be told). */
  onReconnecting: () => void;
  /**
   * Opening or reopening the provider session failed for good: a fatal failure (refused key, unknown or retired
   * model, disabled shape) at its first attempt, a retryable one once the retry budget was spent.
   */
  onUnavailable: (failure: ProviderFailure) => void;
  /**
   * The session's context, read when a provider session is (re)opened. `withHistory` is false for a brand-new
   * session, which has none: the history need not be read then.
   */
  context: (withHistory: boolean) => Promise<{ config: SessionConfig; history: HistoryItem[] }>;
  /**
   * The events that restore the session into a fresh provider session, in order; when set it replaces the
   * session.update and history items built from {@link context} (the OpenAI-compatible route keeps the
   * provider's own session object and items). `withHistory` is false for a brand-new session.
   */
  restoreEvents?: (withHistory: boolean) => Promise<string[]>;
  /**
   * How long retryable failures (refused or dropped connections, timeouts, HTTP 408/429/5xx) are retried, from
   * the start of the open or reconnect, before `onUnavailable`. A fatal failure is never retried: no second
   * provider connection. @defaultValue 30000
   */
  retryBudgetMs?: number;
  /**
   * An extra cap on connect attempts within the budget (unlimited by default; for tests that need a failure
   * to end after a known number of connections).
   */
  maxAttempts?: number;
  /** Ceiling of the first reconnect delay; doubles per attempt, full jitter, capped at 5 s. @defaultValue 200 */
  backoffMs?: number;
  /**
   * Bytes of the user's uncommitted turn (audio appended since the last commit) kept to re-send into a new
   * provider session after a reconnect or renewal (see {@link UncommittedTurn}); 0 keeps none.
   * @defaultValue 2 MiB, about 30 s of 24 kHz PCM16 as base64
   */
  uncommittedTurnMaxBytes?: number;
  /**
   * Renew the provider session after this long (the provider caps sessions at 60 min). The renewal waits for
   * an idle moment (no response in progress) and is invisible to the client. @defaultValue 55 min
   */
  renewAfterMs?: number;
  /** Events held while (re)connecting; beyond it frames are dropped and counted. @defaultValue 3000 */
  maxQueued?: number;
  /**
   * Bytes of events held while (re)connecting beyond which {@link ProviderSession.offer} refuses client audio
   * and function results (the events a client can send in bulk). @defaultValue 2 MiB
   */
  maxQueuedBytes?: number;
  metrics: WorkerMetrics;
  /**
   * Told whether each (re)open ended in a usable provider session, with the failure when it did not (the
   * worker's `ProviderHealth` records it, logging a fatal failure once rather than once per session).
   */
  onConnect?: (ok: boolean, failure?: ProviderFailure) => void;
  /** Shared by the worker's sessions: bounds concurrent provider connects (see {@link ConnectGate}). */
  connectGate?: ConnectGate;
  /**
   * The worker's warm provider connections (see `ProviderPool`): the first open takes one when it has one for
   * this session's url, model, shape and credential, and connects as usual otherwise. Reconnects and renewals
   * always connect.
   */
  pool?: WarmConnectionSource;
  /**
   * When the session started on this worker (`performance.now()`, the runner's creation after its claim): the
   * first open reports the time from then to a ready provider session (`rtv_worker_provider_ready_seconds`).
   */
  startedAt?: number;
}

/** Default of {@link ProviderSessionOptions.maxQueuedBytes}: about 30 s of 24 kHz PCM16 as base64 appends. */
const DEFAULT_MAX_QUEUED_BYTES = 2 * 1024 * 1024;
/** Default of {@link ProviderSessionOptions.retryBudgetMs}: rides out a provider restart or a short outage. */
const DEFAULT_RETRY_BUDGET_MS = 30_000;
/** Ceiling of one reconnect delay: a provider that is back is found again within about this long. */
const MAX_BACKOFF_MS = 5000;

/**
 * A logical provider session that outlives provider sockets: it queues events while (re)connecting, reconnects
 * with capped full-jitter backoff for a time budget when the socket drops (see {@link RetryBudget}), renews
 * before the provider's session cap, and restores the context (config + conversation history) and then the
 * user's uncommitted turn (see {@link UncommittedTurn}) into every fresh provider session (DESIGN §5). A fatal connect
 * failure (see `provider-failure.ts`) is never retried: the session is told at once through `onUnavailable`.
 */
export class ProviderSession {
  private conn: ProviderConnection | undefined;
  private queue: Array<string | Buffer> = [];
  /** Bytes of the events in {@link queue}. */
  private queuedBytes = 0;
  private closed = false;
  private responseActive = false;
  private renewDue = false;
  private renewTimer: NodeJS.Timeout | undefined;
  private connecting = false;
  /** Audio sent since the last commit: re-sent into the next provider session (see {@link UncommittedTurn}). */
  private readonly turn: UncommittedTurn;

  constructor(private readonly opts: ProviderSessionOptions) {
    this.turn = new UncommittedTurn(opts.uncommittedTurnMaxBytes ?? DEFAULT_MAX_QUEUED_BYTES);
  }

  /** Bytes of the user turn in progress kept for a fresh provider session ({@link UncommittedTurn}). */
  uncommittedTurnBytes(): number {
    return this.turn.bytes;
  }

  /** Opens the first provider session; `restoreHistory` replays the conversation (takeover). */
  async open(restoreHistory: boolean): Promise<boolean> {
    return this.connect(restoreHistory, 'initial');
  }

  /**
   * Sends or queues one event the session's state depends on (a config update, a text turn, a commit or a
   * cancel: few and small, each bounded by its own queue). Returns false when it had to be dropped (queue full).
   */
  send(raw: string | Buffer): boolean {
    if (this.closed) return false;
    if (this.live) return this.sendNow(raw);
    if (this.queue.length >= (this.opts.maxQueued ?? 3000)) return false;
    this.enqueue(raw);
    return true;
  }

  /**
   * Sends or queues client audio or a function result: what a client can send in bulk while the provider
   * connects. Refused (false) when it would take the queue past `maxQueuedBytes`; the caller tells the client.
   */
  offer(raw: string | Buffer): boolean {
    if (this.closed) return false;
    if (this.live) return this.sendNow(raw);
    const limit = this.opts.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES;
    if (this.queuedBytes + byteLength(raw) > limit) return false;
    return this.send(raw);
  }

  private get live(): boolean {
    return this.conn !== undefined && !this.connecting && this.conn.isOpen;
  }

  private sendNow(raw: string | Buffer): boolean {
    this.opts.metrics.upstreamBytesOut.tally().inc(raw.length);
    return this.sendOn(this.conn!, raw);
  }

  /** Sends on `conn`, noting appends and commits for the {@link UncommittedTurn}. */
  private sendOn(conn: ProviderConnection, raw: string | Buffer): boolean {
    this.turn.sent(raw);
    return conn.send(raw);
  }

  private enqueue(raw: string | Buffer): void {
    this.queue.push(raw);
    this.queuedBytes += byteLength(raw);
  }

  /** A provider response is being generated (between response.created and response.done). */
  get responding(): boolean {
    return this.responseActive;
  }

  close(): void {
    this.closed = true;
    if (this.renewTimer) clearTimeout(this.renewTimer);
    this.conn?.close();
    this.conn = undefined;
  }

  private async connect(
    restoreHistory: boolean,
    kind: 'initial' | 'reconnect' | 'renewal',
  ): Promise<boolean> {
    this.connecting = true;
    const maxAttempts = this.opts.maxAttempts ?? Number.POSITIVE_INFINITY;
    const budget = new RetryBudget({
      budgetMs: this.opts.retryBudgetMs ?? DEFAULT_RETRY_BUDGET_MS,
      baseMs: this.opts.backoffMs ?? 200,
      capMs: MAX_BACKOFF_MS,
    });
    let failure: ProviderFailure | undefined;
    for (let attempt = 1; !this.closed; attempt++) {
      const warm = kind === 'initial' && attempt === 1 ? this.takeWarm() : undefined;
      const conn: ProviderConnection =
        warm?.conn ??
        new ProviderConnection(
          this.opts,
          this.handlersFor(() => conn),
        );
      try {
        const { started, created } = warm ? { started: -1, created: warm.created } : await this.attempt(conn);
        if (this.closed) {
          conn.close();
          return false;
        }
        this.opts.onSessionCreated?.(Buffer.from(created));
        // A warm connection's connect was measured when the pool opened it.
        if (!warm) this.opts.metrics.upstreamConnect.observe((performance.now() - started) / 1000);
        if (!(await this.adopt(conn, restoreHistory))) return false;
        if (kind === 'initial') this.observeReady(warm !== undefined);
        this.opts.onConnect?.(true);
        if (kind === 'reconnect') this.opts.metrics.upstreamReconnects.inc({ result: 'ok' });
        if (kind === 'renewal') this.opts.metrics.upstreamRenewals.inc({ result: 'ok' });
        return true;
      } catch (err) {
        conn.close();
        failure = failureOf(err);
        this.opts.metrics.upstreamErrors.inc({ code: failure.fatal ? 'connect_fatal' : 'connect_retryable' });
        const fields = {
          attempt,
          kind,
          failure: failure.kind,
          detail: failure.detail,
          err: (err as Error).message,
        };
        // A fatal failure is the same for every session of the worker: `onConnect` reports it once per change.
        if (failure.fatal) {
          this.opts.log.debug(fields, 'provider refused the configuration: not retrying');
          break;
        }
        const delay = attempt >= maxAttempts ? undefined : budget.nextDelay();
        this.opts.log.warn({ ...fields, retryInMs: delay ?? null }, 'provider connect failed');
        if (delay === undefined) break;
        await new Promise((r) => setTimeout(r, delay));
      }
    }
    this.connecting = false;
    if (!this.closed && failure) {
      this.opts.onConnect?.(false, failure);
      if (kind === 'reconnect') this.opts.metrics.upstreamReconnects.inc({ result: 'failed' });
      if (kind === 'renewal') this.opts.metrics.upstreamRenewals.inc({ result: 'failed' });
      this.opts.onUnavailable(failure);
    }
    return false;
  }

  /** Routes a connection's events and close to this session (`conn` is read when they come). */
  private handlersFor(conn: () => ProviderConnection): ProviderHandlers {
    return {
      onEvent: (raw) => this.onEvent(conn(), raw),
      onClose: (code, reason) => this.onClose(conn(), code, reason),
    };
  }

  /** A warm connection from the pool for this session's target, now routed here; undefined on a miss. */
  private takeWarm(): WarmConnection | undefined {
    const { pool, url, model, apiKey, auth, shape } = this.opts;
    const warm = pool?.take({ url, model, apiKey, auth, shape });
    if (!warm) return undefined;
    warm.conn.handTo(this.handlersFor(() => warm.conn));
    return warm;
  }

  /** From the session's start on this worker to its first ready provider session, by whether it was warm. */
  private observeReady(pooled: boolean): void {
    if (this.opts.startedAt === undefined) return;
    const seconds = (performance.now() - this.opts.startedAt) / 1000;
    this.opts.metrics.providerReady.observe({ pooled: pooled ? 'true' : 'false' }, seconds);
  }

  /** One connect through the gate; resolves with when the attempt really started (after waiting its turn). */
  private async attempt(conn: ProviderConnection): Promise<{ started: number; created: string }> {
    const gate = this.opts.connectGate;
    let started = performance.now();
    if (!gate) return { started, created: await conn.connect() };
    const created = await gate.run(() => {
      started = performance.now();
      return this.closed ? Promise.resolve('') : conn.connect();
    });
    return { started, created };
  }

  /**
   * Makes `conn` the live provider session: config, history (on takeover/reconnect), the audio of the turn the
   * previous provider session had not committed (its input buffer died with it), then what was queued.
   */
  private async adopt(conn: ProviderConnection, restoreHistory: boolean): Promise<boolean> {
    const events = await this.restoreEvents(restoreHistory);
    // The session ended while its context was read: the connection would stay open with nobody to close it.
    if (this.closed) {
      conn.close();
      return false;
    }
    const previous = this.conn;
    this.conn = conn;
    for (const raw of events) conn.send(raw);
    previous?.close();
    this.connecting = false;
    for (const raw of this.turn.take()) this.sendOn(conn, raw);
    const queued = this.queue;
    this.queue = [];
    this.queuedBytes = 0;
    for (const raw of queued) this.sendOn(conn, raw);
    // The provider's session cap counts from its `session.created`: a warm connection is already this old.
    this.scheduleRenewal(conn.ageMs);
    // A close while the context was read went unheard (`conn` was not this session's yet): treat it as heard.
    if (!conn.isOpen)
      queueMicrotask(() => this.onClose(conn, 1006, 'closed before the session was restored'));
    return true;
  }

  private async restoreEvents(withHistory: boolean): Promise<string[]> {
    if (this.opts.restoreEvents) return this.opts.restoreEvents(withHistory);
    const { config, history } = await this.opts.context(withHistory);
    const events = [buildSessionUpdate(config, this.opts.shape)];
    if (withHistory) for (const item of history) events.push(buildHistoryItem(item, this.opts.shape));
    return events;
  }

  private onEvent(conn: ProviderConnection, raw: Buffer): void {
    if (conn !== this.conn) return;
    // Only the two events that bracket a response matter here; the type leads every provider event, so the
    // first characters are enough (audio deltas are large and frequent).
    const head = eventHead(raw);
    this.turn.heard(head);
    if (head.includes('"type":"response.')) {
      if (head.includes('"type":"response.created"')) this.responseActive = true;
      else if (head.includes('"type":"response.done"')) {
        this.responseActive = false;
        if (this.renewDue) queueMicrotask(() => this.renew());
      }
    }
    this.opts.onEvent(raw, head);
  }

  private onClose(conn: ProviderConnection, code: number, reason: string): void {
    if (conn !== this.conn || this.closed) return;
    this.opts.log.warn({ code, reason: reason.slice(0, 80) }, 'provider session lost: reconnecting');
    this.conn = undefined;
    this.responseActive = false;
    this.opts.onReconnecting();
    void this.connect(true, 'reconnect');
  }

  private scheduleRenewal(ageMs: number): void {
    if (this.renewTimer) clearTimeout(this.renewTimer);
    this.renewDue = false;
    this.renewTimer = setTimeout(
      () => {
        this.renewDue = true;
        if (!this.responseActive) this.renew();
      },
      Math.max(0, (this.opts.renewAfterMs ?? 55 * 60_000) - ageMs),
    );
    this.renewTimer.unref();
  }

  private renew(): void {
    if (this.closed || this.connecting || !this.renewDue) return;
    this.renewDue = false;
    this.opts.log.info('renewing the provider session before its time cap');
    void this.connect(true, 'renewal');
  }
}

/** Bytes of an event as sent (only measured while it waits: a queued string is not ASCII when it holds text). */
function byteLength(raw: string | Buffer): number {
  return typeof raw === 'string' ? Buffer.byteLength(raw) : raw.length;
}
