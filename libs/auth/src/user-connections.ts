import { randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { isSessionUserId } from './user-id.js';

/**
 * Input: KEYS[1] the user's lease set (sorted set: lease id → expiry, Redis time in ms)
 *        ARGV[1] lease id, ARGV[2] max leases per user, ARGV[3] lease lifetime in ms
 * Output: { 1, count } when the lease is held (new, renewed, or re-taken after it lapsed), { 0, count }
 *         when the user is at the cap. `count` is the number of live leases afterwards.
 *
 * Redis's own clock stamps the leases, so gateways with drifting clocks still agree on what has expired;
 * lapsed leases (a gateway that crashed without releasing) are swept on every call.
 */
const ACQUIRE_CONNECTION_1 = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  local n = redis.call('ZCARD', KEYS[1])
  if n >= tonumber(ARGV[2]) then return {0, n} end
end
redis.call('ZADD', KEYS[1], now + lease, ARGV[1])
if redis.call('PTTL', KEYS[1]) < lease then redis.call('PEXPIRE', KEYS[1], lease) end
return {1, redis.call('ZCARD', KEYS[1])}
`;

/**
 * Input: KEYS[1] the user's lease set
 * Output: the number of live leases (expiry after Redis's current time).
 */
const COUNT_CONNECTIONS_1 = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')
`;

const ACQUIRE_CMD = 'rtvAuthAcquireConnection';
const COUNT_CMD = 'rtvAuthCountConnections';

type ScriptClient = {
  [ACQUIRE_CMD](key: string, leaseId: string, max: number, leaseMs: number): Promise<[number, number]>;
  [COUNT_CMD](key: string): Promise<number>;
};

export interface UserConnectionLimiterOptions {
  /** A command connection (not a blocking one); a Redis Cluster client works too. */
  readonly redis: Redis | Cluster;
  /**
   * Builds the key of a user's lease set: `Keys.userConnections` from `@rtv/bus`, the one key builder. User
   * ids never contain braces, so the id can sit in a hash tag.
   */
  readonly keys: { userConnections(userId: string): string };
  /** Concurrent connections one user may hold across all gateways (`RTV_MAX_CONNECTIONS_PER_USER`). */
  readonly maxPerUser: number;
  /**
   * How long a lease lives without renewal. A gateway that dies without releasing frees its users' slots
   * after at most this long; shorter frees them sooner but renews more often.
   * @defaultValue 30_000
   */
  readonly leaseMs?: number;
  /** How often {@link UserConnectionLimiter.start} renews held leases. @defaultValue leaseMs / 3 */
  readonly renewEveryMs?: number;
  /**
   * Called for a lease that lapsed (renewals failed for longer than `leaseMs`, e.g. Redis was away) and
   * could not be taken back because the user's other connections filled the cap meanwhile. The gateway
   * decides whether to close that connection; the slot is no longer counted either way.
   */
  readonly onLost?: (userId: string, leaseId: string) => void;
  /** Called when a background renewal fails; the next round retries. */
  readonly onError?: (err: Error) => void;
}

export type AcquireResult =
  | { readonly ok: true; readonly leaseId: string; readonly count: number }
  | { readonly ok: false; readonly count: number; readonly limit: number };

/**
 * Cluster-wide cap on concurrent connections per user. Each connection holds a lease (a member of the
 * user's sorted set with an expiry) that this gateway renews in the background, so the count survives any
 * gateway crash: its leases simply lapse. One Lua call per connect, one `ZREM` per disconnect, and one
 * round per renewal interval for all the leases a gateway holds (a pipeline, or on a Redis Cluster single
 * commands that the client sends together).
 */
export class UserConnectionLimiter {
  private readonly redis: (Redis | Cluster) & ScriptClient;
  private readonly keys: { userConnections(userId: string): string };
  private readonly max: number;
  private readonly leaseMs: number;
  private readonly renewEveryMs: number;
  private readonly held = new Map<string, string>(); // lease id → user id
  private timer: NodeJS.Timeout | undefined;
  private renewing: Promise<unknown> | undefined;

  constructor(private readonly options: UserConnectionLimiterOptions) {
    this.keys = options.keys;
    this.max = options.maxPerUser;
    this.leaseMs = options.leaseMs ?? 30_000;
    this.renewEveryMs = options.renewEveryMs ?? Math.floor(this.leaseMs / 3);
    if (!Number.isInteger(this.max) || this.max < 1)
      throw new RangeError('maxPerUser must be an integer >= 1');
    if (!Number.isInteger(this.leaseMs) || this.leaseMs < 1)
      throw new RangeError('leaseMs must be an integer >= 1');
    if (!(this.renewEveryMs > 0 && this.renewEveryMs < this.leaseMs)) {
      throw new RangeError('renewEveryMs must be > 0 and below leaseMs');
    }
    const redis = options.redis as (Redis | Cluster) & Partial<ScriptClient>;
    // defineCommand loads by SHA and falls back to EVAL after a Redis restart flushed the script cache.
    if (typeof redis[ACQUIRE_CMD] !== 'function') {
      redis.defineCommand(ACQUIRE_CMD, { numberOfKeys: 1, lua: ACQUIRE_CONNECTION_1 });
    }
    if (typeof redis[COUNT_CMD] !== 'function') {
      redis.defineCommand(COUNT_CMD, { numberOfKeys: 1, lua: COUNT_CONNECTIONS_1, readOnly: true });
    }
    this.redis = redis as (Redis | Cluster) & ScriptClient;
  }

  /**
   * Takes one of `userId`'s slots. On success the caller owns `leaseId` and must {@link release} it when
   * the connection ends, including when the upgrade is aborted after this resolved. Rejects when Redis
   * fails: the gateway should then refuse the upgrade (1013) rather than let the cap go unenforced.
   */
  async acquire(
    userId: string,
    leaseId: string = randomBytes(12).toString('base64url'),
  ): Promise<AcquireResult> {
    if (!isSessionUserId(userId)) throw new TypeError('invalid user id');
    const [admitted, count] = await this.redis[ACQUIRE_CMD](
      this.keys.userConnections(userId),
      leaseId,
      this.max,
      this.leaseMs,
    );
    if (admitted !== 1) return { ok: false, count, limit: this.max };
    this.held.set(leaseId, userId);
    return { ok: true, leaseId, count };
  }

  /** Gives a slot back; true when the lease was still live in Redis. */
  async release(userId: string, leaseId: string): Promise<boolean> {
    this.held.delete(leaseId);
    return (await this.redis.zrem(this.keys.userConnections(userId), leaseId)) === 1;
  }

  /** Live connections of `userId` across the cluster. */
  async count(userId: string): Promise<number> {
    return this.redis[COUNT_CMD](this.keys.userConnections(userId));
  }

  /** Leases this instance holds and renews. */
  get heldCount(): number {
    return this.held.size;
  }

  /**
   * Extends every held lease by `leaseMs` in one round: one pipeline on a single Redis; on a Redis Cluster,
   * where each user's leases are a slot of their own, one script call per lease, which the client groups per
   * node. A lease that already lapsed is taken back if the user has room; otherwise it is dropped and reported
   * through `onLost`.
   */
  async renewAll(): Promise<{ renewed: number; lost: number }> {
    if (this.held.size === 0) return { renewed: 0, lost: 0 };
    const leases = [...this.held];
    const results = await this.renewRound(leases);
    let renewed = 0;
    let lost = 0;
    let failure: Error | undefined;
    for (const [i, [leaseId, userId]] of leases.entries()) {
      const [err, reply] = results[i] ?? [new Error('no reply')];
      if (err) {
        // Keep going: the other replies still say which leases were lost.
        failure ??= err;
        continue;
      }
      // A lease released while the round was in flight is no longer ours to report.
      if (!this.held.has(leaseId)) continue;
      if ((reply as [number, number])[0] === 1) {
        renewed++;
      } else {
        lost++;
        this.held.delete(leaseId);
        this.options.onLost?.(userId, leaseId);
      }
    }
    if (failure) throw failure;
    return { renewed, lost };
  }

  /** The replies of one renewal round, in the order of `leases`, each as `[error, reply]` like a pipeline's. */
  private async renewRound(leases: Array<[string, string]>): Promise<Array<[Error | null, unknown]>> {
    if (isCluster(this.redis)) {
      return Promise.all(
        leases.map(([leaseId, userId]) =>
          this.redis[ACQUIRE_CMD](this.keys.userConnections(userId), leaseId, this.max, this.leaseMs).then(
            (reply): [null, unknown] => [null, reply],
            (err: Error): [Error, unknown] => [err, undefined],
          ),
        ),
      );
    }
    const pipeline = this.redis.pipeline() as ReturnType<Redis['pipeline']> & {
      [ACQUIRE_CMD](key: string, leaseId: string, max: number, leaseMs: number): unknown;
    };
    for (const [leaseId, userId] of leases) {
      pipeline[ACQUIRE_CMD](this.keys.userConnections(userId), leaseId, this.max, this.leaseMs);
    }
    return (await pipeline.exec()) ?? [];
  }

  /** Renews held leases every `renewEveryMs` until {@link stop}. Idempotent. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      // Never two rounds at once: a slow Redis would otherwise stack them up.
      this.renewing ??= this.renewAll()
        .catch((err: Error) => this.options.onError?.(err))
        .finally(() => {
          this.renewing = undefined;
        });
    }, this.renewEveryMs);
    this.timer.unref();
  }

  /** Stops renewing and waits for a round in flight. Held leases then lapse after `leaseMs`. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.renewing;
  }

  /**
   * Releases every held lease (graceful shutdown) in one round: a pipeline on a single Redis, one `ZREM` per
   * lease on a Redis Cluster (the users' keys span slots; the client groups the commands per node).
   */
  async releaseAll(): Promise<void> {
    if (this.held.size === 0) return;
    const leases = [...this.held];
    this.held.clear();
    if (isCluster(this.redis)) {
      const redis = this.redis;
      await Promise.all(
        leases.map(([leaseId, userId]) => redis.zrem(this.keys.userConnections(userId), leaseId)),
      );
      return;
    }
    const pipeline = this.redis.pipeline();
    for (const [leaseId, userId] of leases) pipeline.zrem(this.keys.userConnections(userId), leaseId);
    await pipeline.exec();
  }
}

/**
 * Whether `redis` is a Redis Cluster client, which refuses a pipeline whose keys span slots. (The same test as
 * `isCluster` of `@rtv/bus`, which this library does not depend on.)
 */
function isCluster(redis: Redis | Cluster): redis is Cluster {
  return (redis as Cluster).isCluster === true;
}
