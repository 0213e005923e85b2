import { describe, expect, it } from 'vitest';
import { ConnectionRateLimiter, TokenBucket } from '../src/index.js';

describe('TokenBucket (fake clock)', () => {
  it('spends up to the burst at once, then refills at the rate', () => {
    const b = new TokenBucket({ ratePerS: 10, burst: 5 }, 0);
    for (let i = 0; i < 5; i++) expect(b.take(1, 0)).toBe(true);
    expect(b.take(1, 0)).toBe(false);
    expect(b.take(1, 99)).toBe(false); // 0.99 tokens
    expect(b.take(1, 100)).toBe(true);
    expect(b.take(1, 100)).toBe(false);
    // A long pause refills to the burst, never beyond it.
    expect(b.levels(60_000).tokens).toBe(5);
  });

  it('spends nothing on a refused request', () => {
    const b = new TokenBucket({ ratePerS: 1, burst: 10 }, 0);
    expect(b.take(11, 0)).toBe(false);
    expect(b.levels(0).tokens).toBe(10);
    expect(b.take(10, 0)).toBe(true);
  });

  it('can start empty', () => {
    const b = new TokenBucket({ ratePerS: 2, burst: 4, startFull: false }, 1000);
    expect(b.take(1, 1000)).toBe(false);
    expect(b.take(1, 1500)).toBe(true);
  });

  it('ignores a clock that steps backwards', () => {
    const b = new TokenBucket({ ratePerS: 1000, burst: 10 }, 10_000);
    expect(b.take(10, 10_000)).toBe(true);
    expect(b.take(1, 5_000)).toBe(false);
    expect(b.take(1, 10_000)).toBe(false);
    expect(b.take(1, 10_001)).toBe(true);
  });

  it('fills the reserve only from overflow, and only reserve takers may spend it', () => {
    const b = new TokenBucket({ ratePerS: 100, burst: 100, reserve: 300, startFull: false }, 0);
    expect(b.levels(1000)).toEqual({ tokens: 100, reserve: 0 });
    expect(b.levels(3000)).toEqual({ tokens: 100, reserve: 200 });
    expect(b.levels(10_000)).toEqual({ tokens: 100, reserve: 300 });
    expect(b.take(150, 10_000)).toBe(false);
    expect(b.take(150, 10_000, true)).toBe(true);
    // Ordinary tokens went first; the rest came out of the reserve.
    expect(b.levels(10_000)).toEqual({ tokens: 0, reserve: 250 });
    expect(b.take(1, 10_000)).toBe(false);
    expect(b.take(250, 10_000, true)).toBe(true);
    expect(b.take(1, 10_000, true)).toBe(false);
  });

  it('validates its options', () => {
    expect(() => new TokenBucket({ ratePerS: 0, burst: 1 }, 0)).toThrow(/ratePerS/);
    expect(() => new TokenBucket({ ratePerS: 1, burst: Number.NaN }, 0)).toThrow(/burst/);
    expect(() => new TokenBucket({ ratePerS: 1, burst: 1, reserve: -1 }, 0)).toThrow(/reserve/);
  });
});

describe('ConnectionRateLimiter (fake clock)', () => {
  const limits = {
    messagesPerS: 10,
    messageBurst: 10,
    bytesPerS: 1000,
    byteBurst: 1000,
    audioBurstBytes: 4000,
  };

  it('refuses on messages per second', () => {
    const l = new ConnectionRateLimiter(limits, 0);
    for (let i = 0; i < 10; i++) expect(l.admit(1, false, 0)).toBe('ok');
    expect(l.admit(1, false, 0)).toBe('messages');
    expect(l.admit(1, false, 100)).toBe('ok');
  });

  it('refuses on bytes per second without spending a message token', () => {
    const l = new ConnectionRateLimiter(limits, 0);
    expect(l.admit(1000, false, 0)).toBe('ok');
    expect(l.admit(1, false, 0)).toBe('bytes');
    expect(l.admit(1, false, 0)).toBe('bytes');
    // 9 message tokens are still there: refused frames did not use them.
    for (let i = 0; i < 9; i++) expect(l.admit(0, false, 0)).toBe('ok');
    expect(l.admit(0, false, 0)).toBe('messages');
  });

  it('lets audio burst into the allowance that text and control frames cannot touch', () => {
    const l = new ConnectionRateLimiter(limits, 0);
    expect(l.admit(900, false, 0)).toBe('ok');
    expect(l.admit(900, false, 0)).toBe('bytes');
    expect(l.admit(900, true, 0)).toBe('ok'); // 100 ordinary + 800 from the audio allowance
    expect(l.admit(3200, true, 0)).toBe('ok');
    expect(l.admit(1, true, 0)).toBe('bytes');
    // Sustained throughput stays at bytesPerS: one second later exactly 1000 bytes are back.
    expect(l.admit(1000, false, 1000)).toBe('ok');
    expect(l.admit(1, true, 1000)).toBe('bytes');
  });

  it('derives bursts from the rates when they are not given', () => {
    const l = new ConnectionRateLimiter({ messagesPerS: 2, bytesPerS: 100 }, 0);
    for (let i = 0; i < 4; i++) expect(l.admit(50, false, 0)).toBe('ok');
    expect(l.admit(0, false, 0)).toBe('messages');
    // byteBurst 200 was spent and 50 bytes came back; the audio allowance (400) started full.
    expect(l.admit(51, false, 500)).toBe('bytes');
    expect(l.admit(450, true, 500)).toBe('ok');
    expect(l.admit(0, false, 500)).toBe('messages');
  });
});
