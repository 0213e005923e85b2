import type { HistoryItem } from '@rtv/bus';

type Entry =
  | { kind: 'item'; item: HistoryItem }
  | { kind: 'slot'; itemId: string; item?: HistoryItem; done: boolean; timer: NodeJS.Timeout };

/**
 * Writes the session's conversation history in conversation order. The transcript of the user's speech
 * arrives asynchronously (often after the reply has started, sometimes after it ended), so a committed user
 * audio item reserves its place: text items appended after it wait until its transcript comes (or fails, or
 * `holdMs` passes), and a restore replays the user's words before the reply to them. Function calls and their
 * results are written at once ({@link appendNow}): the client must not see a call before it is stored.
 */
export class HistoryLog {
  private readonly entries: Entry[] = [];

  constructor(
    private readonly write: (item: HistoryItem) => Promise<void>,
    private readonly holdMs = 5000,
    private readonly maxSlots = 16,
  ) {}

  /** The user audio item `itemId` was committed and its transcript is due: later text items wait for it. */
  reserve(itemId: string): void {
    const slots = this.entries.filter((e) => e.kind === 'slot' && !e.done);
    if (slots.length >= this.maxSlots) this.settle(slots[0]!, undefined);
    const slot: Entry = {
      kind: 'slot',
      itemId,
      done: false,
      timer: setTimeout(() => this.settle(slot, undefined), this.holdMs),
    };
    slot.timer.unref();
    this.entries.push(slot);
  }

  /**
   * The transcript of `itemId` (undefined: none will come). Written in the item's place when it was reserved,
   * else (late, or never reserved) appended.
   */
  fill(itemId: string, item: HistoryItem | undefined): void {
    const slot = this.entries.find((e) => e.kind === 'slot' && e.itemId === itemId && !e.done);
    if (slot) this.settle(slot, item);
    else if (item) this.append(item);
  }

  /** Appends `item` after the transcripts reserved before it. */
  append(item: HistoryItem): void {
    this.entries.push({ kind: 'item', item });
    this.flush();
  }

  /** Writes `item` now, ahead of any reserved transcript; resolves once it is stored (rejects if it failed). */
  appendNow(item: HistoryItem): Promise<void> {
    return this.write(item);
  }

  /** Reserved transcripts not settled yet (for tests). */
  get waiting(): number {
    return this.entries.filter((e) => e.kind === 'slot' && !e.done).length;
  }

  /**
   * The session ends here: stops the timers and writes what waits when `flush` (a hand-off: the next owner
   * continues from the history), else drops it (the session is over, its record is being removed).
   */
  close(flush: boolean): void {
    if (!flush) {
      for (const e of this.entries) if (e.kind === 'slot') clearTimeout(e.timer);
      this.entries.length = 0;
      return;
    }
    for (const e of this.entries) if (e.kind === 'slot') this.settle(e, e.item);
  }

  private settle(slot: Entry, item: HistoryItem | undefined): void {
    if (slot.kind !== 'slot' || slot.done) return;
    clearTimeout(slot.timer);
    slot.done = true;
    if (item) slot.item = item;
    this.flush();
  }

  private flush(): void {
    while (this.entries.length > 0) {
      const head = this.entries[0]!;
      if (head.kind === 'slot' && !head.done) return;
      this.entries.shift();
      if (head.item) void this.write(head.item).catch(() => undefined);
    }
  }
}
