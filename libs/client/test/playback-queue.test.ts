import { describe, expect, it } from 'vitest';
import { PlaybackQueue } from '../src/audio/playback-queue.js';

const QUANTUM = 128;

/** A ramp of distinct values, so order and gaps in the output are visible. */
function ramp(from: number, n: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => (from + i) / 1e6);
}

function pull(queue: PlaybackQueue, quanta = 1): { out: Float32Array; written: number } {
  const out = new Float32Array(QUANTUM * quanta);
  let written = 0;
  for (let q = 0; q < quanta; q++) written += queue.pull(out.subarray(q * QUANTUM, (q + 1) * QUANTUM));
  return { out, written };
}

describe('PlaybackQueue', () => {
  it('waits for the jitter buffer to fill, then plays every sample in order', () => {
    // 10 ms threshold at 24 kHz = 240 samples.
    const queue = new PlaybackQueue(24_000, 10);
    queue.push(ramp(0, 200));
    expect(pull(queue).written).toBe(0);
    expect(queue.state).toBe('buffering');
    queue.push(ramp(200, 200));
    const { out, written } = pull(queue, 3);
    expect(queue.state).toBe('playing');
    expect(queue.buffered).toBe(16);
    expect(written).toBe(384);
    expect(Array.from(out.subarray(0, 384))).toEqual(Array.from(ramp(0, 384)));
  });

  it('rides out late chunks: an underrun plays silence and refills before resuming', () => {
    const queue = new PlaybackQueue(24_000, 10);
    queue.push(ramp(0, 300));
    expect(pull(queue, 3).written).toBe(300);
    expect(queue.underruns).toBe(1);
    expect(queue.state).toBe('buffering');
    // A late chunk below the threshold does not restart playback on its own…
    queue.push(ramp(300, 100));
    expect(pull(queue).written).toBe(0);
    // …a second one that fills the buffer does, and nothing was skipped.
    queue.push(ramp(400, 200));
    const { out } = pull(queue);
    expect(Array.from(out)).toEqual(Array.from(ramp(300, 128)));
    expect(queue.played).toBe(428);
  });

  it('plays the tail below the threshold once the reply has ended, then goes idle', () => {
    const queue = new PlaybackQueue(24_000, 100);
    queue.push(ramp(0, 50));
    expect(pull(queue).written).toBe(0);
    queue.end();
    const { out, written } = pull(queue);
    expect(written).toBe(50);
    expect(Array.from(out.subarray(50))).toEqual(new Array(78).fill(0));
    expect(queue.state).toBe('idle');
    expect(queue.underruns).toBe(0);
  });

  it('stops at once on clear and reports what was heard of the interrupted stretch', () => {
    const queue = new PlaybackQueue(24_000, 0);
    queue.push(ramp(0, 24_000));
    pull(queue, 10);
    expect(queue.clear()).toBe(1280);
    expect(queue.state).toBe('idle');
    expect(queue.buffered).toBe(0);
    const { out, written } = pull(queue);
    expect(written).toBe(0);
    expect(out.every((v) => v === 0)).toBe(true);
    // A new reply counts from zero; the total keeps counting.
    queue.push(ramp(0, 256));
    pull(queue);
    expect(queue.played).toBe(128);
    expect(queue.totalPlayed).toBe(1408);
  });

  it('bounds memory: audio beyond maxBufferedMs is dropped and counted', () => {
    const queue = new PlaybackQueue(24_000, 0, 100);
    expect(queue.push(new Float32Array(2000))).toBe(2000);
    expect(queue.push(new Float32Array(2000))).toBe(400);
    expect(queue.push(new Float32Array(10))).toBe(0);
    expect(queue.buffered).toBe(2400);
    expect(queue.dropped).toBe(1610);
  });

  it('keeps output continuous across many small pushes and pulls', () => {
    const queue = new PlaybackQueue(48_000, 20);
    const heard: number[] = [];
    let next = 0;
    for (let step = 0; step < 400; step++) {
      // Bursty arrival: sometimes nothing, sometimes several chunks at once.
      const burst = step % 7 === 0 ? 3 : step % 3 === 0 ? 0 : 1;
      for (let b = 0; b < burst; b++) {
        queue.push(ramp(next, 100));
        next += 100;
      }
      const { out, written } = pull(queue);
      heard.push(...Array.from(out.subarray(0, written)));
    }
    expect(heard).toEqual(Array.from(ramp(0, heard.length)));
    expect(heard.length).toBeGreaterThan(30_000);
  });
});
