import type { RedisClient } from '@rtv/bus';
import {
  createKeys,
  createRedis,
  type Keys,
  MemoryBusWriter,
  newSessionId,
  SessionField,
  type SessionJobData,
  SessionRecords,
  type SessionState,
} from '@rtv/bus';
import {
  type BusLine,
  CloseCode,
  DEFAULT_SESSION_CONFIG,
  encodeBatch,
  encodeClientFrameLine,
  encodeDetachLine,
  encodeEndLine,
  encodeResendLine,
  encodeResumeLine,
  FrameKind,
} from '@rtv/protocol';
import { createLogger, createRegistry } from '@rtv/service-kit';
import { createTestRedis, deleteKeysWithPrefix, type TestRedis, waitFor } from '@rtv/testing';
import { Queue, type Worker } from 'bullmq';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadWorkerConfig } from '../src/config.js';
import { createWorkerMetrics, type WorkerMetrics } from '../src/metrics.js';
import { gatewayLiveness } from '../src/sessions/gateway-liveness.js';
import type { Intake } from '../src/sessions/session-host.js';
import { type HostedRunner, SessionHost } from '../src/sessions/session-host.js';
import { FetchWindow, startSessionQueue } from '../src/sessions/session-queue.js';
import type { EndReason } from '../src/sessions/session-runner.js';

const PROGRESS_MS = 200;

type RunnerCall =
  | ['apply', number, string, string]
  | ['detach', string]
  | ['resume', string, number]
  | ['resendAfter', string, number]
  | ['reclaim', number]
  | ['end', EndReason];

/**
 * A small real runner for the host: it keeps the seq bookkeeping of `SessionRunner` (applied, saved, repeats
 * dropped) and records what the host asked of it, without a provider behind it.
 */
class RecordingRunner implements HostedRunner {
  readonly calls: RunnerCall[] = [];
  readonly done: Promise<EndReason>;
  appliedSeq: number;
  savedSeq: number;
  /** The first applied seq this runner has not passed on yet (as a text waiting for the reply in progress). */
  heldFrom: number | undefined;
  started = false;
  endedWith: EndReason | undefined;
  private resolveDone!: (reason: EndReason) => void;

  constructor(readonly state: SessionState) {
    this.appliedSeq = state.lastSeq;
    this.savedSeq = state.lastSeq;
    this.done = new Promise((resolve) => {
      this.resolveDone = resolve;
    });
  }

  get sid(): string {
    return this.state.sid;
  }

  get ackableSeq(): number {
    return this.heldFrom === undefined ? this.appliedSeq : Math.min(this.appliedSeq, this.heldFrom - 1);
  }

  async start(): Promise<void> {
    this.started = true;
  }

  apply(seq: number, kind: FrameKind, payload: Buffer): void {
    if (this.endedWith || seq <= this.appliedSeq) return;
    this.appliedSeq = seq;
    this.calls.push(['apply', seq, kind, payload.toString('utf8')]);
  }

  detach(gatewayId: string): void {
    this.calls.push(['detach', gatewayId]);
  }

  resume(gatewayId: string, lastSeq: number): void {
    this.state.gatewayId = gatewayId;
    this.calls.push(['resume', gatewayId, lastSeq]);
  }

  uncommittedTurnBytes(): number {
    return 0;
  }

  resendAfter(gatewayId: string, afterSeq: number): void {
    this.calls.push(['resendAfter', gatewayId, afterSeq]);
  }

  /** Takes the new claim's epoch, as `SessionRunner.reclaim` does. */
  reclaim(claim: SessionState): void {
    this.state.epoch = claim.epoch;
    this.calls.push(['reclaim', claim.epoch]);
  }

  end(reason: EndReason): void {
    if (this.endedWith) return;
    this.endedWith = reason;
    this.calls.push(['end', reason]);
    this.resolveDone(reason);
  }
}

/** One worker process's worth of host: real records and BullMQ against the test Redis, in-memory bus. */
interface Process {
  workerId: string;
  host: SessionHost;
  writer: MemoryBusWriter;
  metrics: WorkerMetrics;
  runners: RecordingRunner[];
  bull: Worker<SessionJobData, string>;
  bullConn: RedisClient;
}

let t: TestRedis;
let keys: Keys;
let records: SessionRecords;
let queueConn: RedisClient;
let queue: Queue<SessionJobData>;
const processes: Process[] = [];

beforeEach(async () => {
  t = await createTestRedis('session-host');
  keys = createKeys(t.prefix);
  records = new SessionRecords(t.redis, keys);
  queueConn = createRedis(t.url, { name: 'session-host-test-queue', role: 'producer' });
  queue = new Queue<SessionJobData>(keys.queueName, { connection: queueConn, prefix: keys.bullPrefix });
  // BullMQ's connection set-up (a version query) rejects unhandled if the connection is closed under it, as
  // the afterEach of a test that never touches the queue would.
  await queue.waitUntilReady();
  // Both test gateways beat unless a test says otherwise.
  await t.redis.hset(keys.gateway('gw-1'), 'connections', 0);
  await t.redis.hset(keys.gateway('gw-2'), 'connections', 0);
});

afterEach(async () => {
  vi.useRealTimers();
  for (const p of processes.splice(0)) {
    p.host.stopProgressTimer();
    for (const r of p.runners) r.end('client_closed');
    await p.bull.close();
    p.bullConn.disconnect();
  }
  await queue.close();
  queueConn.disconnect();
  await t.cleanup();
});

function startProcess(workerId = 'wk-1', env: NodeJS.ProcessEnv = {}, intake?: Intake): Process {
  const config = loadWorkerConfig({ REDIS_URL: t.url, RTV_REDIS_PREFIX: t.prefix, ...env });
  const writer = new MemoryBusWriter();
  const metrics = createWorkerMetrics(createRegistry());
  const runners: RecordingRunner[] = [];
  const host = new SessionHost({
    workerId,
    keys,
    records,
    writer,
    metrics,
    log: createLogger('test', 'silent'),
    gatewaysAlive: gatewayLiveness(t.redis, keys),
    createRunner: (state) => {
      const runner = new RecordingRunner(state);
      runners.push(runner);
      return runner;
    },
    progressIntervalMs: PROGRESS_MS,
    queue,
    leaseRecoveryMs: config.RTV_LEASE_RECOVERY_MS,
    intake,
    deferMs: 100,
  });
  const bullConn = createRedis(t.url, { name: `session-host-test-${workerId}` });
  const log = createLogger('test', 'silent');
  const bull = startSessionQueue(host, config, { connection: bullConn, keys, log });
  const p = { workerId, host, writer, metrics, runners, bull, bullConn };
  processes.push(p);
  return p;
}

/** Creates a session as a gateway does (record, then job) and waits until `p` runs it. */
async function openSession(p: Process, gatewayId = 'gw-1'): Promise<RecordingRunner> {
  const data: SessionJobData = { sid: newSessionId(), userId: 'user_1', gatewayId, createdMs: Date.now() };
  await records.create(data, DEFAULT_SESSION_CONFIG);
  await queue.add('session', data, { jobId: data.sid, removeOnComplete: true, attempts: 1 });
  return waitFor(() => p.runners.find((r) => r.sid === data.sid && r.started), {
    message: `${p.workerId} runs ${data.sid}`,
  });
}

/** A stream entry id written now (the host reads the write time from it). */
const entryIdNow = () => `${Date.now()}-0`;

const acks = (p: Process, gatewayId = 'gw-1') =>
  p.writer.lines(keys.gatewayOut(gatewayId)).filter((l): l is Extract<BusLine, { op: 'A' }> => l.op === 'A');

async function counterValue(
  metric: { get(): Promise<{ values: Array<{ value: number; labels: object }> }> },
  labels: Record<string, string> = {},
): Promise<number> {
  const { values } = await metric.get();
  const match = values.find((v) =>
    Object.entries(labels).every(([k, want]) => String((v.labels as Record<string, unknown>)[k]) === want),
  );
  return match?.value ?? 0;
}

const gaugeValue = (metric: Parameters<typeof counterValue>[0]) => counterValue(metric);

const savedSeq = async (sid: string) =>
  Number(await t.redis.hget(keys.session(sid), SessionField.appliedSeq));

describe('SessionHost', () => {
  it('routes F, E, D, R and S lines to the runner of their session and ignores other sessions', async () => {
    const p = startProcess();
    const a = await openSession(p);
    const b = await openSession(p);
    const batch = encodeBatch([
      encodeClientFrameLine(a.sid, 1, FrameKind.Audio, 'AAAA'),
      encodeClientFrameLine(b.sid, 1, FrameKind.Json, '{"type":"response.create"}'),
      encodeClientFrameLine('sess_notheldbythisworker', 1, FrameKind.Audio, 'BBBB'),
      encodeDetachLine(a.sid, 'gw-1'),
      encodeResumeLine(b.sid, 'gw-2', 7),
      encodeResendLine(b.sid, 'gw-2', 5),
      encodeEndLine('sess_notheldbythisworker', 'client_closed'),
      Buffer.from('Z\tnot a bus line'),
      encodeEndLine(a.sid, 'client_gone'),
      encodeEndLine(b.sid, 'anything_else'),
    ]);
    p.host.onBatch(batch, entryIdNow());

    expect(a.calls).toEqual([
      ['apply', 1, FrameKind.Audio, 'AAAA'],
      ['detach', 'gw-1'],
      ['end', 'client_gone'],
    ]);
    expect(b.calls).toEqual([
      ['apply', 1, FrameKind.Json, '{"type":"response.create"}'],
      ['resume', 'gw-2', 7],
      ['resendAfter', 'gw-2', 5],
      ['end', 'client_closed'],
    ]);
    expect(p.runners).toHaveLength(2);
    // Every frame line's gateway-to-worker leg is measured, held here or not.
    const { values } = await p.metrics.framePath.get();
    expect(values.find((v) => v.metricName?.endsWith('_count'))?.value).toBe(3);
    // Ended sessions leave the host and their records are removed.
    await waitFor(() => p.host.count() === 0, { message: 'both sessions ended' });
    const gone = async (sid: string) => (await records.read(sid)) === undefined;
    await waitFor(async () => (await gone(a.sid)) && (await gone(b.sid)), { message: 'records removed' });
    expect(await counterValue(p.metrics.sessionsEnded, { reason: 'client_gone' })).toBe(1);
    expect(await counterValue(p.metrics.sessionsEnded, { reason: 'client_closed' })).toBe(1);
  });

  it('claims a session with a new epoch, attached only when its gateway still beats', async () => {
    const p = startProcess();
    const live = await openSession(p, 'gw-1');
    await t.redis.del(keys.gateway('gw-2'));
    const orphan = await openSession(p, 'gw-2');
    expect(live.state).toMatchObject({ epoch: 1, gatewayId: 'gw-1', clientAttached: true, lastSeq: 0 });
    expect(orphan.state).toMatchObject({ epoch: 1, gatewayId: 'gw-2', clientAttached: false });
    expect((await records.read(live.sid))?.owner).toBe('wk-1');
    expect(p.host.count()).toBe(2);
    expect(await counterValue(p.metrics.sessionsStarted, { kind: 'new' })).toBe(2);
  });

  it('a progress tick saves and acknowledges the sessions that moved, and nothing for idle ones', async () => {
    const p = startProcess();
    const moved = await openSession(p, 'gw-1');
    const idle = await openSession(p, 'gw-1');
    const elsewhere = await openSession(p, 'gw-2');
    p.host.onBatch(
      encodeBatch([
        encodeClientFrameLine(moved.sid, 1, FrameKind.Audio, 'AAAA'),
        encodeClientFrameLine(moved.sid, 2, FrameKind.Audio, 'AAAA'),
        encodeClientFrameLine(elsewhere.sid, 1, FrameKind.Audio, 'AAAA'),
      ]),
      entryIdNow(),
    );

    await p.host.saveProgress();
    expect(acks(p, 'gw-1')).toEqual([{ op: 'A', sid: moved.sid, epoch: 1, seq: 2 }]);
    expect(acks(p, 'gw-2')).toEqual([{ op: 'A', sid: elsewhere.sid, epoch: 1, seq: 1 }]);
    expect(await savedSeq(moved.sid)).toBe(2);
    expect(await savedSeq(idle.sid)).toBe(0);
    expect(moved.savedSeq).toBe(2);

    // Nothing moved since: the next tick writes nothing.
    await p.host.saveProgress();
    expect(acks(p, 'gw-1')).toHaveLength(1);
    expect(acks(p, 'gw-2')).toHaveLength(1);
  });

  it('acknowledges only up to a frame the runner still holds, and the rest once it is passed on', async () => {
    const p = startProcess();
    const session = await openSession(p, 'gw-1');
    p.host.onBatch(
      encodeBatch([1, 2, 3].map((seq) => encodeClientFrameLine(session.sid, seq, FrameKind.Json, '{}'))),
      entryIdNow(),
    );
    session.heldFrom = 2;
    await p.host.saveProgress();
    expect(acks(p, 'gw-1')).toEqual([{ op: 'A', sid: session.sid, epoch: 1, seq: 1 }]);
    expect(await savedSeq(session.sid)).toBe(1);

    session.heldFrom = undefined;
    await p.host.saveProgress();
    expect(acks(p, 'gw-1').map((a) => a.op === 'A' && a.seq)).toEqual([1, 3]);
    expect(await savedSeq(session.sid)).toBe(3);
  });

  it('runs the progress tick on its timer', async () => {
    const p = startProcess();
    const runner = await openSession(p);
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    p.host.startProgressTimer();
    p.host.onBatch(
      encodeBatch([encodeClientFrameLine(runner.sid, 1, FrameKind.Audio, 'AAAA')]),
      entryIdNow(),
    );

    vi.advanceTimersByTime(PROGRESS_MS - 1);
    // Give a (wrongly) started write time to land before checking that none was made.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(acks(p)).toEqual([]);
    vi.advanceTimersByTime(1);
    await waitFor(() => acks(p).length === 1, { message: 'the ack of the first tick' });
    expect(acks(p)).toEqual([{ op: 'A', sid: runner.sid, epoch: 1, seq: 1 }]);

    p.host.stopProgressTimer();
    p.host.onBatch(
      encodeBatch([encodeClientFrameLine(runner.sid, 2, FrameKind.Audio, 'AAAA')]),
      entryIdNow(),
    );
    vi.advanceTimersByTime(PROGRESS_MS * 5);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(acks(p)).toHaveLength(1);
  });

  it('renews a running session lease every quarter of RTV_LEASE_MS, not more often', async () => {
    // BullMQ's renewal timer runs every half of lockRenewTime and renews each lock older than that half, so a
    // lock is renewed about every half of lockRenewTime: the lease's quarter needs lockRenewTime at its half.
    const p = startProcess('wk-1', { RTV_LEASE_MS: '2000' });
    await openSession(p);
    let renewals = 0;
    p.bull.on('locksRenewed', ({ count }: { count: number }) => {
      renewals += count;
    });
    await new Promise((resolve) => setTimeout(resolve, 2600));
    // About 5 in 2.6 s at every 500 ms (a busy loop can only make them later, so fewer); 10 at every 250 ms.
    expect(renewals).toBeGreaterThanOrEqual(2);
    expect(renewals).toBeLessThanOrEqual(6);
  });

  it('ends a session with lease_lost when its progress write finds a newer owner, and keeps its record', async () => {
    const p = startProcess();
    const taken = await openSession(p);
    const kept = await openSession(p);
    // Another worker claims the session (a stall here let its lease expire): epoch 2 is not ours.
    await records.claim(taken.sid, 'wk-2');
    p.host.onBatch(
      encodeBatch([
        encodeClientFrameLine(taken.sid, 1, FrameKind.Audio, 'AAAA'),
        encodeClientFrameLine(kept.sid, 1, FrameKind.Audio, 'AAAA'),
      ]),
      entryIdNow(),
    );

    await p.host.saveProgress();
    expect(taken.endedWith).toBe('lease_lost');
    expect(kept.endedWith).toBeUndefined();
    expect(acks(p)).toEqual([{ op: 'A', sid: kept.sid, epoch: 1, seq: 1 }]);
    expect(await counterValue(p.metrics.leaseLost)).toBe(1);
    await waitFor(() => p.host.count() === 1, { message: 'the lost session left the host' });
    // The record is the new owner's now: the host neither removes nor overwrites it.
    const record = await records.read(taken.sid);
    expect(record).toMatchObject({ owner: 'wk-2', epoch: 2 });
    expect(await savedSeq(taken.sid)).toBe(0);
  });

  it('onLockRenewalFailed parks the named sessions it holds: their jobs are let go, the runners go on', async () => {
    const p = startProcess();
    const a = await openSession(p);
    const b = await openSession(p);
    p.host.onLockRenewalFailed([a.sid, 'sess_notheldbythisworker']);
    expect(await gaugeValue(p.metrics.sessionsParked)).toBe(1);
    // The processor call returned, so BullMQ finished the job (its lock was still valid here).
    await waitFor(async () => (await queue.getJobState(a.sid)) === 'unknown', { message: 'a job let go' });
    expect(await queue.getJobState(b.sid)).toBe('active');
    expect(a.endedWith).toBeUndefined();
    expect(p.host.count()).toBe(2);
    expect(await counterValue(p.metrics.leaseLost)).toBe(0);
    expect(await records.read(a.sid)).toMatchObject({ owner: 'wk-1', epoch: 1 });

    // Still the owner: its client frames reach it. Its progress is left to the recovery (not saved here).
    p.host.onBatch(
      encodeBatch([
        encodeClientFrameLine(a.sid, 1, FrameKind.Audio, 'AAAA'),
        encodeClientFrameLine(b.sid, 1, FrameKind.Audio, 'BBBB'),
      ]),
      entryIdNow(),
    );
    expect(a.calls).toEqual([['apply', 1, FrameKind.Audio, 'AAAA']]);
    await p.host.saveProgress();
    expect(acks(p)).toEqual([{ op: 'A', sid: b.sid, epoch: 1, seq: 1 }]);

    // A parked session can still end for good: its client closed.
    p.host.onBatch(encodeBatch([encodeEndLine(a.sid, 'client_closed')]), entryIdNow());
    expect(a.endedWith).toBe('client_closed');
    await waitFor(async () => (await records.read(a.sid)) === undefined, { message: 'a record removed' });
    expect(p.host.count()).toBe(1);
    expect(await gaugeValue(p.metrics.sessionsParked)).toBe(0);
    expect(await counterValue(p.metrics.leaseRecoveries, { result: 'ended' })).toBe(1);
  });

  it('the dead-gateway sweep detaches the sessions whose gateway heartbeat is gone', async () => {
    const p = startProcess();
    await p.host.detachFromDeadGateways(); // nothing held: nothing to check
    const onLive = await openSession(p, 'gw-1');
    const onDead1 = await openSession(p, 'gw-2');
    const onDead2 = await openSession(p, 'gw-2');
    await t.redis.del(keys.gateway('gw-2'));

    await p.host.detachFromDeadGateways();
    expect(onDead1.calls).toEqual([['detach', 'gw-2']]);
    expect(onDead2.calls).toEqual([['detach', 'gw-2']]);
    expect(onLive.calls).toEqual([]);
    expect(p.host.count()).toBe(3);
  });

  it('hands every session over on drain: progress saved, jobs back in the queue, the next worker takes over', async () => {
    const p = startProcess('wk-1');
    const a = await openSession(p);
    const b = await openSession(p);
    p.host.onBatch(
      encodeBatch([1, 2, 3].map((seq) => encodeClientFrameLine(a.sid, seq, FrameKind.Audio, 'AAAA'))),
      entryIdNow(),
    );

    // The worker's stop order: take no more jobs, then hand the sessions over.
    const closing = p.bull.close();
    p.host.handOffAll();
    await closing;
    expect(a.endedWith).toBe('handoff');
    expect(b.endedWith).toBe('handoff');
    expect(p.host.count()).toBe(0);
    expect(await counterValue(p.metrics.handoffs, { result: 'ok' })).toBe(2);
    expect(await savedSeq(a.sid)).toBe(3);
    expect(await queue.getJobState(a.sid)).toMatch(/^(delayed|waiting)$/);
    expect(await records.read(a.sid)).toMatchObject({ owner: 'wk-1', epoch: 1 });

    const next = startProcess('wk-2');
    const a2 = await waitFor(() => next.runners.find((r) => r.sid === a.sid), { message: 'wk-2 takes a' });
    await waitFor(() => next.runners.find((r) => r.sid === b.sid), { message: 'wk-2 takes b' });
    expect(a2.state).toMatchObject({ epoch: 2, lastSeq: 3, gatewayId: 'gw-1' });
    expect(a2.appliedSeq).toBe(3);
    expect(await counterValue(next.metrics.sessionsStarted, { kind: 'takeover' })).toBe(2);
  });
});

describe('SessionHost under a burst of new sessions', () => {
  it('starts a backlog of 5,000 sessions on one worker without a lease lapsing: each claimed once, as new', async () => {
    // A 1 s lease and room for every session: BullMQ alone would take the whole backlog before starting any.
    const p = startProcess('wk-1', { RTV_LEASE_MS: '1000', RTV_WORKER_CAPACITY: '9000' });
    let renewalFailures = 0;
    p.bull.on('lockRenewalFailed', (ids: string[]) => {
      renewalFailures += ids.length;
    });
    const sessions: SessionJobData[] = Array.from({ length: 5000 }, () => ({
      sid: newSessionId(),
      userId: 'user_1',
      gatewayId: 'gw-1',
      createdMs: Date.now(),
    }));
    await Promise.all(sessions.map((data) => records.create(data, DEFAULT_SESSION_CONFIG)));
    await queue.addBulk(
      sessions.map((data) => ({ name: 'session', data, opts: { jobId: data.sid, removeOnComplete: true } })),
    );
    await waitFor(() => p.runners.filter((r) => r.started).length >= sessions.length, {
      timeoutMs: 60_000,
      message: 'every session started',
    });
    // Two more lease lengths: a lock taken but never renewed would lapse and be found by the stalled check.
    await new Promise((r) => setTimeout(r, 2500));
    expect(renewalFailures).toBe(0);
    expect(p.runners.filter((r) => r.started)).toHaveLength(sessions.length);
    expect(p.runners.every((r) => r.state.epoch === 1)).toBe(true);
    expect(await counterValue(p.metrics.sessionsStarted, { kind: 'new' })).toBe(sessions.length);
    expect(await counterValue(p.metrics.sessionsStarted, { kind: 'takeover' })).toBe(0);
    expect(await queue.getActiveCount()).toBe(sessions.length);
  }, 90_000);
});

describe('SessionHost intake under overload', () => {
  /** An intake whose verdict the test sets (the real `IntakeGuard` measures the event loop; see its own test). */
  const switchable = () => {
    const state = { busy: true };
    return { state, intake: { overloaded: () => state.busy } satisfies Intake };
  };

  it('puts a new session back while the worker is overloaded, and starts it as new once it is not', async () => {
    const { state, intake } = switchable();
    const p = startProcess('wk-1', {}, intake);
    const data: SessionJobData = {
      sid: newSessionId(),
      userId: 'user_1',
      gatewayId: 'gw-1',
      createdMs: Date.now(),
    };
    await records.create(data, DEFAULT_SESSION_CONFIG);
    await queue.add('session', data, { jobId: data.sid, removeOnComplete: true, attempts: 1 });
    // Deferred again and again, never claimed: no runner, no owner in the record.
    await waitFor(async () => (await counterValue(p.metrics.sessionStartsDeferred)) >= 3, {
      message: 'deferred three times',
    });
    expect(p.runners).toEqual([]);
    expect((await records.read(data.sid))?.owner).toBeUndefined();

    state.busy = false;
    const runner = await waitFor(() => p.runners.find((r) => r.sid === data.sid && r.started), {
      message: 'started once the worker caught up',
    });
    expect(runner.state.epoch).toBe(1);
    expect(await counterValue(p.metrics.sessionsStarted, { kind: 'new' })).toBe(1);
  });

  it('never defers a call in progress: an overloaded worker still takes over a handed-off session', async () => {
    const first = startProcess('wk-1');
    const a = await openSession(first);
    const closing = first.bull.close();
    first.host.handOffAll();
    await closing;
    expect(a.endedWith).toBe('handoff');

    const busy = startProcess('wk-2', {}, switchable().intake);
    const taken = await waitFor(() => busy.runners.find((r) => r.sid === a.sid && r.started), {
      message: 'wk-2 takes the session over while overloaded',
    });
    expect(taken.state.epoch).toBe(2);
    expect(await counterValue(busy.metrics.sessionStartsDeferred)).toBe(0);
  });
});

describe('SessionHost lease recovery (a Redis outage)', () => {
  it('keeps a session through an empty Redis restart: parked, record and job put back, the same runner re-adopted with the next epoch', async () => {
    const p = startProcess('wk-1', { RTV_LEASE_MS: '1000' });
    p.host.startProgressTimer();
    const runner = await openSession(p);
    p.host.onBatch(
      encodeBatch([1, 2, 3].map((seq) => encodeClientFrameLine(runner.sid, seq, FrameKind.Audio, 'AAAA'))),
      entryIdNow(),
    );

    // Redis restarts empty: the record, the job and its lock are gone (the gateway's heartbeat comes back).
    await deleteKeysWithPrefix(t.redis, t.prefix);
    await t.redis.hset(keys.gateway('gw-1'), 'connections', 0);

    await waitFor(() => runner.calls.some(([op]) => op === 'reclaim'), {
      message: 'the parked runner re-adopted',
      timeoutMs: 15_000,
    });
    expect(runner.calls.filter(([op]) => op === 'reclaim')).toEqual([['reclaim', 2]]);
    expect(runner.endedWith).toBeUndefined();
    expect(p.runners).toEqual([runner]);
    expect(p.host.count()).toBe(1);
    expect(await records.read(runner.sid)).toMatchObject({ owner: 'wk-1', epoch: 2, gatewayId: 'gw-1' });
    expect(await savedSeq(runner.sid)).toBe(3);
    expect(await queue.getJobState(runner.sid)).toBe('active');
    expect(await counterValue(p.metrics.leaseRecoveries, { result: 'readopted' })).toBe(1);
    expect(await gaugeValue(p.metrics.sessionsParked)).toBe(0);
    expect(await counterValue(p.metrics.sessionsStarted, { kind: 'takeover' })).toBe(0);
    expect(await counterValue(p.metrics.leaseLost)).toBe(0);

    // The new lease is renewed like any other (the old job's end did not take it from lock renewal).
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(runner.endedWith).toBeUndefined();
    expect(p.runners).toHaveLength(1);
    expect(await queue.getJobState(runner.sid)).toBe('active');
    expect(await counterValue(p.metrics.leaseRecoveries, { result: 'readopted' })).toBe(1);
  });

  it('a parked session whose record has a newer epoch of another worker ends without a word to its client', async () => {
    const p = startProcess();
    p.host.startProgressTimer();
    const runner = await openSession(p);
    p.host.onLockRenewalFailed([runner.sid]);
    // Another worker claimed the session meanwhile (epoch 2).
    await records.claim(runner.sid, 'wk-2');

    await waitFor(() => runner.endedWith, { message: 'the parked runner ended' });
    expect(runner.endedWith).toBe('lease_lost');
    expect(runner.calls.filter(([op]) => op === 'reclaim')).toEqual([]);
    const toClient = p.writer.lines(keys.gatewayOut('gw-1')).filter((l) => l.op === 'M' || l.op === 'X');
    expect(toClient).toEqual([]);
    expect(await records.read(runner.sid)).toMatchObject({ owner: 'wk-2', epoch: 2 });
    expect(await counterValue(p.metrics.leaseRecoveries, { result: 'superseded' })).toBe(1);
    expect(await counterValue(p.metrics.leaseLost)).toBe(1);
    await waitFor(() => p.host.count() === 0, { message: 'the session left the host' });
    expect(await gaugeValue(p.metrics.sessionsParked)).toBe(0);
    // No job was put back for a session that moved on.
    expect(await queue.getJobState(runner.sid)).toBe('unknown');
  });

  it('a parked session nobody claims within RTV_LEASE_RECOVERY_MS tells its client to resume (error, close 1013) and ends', async () => {
    const p = startProcess('wk-1', { RTV_LEASE_RECOVERY_MS: '1500' });
    const runner = await openSession(p);
    p.host.onLockRenewalFailed([runner.sid]);
    // This worker takes no more jobs (as when it is stopping) and no other worker runs: nobody claims the
    // session again. The recovery steps run on the progress timer, started once the queue worker is closed.
    await p.bull.close();
    p.host.startProgressTimer();
    p.host.onBatch(
      encodeBatch([encodeClientFrameLine(runner.sid, 1, FrameKind.Audio, 'AAAA')]),
      entryIdNow(),
    );

    await waitFor(() => runner.endedWith, { message: 'the parked runner gave up', timeoutMs: 10_000 });
    expect(runner.endedWith).toBe('lease_lost');
    const toClient = p.writer.lines(keys.gatewayOut('gw-1')).filter((l) => l.op === 'M' || l.op === 'X');
    expect(toClient).toHaveLength(2);
    const [error, close] = toClient as [Extract<BusLine, { op: 'M' }>, Extract<BusLine, { op: 'X' }>];
    expect(error).toMatchObject({ op: 'M', sid: runner.sid, epoch: 1 });
    // The last seq of epoch 1: above anything this owner sent, below anything a later owner sends.
    expect(error.seq).toBe(2 * 2 ** 32 - 1);
    expect(JSON.parse(error.payload.toString('utf8'))).toMatchObject({
      type: 'error',
      error: { code: 'session_recovery_failed' },
    });
    expect(close).toMatchObject({ op: 'X', sid: runner.sid, epoch: 1, code: CloseCode.TryAgainLater });
    // The record (with the seq applied while parked) and the job stay: a resume finds the session, and
    // whichever worker claims the job next continues it.
    expect(await records.read(runner.sid)).toMatchObject({ owner: 'wk-1', epoch: 1 });
    expect(await savedSeq(runner.sid)).toBe(1);
    expect(await queue.getJobState(runner.sid)).toBe('waiting');
    expect(await counterValue(p.metrics.leaseRecoveries, { result: 'gave_up' })).toBe(1);
    await waitFor(() => p.host.count() === 0, { message: 'the session left the host' });
    expect(await gaugeValue(p.metrics.sessionsParked)).toBe(0);
  });
});

describe('FetchWindow', () => {
  it('holds the concurrency at the processor calls running plus the jobs it may take ahead, within the capacity', () => {
    const worker = { concurrency: 0 };
    const window = new FetchWindow(worker, 20, 16);
    expect(worker.concurrency).toBe(16);
    for (let i = 0; i < 3; i++) window.started();
    expect(worker.concurrency).toBe(19);
    for (let i = 0; i < 5; i++) window.started();
    expect(worker.concurrency).toBe(20);
    window.ended();
    window.ended();
    expect(worker.concurrency).toBe(20);
    for (let i = 0; i < 6; i++) window.ended();
    expect(worker.concurrency).toBe(16);
    window.ended();
    expect(worker.concurrency).toBe(16);
  });
});
