import { decodeLine, encodeClientFrameLine, FrameKind } from '@rtv/protocol';
import { describe, expect, it } from 'vitest';
import {
  ClientSession,
  type ClientSessionLimits,
  type RecordedFrame,
  type RecordRefusal,
} from '../src/routing/client-session.js';

const SID = 'sess_client_1';

function session(limits: Partial<ClientSessionLimits> = {}): ClientSession {
  return new ClientSession(SID, 'user_1', 'anonymous', 0, {
    pendingMaxFrames: 100,
    replayMaxBytes: 64 * 1024,
    ...limits,
  });
}

/** A client audio frame line whose payload is `audio`. */
const audioLine = (audio: string) => (seq: number) => encodeClientFrameLine(SID, seq, FrameKind.Audio, audio);

/** The frame `record` took; fails the test when it refused it. */
function taken(out: RecordedFrame | RecordRefusal): RecordedFrame {
  if (typeof out === 'string') throw new Error(`frame refused: ${out}`);
  return out;
}

/** The seqs of unacknowledged lines, decoded. */
function unackedSeqs(s: ClientSession): number[] {
  return s.unacked().map((line) => {
    const decoded = decodeLine(line);
    if (typeof decoded === 'string' || decoded.op !== 'F') throw new Error(`not a frame line: ${decoded}`);
    return decoded.seq;
  });
}

describe('ClientSession', () => {
  it('numbers frames 1, 2, 3… and hands the line built for that seq back', () => {
    const s = session();
    s.bind('wk-1', 1);
    const seen: number[] = [];
    for (const audio of ['AAAA', 'BBBB', 'CCCC']) {
      const out = taken(s.record(FrameKind.Audio, audio));
      expect(out.kept).toBe(true);
      expect(out.line.equals(audioLine(audio)(s.seq))).toBe(true);
      const decoded = decodeLine(out.line);
      expect(decoded).toMatchObject({ op: 'F', sid: SID, kind: 'a' });
      if (typeof decoded !== 'string' && decoded.op === 'F') seen.push(decoded.seq);
    }
    expect(seen).toEqual([1, 2, 3]);
    expect(s.seq).toBe(3);
    expect(unackedSeqs(s)).toEqual([1, 2, 3]);
  });

  it('refuses frames beyond the pending budget before a bind without using up a seq; the bind resets it', () => {
    const s = session({ pendingMaxFrames: 3 });
    for (let i = 0; i < 3; i++) taken(s.record(FrameKind.Audio, 'AAAA'));
    expect(s.record(FrameKind.Audio, 'BBBB')).toBe('pending_full');
    expect(s.seq).toBe(3);

    s.bind('wk-1', 2);
    expect(s.owner).toBe('wk-1');
    expect(s.epoch).toBe(2);
    // Bound: no pending limit (the replay ring's byte budget is what bounds it now).
    for (let i = 0; i < 5; i++) taken(s.record(FrameKind.Audio, 'CCCC'));
    expect(s.seq).toBe(8);
    expect(unackedSeqs(s)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('a bind by a new owner (takeover) keeps the unacknowledged lines for replay to it', () => {
    const s = session();
    s.bind('wk-1', 1);
    for (const c of ['A', 'B', 'C']) s.record(FrameKind.Audio, c.repeat(4));
    s.ack(1);
    s.bind('wk-2', 2);
    expect([s.owner, s.epoch, s.ackedSeq]).toEqual(['wk-2', 2, 1]);
    expect(unackedSeqs(s)).toEqual([2, 3]);
  });

  it('refuses a line that would push out an unacknowledged one, without numbering it; the ring is kept', () => {
    const first = audioLine('A'.repeat(24))(1).byteLength;
    // Room for exactly two lines of this size (every line has the same length: one-digit seqs).
    const s = session({ replayMaxBytes: Math.floor(first * 2.5) });
    s.bind('wk-1', 1);
    const outcomes = ['A', 'B', 'C', 'D'].map((c) => {
      const out = s.record(FrameKind.Audio, c.repeat(24));
      return typeof out === 'string' ? out : out.kept;
    });
    expect(outcomes).toEqual([true, true, 'replay_full', 'replay_full']);
    expect(s.seq).toBe(2);
    expect(s.unacked().map((l) => l.toString())).toEqual([
      audioLine('A'.repeat(24))(1).toString(),
      audioLine('B'.repeat(24))(2).toString(),
    ]);
    // Once the owner acknowledges, there is room again and numbering goes on where it stopped.
    s.ack(1);
    const next = taken(s.record(FrameKind.Audio, 'E'.repeat(24)));
    expect(decodeLine(next.line)).toMatchObject({ seq: 3 });
    expect(unackedSeqs(s)).toEqual([2, 3]);
  });

  it('a line larger than the whole replay budget is refused while lines are held, else sent without a copy', () => {
    const s = session({ replayMaxBytes: 100 });
    s.bind('wk-1', 1);
    taken(s.record(FrameKind.Audio, 'AAAA'));
    taken(s.record(FrameKind.Audio, 'BBBB'));
    expect(s.record(FrameKind.Audio, 'C'.repeat(200))).toBe('replay_full');
    expect(unackedSeqs(s)).toEqual([1, 2]);
    s.ack(2);
    const out = taken(s.record(FrameKind.Audio, 'C'.repeat(200)));
    expect(out.kept).toBe(false);
    expect(out.line.byteLength).toBeGreaterThan(200);
    expect(s.unacked()).toEqual([]);
    taken(s.record(FrameKind.Audio, 'DDDD'));
    expect(unackedSeqs(s)).toEqual([4]);
    expect(s.unackedCount()).toBe(1);
  });

  it('ack drops lines through the acknowledged seq; older or repeated acks change nothing', () => {
    const s = session();
    s.bind('wk-1', 1);
    for (const c of ['A', 'B', 'C', 'D', 'E']) s.record(FrameKind.Audio, c.repeat(8));
    s.ack(3);
    expect(s.ackedSeq).toBe(3);
    expect(unackedSeqs(s)).toEqual([4, 5]);
    s.ack(2);
    s.ack(3);
    expect(s.ackedSeq).toBe(3);
    expect(unackedSeqs(s)).toEqual([4, 5]);
    s.record(FrameKind.Audio, 'FFFFFFFF');
    s.ack(5);
    expect(unackedSeqs(s)).toEqual([6]);
    s.ack(6);
    expect(s.unacked()).toEqual([]);
  });

  it('unacked lines come oldest first, as copies the caller may change', () => {
    const s = session();
    expect(s.unacked()).toEqual([]);
    s.ack(1); // an ack before any frame is harmless
    for (const c of ['A', 'B', 'C']) s.record(FrameKind.Audio, c.repeat(4));
    const copies = s.unacked();
    expect(copies.map((l) => l.toString())).toEqual([
      audioLine('AAAA')(1).toString(),
      audioLine('BBBB')(2).toString(),
      audioLine('CCCC')(3).toString(),
    ]);
    copies[0]!.fill(0);
    expect(s.unacked()[0]!.toString()).toBe(audioLine('AAAA')(1).toString());
    // The line handed back by record() is not the ring's copy either.
    const out = taken(s.record(FrameKind.Audio, 'DDDD'));
    out.line.fill(0);
    expect(s.unacked()[3]!.toString()).toBe(audioLine('DDDD')(4).toString());
  });
});
