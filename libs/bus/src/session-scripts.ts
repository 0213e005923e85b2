// The Lua scripts that change a session record (see session-record.ts for the fields). Each declares every
// key it touches in KEYS (one key, in the session's `{sid}` slot), so they run unchanged on Redis Cluster.
// Named `<verb><Object>-<number of keys>`, with their inputs and outputs in the header.

/** ioredis command names the scripts are registered under (`defineCommand`, EVALSHA after the first call). */
export const SessionScript = {
  create: 'rtvCreateSession',
  attach: 'rtvAttachSession',
  markDetached: 'rtvMarkSessionDetached',
  claim: 'rtvClaimSession',
  saveProgress: 'rtvSaveSessionProgress',
  appendHistory: 'rtvAppendSessionHistory',
  saveConfig: 'rtvSaveSessionConfig',
} as const;
export type SessionScript = (typeof SessionScript)[keyof typeof SessionScript];

type Arg = string | number;

/** The scripts as ioredis exposes them on a connection, with their reply shapes. */
export interface SessionScriptClient {
  [SessionScript.create](key: string, ...args: Arg[]): Promise<number>;
  [SessionScript.attach](key: string, ...args: Arg[]): Promise<[string | null, number, string | null] | null>;
  [SessionScript.markDetached](key: string, ...args: Arg[]): Promise<number>;
  [SessionScript.claim](
    key: string,
    ...args: Arg[]
  ): Promise<[number, string | null, string | null, string | null, string | null, string | null] | null>;
  [SessionScript.appendHistory](key: string, ...args: Arg[]): Promise<number>;
  [SessionScript.saveConfig](key: string, ...args: Arg[]): Promise<number>;
}

/** The script that runs once per session per progress tick, queued on a pipeline. */
export interface SessionScriptPipeline {
  [SessionScript.saveProgress](key: string, ...args: Arg[]): unknown;
}

/**
 * createSession-1
 * Input: KEYS[1] session hash; ARGV[1] user id, ARGV[2] gateway id, ARGV[3] created (ms), ARGV[4] config JSON,
 *        ARGV[5] TTL (ms).
 * Output: 1. The record starts queued (no owner, epoch 0) with its client attached.
 */
export const CREATE_SESSION = `
redis.call('HSET', KEYS[1], 'user', ARGV[1], 'gateway', ARGV[2], 'created_ms', ARGV[3], 'epoch', 0, 'seq', 0,
  'config', ARGV[4], 'state', 'queued', 'client', 'attached')
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
`;

/**
 * attachSession-1
 * Input: KEYS[1] session hash; ARGV[1] user id, ARGV[2] gateway id.
 * Output: nil when the session does not exist or belongs to another user; else {owner or false, attach
 * generation, last delivered server seq or false}. Moves the session to this gateway and bumps the attach
 * generation, which numbers this connection's client frames above every earlier connection's.
 */
export const ATTACH_SESSION = `
if redis.call('HGET', KEYS[1], 'user') ~= ARGV[1] then return false end
redis.call('HSET', KEYS[1], 'gateway', ARGV[2], 'client', 'attached')
local gen = redis.call('HINCRBY', KEYS[1], 'attach', 1)
return {redis.call('HGET', KEYS[1], 'owner'), gen, redis.call('HGET', KEYS[1], 'client_seq')}
`;

/**
 * markSessionDetached-1
 * Input: KEYS[1] session hash; ARGV[1] the last server seq delivered to the client.
 * Output: 1 when recorded, 0 when the session no longer exists (a late close must not resurrect a deleted
 * record as a hash without owner or TTL).
 */
export const MARK_DETACHED = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'client', 'detached', 'client_seq', ARGV[1])
return 1
`;

/**
 * claimSession-1
 * Input: KEYS[1] session hash; ARGV[1] worker id, ARGV[2] now (ms), ARGV[3] TTL (ms).
 * Output: nil when the session no longer exists; else {epoch, gateway, user, config, seq, client}.
 * Bumping the epoch and recording the owner in one step is what fences off a previous owner.
 */
export const CLAIM_SESSION = `
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local epoch = redis.call('HINCRBY', KEYS[1], 'epoch', 1)
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'state', 'active', 'bound_ms', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
local f = redis.call('HMGET', KEYS[1], 'gateway', 'user', 'config', 'seq', 'client')
return {epoch, f[1], f[2], f[3], f[4], f[5]}
`;

/**
 * saveSessionProgress-1
 * Input: KEYS[1] session hash; ARGV[1] epoch, ARGV[2] applied seq, ARGV[3] TTL (ms), ARGV[4] owner,
 *        ARGV[5] gateway, ARGV[6] user, ARGV[7] config JSON.
 * Output: 1 when this owner still holds the session, 0 when a newer epoch took it (the caller lets go).
 * A missing hash (Redis restarted without persistence) is re-created from the owner's own state, so live
 * sessions survive the restart instead of all losing their lease at once.
 */
export const SAVE_PROGRESS = `
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

/**
 * appendSessionHistory-1
 * Input: KEYS[1] history list; ARGV[1] item JSON, ARGV[2] items kept, ARGV[3] TTL (ms).
 * Output: the list's length after trimming.
 */
export const APPEND_HISTORY = `
redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[2]), -1)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return redis.call('LLEN', KEYS[1])
`;

/**
 * saveSessionConfig-1
 * Input: KEYS[1] session hash; ARGV[1] config JSON.
 * Output: 1 when stored, 0 when the session no longer exists (nothing is created without a TTL).
 */
export const SAVE_CONFIG = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'config', ARGV[1])
return 1
`;
