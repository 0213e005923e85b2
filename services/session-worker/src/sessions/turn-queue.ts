/**
 * A request for a model response: a user text turn (the item, then `response.create`), or a bare
 * `response.create` (after a function result, or the client's own `response.create`).
 */
export type Turn =
  | {
      readonly kind: 'text';
      readonly text: string;
      readonly clientEventId?: string;
      /** The client frame's seq (stored with the text: a replay of the frame is recognised). */
      readonly seq?: number;
    }
  | {
      readonly kind: 'respond';
      readonly clientEventId?: string;
      /** The client asked with `response.create`: a refusal surfaces as `conversation_busy`. */
      readonly explicit?: boolean;
    };

/** What {@link TurnQueue.interrupt} did. */
export type InterruptResult = 'sent' | 'cancel' | 'queued' | 'full';

/**
 * The provider runs one response at a time. Turns that come while one is in progress (a text sent during a
 * reply, a function result while server VAD already started a reply) wait here, in order, and go out one by
 * one as responses end. An interrupting text goes first (after earlier interrupting ones) and the caller
 * cancels the reply in progress.
 *
 * "In progress" is from our `response.create` (or the provider's `response.created`, e.g. a VAD turn) to the
 * provider's `response.done`; a provider reconnect ends it (no `response.done` will come).
 */
export class TurnQueue {
  private readonly queue: Turn[] = [];
  private active = false;
  private requested = false;
  private cancelling = false;
  /** Turns at the front that jumped the line (interrupting texts, a refused request): kept in their order. */
  private leading = 0;

  constructor(
    private readonly start: (turn: Turn) => void,
    readonly max = 32,
  ) {}

  /** A response is in progress or requested. */
  get busy(): boolean {
    return this.active || this.requested;
  }

  /** Turns waiting. */
  get length(): number {
    return this.queue.length;
  }

  /** The lowest client frame seq among the waiting text turns (undefined when none waits). */
  oldestWaitingSeq(): number | undefined {
    let oldest: number | undefined;
    for (const turn of this.queue) {
      if (turn.kind === 'text' && turn.seq !== undefined && (oldest === undefined || turn.seq < oldest)) {
        oldest = turn.seq;
      }
    }
    return oldest;
  }

  /** Starts `turn` now when no response is in progress, else queues it. False when the queue is full. */
  submit(turn: Turn): boolean {
    if (!this.busy) {
      this.send(turn);
      return true;
    }
    if (this.queue.length >= this.max) return false;
    this.queue.push(turn);
    return true;
  }

  /**
   * An interrupting text: sent now when nothing is in progress; else first in line, and `cancel` tells the
   * caller to cancel the response in progress (once per response: a second interrupt only queues).
   */
  interrupt(turn: Turn): InterruptResult {
    if (!this.busy) {
      this.send(turn);
      return 'sent';
    }
    if (this.queue.length >= this.max) return 'full';
    this.queue.splice(this.leading++, 0, turn);
    if (this.cancelling) return 'queued';
    this.cancelling = true;
    return 'cancel';
  }

  /** The provider started a response (ours or one server VAD created). */
  responseCreated(): void {
    this.active = true;
    this.requested = false;
  }

  /** The response in progress ended: the next turn goes out. */
  responseDone(): void {
    this.active = false;
    this.requested = false;
    this.cancelling = false;
    this.drain();
  }

  /**
   * The provider refused our `response.create` because a response is in progress (a race, e.g. with server
   * VAD): ask again, first, when that response ends.
   */
  refused(): void {
    this.requested = false;
    this.active = true;
    this.queue.unshift({ kind: 'respond' });
    this.leading++;
  }

  /** Our `response.create` failed for another reason: no response will come for it. */
  failed(): void {
    this.requested = false;
    this.drain();
  }

  /** The provider session was lost: the response in progress (if any) will not end with `response.done`. */
  lost(): void {
    this.active = false;
    this.requested = false;
    this.cancelling = false;
  }

  /** Sends waiting turns while nothing is in progress (after a reconnect). */
  drain(): void {
    while (!this.busy && this.queue.length > 0) {
      if (this.leading > 0) this.leading--;
      this.send(this.queue.shift() as Turn);
    }
  }

  private send(turn: Turn): void {
    this.requested = true;
    this.start(turn);
  }
}
