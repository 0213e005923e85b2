// The session record on a real Redis: every script of libs/bus/src/session-scripts.ts through SessionRecords.
import {
  type ClientSideRestore,
  createKeys,
  newSessionId,
  type ProgressEntry,
  SessionField,
  SessionRecords,
} from '@rtv/bus';
import { DEFAULT_SESSION_CONFIG } from '@rtv/protocol';
import { createTestRedis, type TestRedis } from '@rtv/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

describe('SessionRecords on a real Redis', () => {
  let t: TestRedis;
  let records: SessionRecords;
  let keys: ReturnType<typeof createKeys>;
  const ttlMs = 90_000;
  const job = (sid: string) => ({ sid, userId: 'alice', gatewayId: 'gw-1', createdMs: 1_700_000_000_000 });
  const resume = { userId: 'alice', gatewayId: 'gw-2', generation: 0, takeOver: false };

  beforeEach(async () => {
    t = await createTestRedis('records');
    keys = createKeys(t.prefix);
    records = new SessionRecords(t.redis, keys, { ttlMs, historyMaxItems: 3 });
  });
  afterEach(async () => {
    await t.cleanup();
  });

  it('creates a queued record with a TTL, then a claim bumps the epoch and names the owner', async () => {
    const sid = newSessionId();
    await records.create(job(sid), { ...DEFAULT_SESSION_CONFIG });
    const key = keys.session(sid);
    expect(await t.redis.hget(key, SessionField.state)).toBe('queued');
    expect(await t.redis.pttl(key)).toBeGreaterThan(ttlMs - 5000);

    const first = await records.claim(sid, 'wk-a');
    expect(first).toMatchObject({
      sid,
      userId: 'alice',
      gatewayId: 'gw-1',
      epoch: 1,
      lastSeq: 0,
      createdMs: 1_700_000_000_000,
    });
    expect(await t.redis.hget(key, SessionField.attach)).toBe('0');
    expect(first?.clientAttached).toBe(true);
    expect(first?.config).toEqual(DEFAULT_SESSION_CONFIG);
    const second = await records.claim(sid, 'wk-b');
    expect(second?.epoch).toBe(2);
    expect(await t.redis.hget(key, SessionField.owner)).toBe('wk-b');
    expect(await records.claim(newSessionId(), 'wk-a')).toBeUndefined();
  });

  it('fences progress by epoch: the older owner learns it lost the lease', async () => {
    const sid = newSessionId();
    await records.create(job(sid), { ...DEFAULT_SESSION_CONFIG });
    const old = (await records.claim(sid, 'wk-a'))!;
    const current = (await records.claim(sid, 'wk-b'))!;
    const lost = await records.saveProgress([
      { state: old, seq: 7, workerId: 'wk-a' },
      { state: current, seq: 9, workerId: 'wk-b' },
    ]);
    expect(lost).toEqual([sid]);
    expect(await t.redis.hget(keys.session(sid), SessionField.appliedSeq)).toBe('9');
  });

  it('saves a tick of hundreds of sessions at once: held ones saved, fenced ones lost, vanished ones re-created', async () => {
    const entries: ProgressEntry[] = [];
    for (let i = 0; i < 300; i++) {
      const sid = newSessionId();
      await records.create(job(sid), { ...DEFAULT_SESSION_CONFIG });
      entries.push({ state: (await records.claim(sid, 'wk-a'))!, seq: i + 1, workerId: 'wk-a' });
    }
    const fenced = entries.filter((_, i) => i % 50 === 7).map((e) => e.state.sid);
    const vanished = entries.filter((_, i) => i % 50 === 9).map((e) => e.state.sid);
    for (const sid of fenced) await records.claim(sid, 'wk-b');
    for (const sid of vanished) await t.redis.del(keys.session(sid));

    expect((await records.saveProgress(entries)).sort()).toEqual([...fenced].sort());
    for (const [i, { state }] of entries.entries()) {
      const [seq, owner] = await t.redis.hmget(keys.session(state.sid), 'seq', 'owner');
      if (fenced.includes(state.sid)) expect([seq, owner]).toEqual(['0', 'wk-b']);
      else expect([seq, owner]).toEqual([String(i + 1), 'wk-a']);
    }
  });

  it('refreshes a session’s TTL on its first save here, then only every eighth of the TTL', async () => {
    const sid = newSessionId();
    await records.create(job(sid), { ...DEFAULT_SESSION_CONFIG });
    const state = (await records.claim(sid, 'wk-a'))!;
    const key = keys.session(sid);
    await t.redis.pexpire(key, 30_000);
    await records.saveProgress([{ state, seq: 1, workerId: 'wk-a' }]);
    expect(await t.redis.pttl(key)).toBeGreaterThan(ttlMs - 5000);
    // The next saves within ttlMs / 8 write the seq and leave the TTL alone.
    await t.redis.pexpire(key, 30_000);
    await records.saveProgress([{ state, seq: 2, workerId: 'wk-a' }]);
    expect(await t.redis.pttl(key)).toBeLessThanOrEqual(30_000);
    expect(await t.redis.hget(key, 'seq')).toBe('2');
    // Another process (a new owner after a failover) refreshes at its own first save.
    const other = new SessionRecords(t.redis, keys, { ttlMs });
    await other.saveProgress([{ state, seq: 3, workerId: 'wk-a' }]);
    expect(await t.redis.pttl(key)).toBeGreaterThan(ttlMs - 5000);
  });

  it('re-creates a record that vanished (Redis restarted empty) from the owner’s progress', async () => {
    const sid = newSessionId();
    await records.create(job(sid), { ...DEFAULT_SESSION_CONFIG, voice: 'verse' });
    const state = (await records.claim(sid, 'wk-a'))!;
    await t.redis.del(keys.session(sid));
    expect(await records.saveProgress([{ state, seq: 4, workerId: 'wk-a' }])).toEqual([]);
    const again = await records.read(sid);
    expect(again).toMatchObject({ userId: 'alice', owner: 'wk-a', epoch: 1, state: 'active' });
    expect(again?.config.voice).toBe('verse');
    expect(again?.createdMs).toBe(1_700_000_000_000);
    expect(await t.redis.pttl(keys.session(sid))).toBeGreaterThan(0);
    // The generation was lost with the record: the next resume is accepted whatever its token names.
    await records.markDetached(sid, { gatewayId: 'gw-1', generation: 5 });
    expect(await records.attach(sid, { ...resume, generation: 5 })).toMatchObject({ status: 'attached' });
  });

  it('re-attaches a detached session only for the same user and the current generation, once per generation', async () => {
    const sid = newSessionId();
    await records.create(job(sid), { ...DEFAULT_SESSION_CONFIG });
    await records.claim(sid, 'wk-a');
    expect(await records.markDetached(sid, { gatewayId: 'gw-1', generation: 0, deliveredSeq: 42 })).toBe(
      true,
    );
    expect((await records.read(sid))?.client).toBe('detached');
    expect(await records.attach(sid, { ...resume, userId: 'mallory' })).toEqual({ status: 'not_found' });
    expect(await records.attach(sid, { ...resume, generation: 1 })).toEqual({ status: 'stale' });
    expect(await records.attach(sid, resume)).toEqual({
      status: 'attached',
      owner: 'wk-a',
      generation: 1,
      clientSeq: 42,
      createdMs: 1_700_000_000_000,
      previousGateway: 'gw-1',
    });
    // The same token again: its generation is spent.
    expect(await records.attach(sid, resume)).toEqual({ status: 'stale' });
    expect(await records.read(sid)).toMatchObject({ gatewayId: 'gw-2', client: 'attached' });
  });

  it('refuses to take an attached session unless the resumer may take it over, and then changes nothing', async () => {
    const sid = newSessionId();
    await records.create(job(sid), { ...DEFAULT_SESSION_CONFIG });
    expect(await records.attach(sid, resume)).toEqual({ status: 'in_use' });
    expect(await t.redis.hget(keys.session(sid), SessionField.attach)).toBe('0');
    expect(await records.attach(sid, { ...resume, takeOver: true })).toMatchObject({
      status: 'attached',
      generation: 1,
      previousGateway: 'gw-1',
    });
  });

  it('detaches only the connection the record still names, and records when', async () => {
    const sid = newSessionId();
    await records.create(job(sid), { ...DEFAULT_SESSION_CONFIG });
    await records.attach(sid, { ...resume, takeOver: true });
    // Late closes of the old socket: another gateway, or the same gateway with an older generation.
    expect(await records.markDetached(sid, { gatewayId: 'gw-1', generation: 0 })).toBe(false);
    expect(await records.markDetached(sid, { gatewayId: 'gw-2', generation: 0 })).toBe(false);
    expect((await records.read(sid))?.client).toBe('attached');
    const before = Date.now();
    expect(await records.markDetached(sid, { gatewayId: 'gw-2' })).toBe(true);
    const detachedMs = Number(await t.redis.hget(keys.session(sid), SessionField.detachedMs));
    expect(detachedMs).toBeGreaterThanOrEqual(before);
    expect((await records.claim(sid, 'wk-a'))?.detachedMs).toBe(detachedMs);
  });

  it('revokes a leaked generation only when it is the current one', async () => {
    const sid = newSessionId();
    await records.create(job(sid), { ...DEFAULT_SESSION_CONFIG });
    expect(await records.revokeResume(sid, 'mallory', 0)).toBe(false);
    expect(await records.revokeResume(sid, 'alice', 3)).toBe(false);
    expect(await records.revokeResume(sid, 'alice', 0)).toBe(true);
    await records.markDetached(sid, { gatewayId: 'gw-1' });
    expect(await records.attach(sid, resume)).toEqual({ status: 'stale' });
    expect(await records.revokeResume(newSessionId(), 'alice', 0)).toBe(false);
  });

  it('never resurrects a deleted record from a late detach or config write', async () => {
    const sid = newSessionId();
    await records.markDetached(sid, { gatewayId: 'gw-1', deliveredSeq: 1 });
    await records.saveConfig(sid, { ...DEFAULT_SESSION_CONFIG });
    expect(await t.redis.exists(keys.session(sid))).toBe(0);
    expect(await records.read(sid)).toBeUndefined();
  });

  it('keeps the newest history items, skips corrupt ones, and removes both keys together', async () => {
    const sid = newSessionId();
    await records.create(job(sid), { ...DEFAULT_SESSION_CONFIG });
    for (const text of ['one', 'two', 'three', 'four']) {
      await records.appendHistory(sid, { role: 'user', type: 'text', text, at: 1 });
    }
    await t.redis.rpush(keys.sessionHistory(sid), '{not json');
    expect((await records.loadHistory(sid)).map((i) => i.text)).toEqual(['two', 'three', 'four']);
    expect(await t.redis.pttl(keys.sessionHistory(sid))).toBeGreaterThan(ttlMs - 5000);
    await records.saveConfig(sid, { ...DEFAULT_SESSION_CONFIG, voice: 'ash' });
    expect((await records.read(sid))?.config.voice).toBe('ash');
    await records.remove(sid);
    expect(await t.redis.exists(keys.session(sid), keys.sessionHistory(sid))).toBe(0);
  });

  describe('restoring a record after Redis lost it', () => {
    const createdMs = 1_700_000_000_000;
    /** What a gateway with the session's socket open knows. */
    const clientSide = (over: Partial<ClientSideRestore> = {}): ClientSideRestore => ({
      userId: 'alice',
      gatewayId: 'gw-1',
      createdMs,
      generation: 2,
      attached: true,
      epoch: 3,
      config: { ...DEFAULT_SESSION_CONFIG },
      ...over,
    });
    /** What the owner at `epoch` knows, with `seq` applied. */
    const ownerSide = (sid: string, epoch: number, seq: number, workerId = 'wk-a'): ProgressEntry => ({
      state: {
        sid,
        userId: 'alice',
        gatewayId: 'gw-1',
        epoch,
        config: { ...DEFAULT_SESSION_CONFIG, voice: 'verse' },
        lastSeq: 0,
        clientAttached: true,
        createdMs,
      },
      seq,
      workerId,
    });

    it('the gateway re-creates a missing record (queued at its epoch); the owner then completes it', async () => {
      const sid = newSessionId();
      expect(await records.restoreClientSide(sid, clientSide())).toEqual({
        created: true,
        epoch: 3,
        owner: undefined,
      });
      const key = keys.session(sid);
      expect(await t.redis.hgetall(key)).toMatchObject({
        user: 'alice',
        gateway: 'gw-1',
        state: 'queued',
        epoch: '3',
        client: 'attached',
        attach: '2',
        created_ms: String(createdMs),
      });
      expect(await t.redis.pttl(key)).toBeGreaterThan(ttlMs - 5000);
      // Again: nothing new to create, the same answer.
      expect(await records.restoreClientSide(sid, clientSide())).toEqual({
        created: false,
        epoch: 3,
        owner: undefined,
      });

      expect(await records.restoreOwnerSide(ownerSide(sid, 3, 7), true)).toEqual({
        created: false,
        epoch: 3,
        owner: 'wk-a',
      });
      const record = await records.read(sid);
      expect(record).toMatchObject({ owner: 'wk-a', epoch: 3, gatewayId: 'gw-1', client: 'attached' });
      // The owner's configuration wins; what only the gateway knew (the attach generation) stays.
      expect(record?.config.voice).toBe('verse');
      expect(await t.redis.hmget(key, SessionField.appliedSeq, SessionField.attach)).toEqual(['7', '2']);
      // The next claim is newer than any epoch either side had seen.
      expect((await records.claim(sid, 'wk-b'))?.epoch).toBe(4);
    });

    it('the owner re-creates a missing record; the gateway then adds what only it knows', async () => {
      const sid = newSessionId();
      expect(await records.restoreOwnerSide(ownerSide(sid, 2, 5), true)).toEqual({
        created: true,
        epoch: 2,
        owner: 'wk-a',
      });
      const key = keys.session(sid);
      expect(await t.redis.hget(key, SessionField.attach)).toBeNull();
      expect(await records.read(sid)).toMatchObject({
        owner: 'wk-a',
        epoch: 2,
        state: 'active',
        userId: 'alice',
      });

      // A gateway that saw an older epoch does not lower it; it fills in the generation only.
      expect(await records.restoreClientSide(sid, clientSide({ epoch: 1, generation: 4 }))).toEqual({
        created: false,
        epoch: 2,
        owner: 'wk-a',
      });
      expect(await t.redis.hmget(key, SessionField.attach, SessionField.appliedSeq)).toEqual(['4', '5']);
      expect((await records.read(sid))?.config.voice).toBe('verse');
      // The generation is the current one again: a token naming another is stale.
      await records.markDetached(sid, { gatewayId: 'gw-1', generation: 4 });
      expect(await records.attach(sid, { ...resume, generation: 3 })).toEqual({ status: 'stale' });
      expect(await records.attach(sid, { ...resume, generation: 4 })).toMatchObject({ status: 'attached' });
    });

    it('restoreOwnerSide leaves a record with a newer epoch alone (someone else owns the session)', async () => {
      const sid = newSessionId();
      await records.restoreClientSide(sid, clientSide({ epoch: 2 }));
      await records.claim(sid, 'wk-b'); // epoch 3
      await records.saveProgress([{ ...ownerSide(sid, 3, 9, 'wk-b') }]);
      const before = await t.redis.hgetall(keys.session(sid));
      expect(await records.restoreOwnerSide(ownerSide(sid, 2, 12), true)).toEqual({
        created: false,
        epoch: 3,
        owner: 'wk-b',
      });
      expect(await t.redis.hgetall(keys.session(sid))).toEqual(before);
      expect(before).toMatchObject({ owner: 'wk-b', epoch: '3', seq: '9' });
    });

    it('restoreClientSide does not touch another user’s record', async () => {
      const sid = newSessionId();
      await records.create(job(sid), { ...DEFAULT_SESSION_CONFIG });
      const before = await t.redis.hgetall(keys.session(sid));
      expect(await records.restoreClientSide(sid, clientSide({ userId: 'mallory', epoch: 9 }))).toEqual({
        created: false,
        epoch: -1,
        owner: undefined,
      });
      expect(await t.redis.hgetall(keys.session(sid))).toEqual(before);
    });
  });
});
