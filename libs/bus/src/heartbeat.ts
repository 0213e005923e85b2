import type { RedisClient } from './redis.js';

export interface HeartbeatOptions {
  redis: RedisClient;
  /** The member's own hash (e.g. `rtv:{members}:gw:<gid>`). */
  hashKey: string;
  /** The registry sorted set (e.g. `rtv:{members}:gateways`), scored by the last beat in ms. */
  registryKey: string;
  id: string;
  /** Fields written on every beat (connections, sessions, capacity, draining, version…). */
  fields: () => Record<string, string | number>;
  /** @defaultValue 2000 */
  intervalMs?: number;
  /** Hash TTL: a member that stops beating disappears after this. @defaultValue 3 × intervalMs + 1000 */
  ttlMs?: number;
  /** Extra upkeep run on each beat (stream maintenance). Errors are reported, never thrown. */
  extra?: () => Promise<unknown>;
  onError?: (err: Error) => void;
}

/**
 * Periodic liveness record for gateways and workers: a hash with a TTL plus a sorted-set entry, so the status
 * API can list live members with one ZRANGEBYSCORE instead of a keyspace SCAN.
 */
export class Heartbeat {
  private timer: NodeJS.Timeout | undefined;
  private readonly intervalMs: number;
  private readonly ttlMs: number;

  constructor(private readonly opts: HeartbeatOptions) {
    this.intervalMs = opts.intervalMs ?? 2000;
    this.ttlMs = opts.ttlMs ?? this.intervalMs * 3 + 1000;
  }

  async start(): Promise<void> {
    await this.beat();
    this.timer = setInterval(() => void this.beat(), this.intervalMs);
    this.timer.unref();
  }

  async beat(): Promise<void> {
    const { redis, hashKey, registryKey, id } = this.opts;
    try {
      await redis
        .multi()
        .hset(hashKey, { ...this.opts.fields(), beat_ms: Date.now() })
        .pexpire(hashKey, this.ttlMs)
        .zadd(registryKey, Date.now(), id)
        .exec();
      await this.opts.extra?.();
    } catch (err) {
      this.opts.onError?.(err as Error);
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const { redis, hashKey, registryKey, id } = this.opts;
    await redis
      .multi()
      .del(hashKey)
      .zrem(registryKey, id)
      .exec()
      .catch((err: Error) => this.opts.onError?.(err));
  }
}
