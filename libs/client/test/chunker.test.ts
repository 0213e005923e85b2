import { describe, expect, it } from 'vitest';
import { type Pcm16Chunk, Pcm16Chunker } from '../src/audio/chunker.js';
import { bytesToPcm16, floatToPcm16 } from '../src/audio/pcm16.js';
import { sine } from './signal.js';

function collect(chunker: Pcm16Chunker, input: Int16Array, blocks: number[]): Pcm16Chunk[] {
  const chunks: Pcm16Chunk[] = [];
  let offset = 0;
  let i = 0;
  while (offset < input.length) {
    const size = blocks[i++ % blocks.length]!;
    chunker.push(input.subarray(offset, offset + size), (c) => chunks.push(c));
    offset += size;
  }
  return chunks;
}

describe('Pcm16Chunker', () => {
  it.each([
    [20, 480],
    [40, 960],
    [100, 2400],
  ])('cuts %i ms chunks of %i samples at 24 kHz', (ms, samples) => {
    expect(new Pcm16Chunker(24_000, ms).chunkSamples).toBe(samples);
  });

  it('emits whole chunks in order, whatever sizes the samples come in', () => {
    const input = floatToPcm16(sine(24_000, 300, 0.5, 1));
    const chunker = new Pcm16Chunker(24_000, 20);
    // Render-quantum-like blocks of odd sizes (a resampler does not produce round numbers).
    const chunks = collect(chunker, input, [64, 63, 65, 1, 500]);
    expect(chunks).toHaveLength(50);
    for (const c of chunks) expect(c.bytes.byteLength).toBe(960);
    const joined = new Int16Array(chunks.flatMap((c) => Array.from(bytesToPcm16(c.bytes))));
    expect(Array.from(joined)).toEqual(Array.from(input));
    // Every chunk owns its buffer (it may be transferred to another thread).
    expect(new Set(chunks.map((c) => c.bytes.buffer)).size).toBe(50);
  });

  it('flushes the partial chunk, and reset drops it', () => {
    const chunker = new Pcm16Chunker(24_000, 20);
    const chunks: Pcm16Chunk[] = [];
    chunker.push(new Int16Array(700).fill(1000), (c) => chunks.push(c));
    expect(chunks).toHaveLength(1);
    expect(chunker.pending).toBe(220);
    chunker.flush((c) => chunks.push(c));
    expect(chunks[1]!.bytes.byteLength).toBe(440);
    chunker.flush((c) => chunks.push(c));
    expect(chunks).toHaveLength(2);
    chunker.push(new Int16Array(100), (c) => chunks.push(c));
    chunker.reset();
    chunker.flush((c) => chunks.push(c));
    expect(chunks).toHaveLength(2);
  });

  it('measures the level of each chunk', () => {
    const chunker = new Pcm16Chunker(24_000, 100);
    const chunks: Pcm16Chunk[] = [];
    chunker.push(floatToPcm16(sine(24_000, 1000, 1, 0.1)), (c) => chunks.push(c));
    chunker.push(floatToPcm16(sine(24_000, 1000, 0.1, 0.1)), (c) => chunks.push(c));
    chunker.push(new Int16Array(2400), (c) => chunks.push(c));
    // A sine's RMS is its amplitude over √2.
    expect(chunks[0]!.rms).toBeCloseTo(Math.SQRT1_2, 3);
    expect(chunks[1]!.rms).toBeCloseTo(Math.SQRT1_2 / 10, 3);
    expect(chunks[2]!.rms).toBe(0);
    expect(chunks[0]!.peak).toBeCloseTo(1, 3);
    expect(chunks[1]!.peak).toBeCloseTo(0.1, 3);
    expect(chunks[2]!.peak).toBe(0);
  });

  it('refuses a chunk duration that holds no sample', () => {
    expect(() => new Pcm16Chunker(24_000, 0)).toThrow(RangeError);
    expect(() => new Pcm16Chunker(24_000, Number.NaN)).toThrow(RangeError);
  });
});
