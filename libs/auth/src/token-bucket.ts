/**
 * Token buckets for per-connection rate limits. Pure and clock-injected: every call takes `nowMs` from
 * the caller (one clock read per frame for all buckets of a connection) and nothing here sets a timer,
 * so a bucket costs two numbers of memory and a test drives it with a fake clock.
 */
export interface TokenBucketOptions {
  /** Tokens added per second: the sustained rate. */
  readonly ratePerS: number;
  /**
   * Capacity: what can be spent at once after a quiet period. Must be at least the largest single cost
   * (for a byte bucket, the frame limit), or such a request can never pass.
   */
  readonly burst: number;
  /**
   * Extra capacity that only callers passing `useReserve` may spend, filled only by what overflows the
   * full bucket. The sustained rate stays `ratePerS` in total; a quiet client builds up an allowance that
   * one kind of traffic (audio) may burst with while the other kinds cannot.
   * @defaultValue 0
   */
  readonly reserve?: number;
  /** Start full, so a new connection may burst at once (its reserve starts full too). @defaultValue true */
  readonly startFull?: boolean;
}

export class TokenBucket {
  readonly ratePerMs: number;
  readonly burst: number;
  readonly reserve: number;
  private tokens: number;
  private reserved: number;
  private last: number;

  constructor(options: TokenBucketOptions, nowMs: number) {
    const { ratePerS, burst, reserve = 0, startFull = true } = options;
    if (!(ratePerS > 0) || !Number.isFinite(ratePerS)) throw new RangeError('ratePerS must be > 0');
    if (!(burst > 0) || !Number.isFinite(burst)) throw new RangeError('burst must be > 0');
    if (!(reserve >= 0) || !Number.isFinite(reserve)) throw new RangeError('reserve must be >= 0');
    this.ratePerMs = ratePerS / 1000;
    this.burst = burst;
    this.reserve = reserve;
    this.tokens = startFull ? burst : 0;
    this.reserved = startFull ? reserve : 0;
    this.last = nowMs;
  }

  /** Spends `cost` tokens if they are there; false (and nothing spent) otherwise. */
  take(cost: number, nowMs: number, useReserve = false): boolean {
    if (!this.canTake(cost, nowMs, useReserve)) return false;
    if (this.tokens >= cost) {
      this.tokens -= cost;
    } else {
      // Spend the ordinary tokens first so the reserve is kept for real bursts.
      this.reserved -= cost - this.tokens;
      this.tokens = 0;
    }
    return true;
  }

  /** Whether {@link take} would succeed now, without spending anything. */
  canTake(cost: number, nowMs: number, useReserve = false): boolean {
    this.refill(nowMs);
    return cost <= this.tokens + (useReserve ? this.reserved : 0);
  }

  /** Current levels, for metrics and tests. */
  levels(nowMs: number): { tokens: number; reserve: number } {
    this.refill(nowMs);
    return { tokens: this.tokens, reserve: this.reserved };
  }

  private refill(nowMs: number): void {
    // A clock that steps backwards (a fake clock, an adjusted wall clock) adds nothing rather than
    // subtracting: the bucket just waits until time passes the last reading again.
    if (nowMs <= this.last) return;
    this.tokens += (nowMs - this.last) * this.ratePerMs;
    this.last = nowMs;
    if (this.tokens > this.burst) {
      this.reserved = Math.min(this.reserve, this.reserved + this.tokens - this.burst);
      this.tokens = this.burst;
    }
  }
}

/** Per-connection limits for client frames. */
export interface ConnectionRateLimits {
  /** Sustained client frames per second (`RTV_MAX_MESSAGES_PER_S`). 20 ms audio chunks alone are 50/s. */
  readonly messagesPerS: number;
  /** Frames that may arrive at once after a quiet period. @defaultValue 2 × messagesPerS */
  readonly messageBurst?: number;
  /**
   * Sustained client bytes per second (`RTV_MAX_BYTES_PER_S`). Real-time base64 PCM16 at 24 kHz is about
   * 64 KiB/s; the default leaves room for four times that.
   */
  readonly bytesPerS: number;
  /** Bytes that may arrive at once; keep it at or above the frame limit. @defaultValue 2 × bytesPerS */
  readonly byteBurst?: number;
  /**
   * The audio burst allowance: bytes that audio frames (and only they) may send on top of `byteBurst`,
   * built up while the client sends less than `bytesPerS`. Covers a client flushing the microphone audio
   * it buffered while offline, without letting text or control frames burst the same way.
   * @defaultValue 4 × bytesPerS
   */
  readonly audioBurstBytes?: number;
}

export const DEFAULT_CONNECTION_RATE_LIMITS: Readonly<Required<ConnectionRateLimits>> = Object.freeze({
  // 10 ms audio frames (100/s) plus control messages fit with room to spare.
  messagesPerS: 200,
  messageBurst: 400,
  bytesPerS: 262_144,
  byteBurst: 2_097_152,
  audioBurstBytes: 4_194_304,
});

/** Why a frame was refused: too many frames, or too many bytes. */
export type RateVerdict = 'ok' | 'messages' | 'bytes';

/** The message and byte buckets of one connection, spent together or not at all. */
export class ConnectionRateLimiter {
  private readonly messages: TokenBucket;
  private readonly bytes: TokenBucket;

  constructor(limits: ConnectionRateLimits, nowMs: number) {
    const { messagesPerS, bytesPerS } = limits;
    this.messages = new TokenBucket(
      { ratePerS: messagesPerS, burst: limits.messageBurst ?? 2 * messagesPerS },
      nowMs,
    );
    this.bytes = new TokenBucket(
      {
        ratePerS: bytesPerS,
        burst: limits.byteBurst ?? 2 * bytesPerS,
        reserve: limits.audioBurstBytes ?? 4 * bytesPerS,
      },
      nowMs,
    );
  }

  /**
   * Admits one client frame of `size` bytes, or says which limit it broke. A refused frame spends
   * nothing, so a client that backs off recovers at the full rate.
   */
  admit(size: number, isAudio: boolean, nowMs: number): RateVerdict {
    if (!this.messages.canTake(1, nowMs)) return 'messages';
    if (!this.bytes.take(size, nowMs, isAudio)) return 'bytes';
    this.messages.take(1, nowMs);
    return 'ok';
  }
}
