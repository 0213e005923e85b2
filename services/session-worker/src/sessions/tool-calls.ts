import type { HistoryItem } from '@rtv/bus';

/** Insertion-ordered set that forgets its oldest entries beyond `max`. */
class BoundedSet {
  private readonly items = new Set<string>();
  constructor(private readonly max: number) {}

  has(value: string): boolean {
    return this.items.has(value);
  }

  add(value: string): void {
    this.items.add(value);
    if (this.items.size > this.max) {
      const oldest = this.items.values().next().value;
      if (oldest !== undefined) this.items.delete(oldest);
    }
  }

  delete(value: string): void {
    this.items.delete(value);
  }
}

/**
 * Function-call bookkeeping of one session, across provider reconnects and worker failover: a call is
 * announced to the client once (never again if the restored history already holds it), and a result is
 * applied once (a result the gateway replays to the next owner after a failover is skipped when the history
 * already holds a result for that call). The beta shape names the function only on the call's
 * `response.output_item.added`, so names are kept by call id and item id until the arguments are done.
 */
export class ToolCalls {
  private readonly announced: BoundedSet;
  private readonly answered: BoundedSet;
  private readonly names = new Map<string, string>();

  constructor(
    max = 1024,
    private readonly maxNames = 64,
  ) {
    this.announced = new BoundedSet(max);
    this.answered = new BoundedSet(max);
  }

  /** Learns the calls and results a restored history holds. */
  remember(history: readonly HistoryItem[]): void {
    for (const item of history) {
      if (item.type === 'function_call') this.announced.add(item.call_id);
      else if (item.type === 'function_call_output') this.answered.add(item.call_id);
    }
  }

  /** A `function_call` output item started (`response.output_item.added`): remembers its function name. */
  noteItem(item: { id?: unknown; call_id?: unknown; name?: unknown }): void {
    if (typeof item.name !== 'string') return;
    for (const key of [item.call_id, item.id]) if (typeof key === 'string') this.names.set(key, item.name);
    while (this.names.size > this.maxNames) {
      const oldest = this.names.keys().next().value;
      if (oldest === undefined) break;
      this.names.delete(oldest);
    }
  }

  /** The function name of a call whose done event lacks it (beta). */
  nameOf(callId: string, itemId: unknown): string | undefined {
    return this.names.get(callId) ?? (typeof itemId === 'string' ? this.names.get(itemId) : undefined);
  }

  /** True the first time a call is seen: announce it. False for a call already announced or restored. */
  claimAnnouncement(callId: string): boolean {
    this.names.delete(callId);
    if (this.announced.has(callId)) return false;
    this.announced.add(callId);
    return true;
  }

  /** True the first time a result for `callId` comes: apply it. False for a repeat (e.g. a replay). */
  claimOutput(callId: string): boolean {
    if (this.answered.has(callId)) return false;
    this.answered.add(callId);
    return true;
  }

  /** The result for `callId` could not be applied after all (refused): a later one for it is applied. */
  releaseOutput(callId: string): void {
    this.answered.delete(callId);
  }
}
