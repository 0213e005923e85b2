import { addressKey } from './ip-limiter.js';

/** Caps on open connections, counted by one process (a gateway) for itself. */
export interface ConcurrentConnectionLimits {
  /** Open connections one client address may hold (`RTV_MAX_CONNECTIONS_PER_IP`). */
  readonly maxPerAddress: number;
  /** Open connections in total (`RTV_MAX_CONNECTIONS_PER_GATEWAY`). */
  readonly maxTotal: number;
  /** IPv6 clients are counted per prefix of this many bits, as by `NewConnectionLimiter`. @defaultValue 64 */
  readonly ipv6PrefixBits?: number;
}

/** Which cap a refused connection hit. */
export type ConcurrentLimit = 'per_address' | 'total';

export type SlotResult = { ok: true; slot: ConnectionSlot } | { ok: false; limit: ConcurrentLimit };

/**
 * One counted connection. Whoever ends the connection calls {@link release}, however it ends (closed,
 * refused after the upgrade, aborted by the client mid-verification); a second call does nothing, so
 * the paths that may both see the end cannot count it twice.
 */
export class ConnectionSlot {
  private released = false;

  constructor(
    private readonly counter: ConcurrentConnectionCounter,
    /** The counting key of the address (IPv6 per prefix). */
    readonly key: string,
  ) {}

  /** Gives the slot back; true the first time, false on every later call. */
  release(): boolean {
    if (this.released) return false;
    this.released = true;
    this.counter.free(this.key);
    return true;
  }

  get isReleased(): boolean {
    return this.released;
  }
}

/**
 * Open connections per client address and in total, so one address cannot take all of a gateway's capacity
 * and a gateway refuses work it cannot carry. A slot is taken before any asynchronous step of an upgrade, so
 * upgrades waiting on token verification count too. Memory is one map entry per address that holds at least
 * one slot, so it is bounded by `maxTotal`.
 */
export class ConcurrentConnectionCounter {
  private readonly perAddress = new Map<string, number>();
  private open = 0;
  private readonly maxPerAddress: number;
  private readonly maxTotal: number;
  private readonly prefixBits: number;

  constructor(limits: ConcurrentConnectionLimits) {
    this.maxPerAddress = limits.maxPerAddress;
    this.maxTotal = limits.maxTotal;
    this.prefixBits = limits.ipv6PrefixBits ?? 64;
    if (!Number.isInteger(this.maxPerAddress) || this.maxPerAddress < 1) {
      throw new RangeError('maxPerAddress must be an integer >= 1');
    }
    if (!Number.isInteger(this.maxTotal) || this.maxTotal < 1) {
      throw new RangeError('maxTotal must be an integer >= 1');
    }
  }

  /** Whether `address` could take a slot now, without taking one; undefined when it could. */
  check(address: string): ConcurrentLimit | undefined {
    if (this.open >= this.maxTotal) return 'total';
    const held = this.perAddress.get(addressKey(address, this.prefixBits)) ?? 0;
    return held >= this.maxPerAddress ? 'per_address' : undefined;
  }

  /** Takes a slot for `address`, or says which cap is full (the total one first). */
  tryAcquire(address: string): SlotResult {
    const limit = this.check(address);
    if (limit !== undefined) return { ok: false, limit };
    const key = addressKey(address, this.prefixBits);
    this.perAddress.set(key, (this.perAddress.get(key) ?? 0) + 1);
    this.open += 1;
    return { ok: true, slot: new ConnectionSlot(this, key) };
  }

  /** Slots held by `address` (its IPv6 prefix). */
  heldBy(address: string): number {
    return this.perAddress.get(addressKey(address, this.prefixBits)) ?? 0;
  }

  /** Slots held in total. */
  get total(): number {
    return this.open;
  }

  /** Addresses holding at least one slot. */
  get addresses(): number {
    return this.perAddress.size;
  }

  /** @internal Called by {@link ConnectionSlot.release} only, once per slot. */
  free(key: string): void {
    const held = this.perAddress.get(key) ?? 0;
    if (held <= 1) this.perAddress.delete(key);
    else this.perAddress.set(key, held - 1);
    if (this.open > 0) this.open -= 1;
  }
}
