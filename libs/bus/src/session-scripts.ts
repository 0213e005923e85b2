// The Lua scripts that change a session record (see session-record.ts for the fields). Each declares every
// key it touches in KEYS (all in the session's `{sid}` slot), so they run unchanged on Redis Cluster.
// Named `<verb><Object>-<number of keys>`, with their inputs and outputs in the header.

/** ioredis command names the scripts are registered under (`defineCommand`, EVALSHA after the first call). */
export const SessionScript = {
  create: 'rtvCreateSession',
  attach: 'rtvAttachSession',
  markDetached: 'rtvMarkSessionDetached',
  claim: 'rtvClaimSession',
  saveProgress: 'rtvSaveSessionProgress',
  saveProgressBatch: 'rtvSaveSessionsProgress',
  /** The same script with exactly one key, for Redis Cluster (one slot per call). */
  saveProgressOfOne: 'rtvSaveOneSessionProgress',
  appendHistory: 'rtvAppendSessionHistory',
  saveConfig: 'rtvSaveSessionConfig',
  revokeResume: 'rtvRevokeSessionResume',
  restoreClientSide: 'rtvRestoreSessionClientSide',
  restoreOwnerSide: 'rtvRestoreSessionOwnerSide',
} as const;
export type SessionScript = (typeof SessionScript)[keyof typeof SessionScript];

type Arg = string | number;

/** The scripts as ioredis exposes them on a connection, with their reply shapes. */
export interface SessionScriptClient {
  [SessionScript.create](key: string, ...args: Arg[]): Promise<number>;
  [SessionScript.attach](key: string, ...args: Arg[]): Promise<Array<string | number | null> | null>;
  [SessionScript.markDetached](key: string, ...args: Arg[]): Promise<number>;
  [SessionScript.claim](
    key: string,
    ...args: Arg[]
  ): Promise<
    | [
        number,
        string | null,
        string | null,
        string | null,
        string | null,
        string | null,
        string | null,
        string | null,
      ]
    | null
  >;
  [SessionScript.revokeResume](key: string, ...args: Arg[]): Promise<number>;
  [SessionScript.appendHistory](
    historyKey: string,
    sessionKey: string,
    ...args: Arg[]
  ): Promise<[number, number, number]>;
  [SessionScript.saveConfig](key: string, ...args: Arg[]): Promise<number>;
  [SessionScript.restoreClientSide](
    key: string,
    ...args: Arg[]
  ): Promise<[number, string | null, string | null]>;
  [SessionScript.restoreOwnerSide](
    key: string,
    ...args: Arg[]
  ): Promise<[number, string | null, string | null]>;
}

/** The progress scripts as queued on a pipeline (or, on a cluster, called one by one). */
export interface SessionScriptPipeline {
  [SessionScript.saveProgress](key: string, ...args: Arg[]): unknown;
  /** `numKeys` session hashes, then the arguments: the key count travels first (variable-key script). */
  [SessionScript.saveProgressBatch](numKeys: number, ...keysThenArgs: Arg[]): unknown;
  [SessionScript.saveProgressOfOne](key: string, ...args: Arg[]): unknown;
}

/** What {@link SAVE_PROGRESS_BATCH} answers per session. */
export const ProgressStatus = { held: 1, lost: 0, missing: -1 } as const;

/**
 * createSession-1
 * Input: KEYS[1] session hash; ARGV[1] user id, ARGV[2] gateway id, ARGV[3] created (ms), ARGV[4] config JSON,
 *        ARGV[5] TTL (ms).
 * Output: 1. The record starts queued (no owner, epoch 0) with its client attached and attach generation 0
 * (the generation the first resume token names).
 */
export const CREATE_SESSION = `
redis.call('HSET', KEYS[1], 'user', ARGV[1], 'gateway', ARGV[2], 'created_ms', ARGV[3], 'epoch', 0, 'seq', 0,
  'config', ARGV[4], 'state', 'queued', 'client', 'attached', 'attach', 0)
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
`;

/**
 * attachSession-1
 * Input: KEYS[1] session hash; ARGV[1] user id, ARGV[2] gateway id, ARGV[3] the attach generation the resume
 *        token names, ARGV[4] '1' when the session may be taken from a live connection (the resumer proved the
 *        same credential), else '0'.
 * Output: nil when the session does not exist or belongs to another user; {'stale'} when the generation is not
 * the current one (the token was used, or revoked); {'in_use'} when the client is still attached and ARGV[4] is
 * '0' (nothing changes: the caller retries); else {'ok', owner or false, new attach generation, last delivered
 * server seq or false, created (ms) or false, previous gateway or false}. Checking and bumping the generation
 * in one step makes every token single-use; the generation also numbers this connection's client frames above
 * every earlier connection's. A record without a generation (re-created after Redis lost it) accepts any.
 */
export const ATTACH_SESSION = `
if redis.call('HGET', KEYS[1], 'user') ~= ARGV[1] then return false end
local f = redis.call('HMGET', KEYS[1], 'attach', 'client', 'gateway')
if f[1] and f[1] ~= ARGV[3] then return {'stale'} end
if f[2] ~= 'detached' and ARGV[4] ~= '1' then return {'in_use'} end
redis.call('HSET', KEYS[1], 'gateway', ARGV[2], 'client', 'attached')
redis.call('HDEL', KEYS[1], 'detached_ms')
local gen = redis.call('HINCRBY', KEYS[1], 'attach', 1)
local r = redis.call('HMGET', KEYS[1], 'owner', 'client_seq', 'created_ms')
return {'ok', r[1], gen, r[2], r[3], f[3]}
`;

/**
 * revokeSessionResume-1
 * Input: KEYS[1] session hash; ARGV[1] user id, ARGV[2] the attach generation a leaked token names.
 * Output: 1 when that generation was current and is now spent, else 0. Nothing else changes: a live client
 * keeps its socket; only the leaked token (and that client's copy of it) stops resuming.
 */
export const REVOKE_RESUME = `
if redis.call('HGET', KEYS[1], 'user') ~= ARGV[1] then return 0 end
local gen = redis.call('HGET', KEYS[1], 'attach')
if gen and gen ~= ARGV[2] then return 0 end
redis.call('HINCRBY', KEYS[1], 'attach', 1)
return 1
`;

/**
 * markSessionDetached-1
 * Input: KEYS[1] session hash; ARGV[1] the last server seq delivered to the client ('' keeps the stored one),
 *        ARGV[2] now (ms), ARGV[3] the gateway the client was attached to, ARGV[4] that connection's attach
 *        generation ('' for any: the owner detaching the sessions of a dead gateway).
 * Output: 1 when recorded, 0 when the session no longer exists (a late close must not resurrect a deleted
 * record as a hash without owner or TTL) or the client has attached elsewhere since (another gateway or a
 * newer generation: a late close of an old socket must not detach the new one).
 */
export const MARK_DETACHED = `
local f = redis.call('HMGET', KEYS[1], 'user', 'gateway', 'attach')
if not f[1] or f[2] ~= ARGV[3] then return 0 end
if ARGV[4] ~= '' and f[3] and f[3] ~= ARGV[4] then return 0 end
redis.call('HSET', KEYS[1], 'client', 'detached', 'detached_ms', ARGV[2])
if ARGV[1] ~= '' then redis.call('HSET', KEYS[1], 'client_seq', ARGV[1]) end
return 1
`;

/**
 * claimSession-1
 * Input: KEYS[1] session hash; ARGV[1] worker id, ARGV[2] now (ms), ARGV[3] TTL (ms).
 * Output: nil when the session no longer exists; else {epoch, gateway, user, config, seq, client, created (ms),
 * detached since (ms)}.
 * Bumping the epoch and recording the owner in one step is what fences off a previous owner.
 */
export const CLAIM_SESSION = `
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local epoch = redis.call('HINCRBY', KEYS[1], 'epoch', 1)
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'state', 'active', 'bound_ms', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
local f = redis.call('HMGET', KEYS[1], 'gateway', 'user', 'config', 'seq', 'client', 'created_ms', 'detached_ms')
return {epoch, f[1], f[2], f[3], f[4], f[5], f[6], f[7]}
`;

/**
 * saveSessionProgress-1
 * Input: KEYS[1] session hash; ARGV[1] epoch, ARGV[2] applied seq, ARGV[3] TTL (ms), ARGV[4] owner,
 *        ARGV[5] gateway, ARGV[6] user, ARGV[7] config JSON, ARGV[8] created (ms).
 * Output: 1 when this owner still holds the session, 0 when a newer epoch took it (the caller lets go).
 * A missing hash (Redis restarted without persistence) is re-created from the owner's own state, so live
 * sessions survive the restart instead of all losing their lease at once. The attach generation is not known
 * here, so the re-created record has none and the next resume's token is accepted whatever it names.
 */
export const SAVE_PROGRESS = `
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then
  redis.call('HSET', KEYS[1], 'epoch', ARGV[1], 'seq', ARGV[2], 'owner', ARGV[4], 'gateway', ARGV[5],
    'user', ARGV[6], 'config', ARGV[7], 'state', 'active', 'client', 'attached', 'created_ms', ARGV[8])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return 1
end
if epoch ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'seq', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`;

/**
 * saveSessionsProgress-N
 * Input: KEYS[1..N] session hashes; ARGV[1] TTL (ms); then per session i three arguments from ARGV[2 + 3(i-1)]:
 *        its epoch, its applied seq, and '1' to refresh its TTL ('0' leaves the TTL: the owner refreshes it a few
 *        times per TTL, not every tick).
 * Output: per session, 1 (held: seq saved), 0 (a newer epoch took it) or -1 (the hash is missing: the caller
 * re-creates it with saveSessionProgress-1, which carries the owner's whole state).
 * The progress tick of a worker in one call, and without the session's config: what a tick writes is only the
 * seq. On Redis Cluster every call carries the keys of one slot, so there it is called once per session.
 */
export const SAVE_PROGRESS_BATCH = `
local out = {}
for i = 1, #KEYS do
  local at = 2 + (i - 1) * 3
  local epoch = redis.call('HGET', KEYS[i], 'epoch')
  if not epoch then
    out[i] = -1
  elseif epoch ~= ARGV[at] then
    out[i] = 0
  else
    redis.call('HSET', KEYS[i], 'seq', ARGV[at + 1])
    if ARGV[at + 2] == '1' then redis.call('PEXPIRE', KEYS[i], ARGV[1]) end
    out[i] = 1
  end
end
return out
`;

/**
 * appendSessionHistory-2
 * Input: KEYS[1] history list, KEYS[2] session hash; ARGV[1] item JSON, ARGV[2] items kept, ARGV[3] bytes kept,
 *        ARGV[4] TTL (ms).
 * Output: {the list's length, oldest items dropped for the item cap, oldest items dropped for the byte cap}.
 * Pops the oldest items until both caps hold; the newest item always stays. The stored byte total lives in the
 * session hash (`history_bytes`), so a trim costs what it removes rather than a read of the whole list; when
 * the field is missing (an older record, or a hash re-created after a Redis restart) the list is counted once.
 * A hash that no longer exists is not re-created (nothing is written without a TTL).
 */
export const APPEND_HISTORY = `
local len = redis.call('RPUSH', KEYS[1], ARGV[1])
local total = nil
if len == 1 then total = #ARGV[1] else total = tonumber(redis.call('HGET', KEYS[2], 'history_bytes')) end
if total == nil then
  total = 0
  for _, stored in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do total = total + #stored end
elseif len > 1 then
  total = total + #ARGV[1]
end
local maxItems, maxBytes = tonumber(ARGV[2]), tonumber(ARGV[3])
local forCount, forBytes = 0, 0
while len > 1 and (len > maxItems or total > maxBytes) do
  if len > maxItems then forCount = forCount + 1 else forBytes = forBytes + 1 end
  total = total - #redis.call('LPOP', KEYS[1])
  len = len - 1
end
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('HSET', KEYS[2], 'history_bytes', total) end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return {len, forCount, forBytes}
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

/**
 * restoreSessionClientSide-1
 * Input: KEYS[1] session hash; ARGV[1] user id, ARGV[2] gateway id, ARGV[3] created (ms), ARGV[4] attach
 *        generation, ARGV[5] 'attached' or 'detached', ARGV[6] the newest epoch the gateway saw, ARGV[7] config
 *        JSON (the session's configuration as the gateway knows it), ARGV[8] TTL (ms).
 * Output: {1 when the record was re-created here else 0, the record's epoch, its owner or false}.
 * After Redis lost data the gateway puts back what only it knows (the client side). A missing record is made
 * `queued` at the gateway's epoch, so the next claim is newer than any bind the gateway has seen; an existing
 * one (the owner restored it first, or Redis kept it) only gets the client-side fields it lacks, and an epoch
 * below the gateway's is raised to it. Another user's record is left alone ({0, -1, false}).
 */
export const RESTORE_CLIENT_SIDE = `
local f = redis.call('HMGET', KEYS[1], 'user', 'epoch', 'owner')
if not f[1] then
  redis.call('HSET', KEYS[1], 'user', ARGV[1], 'gateway', ARGV[2], 'created_ms', ARGV[3], 'attach', ARGV[4],
    'client', ARGV[5], 'epoch', ARGV[6], 'seq', 0, 'config', ARGV[7], 'state', 'queued')
  redis.call('PEXPIRE', KEYS[1], ARGV[8])
  return {1, ARGV[6], false}
end
if f[1] ~= ARGV[1] then return {0, -1, false} end
redis.call('HSETNX', KEYS[1], 'attach', ARGV[4])
redis.call('HSETNX', KEYS[1], 'created_ms', ARGV[3])
redis.call('HSETNX', KEYS[1], 'config', ARGV[7])
local epoch = tonumber(f[2] or '0')
if epoch < tonumber(ARGV[6]) then
  epoch = tonumber(ARGV[6])
  redis.call('HSET', KEYS[1], 'epoch', epoch)
end
redis.call('PEXPIRE', KEYS[1], ARGV[8])
return {0, epoch, f[3]}
`;

/**
 * restoreSessionOwnerSide-1
 * Input: KEYS[1] session hash; ARGV[1] the owner's epoch, ARGV[2] applied seq, ARGV[3] TTL (ms), ARGV[4] owner,
 *        ARGV[5] gateway, ARGV[6] user, ARGV[7] config JSON, ARGV[8] created (ms), ARGV[9] 'attached' or
 *        'detached'.
 * Output: {1 when the record was re-created here else 0, the record's epoch, its owner or false}.
 * After Redis lost data (or the owner's lease lapsed during an outage) the owner puts back what only it knows
 * (the provider side). A missing record is made from the owner's state; one the gateway restored at the same
 * or an older epoch gets the owner's fields (and the owner's epoch); one with a newer epoch belongs to someone
 * else and is not changed (the caller lets go).
 */
export const RESTORE_OWNER_SIDE = `
local f = redis.call('HMGET', KEYS[1], 'epoch', 'owner', 'seq')
if not f[1] then
  redis.call('HSET', KEYS[1], 'epoch', ARGV[1], 'seq', ARGV[2], 'owner', ARGV[4], 'gateway', ARGV[5],
    'user', ARGV[6], 'config', ARGV[7], 'state', 'active', 'client', ARGV[9], 'created_ms', ARGV[8])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return {1, ARGV[1], ARGV[4]}
end
local epoch = tonumber(f[1])
if epoch > tonumber(ARGV[1]) then return {0, epoch, f[2]} end
local seq = tonumber(f[3] or '0')
if seq < tonumber(ARGV[2]) then seq = tonumber(ARGV[2]) end
redis.call('HSET', KEYS[1], 'epoch', ARGV[1], 'owner', ARGV[4], 'config', ARGV[7], 'seq', seq)
redis.call('HSETNX', KEYS[1], 'state', 'active')
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {0, tonumber(ARGV[1]), ARGV[4]}
`;
