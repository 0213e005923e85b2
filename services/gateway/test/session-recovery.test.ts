// The gateway's side of a Redis outage, on a real Redis (session records and the BullMQ queue) with the bus in
// memory: sessions live at the outage are re-created from what the gateway knows, kept while they do not run
// again, and told when they do not in time. "Redis lost its data" is played by deleting the test's keys.
import { EventEmitter } from 'node:events';
import { DEFAULT_CONNECTION_RATE_LIMITS } from '@rtv/auth';
import type { RedisClient } from '@rtv/bus';
import {
  createKeys,
  createRedis,
  type Keys,
  MemoryBusWriter,
  type SessionJobData,
  SessionRecords,
  StreamReader,
} from '@rtv/bus';
import {
  type BusLine,
  CloseCode,
  DEFAULT_FRAME_LIMITS,
  DEFAULT_SESSION_CONFIG,
  encodeAckLine,
  encodeBindLine,
  FrameKind,
} from '@rtv/protocol';
import { createTestRedis, deleteKeysWithPrefix, type TestRedis, waitFor } from '@rtv/testing';
import { Queue, Worker } from 'bullmq';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RedisOutageWatch } from '../src/redis-outage-watch.js';
import type { ClientSession, ClientSessionLimits } from '../src/routing/client-session.js';
import { ResumeTokens } from '../src/routing/resume-tokens.js';
import { SessionRecovery, type SessionRecoveryDeps } from '../src/routing/session-recovery.js';
import { ClientSessionRegistry } from '../src/routing/session-registry.js';
import { SessionRouter } from '../src/routing/session-router.js';
import { SessionStore } from '../src/routing/session-store.js';
import { ClientFrameIntake } from '../src/ws/frame-intake.js';
import { SessionLifecycle } from '../src/ws/session-lifecycle.js';
import { batch, counterValue, GATEWAY_ID, newMetrics, newSession, silentLog, socketOf } from './helpers.js';

const SID = 'sess_rcvrrcvrrcvrrcvrrcvrr';

let t: TestRedis;
let keys: Keys;
let records: SessionRecords;
let queueConn: RedisClient;
let queue: Queue<SessionJobData>;
const cleanups: Array<() => unknown> = [];

beforeEach(async () => {
  t = await createTestRedis('gw-recovery');
  keys = createKeys(t.prefix);
  records = new SessionRecords(t.redis, keys);
  queueConn = createRedis(t.url, { name: 'gw-recovery-test-queue', role: 'producer' });
  queue = new Queue<SessionJobData>(keys.queueName, { connection: queueConn, prefix: keys.bullPrefix });
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await queue.close();
  queueConn.disconnect();
  await t.cleanup();
});

interface GatewayOptions {
  boundMs?: number;
  bindTimeoutMs?: number;
  limits?: ClientSessionLimits;
  /** Restore calls that fail before the real one runs (Redis flapping). */
  failingRestores?: number;
}

/**
 * The gateway's session classes wired as `createClientSide` wires them, with a real session store, a real
 * out-stream reader (for `maintain`) and the outage watch driven by a stand-in of the command connection's
 * `close` / `ready` events.
 */
function startGateway(opts: GatewayOptions = {}) {
  const limits = opts.limits ?? { pendingMaxFrames: 50, replayMaxBytes: 64 * 1024 };
  const writer = new MemoryBusWriter();
  const registry = new ClientSessionRegistry();
  const metrics = newMetrics();
  const router = new SessionRouter({
    gatewayId: GATEWAY_ID,
    keys,
    writer,
    registry,
    metrics,
    log: silentLog,
    maxBackpressureBytes: 1024 * 1024,
    closeClient: (session, code, reason) => lifecycle.close(session, code, reason),
  });
  const store = new SessionStore(records, queue);
  const reader = new StreamReader({
    stream: keys.gatewayOut(GATEWAY_ID),
    blocking: t.redis,
    commands: t.redis,
    onBatch: () => undefined,
  });
  let failures = opts.failingRestores ?? 0;
  const recoveryStore: SessionRecoveryDeps['store'] = {
    ensureJob: (data) => store.ensureJob(data),
    records: {
      restoreClientSide: (sid, side) =>
        failures-- > 0
          ? Promise.reject(new Error('Connection is closed.'))
          : records.restoreClientSide(sid, side),
    },
  };
  const recovery = new SessionRecovery({
    gatewayId: GATEWAY_ID,
    registry,
    store: recoveryStore,
    reader,
    router,
    endings: { detach: (s) => lifecycle.detach(s), fail: (s) => lifecycle.failRecovery(s) },
    metrics,
    log: silentLog,
    boundMs: opts.boundMs ?? 10_000,
    retryMs: 20,
  });
  const lifecycle = new SessionLifecycle({
    gatewayId: GATEWAY_ID,
    router,
    registry,
    store,
    tokens: new ResumeTokens(Buffer.from('test-resume-secret'), { ttlS: 600, maxSessionMs: 0 }),
    metrics,
    log: silentLog,
    sessionLimits: limits,
    bindTimeoutMs: opts.bindTimeoutMs ?? 60_000,
    accepting: () => true,
    userLimiter: { release: async () => true },
    connectionRate: DEFAULT_CONNECTION_RATE_LIMITS,
    maxSessionMs: 0,
    recovery,
  });
  const intake = new ClientFrameIntake({ router, client: lifecycle, metrics, limits: DEFAULT_FRAME_LIMITS });
  const redisEvents = new EventEmitter();
  new RedisOutageWatch({
    redis: redisEvents,
    readiness: { draining: false },
    lifecycle,
    recovery,
    log: silentLog,
  }).start();
  cleanups.push(
    () => recovery.dispose(),
    () => lifecycle.dispose(),
  );

  /** A new session on a socket whose `end` reaches the close handler, as uWS does; its record and job exist. */
  const open = async (sid = SID): Promise<ClientSession> => {
    const session = newSession(sid, { limits });
    socketOf(session).onEnd = (code) => lifecycle.onClosed(session, code);
    lifecycle.openNew(session, 'anonymous');
    await waitFor(async () => (await queue.getJobState(sid)) === 'waiting', { message: 'the session job' });
    return session;
  };
  /** Client frames, as the intake takes them (base64 audio of 6 bytes of PCM each). */
  const send = (session: ClientSession, ...audio: string[]) => {
    for (const a of audio) {
      const frame = `{"type":"conversation.item.input","conversation_item_input":{"type":"input_audio_buffer","audio":"${a}"}}`;
      const bytes = Buffer.from(frame);
      intake.onMessage(session, bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length), false);
    }
  };
  const toWorker = (wid: string): BusLine[] => writer.lines(keys.workerIn(wid));
  /** Frame seqs (and other ops) written to `wid`, in order. */
  const opsTo = (wid: string) => toWorker(wid).map((l) => (l.op === 'F' ? l.seq : l.op));
  const line = (...lines: Buffer[]) => router.onBatch(batch(...lines));
  return {
    registry,
    metrics,
    router,
    recovery,
    lifecycle,
    open,
    send,
    opsTo,
    line,
    outage: () => redisEvents.emit('close'),
    back: () => redisEvents.emit('ready'),
  };
}

/** What Redis holds of the session (hash fields) and its job's state. */
async function stored(sid = SID) {
  return {
    record: await t.redis.hgetall(keys.session(sid)),
    job: await queue.getJobState(sid),
  };
}

/** Redis restarts empty: every key of this test goes. */
const loseEverything = () => deleteKeysWithPrefix(t.redis, t.prefix);

/** A worker's claim of the session's job: the job becomes active (locked), as a session worker holds it. */
async function takeJob(): Promise<void> {
  const conn = createRedis(t.url, { name: 'gw-recovery-test-worker' });
  const worker = new Worker<SessionJobData>(keys.queueName, null, {
    connection: conn,
    prefix: keys.bullPrefix,
  });
  cleanups.push(async () => {
    await worker.close();
    conn.disconnect();
  });
  const job = await worker.getNextJob('lease-token');
  expect(job?.id).toBe(SID);
}

describe('SessionRecovery: after Redis is back', () => {
  it('re-creates a lost record and job from the gateway’s state (epoch kept) and holds the unacked frames until it runs again', async () => {
    const gw = startGateway({ failingRestores: 2 });
    const session = await gw.open();
    gw.line(encodeBindLine(SID, 'wk-1', 3));
    gw.send(session, 'AAAAAAAA', 'BBBBBBBB', 'CCCCCCCC');
    gw.line(encodeAckLine(SID, 3, 1));
    gw.outage();
    expect(socketOf(session).errorCodes()).toEqual(['service_unavailable']);
    await loseEverything();
    gw.back();

    const { record, job } = await waitFor(
      async () => {
        const s = await stored();
        return s.job === 'waiting' && s.record.user !== undefined && s;
      },
      { message: 'the record and job restored' },
    );
    expect(record).toMatchObject({
      user: 'user_1',
      gateway: GATEWAY_ID,
      epoch: '3',
      state: 'queued',
      client: 'attached',
      attach: '0',
      created_ms: String(session.createdAt),
    });
    expect(JSON.parse(record.config!)).toEqual(DEFAULT_SESSION_CONFIG);
    expect(job).toBe('waiting');
    expect((await queue.getJob(SID))?.data).toEqual({
      sid: SID,
      userId: 'user_1',
      gatewayId: GATEWAY_ID,
      createdMs: session.createdAt,
    });
    // The out-stream is there again for the bind to come.
    expect(await t.redis.exists(keys.gatewayOut(GATEWAY_ID))).toBe(1);
    // Frames 2 and 3 (1 was acknowledged) wait for the session to run again: a resend now could reach an owner
    // behind newer frames, which would make the resent ones repeats.
    gw.send(session, 'DDDDDDDD');
    await new Promise((r) => setTimeout(r, 200));
    expect(gw.opsTo('wk-1')).toEqual([1, 2, 3]);
    // Not running yet: the lease is gone and no newer bind came.
    expect(gw.recovery.waitsFor(session)).toBe(true);
    // The next claim is newer than every bind the gateway saw.
    expect((await records.claim(SID, 'wk-2'))?.epoch).toBe(4);
  });

  it('a newer bind settles the session: the unacked frames go to the new owner and the socket stays open', async () => {
    const gw = startGateway({ boundMs: 1000 });
    const session = await gw.open();
    gw.line(encodeBindLine(SID, 'wk-1', 1));
    gw.send(session, 'AAAAAAAA', 'BBBBBBBB');
    gw.outage();
    gw.send(session, 'CCCCCCCC'); // taken during the outage: its write is dropped, its copy kept
    await loseEverything();
    gw.back();
    await waitFor(async () => (await stored()).job === 'waiting', { message: 'the job restored' });

    const claimed = await records.claim(SID, 'wk-2');
    // Taken during the outage and after it, kept but not written until the session runs again.
    gw.send(session, 'DDDDDDDD');
    expect(gw.opsTo('wk-1')).toEqual([1, 2]);
    gw.line(encodeBindLine(SID, 'wk-2', claimed!.epoch));
    expect(gw.opsTo('wk-2')).toEqual([1, 2, 3, 4]);
    // Running again: new frames go straight to the owner.
    gw.send(session, 'EEEEEEEE');
    expect(gw.opsTo('wk-2')).toEqual([1, 2, 3, 4, 5]);
    expect(gw.recovery.waitsFor(session)).toBe(false);
    expect(await counterValue(gw.metrics.sessionRecoveries, { result: 'reestablished' })).toBe(1);
    // Past the bound nothing happens to it.
    await new Promise((r) => setTimeout(r, 1200));
    expect(socketOf(session).ended).toBeUndefined();
    expect(socketOf(session).errorCodes()).toEqual(['service_unavailable']);
    expect(await counterValue(gw.metrics.sessionRecoveries, { result: 'failed' })).toBe(0);
  });

  it('a session whose lease was never lost runs again without a bind; one whose record moved waits for it', async () => {
    const gw = startGateway();
    const session = await gw.open();
    await takeJob();
    const claimed = await records.claim(SID, 'wk-1');
    gw.line(encodeBindLine(SID, 'wk-1', claimed!.epoch));
    gw.send(session, 'AAAAAAAA');
    gw.outage();
    gw.back();
    await waitFor(() => !gw.recovery.waitsFor(session), { message: 'the session settled' });
    expect(await counterValue(gw.metrics.sessionRecoveries, { result: 'reestablished' })).toBe(1);
    // Its frame went to the same owner again (the owner drops what it applied).
    expect(gw.opsTo('wk-1')).toEqual([1, 1]);

    // Another outage; meanwhile another worker took the session over and its bind was lost (it was written
    // before this gateway's stream was back): the gateway asks that owner to bind again.
    gw.outage();
    await records.claim(SID, 'wk-2');
    gw.back();
    await waitFor(() => gw.opsTo('wk-2').includes('R'), { message: 'the request to bind again' });
    expect(gw.recovery.waitsFor(session)).toBe(true);
    expect(gw.opsTo('wk-1')).toEqual([1, 1]);
    gw.line(encodeBindLine(SID, 'wk-2', claimed!.epoch + 1));
    expect(gw.recovery.waitsFor(session)).toBe(false);
    expect(gw.opsTo('wk-2').filter((op) => op !== 'R')).toEqual([1]);
  });

  it('a session still waiting for its first bind gets its record and job back; its bind timer does not end it', async () => {
    const gw = startGateway({ bindTimeoutMs: 200 });
    const session = await gw.open();
    gw.send(session, 'AAAAAAAA');
    gw.outage();
    await loseEverything();
    gw.back();
    const { record } = await waitFor(
      async () => {
        const s = await stored();
        return s.job === 'waiting' && s.record.user !== undefined && s;
      },
      { message: 'the record and job restored' },
    );
    expect(record).toMatchObject({ epoch: '0', state: 'queued', client: 'attached' });
    await new Promise((r) => setTimeout(r, 300));
    expect(socketOf(session).ended).toBeUndefined();
    gw.line(encodeBindLine(SID, 'wk-1', 1));
    expect(gw.opsTo('wk-1')).toEqual([1]);
    expect(gw.recovery.waitsFor(session)).toBe(false);
  });

  it('a session not re-established within the bound gets session_recovery_failed and 1013, then is detached', async () => {
    const gw = startGateway({ boundMs: 300 });
    const session = await gw.open();
    gw.line(encodeBindLine(SID, 'wk-1', 1));
    gw.send(session, 'AAAAAAAA', 'BBBBBBBB');
    gw.outage();
    await loseEverything();
    gw.back();
    await waitFor(() => socketOf(session).ended, { message: 'the close' });
    expect(socketOf(session).errorCodes()).toEqual(['service_unavailable', 'session_recovery_failed']);
    expect(socketOf(session).ended?.code).toBe(CloseCode.TryAgainLater);
    expect(await counterValue(gw.metrics.sessionRecoveries, { result: 'failed' })).toBe(1);
    expect(await counterValue(gw.metrics.recoveryFramesGivenUp)).toBe(2);
    // 1013 is resumable: detached as usual (D line, record marked) so the client can resume it.
    expect(gw.opsTo('wk-1').at(-1)).toBe('D');
    expect(gw.registry.count()).toBe(0);
    await waitFor(async () => (await stored()).record.client === 'detached', { message: 'record detached' });
  });
});

describe('SessionRecovery: a socket that closes during the outage', () => {
  it('keeps the session (1013 of a full replay buffer) and detaches it only after it runs again', async () => {
    // Room for two of the test's frames' lines, not three.
    const gw = startGateway({ limits: { pendingMaxFrames: 50, replayMaxBytes: 100 } });
    const session = await gw.open();
    gw.line(encodeBindLine(SID, 'wk-1', 1));
    gw.outage();
    gw.send(session, 'AAAAAAAA', 'BBBBBBBB', 'CCCCCCCC');
    expect(socketOf(session).errorCodes()).toEqual(['service_unavailable', 'replay_buffer_full']);
    expect(socketOf(session).ended?.code).toBe(CloseCode.TryAgainLater);
    // Held: still registered with its frames (not written during the outage), the owner not told, the record
    // not marked.
    expect(gw.registry.holds(session)).toBe(true);
    expect(gw.opsTo('wk-1')).toEqual([]);
    expect(await counterValue(gw.metrics.recoveringSessions, { socket: 'closed' })).toBe(1);
    expect(await counterValue(gw.metrics.recoveringFrames)).toBe(2);

    await loseEverything();
    gw.back();
    await waitFor(async () => (await stored()).job === 'waiting', { message: 'the job restored' });
    // The record says attached: a resume now gets session_in_use (and retries), keeping these frames first.
    expect((await stored()).record.client).toBe('attached');
    const resume = { userId: 'user_1', gatewayId: 'gw-other', generation: 0, takeOver: false };
    expect(await records.attach(SID, resume)).toEqual({ status: 'in_use' });
    expect(gw.opsTo('wk-1')).not.toContain('D');

    const claimed = await records.claim(SID, 'wk-2');
    gw.line(encodeBindLine(SID, 'wk-2', claimed!.epoch));
    // The frames first, then the detach.
    expect(gw.opsTo('wk-2')).toEqual([1, 2, 'D']);
    expect(gw.registry.count()).toBe(0);
    await waitFor(async () => (await stored()).record.client === 'detached', { message: 'record detached' });
    expect(await records.attach(SID, resume)).toMatchObject({ status: 'attached' });
    expect(await counterValue(gw.metrics.recoveringSessions, { socket: 'closed' })).toBe(0);
  });

  it('past the bound the held session is detached anyway and its frames are counted as given up', async () => {
    const gw = startGateway({ boundMs: 300 });
    const session = await gw.open();
    gw.line(encodeBindLine(SID, 'wk-1', 1));
    gw.send(session, 'AAAAAAAA', 'BBBBBBBB', 'CCCCCCCC');
    gw.outage();
    socketOf(session).end(CloseCode.AbnormalClosure, 'network gone');
    expect(gw.registry.holds(session)).toBe(true);
    expect(gw.opsTo('wk-1')).toEqual([1, 2, 3]);
    gw.back();
    await waitFor(() => gw.registry.count() === 0, { message: 'the detach' });
    // Nothing was re-sent (the session never ran again); the owner is told the client left.
    expect(gw.opsTo('wk-1')).toEqual([1, 2, 3, 'D']);
    expect(await counterValue(gw.metrics.sessionRecoveries, { result: 'failed' })).toBe(1);
    expect(await counterValue(gw.metrics.recoveryFramesGivenUp)).toBe(3);
    await waitFor(async () => (await stored()).record.client === 'detached', { message: 'record detached' });
  });

  it('a close 1000 during the outage ends the session as usual', async () => {
    const gw = startGateway();
    const session = await gw.open();
    gw.line(encodeBindLine(SID, 'wk-1', 1));
    gw.router.forward(session, FrameKind.Audio, 'AAAAAAAA');
    gw.outage();
    socketOf(session).end(CloseCode.Normal, 'bye');
    expect(gw.registry.count()).toBe(0);
    expect(gw.opsTo('wk-1')).toEqual([1, 'E']);
  });

  it('on shutdown a held session is detached, and a socket closing then is not kept', async () => {
    const other = 'sess_othrothrothrothrothro';
    const gw = startGateway();
    const held = await gw.open(SID);
    const open = await gw.open(other);
    gw.line(encodeBindLine(SID, 'wk-1', 1), encodeBindLine(other, 'wk-2', 1));
    gw.outage();
    socketOf(held).end(CloseCode.AbnormalClosure, 'network gone');
    expect(gw.registry.holds(held)).toBe(true);
    // What GatewayShutdown does.
    gw.recovery.dispose();
    gw.lifecycle.closeAll(CloseCode.ServiceRestart, 'server restarting: resume the session');
    expect(socketOf(open).ended?.code).toBe(CloseCode.ServiceRestart);
    expect(gw.registry.count()).toBe(0);
    expect(gw.opsTo('wk-1')).toEqual(['D']);
    expect(gw.opsTo('wk-2')).toEqual(['D']);
    gw.back();
    expect(gw.recovery.waitsFor(open)).toBe(false);
  });
});
