import { CLIENT_SEQ_GENERATION_STRIDE, FrameKind } from '@rtv/protocol';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ClientFrameOrder } from '../src/sessions/client-frame-order.js';

function setup(applied = 0, opts: { gapWaitMs?: number; maxHeld?: number } = {}) {
  const seen: Array<[number, string]> = [];
  const gaps: Array<[string, number]> = [];
  const opened = { count: 0 };
  const order = new ClientFrameOrder(applied, (seq, _kind, payload) => seen.push([seq, payload.toString()]), {
    ...opts,
    onGap: (result, seqs) => gaps.push([result, seqs]),
    onGapOpened: () => opened.count++,
  });
  const offer = (seq: number) => order.offer(seq, FrameKind.Audio, Buffer.from(`f${seq}`));
  return { order, seen, gaps, offer, opened };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('ClientFrameOrder', () => {
  it('applies frames in order and drops repeats', () => {
    const { seen, offer, gaps } = setup(4);
    expect(offer(3)).toBe(false);
    expect(offer(5)).toBe(true);
    expect(offer(6)).toBe(true);
    expect(offer(6)).toBe(false);
    expect(seen.map(([s]) => s)).toEqual([5, 6]);
    expect(gaps).toEqual([]);
  });

  it('holds frames that overtook a replay until the replay fills the gap, then applies all in order', () => {
    const { seen, offer, gaps, order } = setup(10);
    // New frames 20–22 reach the owner before the gateway's replay of 11–19.
    for (const n of [20, 21, 22]) offer(n);
    expect(seen).toEqual([]);
    expect(order.heldCount).toBe(3);
    for (let n = 11; n <= 22; n++) offer(n);
    expect(seen.map(([s]) => s)).toEqual([11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22]);
    // The held copies outlive the bus batch they came in.
    expect(seen.at(-1)).toEqual([22, 'f22']);
    expect(gaps).toEqual([['filled', 0]]);
    expect(order.heldCount).toBe(0);
  });

  it('says once per gap that frames wait above it (the owner then asks the gateway for them again)', () => {
    const { offer, opened } = setup(10);
    offer(11);
    expect(opened.count).toBe(0);
    for (const n of [14, 15, 16]) offer(n);
    expect(opened.count).toBe(1);
    for (const n of [12, 13]) offer(n);
    // A later gap is a new one.
    offer(18);
    expect(opened.count).toBe(2);
  });

  it('gives a gap up after the wait and applies what waited, counting the seqs that never came', () => {
    vi.useFakeTimers();
    const { seen, offer, gaps } = setup(10, { gapWaitMs: 1000 });
    offer(14);
    offer(15);
    vi.advanceTimersByTime(999);
    expect(seen).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(seen.map(([s]) => s)).toEqual([14, 15]);
    expect(gaps).toEqual([['skipped', 3]]);
    expect(offer(12)).toBe(false);
  });

  it('gives up early when too many frames wait', () => {
    const { seen, offer, gaps } = setup(0, { maxHeld: 3 });
    offer(5);
    offer(6);
    expect(seen).toEqual([]);
    offer(7);
    expect(seen.map(([s]) => s)).toEqual([5, 6, 7]);
    expect(gaps).toEqual([['skipped', 4]]);
  });

  it('takes the first frame of a newer connection (a resume) at once', () => {
    const { seen, offer, gaps } = setup(37);
    const first = 2 * CLIENT_SEQ_GENERATION_STRIDE + 1;
    offer(first);
    offer(first + 1);
    expect(seen.map(([s]) => s)).toEqual([first, first + 1]);
    expect(gaps).toEqual([]);
  });
});
