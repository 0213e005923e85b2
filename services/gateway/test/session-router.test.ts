import {
  type BusLine,
  CloseCode,
  encodeAckLine,
  encodeBindLine,
  encodeCloseLine,
  encodeMessageLine,
  FrameKind,
} from '@rtv/protocol';
import { waitFor } from '@rtv/testing';
import { describe, expect, it } from 'vitest';
import { ClientSession } from '../src/routing/client-session.js';
import { SessionRouter } from '../src/routing/session-router.js';
import { batch, counterValue, GATEWAY_ID, newRouting, newSession, silentLog, socketOf } from './helpers.js';

const SID = 'sess_rrrrrrrrrrrrrrrrrrrrr';

function setup(opts: { maxBackpressureBytes?: number } = {}) {
  const closed: Array<{ session: ClientSession; code: number; reason: string }> = [];
  const { keys, writer, registry, metrics, router } = newRouting({
    ...opts,
    closeClient: (session, code, reason) => closed.push({ session, code, reason }),
  });
  const session = newSession(SID);
  registry.add(session);
  /** The lines written to worker `wid`'s in-stream. */
  const toWorker = (wid: string) => writer.lines(keys.workerIn(wid));
  /** Frame line seqs written to `wid`, in order. */
  const framesTo = (wid: string) => toWorker(wid).map((l) => (l.op === 'F' ? l.seq : `${l.op}`));
  const audio = (text: string) => router.forward(session, FrameKind.Audio, text);
  return { keys, writer, registry, metrics, router, session, closed, toWorker, framesTo, audio };
}

const payloadOf = (line: BusLine) => ('payload' in line ? line.payload.toString() : undefined);

describe('SessionRouter: client frames', () => {
  it('holds frames before a bind and refuses them past the pending budget; the bind sends them in order', () => {
    const { router, session, writer, audio, framesTo } = setup();
    // SESSION_LIMITS.pendingMaxFrames is 4.
    expect([audio('AAAA'), audio('BBBB'), audio('CCCC'), audio('DDDD')]).toEqual(Array(4).fill('accepted'));
    expect(audio('EEEE')).toBe('pending_full');
    expect(session.seq).toBe(4);
    expect(writer.streamNames()).toEqual([]);

    router.onBatch(batch(encodeBindLine(SID, 'wk-1', 1)));
    expect(session.owner).toBe('wk-1');
    expect(framesTo('wk-1')).toEqual([1, 2, 3, 4]);
    expect(audio('FFFF')).toBe('accepted');
    expect(framesTo('wk-1')).toEqual([1, 2, 3, 4, 5]);
  });

  it('numbers each frame into an F line of its kind, the payload copied as given', () => {
    const { router, session, toWorker } = setup();
    router.onBatch(batch(encodeBindLine(SID, 'wk-1', 1)));
    const frame = Buffer.from('{"x":"QUJD"}');
    router.forward(session, FrameKind.Audio, frame.subarray(6, 10));
    router.forward(session, FrameKind.Json, '{"type":"response.create"}');
    const lines = toWorker('wk-1');
    expect(lines.map((l) => ({ ...l, payload: payloadOf(l) }))).toEqual([
      { op: 'F', sid: SID, seq: 1, kind: 'a', payload: 'QUJD' },
      { op: 'F', sid: SID, seq: 2, kind: 'j', payload: '{"type":"response.create"}' },
    ]);
  });

  it('a bind with a newer epoch re-routes and replays the unacknowledged lines to the new owner', async () => {
    const { router, session, audio, framesTo, metrics } = setup();
    router.onBatch(batch(encodeBindLine(SID, 'wk-1', 1)));
    for (const a of ['AAAA', 'BBBB', 'CCCC']) audio(a);
    router.onBatch(batch(encodeAckLine(SID, 1, 1)));

    router.onBatch(batch(encodeBindLine(SID, 'wk-2', 2)));
    expect(session.owner).toBe('wk-2');
    expect(session.epoch).toBe(2);
    expect(framesTo('wk-2')).toEqual([2, 3]);
    audio('DDDD');
    expect(framesTo('wk-2')).toEqual([2, 3, 4]);
    expect(framesTo('wk-1')).toEqual([1, 2, 3]);
    expect(await counterValue(metrics.failovers)).toBe(1);
    expect(await counterValue(metrics.replayedFrames)).toBe(2);
  });

  it('a bind with an older or equal epoch is ignored', async () => {
    const { router, session, audio, framesTo, metrics } = setup();
    router.onBatch(batch(encodeBindLine(SID, 'wk-2', 2)));
    audio('AAAA');
    router.onBatch(batch(encodeBindLine(SID, 'wk-3', 2), encodeBindLine(SID, 'wk-1', 1)));
    expect(session.owner).toBe('wk-2');
    expect(session.epoch).toBe(2);
    expect(framesTo('wk-3')).toEqual([]);
    expect(framesTo('wk-1')).toEqual([]);
    audio('BBBB');
    expect(framesTo('wk-2')).toEqual([1, 2]);
    expect(await counterValue(metrics.failovers)).toBe(0);
  });

  it('the owner binding again with its epoch gets every unacknowledged line again (it saw a gap), no failover', async () => {
    const { router, session, audio, framesTo, metrics } = setup();
    router.onBatch(batch(encodeBindLine(SID, 'wk-1', 1)));
    for (const a of ['AAAA', 'BBBB', 'CCCC']) audio(a);
    router.onBatch(batch(encodeAckLine(SID, 1, 1)));
    router.onBatch(batch(encodeBindLine(SID, 'wk-1', 1)));
    expect(session.owner).toBe('wk-1');
    expect(framesTo('wk-1')).toEqual([1, 2, 3, 2, 3]);
    expect(await counterValue(metrics.failovers)).toBe(0);
    expect(await counterValue(metrics.replayedFrames)).toBe(2);
  });

  it('an ack drops acknowledged lines from the replay; an ack from an older epoch does not', () => {
    const { router, session, audio, framesTo } = setup();
    router.onBatch(batch(encodeBindLine(SID, 'wk-1', 3)));
    for (const a of ['AAAA', 'BBBB', 'CCCC', 'DDDD']) audio(a);
    router.onBatch(batch(encodeAckLine(SID, 2, 4), encodeAckLine(SID, 3, 2)));
    expect(session.ackedSeq).toBe(2);
    router.onBatch(batch(encodeBindLine(SID, 'wk-2', 4)));
    expect(framesTo('wk-2')).toEqual([3, 4]);
  });

  it('a frame the replay ring could keep only by dropping an unacknowledged one is refused, not written', async () => {
    const { keys, writer, registry, metrics, router } = newRouting();
    const session = new ClientSession(SID, 'user_1', 'anonymous', Date.now(), {
      pendingMaxFrames: 10,
      replayMaxBytes: 200,
    });
    registry.add(session);
    router.onBatch(batch(encodeBindLine(SID, 'wk-1', 1)));
    const outcomes = ['A', 'B', 'C'].map((c) => router.forward(session, FrameKind.Audio, c.repeat(60)));
    expect(outcomes).toEqual(['accepted', 'accepted', 'replay_full']);
    expect(writer.lines(keys.workerIn('wk-1')).map((l) => (l.op === 'F' ? l.seq : l.op))).toEqual([1, 2]);
    expect(session.unackedCount()).toBe(2);
    expect(await counterValue(metrics.replayOverflow)).toBe(1);
    // Acknowledged frames make room again.
    router.onBatch(batch(encodeAckLine(SID, 1, 2)));
    expect(router.forward(session, FrameKind.Audio, 'C'.repeat(60))).toBe('accepted');
  });

  it('resendUnacked writes every unacknowledged line to the current owner again', () => {
    const { router, audio, framesTo } = setup();
    router.onBatch(batch(encodeBindLine(SID, 'wk-1', 1)));
    for (const a of ['AAAA', 'BBBB', 'CCCC']) audio(a);
    router.onBatch(batch(encodeAckLine(SID, 1, 1)));
    router.resendUnacked();
    expect(framesTo('wk-1')).toEqual([1, 2, 3, 2, 3]);
  });
});

describe('SessionRouter: worker lines', () => {
  it('delivers M lines to the client in one cork per batch', () => {
    const { router, session } = setup();
    router.onBatch(batch(encodeBindLine(SID, 'wk-1', 1)));
    router.onBatch(
      batch(
        encodeMessageLine(SID, 1, 1, '{"type":"pong","timestamp":1}'),
        encodeMessageLine(SID, 1, 2, '{"type":"pong","timestamp":2}'),
      ),
    );
    const socket = socketOf(session);
    expect(socket.sent).toEqual(['{"type":"pong","timestamp":1}', '{"type":"pong","timestamp":2}']);
    expect(socket.corks).toBe(1);
    expect(session.deliveredSeq).toBe(2);
  });

  it('drops M lines from an older epoch and repeats of a delivered seq (staleDropped)', async () => {
    const { router, session, metrics } = setup();
    router.onBatch(batch(encodeBindLine(SID, 'wk-2', 2)));
    const msg = (epoch: number, seq: number) =>
      encodeMessageLine(SID, epoch, seq, `{"type":"pong","timestamp":${seq}}`);
    router.onBatch(batch(msg(2, 10), msg(1, 11), msg(2, 10), msg(2, 9), msg(2, 11)));
    expect(
      socketOf(session)
        .messages()
        .map((m) => m.timestamp),
    ).toEqual([10, 11]);
    expect(session.deliveredSeq).toBe(11);
    expect(await counterValue(metrics.staleDropped)).toBe(3);
  });

  it('holds frames above a gap in the seqs, asks the owner once to send again after the last delivered, and delivers in order once filled', async () => {
    const { router, session, metrics, toWorker } = setup();
    router.onBatch(batch(encodeBindLine(SID, 'wk-1', 1)));
    const msg = (seq: number) => encodeMessageLine(SID, 1, seq, `{"type":"pong","timestamp":${seq}}`);
    const delivered = () =>
      socketOf(session)
        .messages()
        .map((m) => m.timestamp);
    router.onBatch(batch(msg(1), msg(2)));
    // 3 and 4 were lost on the way (written while Redis was away).
    router.onBatch(batch(msg(5)));
    router.onBatch(batch(msg(6)));
    expect(delivered()).toEqual([1, 2]);
    expect(toWorker('wk-1')).toEqual([{ op: 'S', sid: SID, gid: GATEWAY_ID, afterSeq: 2 }]);

    // The owner's re-send covers the held frames too: those are repeats.
    router.onBatch(batch(msg(3), msg(4), msg(5), msg(6)));
    router.onBatch(batch(msg(7)));
    expect(delivered()).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(session.deliveredSeq).toBe(7);
    expect(session.serverGap).toBeUndefined();
    expect(toWorker('wk-1')).toHaveLength(1);
    expect(await counterValue(metrics.serverFrameGaps, { outcome: 'filled' })).toBe(1);
  });

  it('a gap the owner cannot fill is given up after the wait: the held frames go out in order', async () => {
    const closed: ClientSession[] = [];
    const { keys, writer, registry, metrics } = newRouting();
    const router = new SessionRouter({
      gatewayId: GATEWAY_ID,
      keys,
      writer,
      registry,
      metrics,
      log: silentLog,
      maxBackpressureBytes: 1024 * 1024,
      closeClient: (s) => closed.push(s),
      serverGapWaitMs: 50,
    });
    const session = newSession(SID);
    registry.add(session);
    router.onBatch(batch(encodeBindLine(SID, 'wk-1', 1)));
    const msg = (seq: number) => encodeMessageLine(SID, 1, seq, `{"type":"pong","timestamp":${seq}}`);
    router.onBatch(batch(msg(1), msg(4), msg(3)));
    expect(socketOf(session).messages()).toHaveLength(1);
    await waitFor(() => socketOf(session).messages().length === 3, { message: 'held frames delivered' });
    expect(
      socketOf(session)
        .messages()
        .map((m) => m.timestamp),
    ).toEqual([1, 3, 4]);
    expect(session.deliveredSeq).toBe(4);
    expect(await counterValue(metrics.serverFrameGaps, { outcome: 'skipped' })).toBe(1);
    router.onBatch(batch(msg(5)));
    expect(socketOf(session).messages()).toHaveLength(4);
  });

  it('the first frame a socket gets and the first frame of a newer owner epoch are not gaps', () => {
    const { router, session, toWorker } = setup();
    const stride = 2 ** 32;
    router.onBatch(batch(encodeBindLine(SID, 'wk-1', 1)));
    // A resumed socket: the owner replays from what the client had seen.
    router.onBatch(batch(encodeMessageLine(SID, 1, stride + 40, '{"type":"pong","timestamp":1}')));
    router.onBatch(batch(encodeBindLine(SID, 'wk-2', 2)));
    router.onBatch(batch(encodeMessageLine(SID, 2, 2 * stride + 1, '{"type":"pong","timestamp":2}')));
    expect(socketOf(session).messages()).toHaveLength(2);
    expect(toWorker('wk-1').filter((l) => l.op === 'S')).toEqual([]);
    expect(toWorker('wk-2').filter((l) => l.op === 'S')).toEqual([]);
  });

  it('adds the seq to each delivered frame when the client asked for it', () => {
    const { router, session } = setup();
    session.wantSeq = true;
    router.onBatch(
      batch(encodeBindLine(SID, 'wk-1', 1), encodeMessageLine(SID, 1, 7, '{"type":"pong","timestamp":1}')),
    );
    expect(socketOf(session).sent).toEqual(['{"type":"pong","timestamp":1,"seq":7}']);
  });

  it('an X line closes the client with its code and reason; one from an older epoch is ignored', () => {
    const { router, session, closed } = setup();
    router.onBatch(batch(encodeBindLine(SID, 'wk-2', 2)));
    router.onBatch(batch(encodeCloseLine(SID, 1, 4000, 'stale owner')));
    expect(closed).toEqual([]);
    router.onBatch(batch(encodeCloseLine(SID, 2, 4000, 'session ended')));
    expect(closed).toEqual([{ session, code: 4000, reason: 'session ended' }]);
  });

  it('delivers the messages of a batch before its close line (the error before a fatal close)', () => {
    const session = newSession(SID);
    const sentAtClose: string[][] = [];
    const { router, registry } = newRouting({
      closeClient: (closing) => sentAtClose.push([...socketOf(closing).sent]),
    });
    registry.add(session);
    const error = '{"type":"error","error":{"code":"upstream_model_unavailable","message":"m"}}';
    router.onBatch(
      batch(
        encodeBindLine(SID, 'wk-1', 1),
        encodeMessageLine(SID, 1, 2 ** 32 + 1, error),
        encodeCloseLine(SID, 1, 4502, 'upstream misconfigured'),
      ),
    );
    expect(sentAtClose).toEqual([[error]]);
  });

  it('a B line for a session not open here answers the worker with an E line client_gone', () => {
    const { router, toWorker } = setup();
    router.onBatch(batch(encodeBindLine('sess_unknownunknownunkno', 'wk-9', 1)));
    expect(toWorker('wk-9')).toEqual([{ op: 'E', sid: 'sess_unknownunknownunkno', reason: 'client_gone' }]);
  });

  it('closes a slow consumer (send buffer past the limit) with 1008 instead of sending', async () => {
    const { router, session, closed, metrics } = setup({ maxBackpressureBytes: 100 });
    router.onBatch(batch(encodeBindLine(SID, 'wk-1', 1)));
    socketOf(session).buffered = 101;
    router.onBatch(batch(encodeMessageLine(SID, 1, 1, '{"type":"pong","timestamp":1}')));
    expect(socketOf(session).sent).toEqual([]);
    expect(closed.map((c) => c.code)).toEqual([CloseCode.PolicyViolation]);
    expect(await counterValue(metrics.slowConsumers)).toBe(1);
  });
});

describe('SessionRouter: end and detach', () => {
  it('remove unregisters the session and tells its owner to end it, once', () => {
    const { router, session, registry, toWorker } = setup();
    router.onBatch(batch(encodeBindLine(SID, 'wk-1', 1)));
    router.remove(session, 'client_closed');
    router.remove(session, 'client_closed');
    expect(registry.get(SID)).toBeUndefined();
    expect(toWorker('wk-1')).toEqual([{ op: 'E', sid: SID, reason: 'client_closed' }]);
  });

  it('detach unregisters the session and tells its owner the client is gone from this gateway', () => {
    const { router, session, registry, toWorker } = setup();
    router.onBatch(batch(encodeBindLine(SID, 'wk-1', 1)));
    router.detach(session);
    expect(registry.count()).toBe(0);
    expect(toWorker('wk-1')).toEqual([{ op: 'D', sid: SID, gid: GATEWAY_ID }]);
  });

  it('a session that is no longer the registered one for its sid neither ends nor detaches it', () => {
    const { router, session, registry, toWorker } = setup();
    router.onBatch(batch(encodeBindLine(SID, 'wk-1', 1)));
    const newer = newSession(SID);
    registry.add(newer);
    router.remove(session, 'client_closed');
    router.detach(session);
    expect(registry.get(SID)).toBe(newer);
    expect(toWorker('wk-1')).toEqual([]);
  });
});
