import { describe, expect, it } from 'vitest';
import { addressKey, NewConnectionLimiter } from '../src/index.js';

describe('NewConnectionLimiter (fake clock)', () => {
  it('allows maxPerWindow new connections per address per second, and refused ones do not count', () => {
    const l = new NewConnectionLimiter({ maxPerWindow: 3 });
    expect([0, 1, 2, 3, 4].map((t) => l.tryAcquire('10.0.0.1', t))).toEqual([true, true, true, false, false]);
    // Other addresses are unaffected.
    expect(l.tryAcquire('10.0.0.2', 5)).toBe(true);
  });

  it('slides: the previous window still counts in proportion to its overlap', () => {
    const l = new NewConnectionLimiter({ maxPerWindow: 4, windowMs: 1000 });
    for (let i = 0; i < 4; i++) expect(l.tryAcquire('a', 900)).toBe(true);
    // At 1100 ms the previous window overlaps 90%: 3.6 + 0 + 1 > 4, so no fresh burst at the boundary.
    expect(l.tryAcquire('a', 1100)).toBe(false);
    // At 1500 ms it overlaps 50%: 2 + 0 + 1 ≤ 4, then 2 + 1 + 1 ≤ 4, then 2 + 2 + 1 > 4.
    expect(l.tryAcquire('a', 1500)).toBe(true);
    expect(l.tryAcquire('a', 1500)).toBe(true);
    expect(l.tryAcquire('a', 1500)).toBe(false);
    // Two windows later everything has aged out.
    for (let i = 0; i < 4; i++) expect(l.tryAcquire('a', 3000)).toBe(true);
  });

  it('bounds the number of tracked addresses, forgetting the least recently seen', () => {
    const l = new NewConnectionLimiter({ maxPerWindow: 1, maxTracked: 3 });
    expect(l.tryAcquire('1.1.1.1', 0)).toBe(true);
    expect(l.tryAcquire('2.2.2.2', 0)).toBe(true);
    expect(l.tryAcquire('3.3.3.3', 0)).toBe(true);
    expect(l.tryAcquire('1.1.1.1', 1)).toBe(false); // touched: now the most recent
    expect(l.tryAcquire('4.4.4.4', 2)).toBe(true); // evicts 2.2.2.2, the stalest
    expect(l.size).toBe(3);
    expect(l.tryAcquire('1.1.1.1', 3)).toBe(false); // still tracked, still limited
    expect(l.tryAcquire('2.2.2.2', 3)).toBe(true); // forgotten, so it starts again
    for (let i = 0; i < 10_000; i++) l.tryAcquire(`10.${i >> 8}.${i & 255}.1`, 4);
    expect(l.size).toBe(3);
  });

  it('counts an IPv6 /64 as one client, and an IPv4-mapped address as its IPv4', () => {
    const l = new NewConnectionLimiter({ maxPerWindow: 2 });
    expect(l.tryAcquire('2001:db8:1:2::1', 0)).toBe(true);
    expect(l.tryAcquire('2001:db8:1:2:ffff:ffff:ffff:ffff', 0)).toBe(true);
    expect(l.tryAcquire('2001:db8:1:2:abcd::9', 0)).toBe(false);
    expect(l.tryAcquire('2001:db8:1:3::1', 0)).toBe(true);
    expect(l.tryAcquire('192.0.2.7', 0)).toBe(true);
    expect(l.tryAcquire('::ffff:192.0.2.7', 0)).toBe(true);
    expect(l.tryAcquire('0000:0000:0000:0000:0000:ffff:c000:0207', 0)).toBe(false);
  });

  it('validates its options', () => {
    expect(() => new NewConnectionLimiter({ maxPerWindow: 0 })).toThrow(/maxPerWindow/);
    expect(() => new NewConnectionLimiter({ maxPerWindow: 1, windowMs: 0 })).toThrow(/windowMs/);
    expect(() => new NewConnectionLimiter({ maxPerWindow: 1, maxTracked: 0 })).toThrow(/maxTracked/);
    expect(() => new NewConnectionLimiter({ maxPerWindow: 1, ipv6PrefixBits: 129 })).toThrow(
      /ipv6PrefixBits/,
    );
  });
});

describe('addressKey', () => {
  it('normalises the forms servers report', () => {
    expect(addressKey('203.0.113.9')).toBe('203.0.113.9');
    expect(addressKey('::ffff:203.0.113.9')).toBe('203.0.113.9');
    expect(addressKey('[2001:db8::1]')).toBe('2001:db8:0:0:0:0:0:0/64');
    expect(addressKey('fe80::1%eth0')).toBe('fe80:0:0:0:0:0:0:0/64');
    expect(addressKey('2001:db8:aaaa:bbbb:cccc::1', 48)).toBe('2001:db8:aaaa:0:0:0:0:0/48');
    expect(addressKey('2001:db8:aaaa:bbbb:cccc::1', 52)).toBe('2001:db8:aaaa:b000:0:0:0:0/52');
    expect(addressKey('::1', 128)).toBe('0:0:0:0:0:0:0:1/128');
  });

  it('caps anything that is not an address', () => {
    expect(addressKey('x'.repeat(500))).toHaveLength(64);
  });
});
