import { isIPv4, isIPv6 } from 'node:net';
import { ipv6Words } from './trusted-proxy.js';

/** Limits on new connections per client address, applied at upgrade before any other work. */
export interface NewConnectionLimiterOptions {
  /** New connections one address may open per window (`RTV_MAX_NEW_CONNECTIONS_PER_IP`). */
  readonly maxPerWindow: number;
  /** @defaultValue 1000 (the limit is per second) */
  readonly windowMs?: number;
  /**
   * Addresses tracked at most; past it the least recently seen is forgotten. Bounds memory under a
   * spoofed or botnet-wide spray: about 120 bytes per address, so the default costs at most ~12 MB. A
   * forgotten address starts again from zero, which errs on the side of letting clients in.
   * @defaultValue 100_000
   */
  readonly maxTracked?: number;
  /**
   * IPv6 clients are counted per prefix of this many bits: one host usually owns a whole /64 and can
   * rotate through it at will, so counting single addresses would limit nothing.
   * @defaultValue 64
   */
  readonly ipv6PrefixBits?: number;
}

interface Window {
  index: number;
  current: number;
  previous: number;
}

interface WindowOptions {
  readonly windowMs: number;
  readonly maxTracked: number;
  readonly prefixBits: number;
}

/**
 * Events per address per window, as a sliding-window counter: the previous fixed window's count, weighted by
 * how much of it still overlaps the sliding window, plus the current one. Two counters per address instead
 * of a timestamp per event, and no burst of twice the limit at a window boundary. At most `maxTracked`
 * addresses; the least recently seen is forgotten first.
 */
class AddressWindows {
  private readonly windows = new Map<string, Window>();

  constructor(private readonly options: WindowOptions) {
    if (!(options.windowMs > 0)) throw new RangeError('windowMs must be > 0');
    if (!Number.isInteger(options.maxTracked) || options.maxTracked < 1) {
      throw new RangeError('maxTracked must be an integer >= 1');
    }
    const bits = options.prefixBits;
    if (!Number.isInteger(bits) || bits < 1 || bits > 128) {
      throw new RangeError('ipv6PrefixBits must be an integer from 1 to 128');
    }
  }

  /** The window of `address`, rolled forward to `nowMs` and marked most recently seen. */
  touch(address: string, nowMs: number): Window {
    const key = addressKey(address, this.options.prefixBits);
    const index = Math.floor(nowMs / this.options.windowMs);
    let w = this.windows.get(key);
    if (w === undefined) {
      if (this.windows.size >= this.options.maxTracked) {
        // Maps iterate in insertion order and every hit re-inserts, so the first key is the stalest.
        const stalest = this.windows.keys().next().value;
        if (stalest !== undefined) this.windows.delete(stalest);
      }
      w = { index, current: 0, previous: 0 };
    } else {
      this.windows.delete(key);
      if (index > w.index) {
        w.previous = index === w.index + 1 ? w.current : 0;
        w.current = 0;
        w.index = index;
      }
    }
    this.windows.set(key, w);
    return w;
  }

  /** The sliding count of `w` at `nowMs` (after {@link touch}). */
  count(w: Window, nowMs: number): number {
    const overlap = 1 - (nowMs - w.index * this.options.windowMs) / this.options.windowMs;
    return w.previous * Math.min(1, Math.max(0, overlap)) + w.current;
  }

  /** Takes back one event counted at `atMs` (if its window is still one of the two kept). */
  untake(address: string, atMs: number, nowMs: number): void {
    const w = this.touch(address, nowMs);
    const index = Math.floor(atMs / this.options.windowMs);
    if (index === w.index) w.current = Math.max(0, w.current - 1);
    else if (index === w.index - 1) w.previous = Math.max(0, w.previous - 1);
  }

  get size(): number {
    return this.windows.size;
  }
}

function windowOptions(options: {
  windowMs?: number;
  maxTracked?: number;
  ipv6PrefixBits?: number;
}): WindowOptions {
  return {
    windowMs: options.windowMs ?? 1000,
    maxTracked: options.maxTracked ?? 100_000,
    prefixBits: options.ipv6PrefixBits ?? 64,
  };
}

/**
 * New connections per address per window (a sliding window, see {@link AddressWindows}). Only connections
 * that are let in should spend it: an upgrade refused later (bad credentials, origin, path) is given back
 * with {@link refund} and counts against the {@link FailedUpgradeLimiter} instead, so junk sent from a
 * shared address (a proxy, a NAT) does not use up what the good clients behind it need.
 */
export class NewConnectionLimiter {
  private readonly max: number;
  private readonly windows: AddressWindows;

  constructor(options: NewConnectionLimiterOptions) {
    this.max = options.maxPerWindow;
    if (!Number.isInteger(this.max) || this.max < 1)
      throw new RangeError('maxPerWindow must be an integer >= 1');
    this.windows = new AddressWindows(windowOptions(options));
  }

  /** Counts a new connection from `address` at `nowMs`; false when it is over the limit (not counted). */
  tryAcquire(address: string, nowMs: number): boolean {
    const w = this.windows.touch(address, nowMs);
    if (this.windows.count(w, nowMs) + 1 > this.max) return false;
    w.current += 1;
    return true;
  }

  /** Gives back a connection counted by {@link tryAcquire} at `acquiredAtMs` that was refused after all. */
  refund(address: string, acquiredAtMs: number, nowMs: number): void {
    this.windows.untake(address, acquiredAtMs, nowMs);
  }

  /** Addresses currently tracked (never more than `maxTracked`). */
  get size(): number {
    return this.windows.size;
  }
}

/** Limits on upgrades refused per client address (`RTV_MAX_FAILED_UPGRADES_PER_IP`). */
export interface FailedUpgradeLimiterOptions extends Omit<NewConnectionLimiterOptions, 'maxPerWindow'> {
  /** Refused upgrades one address may cause per window before it is refused outright. */
  readonly maxPerWindow: number;
}

/**
 * A separate budget for upgrades that fail (bad or missing credentials, a foreign origin, a bad path user):
 * once an address has spent it, its further upgrades are refused before any credential is looked at, which
 * bounds the verification work one address can cause. Kept apart from {@link NewConnectionLimiter} so junk
 * does not eat into the budget of good connections from the same address.
 */
export class FailedUpgradeLimiter {
  private readonly max: number;
  private readonly windows: AddressWindows;

  constructor(options: FailedUpgradeLimiterOptions) {
    this.max = options.maxPerWindow;
    if (!Number.isInteger(this.max) || this.max < 1)
      throw new RangeError('maxPerWindow must be an integer >= 1');
    this.windows = new AddressWindows(windowOptions(options));
  }

  /** Whether `address` has used up its budget of failures at `nowMs` (one more would be over it). */
  isBlocked(address: string, nowMs: number): boolean {
    const w = this.windows.touch(address, nowMs);
    return this.windows.count(w, nowMs) + 1 > this.max;
  }

  /** Counts one refused upgrade from `address`. */
  record(address: string, nowMs: number): void {
    this.windows.touch(address, nowMs).current += 1;
  }

  /** Addresses currently tracked (never more than `maxTracked`). */
  get size(): number {
    return this.windows.size;
  }
}

/**
 * The counting key for a client address: IPv4 as is, IPv4-mapped IPv6 (`::ffff:1.2.3.4`, as dual-stack
 * sockets report IPv4 peers) as the IPv4 address, other IPv6 as its `/prefixBits` network. Anything
 * else (a misconfigured proxy header) is counted as its own, length-capped string.
 */
export function addressKey(address: string, ipv6PrefixBits = 64): string {
  let a = address.trim();
  if (a.startsWith('[') && a.endsWith(']')) a = a.slice(1, -1);
  const zone = a.indexOf('%');
  if (zone >= 0) a = a.slice(0, zone);
  if (isIPv4(a)) return a;
  if (!isIPv6(a)) return a.slice(0, 64);
  const words = ipv6Words(a);
  if (words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff) {
    return [words[6]! >> 8, words[6]! & 0xff, words[7]! >> 8, words[7]! & 0xff].join('.');
  }
  const masked = words.map((w, i) => {
    const bitsLeft = ipv6PrefixBits - i * 16;
    if (bitsLeft >= 16) return w;
    if (bitsLeft <= 0) return 0;
    return w & (0xffff << (16 - bitsLeft)) & 0xffff;
  });
  return `${masked.map((w) => w.toString(16)).join(':')}/${ipv6PrefixBits}`;
}
