import type { Keys } from '@rtv/bus';
import type { SessionConfig } from '@rtv/protocol';
import type { Redis } from 'ioredis';

export interface SessionState {
  sid: string;
  userId: string;
  gatewayId: string;
  /** This owner's epoch: bumped on every claim, stamped on every frame it sends (DESIGN §4.8). */
  epoch: number;
  config: SessionConfig;
  /** Last client seq a previous owner applied (0 for a new session). */
  lastSeq: number;
  /** False while the client is between sockets (resume grace): frames are kept, not sent. */
  clientAttached: boolean;
}

export interface HistoryItem {
  role: 'user' | 'assistant';
  type: 'text';
  text: string;
  at: number;
}

/**
 * claimSession-1
 * Input: KEYS[1] session hash; ARGV[1] worker id, ARGV[2] now (ms), ARGV[3] TTL (ms).
 * Output: nil when the session no longer exists; else {epoch, gateway, user, config, seq, client}.
 * Bumping the epoch and recording the owner in one step is what fences off a previous owner.
 */
const CLAIM_SESSION = `
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local epoch = redis.call('HINCRBY', KEYS[1], 'epoch', 1)
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'state', 'active', 'bound_ms', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
local f = redis.call('HMGET', KEYS[1], 'gateway', 'user', 'config', 'seq', 'client')
return {epoch, f[1], f[2], f[3], f[4], f[5]}
`;

/**
 * saveProgress-1
 * Input: KEYS[1] session hash; ARGV[1] epoch, ARGV[2] applied seq, ARGV[3] TTL (ms), ARGV[4] owner,
 *        ARGV[5] gateway, ARGV[6] user, ARGV[7] config JSON.
 * Output: 1 when this owner still holds the session, 0 when a newer epoch took it (the caller lets go).
 * A missing hash (Redis restarted without persistence) is re-created from the owner's own state, so live
 * sessions survive the restart instead of all losing their lease at once.
 */
const SAVE_PROGRESS = `
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then
  redis.call('HSET', KEYS[1], 'epoch', ARGV[1], 'seq', ARGV[2], 'owner', ARGV[4], 'gateway', ARGV[5],
    'user', ARGV[6], 'config', ARGV[7], 'state', 'active', 'client', 'attached')
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return 1
end
if epoch ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'seq', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`;

export const HISTORY_MAX_ITEMS = 200;

/** Session records in Redis, as the worker sees them. One round trip per claim, per progress tick, per item. */
export class SessionRecords {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly ttlMs: number,
  ) {
    // EVALSHA (loaded once, re-loaded by ioredis after a Redis restart): progress runs for every moving
    // session several times a second, so the script body is not resent and re-hashed each time.
    if (!('rtvSaveProgress' in redis))
      redis.defineCommand('rtvSaveProgress', { numberOfKeys: 1, lua: SAVE_PROGRESS });
  }

  async claim(sid: string, workerId: string): Promise<SessionState | undefined> {
    const res = (await this.redis.eval(
      CLAIM_SESSION,
      1,
      this.keys.session(sid),
      workerId,
      Date.now(),
      this.ttlMs,
    )) as [number, string | null, string | null, string | null, string | null, string | null] | null;
    if (!res) return undefined;
    const [epoch, gatewayId, userId, config, seq, client] = res;
    if (!gatewayId || !userId || !config) return undefined;
    return {
      sid,
      userId,
      gatewayId,
      epoch: Number(epoch),
      config: JSON.parse(config) as SessionConfig,
      lastSeq: Number(seq ?? 0),
      clientAttached: client !== 'detached',
    };
  }

  /** Persists applied seqs for many sessions in one pipeline; returns the sids whose lease was lost. */
  async saveProgress(
    entries: Array<{ state: SessionState; seq: number; workerId: string }>,
  ): Promise<string[]> {
    if (entries.length === 0) return [];
    const pipeline = this.redis.pipeline() as ReturnType<Redis['pipeline']> & {
      rtvSaveProgress(key: string, ...args: Array<string | number>): unknown;
    };
    for (const { state, seq, workerId } of entries) {
      pipeline.rtvSaveProgress(
        this.keys.session(state.sid),
        state.epoch,
        seq,
        this.ttlMs,
        workerId,
        state.gatewayId,
        state.userId,
        JSON.stringify(state.config),
      );
    }
    const results = (await pipeline.exec()) ?? [];
    const lost: string[] = [];
    results.forEach(([err, ok], i) => {
      if (!err && ok === 0) lost.push(entries[i]!.state.sid);
    });
    return lost;
  }

  appendHistory(sid: string, item: HistoryItem): Promise<unknown> {
    const key = this.keys.sessionHistory(sid);
    return this.redis
      .multi()
      .rpush(key, JSON.stringify(item))
      .ltrim(key, -HISTORY_MAX_ITEMS, -1)
      .pexpire(key, this.ttlMs)
      .exec();
  }

  async loadHistory(sid: string): Promise<HistoryItem[]> {
    const raw = await this.redis.lrange(this.keys.sessionHistory(sid), 0, -1);
    const items: HistoryItem[] = [];
    for (const r of raw) {
      try {
        const item = JSON.parse(r) as HistoryItem;
        if ((item.role === 'user' || item.role === 'assistant') && typeof item.text === 'string')
          items.push(item);
      } catch {
        // A corrupt entry is skipped rather than failing the restore.
      }
    }
    return items;
  }

  saveConfig(sid: string, config: SessionConfig): Promise<unknown> {
    return this.redis.hset(this.keys.session(sid), 'config', JSON.stringify(config));
  }

  async remove(sid: string): Promise<void> {
    await this.redis.del(this.keys.session(sid), this.keys.sessionHistory(sid));
  }
}
