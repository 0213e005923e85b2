import { createHash } from 'node:crypto';
import { FRAME_CHUNK_BYTES, FrameChunkPool, FrameRing } from '@rtv/bus';
import { seededRandom } from '@rtv/testing';
import { describe, expect, it } from 'vitest';

function frame(seq: number, bytes: number): Buffer {
  const b = Buffer.alloc(bytes, 0x61 + (seq % 26));
  b.writeUInt32BE(seq % 2 ** 32, 0);
  return b;
}

/** What a ring holds, cheap to compare: the seqs, the bytes and a digest of the frames. */
function snapshot(ring: FrameRing): { seqs: number[]; bytes: number; hash: string } {
  const frames = ring.since(0).frames;
  const hash = createHash('sha1');
  for (const [, p] of frames) hash.update(p);
  return { seqs: frames.map(([s]) => s), bytes: ring.size.bytes, hash: hash.digest('hex') };
}

describe('FrameRing', () => {
  it('keeps frames byte for byte, strings as UTF-8, and replays only those after the given seq', () => {
    const buf = new FrameRing(64 * 1024);
    buf.push(1, '{"type":"notice","text":"olá 🎙"}');
    buf.push(2, frame(2, 1300));
    buf.push(3, Buffer.from('{"type":"response.done"}'));
    const all = buf.since(0);
    expect(all.complete).toBe(true);
    expect(all.frames.map(([s]) => s)).toEqual([1, 2, 3]);
    expect(all.frames[0]![1].toString()).toBe('{"type":"notice","text":"olá 🎙"}');
    expect(all.frames[1]![1].equals(frame(2, 1300))).toBe(true);
    expect(buf.since(2).frames.map(([s, p]) => [s, p.toString()])).toEqual([[3, '{"type":"response.done"}']]);
    expect(buf.since(3)).toEqual({ frames: [], complete: true });
  });

  it('evicts the oldest frames beyond the budget and says when the client missed some', () => {
    const buf = new FrameRing(10_000);
    for (let seq = 1; seq <= 100; seq++) buf.push(seq, frame(seq, 1000));
    const { frames, complete } = buf.since(50);
    const seqs = frames.map(([s]) => s);
    // At most the budget is kept, the newest frame always, and the kept frames are the newest in order.
    expect(seqs.length).toBeGreaterThanOrEqual(8);
    expect(seqs.length).toBeLessThanOrEqual(10);
    expect(seqs.at(-1)).toBe(100);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => 101 - seqs.length + i));
    expect(complete).toBe(false);
    expect(buf.since(seqs[0]! - 1).complete).toBe(true);
    expect(buf.size.bytes).toBeLessThanOrEqual(10_000);
  });

  it('drops a frame larger than the whole budget, and everything before it', () => {
    const buf = new FrameRing(4096);
    buf.push(1, frame(1, 100));
    buf.push(2, frame(2, 5000));
    expect(buf.since(0).frames).toEqual([]);
    expect(buf.since(1).complete).toBe(false);
    buf.push(3, frame(3, 100));
    expect(buf.since(2)).toMatchObject({ complete: true, frames: [[3, frame(3, 100)]] });
  });

  it('forgets acknowledged frames without counting them as evicted, and reports evictions from push', () => {
    const ring = new FrameRing(3000);
    expect(ring.push(1, frame(1, 1000))).toBe(0);
    expect(ring.push(2, frame(2, 1000))).toBe(0);
    ring.dropThrough(1);
    expect(ring.since(0).frames.map(([s]) => s)).toEqual([2]);
    expect(ring.since(0).complete).toBe(true);
    expect(ring.push(3, frame(3, 1000))).toBe(0);
    expect(ring.push(4, frame(4, 1000))).toBe(0);
    // Full (3 × 1000 of 3000): the next frame evicts at least the oldest unacknowledged one.
    expect(ring.push(5, frame(5, 1000))).toBeGreaterThanOrEqual(1);
    expect(ring.all().at(-1)!.equals(frame(5, 1000))).toBe(true);
    ring.dropThrough(5);
    expect(ring.size).toEqual({ frames: 0, bytes: 0 });
    // Emptied by acks, it starts over at the ring's beginning and keeps working.
    for (let seq = 6; seq < 50; seq++) {
      ring.push(seq, frame(seq, 700));
      if (seq % 3 === 0) ring.dropThrough(seq - 1);
    }
    const kept = ring.since(0).frames;
    expect(kept.at(-1)![0]).toBe(49);
    for (const [s, p] of kept) expect(p.equals(frame(s, 700))).toBe(true);
  });

  it('grows for a backlog and shrinks again once it is acknowledged', () => {
    const ring = new FrameRing(4 * 1024 * 1024);
    expect(ring.capacity).toBe(0);
    for (let seq = 1; seq <= 300; seq++) ring.push(seq, frame(seq, 1400));
    expect(ring.capacity).toBeGreaterThanOrEqual(300 * 1400);
    // Steady streaming again: each ack leaves a few frames; the ring halves step by step.
    for (let seq = 301; seq <= 400; seq++) {
      ring.push(seq, frame(seq, 1400));
      ring.dropThrough(seq - 5);
    }
    expect(ring.capacity).toBeLessThanOrEqual(64 * 1024);
    expect(ring.since(0).frames.map(([s]) => s)).toEqual([396, 397, 398, 399, 400]);
    for (const [s, p] of ring.since(0).frames) expect(p.equals(frame(s, 1400))).toBe(true);
  });

  it('keeps nothing with a zero budget', () => {
    const buf = new FrameRing(0);
    buf.push(1, frame(1, 10));
    expect(buf.since(0).frames).toEqual([]);
  });

  it('matches a plain list model under random frame sizes, budgets and growth', () => {
    const rnd = seededRandom(20261202);
    for (let round = 0; round < 40; round++) {
      const budget = 1 + Math.floor(rnd() * 200_000);
      const buf = new FrameRing(budget);
      const pushed: Array<[number, Buffer]> = [];
      const count = 50 + Math.floor(rnd() * 800);
      // Every fourth round mixes in frames far larger than audio chunks (and some beyond the budget).
      const maxSize = round % 4 === 0 ? 40_000 : 2000;
      let largest = 0;
      for (let seq = 1; seq <= count; seq++) {
        const size = Math.max(4, Math.floor(rnd() * (rnd() < 0.05 ? maxSize : 2000)));
        const payload = frame(seq, size);
        if (size <= budget) largest = Math.max(largest, size);
        buf.push(seq, payload);
        pushed.push([seq, payload]);
        if (seq % 97 !== 0 && seq !== count) continue;
        const after = Math.floor(rnd() * seq);
        const { frames, complete } = buf.since(after);
        const all = buf.since(0).frames;
        // What is kept is the newest run of frames, each exactly as pushed, within the budget.
        const bytes = all.reduce((n, [, p]) => n + p.length, 0);
        expect(bytes).toBeLessThanOrEqual(budget);
        const first = all.length > 0 ? all[0]![0] : seq + 1;
        expect(all.map(([s]) => s)).toEqual(pushed.slice(first - 1).map(([s]) => s));
        for (const [s, p] of all) expect(p.equals(pushed[s - 1]![1])).toBe(true);
        // Close to the budget: the ring loses at most a partly overwritten frame and one lap's padding.
        let wouldFit = 0;
        for (let i = seq - 1; i >= 0 && wouldFit + pushed[i]![1].length <= budget; i--) {
          wouldFit += pushed[i]![1].length;
        }
        expect(bytes).toBeGreaterThanOrEqual(Math.min(wouldFit, budget - 2 * largest));
        expect(frames.map(([s]) => s)).toEqual(all.filter(([s]) => s > after).map(([s]) => s));
        expect(complete).toBe(after === 0 || first <= after + 1);
      }
    }
  });

  it('grows rather than evict an unacknowledged frame while it is below its budget', () => {
    // Audio lines with acknowledgements that lag by a varying number of frames, as when an owner holds the
    // acks of a turn in progress: the held bytes creep up to each ring size. A frame that does not fit before
    // the ring's end must make the ring grow, not start a lap over the oldest held frame.
    const rnd = seededRandom(20261204);
    for (let round = 0; round < 20; round++) {
      const budget = 4 * 1024 * 1024;
      const ring = new FrameRing(budget);
      let acked = 0;
      let held = 0;
      const sizes = new Map<number, number>();
      for (let seq = 1; seq <= 3000; seq++) {
        const size = 1300 + Math.floor(rnd() * 80);
        expect(ring.evictionsFor(size)).toBe(0);
        expect(ring.push(seq, frame(seq, size))).toBe(0);
        sizes.set(seq, size);
        held += size;
        if (rnd() < 0.02) {
          const to = acked + Math.floor(rnd() * (seq - acked) * 0.5);
          for (let s = acked + 1; s <= to; s++) held -= sizes.get(s)!;
          acked = to;
          ring.dropThrough(acked);
        }
        expect(ring.size.frames).toBe(seq - acked);
        expect(ring.size.bytes).toBeGreaterThanOrEqual(held);
      }
    }
  });

  it('keeps every held frame intact while it wraps, grows and shrinks under lagging acknowledgements', () => {
    // The ring laps over acknowledged frames, then grows (or shrinks) while its frames lie in two runs, one at
    // the old ring's end and one at its start: the bytes of every frame held must survive each move.
    const rnd = seededRandom(20261205);
    for (let round = 0; round < 30; round++) {
      const ring = new FrameRing(2 * 1024 * 1024);
      const held = new Map<number, Buffer>();
      let acked = 0;
      let moves = 0;
      let capacity = 0;
      for (let seq = 1; seq <= 2500; seq++) {
        const payload = frame(seq, 200 + Math.floor(rnd() * 3000));
        ring.push(seq, payload);
        held.set(seq, payload);
        if (rnd() < 0.05) {
          // Acknowledge most of the backlog now and then (a lap starts over it), or nearly all of it.
          const to = seq - Math.floor(rnd() * (rnd() < 0.5 ? 4 : (seq - acked) * 0.6));
          for (let s = acked + 1; s <= to; s++) held.delete(s);
          acked = Math.max(acked, to);
          ring.dropThrough(acked);
        }
        if (ring.capacity !== capacity) {
          moves++;
          capacity = ring.capacity;
          const frames = ring.since(0).frames;
          expect(frames.map(([s]) => s)).toEqual([...held.keys()]);
          for (const [s, p] of frames) expect(p.equals(held.get(s)!)).toBe(true);
        }
      }
      expect(moves).toBeGreaterThan(2);
    }
  });

  it('takes chunks from its pool as a backlog grows and gives them back as it is acknowledged', () => {
    const pool = new FrameChunkPool(64);
    const ring = new FrameRing(4 * 1024 * 1024, pool);
    for (let seq = 1; seq <= 100; seq++) ring.push(seq, frame(seq, 1400));
    const held = ring.capacity / FRAME_CHUNK_BYTES;
    expect(held).toBe(Math.ceil((100 * 1400) / FRAME_CHUNK_BYTES));
    expect(pool.size).toBe(0);
    // Acknowledging the first half frees the chunks wholly before the oldest frame left.
    ring.dropThrough(50);
    const firstLeft = 50 * 1400;
    expect(ring.capacity / FRAME_CHUNK_BYTES).toBe(held - Math.floor(firstLeft / FRAME_CHUNK_BYTES));
    expect(pool.size).toBe(Math.floor(firstLeft / FRAME_CHUNK_BYTES));
    // Fully acknowledged, the ring holds nothing; another ring's backlog takes the same chunks, no new memory.
    ring.dropThrough(100);
    expect(ring.capacity).toBe(0);
    expect(pool.size).toBe(held);
    const other = new FrameRing(4 * 1024 * 1024, pool);
    for (let seq = 1; seq <= 50; seq++) other.push(seq, frame(seq, 1400));
    expect(pool.size).toBe(held - Math.ceil((50 * 1400) / FRAME_CHUNK_BYTES));
    for (const [s, p] of other.since(0).frames) expect(p.equals(frame(s, 1400))).toBe(true);
    // The pool keeps no more than its bound aside.
    const small = new FrameChunkPool(2);
    const big = new FrameRing(1024 * 1024, small);
    big.push(1, frame(1, 10 * FRAME_CHUNK_BYTES));
    big.dropThrough(1);
    expect(small.size).toBe(2);
  });

  it('keeps frames that span chunks, UTF-8 text across a chunk boundary included', () => {
    const ring = new FrameRing(1024 * 1024, new FrameChunkPool(8));
    ring.push(1, frame(1, FRAME_CHUNK_BYTES - 3));
    const text = `{"type":"notice","text":"${'olá 🎙 '.repeat(2000)}"}`;
    ring.push(2, text);
    ring.push(3, frame(3, 3 * FRAME_CHUNK_BYTES + 17));
    const [a, b, c] = ring.since(0).frames;
    expect(a![1].equals(frame(1, FRAME_CHUNK_BYTES - 3))).toBe(true);
    expect(b![1].toString()).toBe(text);
    expect(c![1].equals(frame(3, 3 * FRAME_CHUNK_BYTES + 17))).toBe(true);
  });

  it('evictionsFor says what push would evict, and changes nothing itself', () => {
    const rnd = seededRandom(20261203);
    for (let round = 0; round < 30; round++) {
      const budget = 1000 + Math.floor(rnd() * 100_000);
      const ring = new FrameRing(budget);
      let acked = 0;
      for (let seq = 1; seq <= 600; seq++) {
        // Mostly audio-sized frames, now and then one near or beyond the whole budget.
        const size = rnd() < 0.03 ? Math.floor(rnd() * budget * 1.2) + 1 : 4 + Math.floor(rnd() * 3000);
        const before = snapshot(ring);
        const predicted = ring.evictionsFor(size);
        expect(snapshot(ring)).toEqual(before);
        const evicted = ring.push(seq, frame(seq, size));
        // push counts a frame larger than the budget itself; evictionsFor counts only the held frames.
        expect(predicted).toBe(size > budget ? evicted - 1 : evicted);
        if (rnd() < 0.3 && seq > acked) {
          acked += Math.floor(rnd() * (seq - acked + 1));
          ring.dropThrough(acked);
        }
      }
    }
  });

  it('evictionsFor: nothing held evicts nothing; a frame over the budget would evict everything held', () => {
    const ring = new FrameRing(3000);
    expect(ring.evictionsFor(5000)).toBe(0);
    ring.push(1, frame(1, 1000));
    ring.push(2, frame(2, 1000));
    expect(ring.evictionsFor(1000)).toBe(0);
    // 2000 held and 1001 more exceed the budget by one byte: the oldest frame goes, the newer one fits beside.
    expect(ring.evictionsFor(1001)).toBe(1);
    ring.push(3, frame(3, 1000));
    expect(ring.evictionsFor(1)).toBe(1);
    expect(ring.evictionsFor(3000)).toBe(3);
    ring.dropThrough(1);
    expect(ring.evictionsFor(1000)).toBe(0);
    expect(ring.evictionsFor(3001)).toBe(2);
    ring.dropThrough(3);
    expect(ring.evictionsFor(3000)).toBe(0);
    expect(new FrameRing(0).evictionsFor(10)).toBe(0);
  });
});
