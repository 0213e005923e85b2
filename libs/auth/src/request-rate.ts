import type { EnvSchema } from '@rtv/service-kit';
import { addressKey } from './ip-limiter.js';
import { TokenBucket } from './token-bucket.js';

/** The rate of the public status and health routes, read by the status API and the gateway that forwards them. */
export const STATUS_RATE_ENV = {
  RTV_STATUS_RATE_PER_S: {
    type: 'number',
    min: 0.01,
    default: 10,
    doc: 'Requests per second per client address to the public status and health routes (bursts of twice that); over it HTTP 429 rate_limited with retry-after',
  },
} as const satisfies EnvSchema;

/** Requests per client address to cheap public HTTP endpoints (the seed's status and health). */
export interface RequestRateLimiterOptions {
  /** Sustained requests per second per address (`RTV_STATUS_RATE_PER_S`). */
  readonly ratePerS: number;
  /** Requests an address may make at once after a quiet spell. @defaultValue 2 × ratePerS */
  readonly burst?: number;
  /** Addresses tracked at most; the least recently seen is forgotten first. @defaultValue 100_000 */
  readonly maxTracked?: number;
  /** IPv6 clients are counted per prefix of this many bits. @defaultValue 64 */
  readonly ipv6PrefixBits?: number;
}

export type RequestVerdict = { ok: true } | { ok: false; retryAfterS: number };

/**
 * A token bucket per client address. A forgotten address (past `maxTracked`) starts again with a full
 * bucket, which errs on the side of answering; a bucket that has refilled completely is no different from
 * a new one, so forgetting costs nothing but memory churn.
 */
export class RequestRateLimiter {
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly ratePerS: number;
  private readonly burst: number;
  private readonly maxTracked: number;
  private readonly prefixBits: number;

  constructor(options: RequestRateLimiterOptions) {
    this.ratePerS = options.ratePerS;
    this.burst = options.burst ?? 2 * options.ratePerS;
    this.maxTracked = options.maxTracked ?? 100_000;
    this.prefixBits = options.ipv6PrefixBits ?? 64;
    if (!(this.ratePerS > 0) || !Number.isFinite(this.ratePerS)) throw new RangeError('ratePerS must be > 0');
    if (!(this.burst >= 1) || !Number.isFinite(this.burst)) throw new RangeError('burst must be >= 1');
    if (!Number.isInteger(this.maxTracked) || this.maxTracked < 1) {
      throw new RangeError('maxTracked must be an integer >= 1');
    }
  }

  /** Spends one request of `address` at `nowMs`, or says after how many whole seconds one is free again. */
  take(address: string, nowMs: number): RequestVerdict {
    const key = addressKey(address, this.prefixBits);
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      if (this.buckets.size >= this.maxTracked) {
        const stalest = this.buckets.keys().next().value;
        if (stalest !== undefined) this.buckets.delete(stalest);
      }
      bucket = new TokenBucket({ ratePerS: this.ratePerS, burst: this.burst }, nowMs);
    } else {
      this.buckets.delete(key);
    }
    this.buckets.set(key, bucket);
    if (bucket.take(1, nowMs)) return { ok: true };
    const missing = 1 - bucket.levels(nowMs).tokens;
    return { ok: false, retryAfterS: Math.max(1, Math.ceil(missing / this.ratePerS)) };
  }

  /** Addresses currently tracked. */
  get size(): number {
    return this.buckets.size;
  }
}
