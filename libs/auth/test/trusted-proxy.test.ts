import { ConfigError } from '@rtv/service-kit';
import { describe, expect, it } from 'vitest';
import { normalizeHop, TrustedProxies, trustedProxiesFromConfig } from '../src/index.js';

describe('TrustedProxies: the CIDR matcher', () => {
  const trusted = TrustedProxies.parse('10.0.0.0/8, 192.0.2.7, 172.16.0.0/12,2001:db8:aa::/48, fd00::1/128');

  it.each([
    ['10.0.0.1', true],
    ['10.255.255.255', true],
    ['11.0.0.0', false],
    ['9.255.255.255', false],
    ['192.0.2.7', true],
    ['192.0.2.8', false],
    ['172.16.0.1', true],
    ['172.31.255.255', true],
    ['172.32.0.0', false],
    ['172.15.255.255', false],
    ['2001:db8:aa::1', true],
    ['2001:db8:aa:ffff:ffff:ffff:ffff:ffff', true],
    ['2001:db8:ab::1', false],
    ['fd00::1', true],
    ['fd00::2', false],
    // Dual-stack sockets report IPv4 peers IPv4-mapped, in short or uWS's long form.
    ['::ffff:10.1.2.3', true],
    ['0000:0000:0000:0000:0000:ffff:0a01:0203', true],
    ['[2001:db8:aa::5]', true],
    ['fe80::1%eth0', false],
    ['not-an-address', false],
    ['', false],
  ])('%s → %s', (address, expected) => {
    expect(trusted.trusts(address)).toBe(expected);
  });

  it('matches prefixes that do not end on a byte boundary, and /0 matches everything of its family', () => {
    const odd = TrustedProxies.parse('100.64.0.0/10, 2001:db8::/29');
    expect(odd.trusts('100.127.255.255')).toBe(true);
    expect(odd.trusts('100.128.0.0')).toBe(false);
    expect(odd.trusts('2001:dbf:ffff::1')).toBe(true);
    expect(odd.trusts('2001:dc0::1')).toBe(false);
    const everyV4 = TrustedProxies.parse('0.0.0.0/0');
    expect(everyV4.trusts('203.0.113.9')).toBe(true);
    expect(everyV4.trusts('2001:db8::1')).toBe(false);
  });

  it('an empty list trusts nobody', () => {
    for (const list of ['', ' ', ',']) {
      const none = TrustedProxies.parse(list);
      expect(none.size).toBe(0);
      expect(none.trusts('127.0.0.1')).toBe(false);
    }
  });

  it.each([
    '10.0.0.0/33',
    '2001:db8::/129',
    '10.0.0/8',
    '10.0.0.0/',
    '10.0.0.0/8/8',
    '10.0.0.0/-1',
    'example.com',
    '10.0.0.0/8 10.1.0.0/16',
  ])('refuses %s at start, as a ConfigError naming the variable', (list) => {
    expect(() => TrustedProxies.parse(list)).toThrow(RangeError);
    expect(() => trustedProxiesFromConfig('gateway', list)).toThrow(ConfigError);
    expect(() => trustedProxiesFromConfig('gateway', list)).toThrow(/RTV_TRUSTED_PROXIES/);
  });
});

describe('TrustedProxies.resolve: which address is the client', () => {
  const trusted = TrustedProxies.parse('127.0.0.1/32, 10.0.0.0/8');

  it("ignores an untrusted peer's X-Forwarded-For and PROXY header: the peer is the client", () => {
    expect(
      trusted.resolve({ peer: '198.51.100.1', forwardedFor: '203.0.113.7', proxyProtocol: '203.0.113.8' }),
    ).toEqual({ address: '198.51.100.1', source: 'peer', malformed: false });
  });

  it('takes the rightmost hop that is not itself trusted, never the leftmost the client wrote', () => {
    // The client sent "X-Forwarded-For: 1.1.1.1"; the edge proxy appended the address it saw, an internal
    // proxy appended the edge's.
    expect(trusted.resolve({ peer: '127.0.0.1', forwardedFor: '1.1.1.1, 198.51.100.9, 10.1.2.3' })).toEqual({
      address: '198.51.100.9',
      source: 'forwarded_for',
      malformed: false,
    });
  });

  it('reads repeated headers joined in order, and IPv6 hops with brackets and ports', () => {
    expect(
      trusted.resolve({ peer: '127.0.0.1', forwardedFor: '1.1.1.1,[2001:db8::9]:443, 10.0.0.1' }).address,
    ).toBe('2001:db8::9');
    expect(trusted.resolve({ peer: '127.0.0.1', forwardedFor: '198.51.100.9:5678' }).address).toBe(
      '198.51.100.9',
    );
  });

  it('a trusted peer without X-Forwarded-For is the client (a probe, a health check)', () => {
    expect(trusted.resolve({ peer: '10.0.0.5' })).toEqual({
      address: '10.0.0.5',
      source: 'peer',
      malformed: false,
    });
    expect(trusted.resolve({ peer: '10.0.0.5', forwardedFor: '  ' }).address).toBe('10.0.0.5');
  });

  it('when every hop is trusted, the leftmost is the client', () => {
    expect(trusted.resolve({ peer: '127.0.0.1', forwardedFor: '10.0.0.9, 10.0.0.8' }).address).toBe(
      '10.0.0.9',
    );
  });

  it('falls back to the peer, marked malformed, when a hop right of the client is not an address', () => {
    for (const forwardedFor of ['unknown', '198.51.100.9, garbage', '198.51.100.9,,10.0.0.1', '_hidden']) {
      expect(trusted.resolve({ peer: '127.0.0.1', forwardedFor })).toEqual({
        address: '127.0.0.1',
        source: 'peer',
        malformed: true,
      });
    }
  });

  it("junk left of the client is the client's own doing and changes nothing", () => {
    expect(trusted.resolve({ peer: '127.0.0.1', forwardedFor: 'garbage, <script>, 198.51.100.9' })).toEqual({
      address: '198.51.100.9',
      source: 'forwarded_for',
      malformed: false,
    });
  });

  it('believes the PROXY protocol source of a trusted peer, before X-Forwarded-For', () => {
    expect(
      trusted.resolve({ peer: '10.0.0.2', proxyProtocol: '203.0.113.8', forwardedFor: '198.51.100.9' }),
    ).toEqual({ address: '203.0.113.8', source: 'proxy_protocol', malformed: false });
    // An L7 proxy (trusted) behind an L4 balancer: the PROXY source is the proxy, its XFF names the client.
    expect(
      trusted.resolve({ peer: '10.0.0.2', proxyProtocol: '10.0.0.3', forwardedFor: '198.51.100.9' }).address,
    ).toBe('198.51.100.9');
    expect(trusted.resolve({ peer: '10.0.0.2', proxyProtocol: 'zzz' })).toEqual({
      address: '10.0.0.2',
      source: 'peer',
      malformed: true,
    });
  });
});

describe('normalizeHop', () => {
  it.each([
    [' 192.0.2.1 ', '192.0.2.1'],
    ['192.0.2.1:8080', '192.0.2.1'],
    ['[2001:db8::1]', '2001:db8::1'],
    ['[2001:db8::1]:443', '2001:db8::1'],
    ['2001:db8::1', '2001:db8::1'],
    ['[2001:db8::1', undefined],
    ['[2001:db8::1]x', undefined],
    ['unknown', undefined],
    ['192.0.2.1:99999999', undefined],
    ['', undefined],
  ])('%j → %j', (hop, expected) => {
    expect(normalizeHop(hop)).toBe(expected);
  });
});
