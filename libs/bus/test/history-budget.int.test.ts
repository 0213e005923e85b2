// The history's byte budget on a real Redis: the append script (appendSessionHistory-2) keeps the list within
// the per-session budget and the item cap, drops the oldest first, keeps its byte total in the session hash,
// and recounts it when that field is missing.
import { createKeys, type HistoryItem, newSessionId, SessionField, SessionRecords } from '@rtv/bus';
import { DEFAULT_SESSION_CONFIG } from '@rtv/protocol';
import { createTestRedis, type TestRedis } from '@rtv/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const text = (t: string, at = 1): HistoryItem => ({ role: 'user', type: 'text', text: t, at });

describe('history byte budget on a real Redis', () => {
  let t: TestRedis;
  let keys: ReturnType<typeof createKeys>;
  const job = (sid: string) => ({ sid, userId: 'alice', gatewayId: 'gw-1', createdMs: 1 });

  beforeEach(async () => {
    t = await createTestRedis('history');
    keys = createKeys(t.prefix);
  });
  afterEach(async () => {
    await t.cleanup();
  });

  /** Stored bytes of the list, counted from what Redis holds. */
  async function storedBytes(sid: string): Promise<number> {
    const items = await t.redis.lrangeBuffer(keys.sessionHistory(sid), 0, -1);
    return items.reduce((sum, b) => sum + b.length, 0);
  }

  async function session(records: SessionRecords): Promise<string> {
    const sid = newSessionId();
    await records.create(job(sid), { ...DEFAULT_SESSION_CONFIG });
    return sid;
  }

  it('keeps the list within the byte budget, dropping the oldest items, and reports what it did', async () => {
    const records = new SessionRecords(t.redis, keys, { historyMaxBytes: 8192, historyItemMaxBytes: 2048 });
    const sid = await session(records);
    const results = [];
    for (let i = 0; i < 20; i++) {
      results.push(await records.appendHistory(sid, text(`${i}:${'é'.repeat(3000)}`, i)));
      const stored = await storedBytes(sid);
      expect(stored).toBeLessThanOrEqual(8192);
      expect(Number(await t.redis.hget(keys.session(sid), SessionField.historyBytes))).toBe(stored);
    }
    expect(results.every((r) => r.truncated)).toBe(true);
    const dropped = results.reduce((n, r) => n + r.droppedForBytes, 0);
    const history = await records.loadHistory(sid);
    expect(dropped + history.length).toBe(20);
    expect(dropped).toBeGreaterThan(0);
    // The newest survive, in order, each marked and cut on a character boundary.
    expect(history.at(-1)?.at).toBe(19);
    expect(history.map((h) => h.at)).toEqual([...history.keys()].map((k) => 20 - history.length + k));
    for (const item of history) {
      expect(item.truncated).toBe(true);
      expect(item.text).toMatch(/^\d+:é+$/);
    }
    expect(results.every((r) => r.droppedForCount === 0)).toBe(true);
  });

  it('still applies the item cap, counted apart from the byte budget', async () => {
    const records = new SessionRecords(t.redis, keys, { historyMaxItems: 3 });
    const sid = await session(records);
    const results = [];
    for (const word of ['one', 'two', 'three', 'four', 'five'])
      results.push(await records.appendHistory(sid, text(word)));
    expect(results.map((r) => r.droppedForCount)).toEqual([0, 0, 0, 1, 1]);
    expect(results.every((r) => r.droppedForBytes === 0 && !r.truncated)).toBe(true);
    expect((await records.loadHistory(sid)).map((h) => h.text)).toEqual(['three', 'four', 'five']);
  });

  it('recounts the list when the byte total is missing (an older record, or a hash re-created)', async () => {
    const records = new SessionRecords(t.redis, keys, { historyMaxBytes: 4096, historyItemMaxBytes: 1024 });
    const sid = await session(records);
    // Items stored by a version without the budget: 6 KB already, and no byte total in the hash.
    for (let i = 0; i < 6; i++)
      await t.redis.rpush(keys.sessionHistory(sid), JSON.stringify(text('y'.repeat(1000), i)));
    const result = await records.appendHistory(sid, text('new', 99));
    expect(result.droppedForBytes).toBeGreaterThan(0);
    const stored = await storedBytes(sid);
    expect(stored).toBeLessThanOrEqual(4096);
    expect(Number(await t.redis.hget(keys.session(sid), SessionField.historyBytes))).toBe(stored);
    expect((await records.loadHistory(sid)).at(-1)?.text).toBe('new');
  });

  it('starts the count afresh when the list expired while the hash lived on', async () => {
    const records = new SessionRecords(t.redis, keys, { historyMaxBytes: 4096, historyItemMaxBytes: 1024 });
    const sid = await session(records);
    for (let i = 0; i < 3; i++) await records.appendHistory(sid, text('z'.repeat(900), i));
    await t.redis.del(keys.sessionHistory(sid));
    await records.appendHistory(sid, text('after', 5));
    expect(await records.loadHistory(sid)).toHaveLength(1);
    expect(Number(await t.redis.hget(keys.session(sid), SessionField.historyBytes))).toBe(
      await storedBytes(sid),
    );
  });

  it('does not re-create a session hash that is gone, and keeps one item larger than the budget cut to it', async () => {
    // An item budget above the session budget is lowered to it: the newest item always fits.
    const records = new SessionRecords(t.redis, keys, { historyMaxBytes: 4096, historyItemMaxBytes: 65_536 });
    const sid = newSessionId();
    const result = await records.appendHistory(sid, text('w'.repeat(10_000)));
    expect(result.truncated).toBe(true);
    expect(await storedBytes(sid)).toBeLessThanOrEqual(4096);
    expect(await t.redis.exists(keys.session(sid))).toBe(0);
    expect(await t.redis.pttl(keys.sessionHistory(sid))).toBeGreaterThan(0);
  });
});
