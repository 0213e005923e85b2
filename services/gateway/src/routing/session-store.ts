import type { Keys } from '@rtv/bus';
import type { SessionConfig } from '@rtv/protocol';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';

/** What a session job carries: enough for any worker to open the session. */
export interface SessionJobData {
  sid: string;
  userId: string;
  gatewayId: string;
  createdMs: number;
}

/**
 * How long a session's keys live without a refresh. The owner refreshes them while the session runs; this
 * bounds what a session leaves behind if every process that knew it died.
 */
export const SESSION_TTL_MS = 2 * 60 * 60 * 1000;

/**
 * attachSession-1
 * Input: KEYS[1] session hash; ARGV[1] user id, ARGV[2] gateway id.
 * Output: nil when the session does not exist or belongs to another user; else {owner or false, attach
 * generation, last delivered server seq or false}. Moves the session to this gateway and bumps the attach
 * generation, which numbers this connection's client frames above every earlier connection's.
 */
const ATTACH_SESSION = `
if redis.call('HGET', KEYS[1], 'user') ~= ARGV[1] then return false end
redis.call('HSET', KEYS[1], 'gateway', ARGV[2], 'client', 'attached')
local gen = redis.call('HINCRBY', KEYS[1], 'attach', 1)
return {redis.call('HGET', KEYS[1], 'owner'), gen, redis.call('HGET', KEYS[1], 'client_seq')}
`;

export interface AttachResult {
  owner: string | undefined;
  generation: number;
  clientSeq: number;
}

/**
 * Creates and removes session records: the session hash (DESIGN §3) and the BullMQ job whose active state is
 * the owner's lease. Called once per connection, never per frame.
 */
export class SessionStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly queue: Queue<SessionJobData>,
  ) {}

  async create(data: SessionJobData, config: SessionConfig): Promise<void> {
    const key = this.keys.session(data.sid);
    await this.redis
      .multi()
      .hset(key, {
        user: data.userId,
        gateway: data.gatewayId,
        created_ms: data.createdMs,
        epoch: 0,
        seq: 0,
        config: JSON.stringify(config),
        state: 'queued',
        client: 'attached',
      })
      .pexpire(key, SESSION_TTL_MS)
      .exec();
    await this.queue.add('session', data, {
      jobId: data.sid,
      removeOnComplete: true,
      removeOnFail: { age: 3600, count: 1000 },
      attempts: 1,
    });
  }

  /** Re-attaches a session for a resuming client (see attachSession-1); undefined when it cannot be resumed. */
  async attach(sid: string, userId: string, gatewayId: string): Promise<AttachResult | undefined> {
    const res = (await this.redis.eval(ATTACH_SESSION, 1, this.keys.session(sid), userId, gatewayId)) as
      | [string | null, number, string | null]
      | null;
    if (!res) return undefined;
    return { owner: res[0] ?? undefined, generation: Number(res[1]), clientSeq: Number(res[2] ?? 0) };
  }

  /** Records that the client's socket dropped and which server frame it was last sent (for resume). */
  async markDetached(sid: string, deliveredSeq: number): Promise<void> {
    const key = this.keys.session(sid);
    // Only touch a session that still exists: a late close must not resurrect a deleted hash.
    await this.redis.eval(
      "if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'client', 'detached', 'client_seq', ARGV[1]) end return 1",
      1,
      key,
      deliveredSeq,
    );
  }

  /**
   * Removes a session that no worker has bound yet. A job that a worker took meanwhile stays: that worker
   * binds, the gateway no longer knows the session and answers with an end line.
   */
  async discardUnbound(sid: string): Promise<void> {
    await this.queue.remove(sid).catch(() => 0);
    await this.redis.del(this.keys.session(sid), this.keys.sessionHistory(sid));
  }
}
