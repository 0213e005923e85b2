import { describe, expect, it } from 'vitest';
import { Histogram } from '../lib/histogram.js';

/** Exact nearest-rank percentile, to check the histogram against. */
function exact(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(1, Math.ceil((p / 100) * sorted.length)) - 1]!;
}

describe('Histogram', () => {
  it('matches exact percentiles within its 1/128 precision over a wide range', () => {
    // A deterministic spread from 50 µs to ~300 ms, like round trips from idle to saturated.
    const values = Array.from({ length: 20_000 }, (_, i) => 50 * 1.000_44 ** i + (i % 7));
    const h = new Histogram();
    for (const v of values) h.record(v);
    for (const p of [50, 90, 99, 99.9]) {
      const want = exact(values, p);
      expect(Math.abs(h.percentileUs(p) - want) / want).toBeLessThan(1 / 100);
    }
    expect(h.percentileUs(100)).toBe(Math.max(...values));
  });

  it('is exact below 256 µs and reports milliseconds in its summary', () => {
    const h = new Histogram();
    for (const v of [100, 200, 200, 255]) h.record(v);
    expect(h.percentileUs(50)).toBe(200);
    expect(h.summary()).toEqual({
      count: 4,
      meanMs: 0.189,
      p50Ms: 0.2,
      p90Ms: 0.255,
      p99Ms: 0.255,
      maxMs: 0.255,
    });
  });

  it('merges the transferable form of other histograms', () => {
    const a = new Histogram();
    const b = new Histogram();
    for (let i = 1; i <= 1000; i++) (i % 2 ? a : b).record(i * 10);
    const merged = new Histogram();
    merged.merge(JSON.parse(JSON.stringify(a)));
    merged.merge(JSON.parse(JSON.stringify(b)));
    expect(merged.count).toBe(1000);
    expect(Math.abs(merged.percentileUs(50) - 5000) / 5000).toBeLessThan(1 / 100);
    expect(merged.summary().maxMs).toBe(10);
  });

  it('reports zeros when empty', () => {
    expect(new Histogram().summary()).toEqual({
      count: 0,
      meanMs: 0,
      p50Ms: 0,
      p90Ms: 0,
      p99Ms: 0,
      maxMs: 0,
    });
  });
});
