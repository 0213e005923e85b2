import { CloseCode, DEFAULT_SESSION_CONFIG, encodeBindLine, FrameKind } from '@rtv/protocol';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { batch, counterValue, createHarness, type Harness, socketOf } from './helpers.js';

const SID = 'sess_lllllllllllllllllllll';
const binding = { sid: SID, userId: 'user_1', route: 'anonymous', credential: 'anonymous' } as const;

let harness: Harness | undefined;

function setup(...args: Parameters<typeof createHarness>): Harness {
  harness = createHarness(...args);
  return harness;
}

afterEach(() => {
  harness?.lifecycle.dispose();
  harness = undefined;
  vi.useRealTimers();
});

const attached = {
  status: 'attached',
  owner: 'wk-1',
  generation: 1,
  clientSeq: 0,
  createdMs: 0,
  previousGateway: 'gw-test',
} as const;

/** Lets the store's promises settle. */
const settle = () => new Promise((r) => setImmediate(r));

describe('SessionLifecycle: new sessions', () => {
  it('registers a new session, sends session.created with a resume token and queues the session', async () => {
    const h = setup();
    const session = h.connect(SID);
    h.lifecycle.openNew(session, 'anonymous');
    expect(h.registry.get(SID)).toBe(session);
    const created = socketOf(session).messages()[0]!;
    expect(created).toMatchObject({ type: 'session.created', session: { id: SID, user_id: 'user_1' } });
    const token = (created.session as { resume_token: string }).resume_token;
    expect(h.tokens.verify(token, binding)).toEqual({ ok: true, generation: 0 });
    await settle();
    expect(h.store.created.map((d) => d.sid)).toEqual([SID]);
    expect(await counterValue(h.metrics.connectionsTotal, { route: 'anonymous' })).toBe(1);
  });

  it('gives every new seed session the one frozen default configuration, not a copy each', async () => {
    const h = setup();
    const a = h.connect(SID);
    const b = h.connect('sess_bbbbbbbbbbbbbbbbbbbbb');
    h.lifecycle.openNew(a, 'anonymous');
    h.lifecycle.openNew(b, 'anonymous');
    await settle();
    expect(a.config).toBe(DEFAULT_SESSION_CONFIG);
    expect(b.config).toBe(a.config);
    expect(Object.isFrozen(a.config)).toBe(true);
    // The record is created with it all the same.
    expect(h.store.created.map((c) => c.sid)).toEqual([SID, 'sess_bbbbbbbbbbbbbbbbbbbbb']);
  });

  it('refuses a socket with 1013 while not accepting (draining or Redis away)', () => {
    const h = setup();
    h.accepting = false;
    const session = h.connect(SID);
    h.lifecycle.openNew(session, 'anonymous');
    expect(socketOf(session).ended?.code).toBe(CloseCode.TryAgainLater);
    // Told why first, with a stable code, as every refusal after the upgrade is.
    expect(socketOf(session).messages()).toEqual([
      expect.objectContaining({
        type: 'error',
        error: expect.objectContaining({ code: 'service_unavailable' }),
      }),
    ]);
    expect(h.registry.count()).toBe(0);
  });

  it('a socket that closes before any worker bound it discards the session', async () => {
    const h = setup();
    const session = h.connect(SID);
    h.lifecycle.openNew(session, 'anonymous');
    session.ws?.end(CloseCode.GoingAway, 'bye');
    expect(h.registry.count()).toBe(0);
    await settle();
    expect(h.store.discarded).toEqual([SID]);
    expect(h.writer.streamNames()).toEqual([]);
  });

  it('a dropped socket of a bound session detaches it (D line, record marked); 1000 ends it (E line)', async () => {
    const h = setup();
    const dropped = h.connect(SID);
    h.lifecycle.openNew(dropped, 'anonymous');
    h.router.onBatch(batch(encodeBindLine(SID, 'wk-1', 1)));
    dropped.ws?.end(CloseCode.AbnormalClosure, 'gone');
    await h.lifecycle.settle();
    expect(h.writer.lines(h.keys.workerIn('wk-1'))).toEqual([{ op: 'D', sid: SID, gid: 'gw-test' }]);
    expect(h.store.detached).toEqual([{ sid: SID, deliveredSeq: 0, generation: 0 }]);

    const ended = h.connect('sess_eeeeeeeeeeeeeeeeeeeee');
    h.lifecycle.openNew(ended, 'anonymous');
    h.router.onBatch(batch(encodeBindLine(ended.sid, 'wk-2', 1)));
    ended.ws?.end(CloseCode.Normal, 'done');
    expect(h.writer.lines(h.keys.workerIn('wk-2'))).toEqual([
      { op: 'E', sid: ended.sid, reason: 'client_closed' },
    ]);
    expect(h.registry.count()).toBe(0);
  });
});

describe('SessionLifecycle: set-up failures (the set-up SLO)', () => {
  it('counts a new session no worker bound in time (no_worker), not a resumed one, nor a bound one', async () => {
    vi.useFakeTimers();
    const h = setup({ lifecycle: { bindTimeoutMs: 1000 } });
    const unbound = h.connect(SID);
    h.lifecycle.openNew(unbound, 'anonymous');
    const bound = h.connect('sess_bbbbbbbbbbbbbbbbbbbbb');
    h.lifecycle.openNew(bound, 'anonymous');
    h.router.onBatch(batch(encodeBindLine('sess_bbbbbbbbbbbbbbbbbbbbb', 'wk-1', 1)));
    const resumed = h.connect('sess_rrrrrrrrrrrrrrrrrrrrr');
    const token = h.tokens.issue({ ...binding, sid: 'sess_rrrrrrrrrrrrrrrrrrrrr' }, 1, Date.now());
    h.lifecycle.openResumed(resumed, { valid: true, token, lastSeq: undefined }, 'anonymous');
    await vi.advanceTimersByTimeAsync(1500);
    // Both unbound sessions were told service_unavailable; only the new one is a failed set-up.
    for (const s of [unbound, resumed]) {
      expect(socketOf(s).messages()).toContainEqual(
        expect.objectContaining({
          type: 'error',
          error: expect.objectContaining({ code: 'service_unavailable' }),
        }),
      );
    }
    expect(socketOf(bound).ended).toBeUndefined();
    expect(await counterValue(h.metrics.setupFailures, { reason: 'no_worker' })).toBe(1);
    expect(await counterValue(h.metrics.setupFailures, { reason: 'storage' })).toBe(0);
  });

  it('counts a new session whose record could not be created (storage)', async () => {
    const h = setup();
    h.store.create = async () => {
      throw new Error('Redis is loading');
    };
    const session = h.connect(SID);
    h.lifecycle.openNew(session, 'anonymous');
    await settle();
    expect(socketOf(session).ended?.code).toBe(CloseCode.TryAgainLater);
    expect(await counterValue(h.metrics.setupFailures, { reason: 'storage' })).toBe(1);
  });
});

describe('SessionLifecycle: resume', () => {
  it('a resume by the same user evicts the older socket here: notice, 4409; its close neither ends nor detaches', async () => {
    const h = setup();
    const older = h.connect(SID);
    h.lifecycle.openNew(older, 'anonymous');
    h.router.onBatch(batch(encodeBindLine(SID, 'wk-1', 1)));
    h.router.forward(older, FrameKind.Json, '{"type":"response.create"}');
    h.store.attachResult = { ...attached, generation: 2, clientSeq: 5 };

    const newer = h.connect(SID);
    const token = h.tokens.issue(binding, 1, Date.now());
    h.lifecycle.openResumed(newer, { valid: true, token, lastSeq: undefined }, 'anonymous');
    await settle();

    expect(h.store.attachRequests).toEqual([
      { userId: 'user_1', gatewayId: 'gw-test', generation: 1, takeOver: false },
    ]);
    expect(h.registry.get(SID)).toBe(newer);
    expect(older.superseded).toBe(true);
    expect(socketOf(older).messages()).toContainEqual(
      expect.objectContaining({
        type: 'session.notice',
        notice: expect.objectContaining({ code: 'session_resumed_elsewhere' }),
      }),
    );
    expect(socketOf(older).ended?.code).toBe(CloseCode.SessionResumedElsewhere);
    // The old socket's close wrote neither E nor D.
    expect(h.writer.lines(h.keys.workerIn('wk-1')).map((l) => l.op)).toEqual(['F', 'R']);
    expect(h.writer.lines(h.keys.workerIn('wk-1'))[1]).toEqual({
      op: 'R',
      sid: SID,
      gid: 'gw-test',
      lastSeq: 5,
    });
    expect(h.store.detached).toEqual([]);
    expect(newer.seq).toBe(2 * 2 ** 32);
    // The new socket's token names the new generation.
    const created = socketOf(newer).messages()[0]!;
    expect(created).toMatchObject({ type: 'session.created' });
    const fresh = (created.session as { resume_token: string }).resume_token;
    expect(h.tokens.verify(fresh, binding)).toEqual({ ok: true, generation: 2 });
    expect(await counterValue(h.metrics.resumes)).toBe(1);
  });

  it('asks the record to allow a takeover only on the authenticated route', async () => {
    const h = setup();
    const session = h.connect(SID);
    Object.assign(session, { route: 'authenticated' });
    session.credential = 'jwt';
    const token = h.tokens.issue({ ...binding, route: 'authenticated', credential: 'jwt' }, 0, Date.now());
    h.lifecycle.openResumed(session, { valid: true, token, lastSeq: undefined }, 'authenticated');
    await settle();
    expect(h.store.attachRequests[0]?.takeOver).toBe(true);
  });

  it('a session still attached elsewhere: session_in_use and 1013, nothing registered', async () => {
    const h = setup();
    h.store.attachResult = { status: 'in_use' };
    const session = h.connect(SID);
    const token = h.tokens.issue(binding, 0, Date.now());
    h.lifecycle.openResumed(session, { valid: true, token, lastSeq: undefined }, 'anonymous');
    await settle();
    expect(socketOf(session).errorCodes()).toEqual(['session_in_use']);
    expect(socketOf(session).ended?.code).toBe(CloseCode.TryAgainLater);
    expect(h.registry.count()).toBe(0);
    expect(h.store.detached).toEqual([]);
  });

  it('a used (stale) token is refused with session_not_found and 4001', async () => {
    const h = setup();
    h.store.attachResult = { status: 'stale' };
    const session = h.connect(SID);
    const token = h.tokens.issue(binding, 0, Date.now());
    h.lifecycle.openResumed(session, { valid: true, token, lastSeq: undefined }, 'anonymous');
    await settle();
    expect(socketOf(session).errorCodes()).toEqual(['session_not_found']);
    expect(socketOf(session).ended?.code).toBe(CloseCode.SessionNotFound);
    expect(await counterValue(h.metrics.resumesRejected, { reason: 'stale' })).toBe(1);
  });

  it('a resume with a token for another session is refused with session_not_found (4001)', async () => {
    const h = setup();
    const session = h.connect(SID);
    const token = h.tokens.issue({ ...binding, sid: 'sess_otherotherotherother' }, 0, Date.now());
    h.lifecycle.openResumed(session, { valid: true, token, lastSeq: undefined }, 'anonymous');
    expect(socketOf(session).errorCodes()).toEqual(['session_not_found']);
    expect(socketOf(session).ended?.code).toBe(CloseCode.SessionNotFound);
    expect(h.registry.count()).toBe(0);
    expect(h.store.attachRequests).toEqual([]);
    expect(await counterValue(h.metrics.resumesRejected, { reason: 'mismatch' })).toBe(1);
  });

  it('a token in the URL is refused (invalid_message, param resume_token, 4001) and revoked when genuine', async () => {
    const h = setup();
    const session = h.connect(SID);
    const token = h.tokens.issue(binding, 3, Date.now());
    h.lifecycle.refuseUrlToken(session, token, { valid: true, token: '', lastSeq: undefined });
    const error = socketOf(session).messages()[0]!;
    expect(error).toMatchObject({ type: 'error', error: { code: 'invalid_message', param: 'resume_token' } });
    expect(JSON.stringify(error)).toContain('rtv.resume.<token>');
    expect(socketOf(session).ended?.code).toBe(CloseCode.SessionNotFound);
    expect(h.store.revoked).toEqual([{ sid: SID, generation: 3 }]);
    // A forged one revokes nothing.
    const other = h.connect(SID);
    h.lifecycle.refuseUrlToken(other, `v2.9999999999.0.${'A'.repeat(43)}`, {
      valid: true,
      token: '',
      lastSeq: undefined,
    });
    expect(socketOf(other).ended?.code).toBe(CloseCode.SessionNotFound);
    expect(h.store.revoked).toHaveLength(1);
  });

  it('counts the maximum length from the session’s creation, not from the resume', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'Date'] });
    const h = setup({ lifecycle: { maxSessionMs: 1000 } });
    h.store.attachResult = { ...attached, createdMs: Date.now() - 800 };
    const session = h.connect(SID);
    // (The token's own expiry is not what is tested here: it is issued as for a fresh session.)
    const token = h.tokens.issue(binding, 0, Date.now());
    h.lifecycle.openResumed(session, { valid: true, token, lastSeq: undefined }, 'anonymous');
    await settle();
    expect(socketOf(session).messages()[0]).toMatchObject({ type: 'session.created' });
    vi.advanceTimersByTime(300);
    expect(socketOf(session).errorCodes()).toEqual(['session_expired']);
    expect(socketOf(session).ended?.code).toBe(CloseCode.SessionTimeout);
  });
});

describe('SessionLifecycle: lifetime sweep and shutdown', () => {
  it('ends a session past the maximum duration with session_expired and close 4408', () => {
    vi.useFakeTimers();
    const h = setup({ lifecycle: { maxSessionMs: 1000 } });
    const session = h.connect(SID);
    h.lifecycle.openNew(session, 'anonymous');
    h.router.onBatch(batch(encodeBindLine(SID, 'wk-1', 1)));
    vi.advanceTimersByTime(900);
    expect(socketOf(session).ended).toBeUndefined();
    vi.advanceTimersByTime(400);
    expect(socketOf(session).errorCodes()).toEqual(['session_expired']);
    expect(socketOf(session).ended?.code).toBe(CloseCode.SessionTimeout);
    expect(socketOf(session).ended?.code).toBe(4408);
    // 4408 is terminal: the session is ended at its owner, not kept for a resume.
    expect(h.writer.lines(h.keys.workerIn('wk-1'))).toEqual([{ op: 'E', sid: SID, reason: 'client_closed' }]);
  });

  it('ends a connection whose credential expired with unauthorized and close 4401', () => {
    vi.useFakeTimers();
    const h = setup();
    const session = h.connect(SID);
    session.credentialExpiresAt = Date.now() + 1500;
    h.lifecycle.openNew(session, 'authenticated');
    vi.advanceTimersByTime(1000);
    expect(socketOf(session).ended).toBeUndefined();
    vi.advanceTimersByTime(1000);
    expect(socketOf(session).errorCodes()).toEqual(['unauthorized']);
    expect(socketOf(session).ended?.code).toBe(CloseCode.Unauthorized);
  });

  it('announceDrain warns every client; closeAll closes every socket even though each close unregisters', () => {
    const h = setup();
    const sessions = [
      'sess_aaaaaaaaaaaaaaaaaaaaa',
      'sess_bbbbbbbbbbbbbbbbbbbbb',
      'sess_ccccccccccccccccccccc',
    ].map((sid) => {
      const s = h.connect(sid);
      h.lifecycle.openNew(s, 'anonymous');
      return s;
    });
    h.lifecycle.announceDrain();
    h.lifecycle.closeAll(CloseCode.ServiceRestart, 'server restarting: resume the session');
    for (const s of sessions) {
      expect(socketOf(s).messages().at(-1)).toMatchObject({
        type: 'session.notice',
        notice: { code: 'server_draining' },
      });
      expect(socketOf(s).ended?.code).toBe(CloseCode.ServiceRestart);
    }
    expect(h.registry.count()).toBe(0);
  });
});
