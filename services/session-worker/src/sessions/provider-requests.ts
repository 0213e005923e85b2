/**
 * Why the worker sent a tagged provider event, so the provider's `error` for it (which echoes our `event_id`)
 * can be handled: `config` a client's `session.update`, `turn` a `response.create` for a text turn, a function
 * result or a client's `response.create`, `cancel` the worker's own cancel before an interrupting text,
 * `client` any other event sent for a client frame that carried an `event_id`.
 */
export type ProviderRequestKind = 'config' | 'turn' | 'cancel' | 'client';

export interface ProviderRequest {
  readonly kind: ProviderRequestKind;
  /** The `event_id` of the client frame the event was sent for, copied into the public `error`. */
  readonly clientEventId?: string;
  /**
   * `turn` only: the worker asked for this response itself (a queued text or function result), so a refusal
   * because another response is in progress (a race with server VAD) is retried after that response instead
   * of surfacing.
   */
  readonly requeue?: boolean;
}

/** Prefix of every event id the worker gives its own provider events. */
export const REQUEST_EVENT_PREFIX = 'rtv_ev_';

/**
 * The bounded map provider event id → why it was sent (and the client's event id). Ids are per runner and
 * never reused; the oldest entries are forgotten first, which only loses the `event_id` of an error that comes
 * very late.
 */
export class ProviderRequests {
  private readonly byId = new Map<string, ProviderRequest>();
  private count = 0;

  constructor(private readonly max = 256) {}

  /** A fresh event id for a provider event sent for `request`. */
  next(request: ProviderRequest): string {
    const id = `${REQUEST_EVENT_PREFIX}${++this.count}`;
    this.byId.set(id, request);
    if (this.byId.size > this.max) {
      const oldest = this.byId.keys().next().value;
      if (oldest !== undefined) this.byId.delete(oldest);
    }
    return id;
  }

  /** An event id only when there is something to map it to: a client frame's `event_id`. */
  nextIfTagged(clientEventId: string | undefined): string | undefined {
    return clientEventId === undefined ? undefined : this.next({ kind: 'client', clientEventId });
  }

  /** The request the provider's `error.event_id` names, forgotten once read. */
  take(eventId: unknown): ProviderRequest | undefined {
    if (typeof eventId !== 'string') return undefined;
    const request = this.byId.get(eventId);
    this.byId.delete(eventId);
    return request;
  }

  get size(): number {
    return this.byId.size;
  }
}
