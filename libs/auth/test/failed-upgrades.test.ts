import { describe, expect, it } from 'vitest';
import { FailedUpgradeLimiter, NewConnectionLimiter, RequestRateLimiter } from '../src/index.js';

describe('FailedUpgradeLimiter (fake clock)', () => {
  it('blocks an address once it has caused maxPerWindow refused upgrades, and only that address', () => {
    const l = new FailedUpgradeLimiter({ maxPerWindow: 3, windowMs: 60_000 });
    for (let i = 0; i < 3; i++) {
      expect(l.isBlocked('203.0.113.7', i)).toBe(false);
      l.record('203.0.113.7', i);
    }
    expect(l.isBlocked('203.0.113.7', 10)).toBe(true);
    expect(l.isBlocked('198.51.100.9', 10)).toBe(false);
  });

  it('lifts the block as the window slides past the failures', () => {
    const l = new FailedUpgradeLimiter({ maxPerWindow: 2, windowMs: 60_000 });
    l.record('a', 59_000);
    l.record('a', 59_000);
    expect(l.isBlocked('a', 61_000)).toBe(true); // the previous window still overlaps almost fully
    expect(l.isBlocked('a', 90_000)).toBe(false); // half of it: 1 < 2
    expect(l.isBlocked('a', 180_000)).toBe(false);
  });

  it('counts IPv6 per /64', () => {
    const l = new FailedUpgradeLimiter({ maxPerWindow: 1 });
    l.record('2001:db8::1', 0);
    expect(l.isBlocked('2001:db8::ffff', 1)).toBe(true);
    expect(l.isBlocked('2001:db8:0:1::1', 1)).toBe(false);
  });
});

describe('NewConnectionLimiter.refund', () => {
  it('gives back a connection that was refused after being counted', () => {
    const l = new NewConnectionLimiter({ maxPerWindow: 2 });
    expect(l.tryAcquire('a', 100)).toBe(true);
    expect(l.tryAcquire('a', 100)).toBe(true);
    expect(l.tryAcquire('a', 100)).toBe(false);
    l.refund('a', 100, 150);
    expect(l.tryAcquire('a', 150)).toBe(true);
    expect(l.tryAcquire('a', 150)).toBe(false);
  });

  it('refunds into the previous window when the window rolled over meanwhile, never below zero', () => {
    const l = new NewConnectionLimiter({ maxPerWindow: 2, windowMs: 1000 });
    expect(l.tryAcquire('a', 900)).toBe(true);
    expect(l.tryAcquire('a', 900)).toBe(true);
    // At 1100 ms the previous window (2 connections) overlaps 90%: 1.8 + 1 > 2.
    expect(l.tryAcquire('a', 1100)).toBe(false);
    l.refund('a', 900, 1100);
    l.refund('a', 900, 1100);
    l.refund('a', 900, 1100);
    expect(l.tryAcquire('a', 1100)).toBe(true);
    expect(l.tryAcquire('a', 1100)).toBe(true);
    expect(l.tryAcquire('a', 1100)).toBe(false);
  });
});

describe('RequestRateLimiter (fake clock)', () => {
  it('allows a burst of twice the rate per address, then the sustained rate, with a retry-after', () => {
    const l = new RequestRateLimiter({ ratePerS: 5 });
    for (let i = 0; i < 10; i++) expect(l.take('198.51.100.9', 0)).toEqual({ ok: true });
    expect(l.take('198.51.100.9', 0)).toEqual({ ok: false, retryAfterS: 1 });
    expect(l.take('203.0.113.7', 0).ok).toBe(true);
    // 200 ms refill one request at 5/s.
    expect(l.take('198.51.100.9', 200).ok).toBe(true);
    expect(l.take('198.51.100.9', 200).ok).toBe(false);
  });

  it('a kubelet-style probe every 2 s from one address is never refused at the default rate', () => {
    const l = new RequestRateLimiter({ ratePerS: 10 });
    for (let t = 0; t < 3_600_000; t += 2000) expect(l.take('10.0.0.1', t).ok).toBe(true);
  });

  it('a slow rate asks for more than one second', () => {
    const l = new RequestRateLimiter({ ratePerS: 0.1, burst: 1 });
    expect(l.take('a', 0).ok).toBe(true);
    expect(l.take('a', 0)).toEqual({ ok: false, retryAfterS: 10 });
  });

  it('bounds the addresses it tracks', () => {
    const l = new RequestRateLimiter({ ratePerS: 1, burst: 1, maxTracked: 2 });
    l.take('a', 0);
    l.take('b', 0);
    l.take('c', 0);
    expect(l.size).toBe(2);
    // `a` was forgotten, so it starts again with a full bucket.
    expect(l.take('a', 0).ok).toBe(true);
  });
});
