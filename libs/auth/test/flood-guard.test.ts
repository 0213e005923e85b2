import { describe, expect, it } from 'vitest';
import { FloodGuard } from '../src/index.js';

describe('FloodGuard (fake clock)', () => {
  it('warns a flood maxWarnings times, dropping silently in between, then closes for good', () => {
    const g = new FloodGuard({ maxWarnings: 3, quietMs: 100, forgiveMs: 60_000 });
    const decisions: string[] = [];
    // A flood: one refused frame every 10 ms for 2 s.
    for (let t = 0; t < 2000; t += 10) decisions.push(g.onRefused(t));
    expect(decisions.filter((d) => d === 'warn')).toHaveLength(3);
    const firstClose = decisions.indexOf('close');
    expect(firstClose).toBe(30); // warnings at 0, 100, 200 ms; the fourth strike at 300 ms closes
    expect(decisions.slice(firstClose).every((d) => d === 'close')).toBe(true);
    expect(decisions.slice(1, 10).every((d) => d === 'drop')).toBe(true);
  });

  it('forgives strikes over time, so rare overshoots never add up to a close', () => {
    const g = new FloodGuard({ maxWarnings: 2, quietMs: 0, forgiveMs: 1000 });
    for (let t = 0; t < 100_000; t += 1000) expect(g.onRefused(t)).toBe('warn');
    expect(g.pendingStrikes).toBe(1);
  });

  it('closes when overshoots come faster than they are forgiven', () => {
    const g = new FloodGuard({ maxWarnings: 2, quietMs: 0, forgiveMs: 1000 });
    expect(g.onRefused(0)).toBe('warn');
    expect(g.onRefused(100)).toBe('warn');
    expect(g.onRefused(200)).toBe('close');
  });

  it('with maxWarnings 0 closes on the first refused frame', () => {
    expect(new FloodGuard({ maxWarnings: 0 }).onRefused(0)).toBe('close');
  });

  it('validates its options', () => {
    expect(() => new FloodGuard({ maxWarnings: -1 })).toThrow(/maxWarnings/);
    expect(() => new FloodGuard({ forgiveMs: 0 })).toThrow(/forgiveMs/);
    expect(() => new FloodGuard({ quietMs: -1 })).toThrow(/quietMs/);
  });
});
