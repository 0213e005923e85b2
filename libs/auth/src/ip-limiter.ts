import { isIPv4, isIPv6 } from 'node:net';

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

/**
 * New connections per address per window, as a sliding-window counter: the previous fixed window's count,
 * weighted by how much of it still overlaps the sliding window, plus the current one. Two counters per
 * address instead of a timestamp per connection, and no burst of twice the limit at a window boundary.
 */
export class NewConnectionLimiter {
  private readonly max: number;
  private readonly windowMs: number;
  private readonly maxTracked: number;
  private readonly prefixBits: number;
  private readonly windows = new Map<string, Window>();

  constructor(options: NewConnectionLimiterOptions) {
    this.max = options.maxPerWindow;
    this.windowMs = options.windowMs ?? 1000;
    this.maxTracked = options.maxTracked ?? 100_000;
    this.prefixBits = options.ipv6PrefixBits ?? 64;
    if (!Number.isInteger(this.max) || this.max < 1)
      throw new RangeError('maxPerWindow must be an integer >= 1');
    if (!(this.windowMs > 0)) throw new RangeError('windowMs must be > 0');
    if (!Number.isInteger(this.maxTracked) || this.maxTracked < 1) {
      throw new RangeError('maxTracked must be an integer >= 1');
    }
    if (!Number.isInteger(this.prefixBits) || this.prefixBits < 1 || this.prefixBits > 128) {
      throw new RangeError('ipv6PrefixBits must be an integer from 1 to 128');
    }
  }

  /** Counts a new connection from `address` at `nowMs`; false when it is over the limit (not counted). */
  tryAcquire(address: string, nowMs: number): boolean {
    const key = addressKey(address, this.prefixBits);
    const index = Math.floor(nowMs / this.windowMs);
    let w = this.windows.get(key);
    if (w === undefined) {
      if (this.windows.size >= this.maxTracked) {
        // Maps iterate in insertion order and every hit re-inserts, so the first key is the stalest.
        const stalest = this.windows.keys().next().value;
        if (stalest !== undefined) this.windows.delete(stalest);
      }
      w = { index, current: 0, previous: 0 };
    } else {
      this.windows.delete(key);
      if (index !== w.index) {
        w.previous = index === w.index + 1 ? w.current : 0;
        w.current = 0;
        w.index = index;
      }
    }
    this.windows.set(key, w);
    const overlap = 1 - (nowMs - index * this.windowMs) / this.windowMs;
    if (w.previous * overlap + w.current + 1 > this.max) return false;
    w.current += 1;
    return true;
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

/** The eight 16-bit words of an address that `isIPv6` accepted. */
function ipv6Words(address: string): number[] {
  let a = address;
  const lastColon = a.lastIndexOf(':');
  const tail = a.slice(lastColon + 1);
  if (tail.includes('.')) {
    // Dotted IPv4 in the last 32 bits (`::ffff:1.2.3.4`): rewrite it as two hex words.
    const [b0, b1, b2, b3] = tail.split('.').map(Number) as [number, number, number, number];
    a = `${a.slice(0, lastColon + 1)}${((b0 << 8) | b1).toString(16)}:${((b2 << 8) | b3).toString(16)}`;
  }
  const [head = '', rest] = a.split('::');
  const headWords = head === '' ? [] : head.split(':');
  const restWords = rest === undefined || rest === '' ? [] : rest.split(':');
  const zeros = rest === undefined ? 0 : 8 - headWords.length - restWords.length;
  return [...headWords, ...Array<string>(zeros).fill('0'), ...restWords].map((w) => Number.parseInt(w, 16));
}
