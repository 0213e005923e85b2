import { describe, expect, it } from 'vitest';
import { ConcurrentConnectionCounter } from '../src/index.js';

describe('ConcurrentConnectionCounter', () => {
  it('caps open connections per address; a release frees the slot for the same address', () => {
    const c = new ConcurrentConnectionCounter({ maxPerAddress: 2, maxTotal: 100 });
    const a = c.tryAcquire('10.0.0.1');
    const b = c.tryAcquire('10.0.0.1');
    expect(a.ok && b.ok).toBe(true);
    expect(c.tryAcquire('10.0.0.1')).toEqual({ ok: false, limit: 'per_address' });
    // Another address is not affected.
    expect(c.tryAcquire('10.0.0.2').ok).toBe(true);
    if (a.ok) a.slot.release();
    expect(c.tryAcquire('10.0.0.1').ok).toBe(true);
  });

  it('caps open connections in total, checked before the per-address cap', () => {
    const c = new ConcurrentConnectionCounter({ maxPerAddress: 1, maxTotal: 2 });
    expect(c.tryAcquire('10.0.0.1').ok).toBe(true);
    expect(c.tryAcquire('10.0.0.2').ok).toBe(true);
    expect(c.tryAcquire('10.0.0.3')).toEqual({ ok: false, limit: 'total' });
    expect(c.tryAcquire('10.0.0.1')).toEqual({ ok: false, limit: 'total' });
    expect(c.check('10.0.0.3')).toBe('total');
    expect(c.total).toBe(2);
  });

  it('releases a slot exactly once, however many paths see the end', () => {
    const c = new ConcurrentConnectionCounter({ maxPerAddress: 2, maxTotal: 10 });
    const first = c.tryAcquire('10.0.0.1');
    const second = c.tryAcquire('10.0.0.1');
    if (!first.ok || !second.ok) throw new Error('slots expected');
    expect(first.slot.release()).toBe(true);
    expect(first.slot.release()).toBe(false);
    expect(first.slot.release()).toBe(false);
    expect(first.slot.isReleased).toBe(true);
    // The second release did not free the other connection's slot: one slot is still held.
    expect(c.heldBy('10.0.0.1')).toBe(1);
    expect(c.total).toBe(1);
    expect(c.tryAcquire('10.0.0.1').ok).toBe(true);
    expect(c.tryAcquire('10.0.0.1').ok).toBe(false);
  });

  it('counts IPv6 per /64 and IPv4-mapped addresses as IPv4; forgets addresses that hold nothing', () => {
    const c = new ConcurrentConnectionCounter({ maxPerAddress: 2, maxTotal: 10 });
    expect(c.tryAcquire('2001:db8:1:2::1').ok).toBe(true);
    const rotated = c.tryAcquire('2001:db8:1:2:ffff::9');
    expect(rotated.ok).toBe(true);
    expect(c.tryAcquire('2001:db8:1:2:abcd::1')).toEqual({ ok: false, limit: 'per_address' });
    expect(c.tryAcquire('2001:db8:1:3::1').ok).toBe(true);
    const v4 = c.tryAcquire('192.0.2.1');
    expect(c.heldBy('::ffff:192.0.2.1')).toBe(1);
    expect(c.addresses).toBe(3);
    if (v4.ok) v4.slot.release();
    expect(c.addresses).toBe(2);
  });

  it('refuses nonsense limits', () => {
    expect(() => new ConcurrentConnectionCounter({ maxPerAddress: 0, maxTotal: 1 })).toThrow(RangeError);
    expect(() => new ConcurrentConnectionCounter({ maxPerAddress: 1, maxTotal: 1.5 })).toThrow(RangeError);
  });
});
