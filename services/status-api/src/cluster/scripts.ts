// Read-only Lua script of the cluster reader. It counts inside Redis, so a lagging stream costs the status API
// one small reply instead of a transfer of every entry.

/**
 * streamLag-1
 * Input: KEYS[1] a bus stream; ARGV[1] the last entry id its reader delivered ('' when the reader does not
 *   report one); ARGV[2] the most unread entries to count.
 * Output: {length, newest entry id, unread entries, oldest unread entry id}. Length is -1 when the stream does
 *   not exist; unread is -1 when the reader's position is unknown; ids are '' when there is no such entry.
 */
export const STREAM_LAG_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1, '', -1, ''} end
local length = redis.call('XLEN', KEYS[1])
local newest = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local newestId = ''
if newest[1] then newestId = newest[1][1] end
if ARGV[1] == '' then return {length, newestId, -1, ''} end
local unread = redis.call('XRANGE', KEYS[1], '(' .. ARGV[1], '+', 'COUNT', tonumber(ARGV[2]))
local oldestUnread = ''
if unread[1] then oldestUnread = unread[1][1] end
return {length, newestId, #unread, oldestUnread}
`;
