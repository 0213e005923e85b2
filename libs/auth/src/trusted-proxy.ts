import { isIPv4, isIPv6 } from 'node:net';
import { ConfigError, type EnvSchema } from '@rtv/service-kit';

/**
 * Which address a request comes from when it may have crossed proxies. The socket's peer is the truth
 * unless the peer is a proxy the operator named (`RTV_TRUSTED_PROXIES`): only then are its PROXY protocol
 * header and its `X-Forwarded-For` believed, because anyone else can write either.
 */

/** The setting both public services read, so the gateway and the status API agree on whom to believe. */
export const TRUSTED_PROXIES_ENV = {
  RTV_TRUSTED_PROXIES: {
    type: 'string',
    default: '',
    pattern: /^[0-9A-Fa-f:.,/\s]*$/,
    doc: 'Comma-separated CIDR networks (IPv4, IPv6) of proxies whose X-Forwarded-For (and, at the gateway, PROXY protocol v2 header) names the client address; empty: trust none, the peer is the client',
  },
} as const satisfies EnvSchema;

/** {@link TrustedProxies.parse} for a service's configuration: a bad entry is a `ConfigError` naming the variable. */
export function trustedProxiesFromConfig(service: string, list: string): TrustedProxies {
  try {
    return TrustedProxies.parse(list);
  } catch (err) {
    throw new ConfigError(service, [`RTV_TRUSTED_PROXIES: ${(err as Error).message}`]);
  }
}

/** One network of the trusted list, as 16 bytes (IPv4 as IPv4-mapped IPv6) and a prefix length of 0–128. */
interface Network {
  readonly bytes: Uint8Array;
  readonly prefixBits: number;
}

/** Where {@link TrustedProxies.resolve} took the client address from. */
export type ClientAddressSource = 'peer' | 'proxy_protocol' | 'forwarded_for';

export interface ClientAddress {
  /** The address every per-address limit counts and the logs name. */
  readonly address: string;
  readonly source: ClientAddressSource;
  /**
   * A trusted proxy sent a header that could not be read (a hop that is not an address); the address is
   * then the nearest one known for sure, and the caller counts it so a misconfigured proxy shows.
   */
  readonly malformed: boolean;
}

/** What a request says about its origin: the socket's peer and what proxies in front of it claim. */
export interface AddressEvidence {
  /** The TCP peer (`getRemoteAddressAsText`, `socket.remoteAddress`). */
  readonly peer: string;
  /** The source address of a PROXY protocol header, '' or undefined when there was none. */
  readonly proxyProtocol?: string | undefined;
  /** Every `X-Forwarded-For` value of the request, joined with commas in the order they came. */
  readonly forwardedFor?: string | undefined;
}

/**
 * The proxies whose word on client addresses counts, from a comma-separated list of CIDR networks or single
 * addresses, IPv4 and IPv6 (`10.0.0.0/8, 2001:db8::/32, 192.0.2.7`). An empty list trusts nobody, so every
 * client is its socket's peer.
 */
export class TrustedProxies {
  private readonly networks: readonly Network[];

  private constructor(networks: readonly Network[]) {
    this.networks = networks;
  }

  /** Parses the list; throws a `RangeError` naming the entry (a network, never a secret) that is not one. */
  static parse(list: string): TrustedProxies {
    const networks: Network[] = [];
    for (const raw of list.split(',')) {
      const entry = raw.trim();
      if (entry === '') continue;
      const network = parseNetwork(entry);
      if (!network) throw new RangeError(`not a CIDR network or address: ${entry.slice(0, 64)}`);
      networks.push(network);
    }
    return new TrustedProxies(networks);
  }

  /** Trusts nobody. */
  static none(): TrustedProxies {
    return new TrustedProxies([]);
  }

  /** Networks in the list. */
  get size(): number {
    return this.networks.length;
  }

  /** Whether `address` (any textual form: IPv4, IPv6, IPv4-mapped, bracketed) is in a trusted network. */
  trusts(address: string): boolean {
    if (this.networks.length === 0) return false;
    const bytes = ipBytes(address);
    return bytes !== undefined && this.networks.some((n) => inNetwork(bytes, n));
  }

  /**
   * The client's address. An untrusted peer is the client, whatever it sends. A trusted peer's PROXY
   * protocol source comes next; if that is trusted too (an L7 proxy behind an L4 balancer), `X-Forwarded-For`
   * is read from the right, skipping trusted hops: the first untrusted one is the client. The leftmost
   * entries are whatever the client wrote and are never believed, so junk there does not matter; an
   * unreadable hop to the right of the client (or a garbled PROXY source) falls back to the nearest address
   * known for sure, marked `malformed`. When every hop is trusted the leftmost is the client.
   */
  resolve(evidence: AddressEvidence): ClientAddress {
    const { peer } = evidence;
    if (!this.trusts(peer)) return { address: peer, source: 'peer', malformed: false };
    let nearest: ClientAddress = { address: peer, source: 'peer', malformed: false };
    const proxied = evidence.proxyProtocol ?? '';
    if (proxied !== '') {
      const address = normalizeHop(proxied);
      if (address === undefined) return { ...nearest, malformed: true };
      nearest = { address, source: 'proxy_protocol', malformed: false };
      if (!this.trusts(address)) return nearest;
    }
    const forwardedFor = evidence.forwardedFor ?? '';
    if (forwardedFor.trim() === '') return nearest;
    const hops = forwardedFor.split(',');
    let leftmost = nearest.address;
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = normalizeHop(hops[i]!);
      if (hop === undefined) return { ...nearest, malformed: true };
      if (!this.trusts(hop)) return { address: hop, source: 'forwarded_for', malformed: false };
      leftmost = hop;
    }
    return { address: leftmost, source: 'forwarded_for', malformed: false };
  }
}

/**
 * One `X-Forwarded-For` hop as an address: surrounding spaces, IPv6 brackets and a port (`1.2.3.4:5678`,
 * `[2001:db8::1]:443`, which some proxies write) removed; undefined when it is not an IP address
 * (`unknown`, an obfuscated `_hidden` identifier, garbage).
 */
export function normalizeHop(hop: string): string | undefined {
  let a = hop.trim();
  if (a.startsWith('[')) {
    const end = a.indexOf(']');
    if (end < 0) return undefined;
    const rest = a.slice(end + 1);
    if (rest !== '' && !/^:\d{1,5}$/.test(rest)) return undefined;
    a = a.slice(1, end);
  } else if (/^[0-9.]+:\d{1,5}$/.test(a)) {
    a = a.slice(0, a.indexOf(':'));
  }
  return isIPv4(a) || isIPv6(a) ? a : undefined;
}

function parseNetwork(entry: string): Network | undefined {
  const slash = entry.indexOf('/');
  const address = slash < 0 ? entry : entry.slice(0, slash);
  const bytes = ipBytes(address);
  if (bytes === undefined) return undefined;
  const maxBits = isIPv4(address) ? 32 : 128;
  let prefixBits = maxBits;
  if (slash >= 0) {
    const text = entry.slice(slash + 1);
    if (!/^\d{1,3}$/.test(text)) return undefined;
    prefixBits = Number(text);
    if (prefixBits > maxBits) return undefined;
  }
  // IPv4 networks live in the IPv4-mapped range, so `::ffff:10.1.2.3` (a dual-stack socket's view of an IPv4
  // peer) matches `10.0.0.0/8`.
  return { bytes, prefixBits: maxBits === 32 ? prefixBits + 96 : prefixBits };
}

function inNetwork(bytes: Uint8Array, network: Network): boolean {
  const whole = network.prefixBits >> 3;
  for (let i = 0; i < whole; i++) if (bytes[i] !== network.bytes[i]) return false;
  const rest = network.prefixBits & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (bytes[whole]! & mask) === (network.bytes[whole]! & mask);
}

/**
 * An address as 16 bytes: IPv6 as is (zone dropped), IPv4 as IPv4-mapped IPv6 (`::ffff:a.b.c.d`), so both
 * families compare in one space. Undefined for anything that is not an address.
 */
export function ipBytes(address: string): Uint8Array | undefined {
  let a = address.trim();
  if (a.startsWith('[') && a.endsWith(']')) a = a.slice(1, -1);
  const zone = a.indexOf('%');
  if (zone >= 0) a = a.slice(0, zone);
  const bytes = new Uint8Array(16);
  if (isIPv4(a)) {
    bytes[10] = 0xff;
    bytes[11] = 0xff;
    a.split('.').forEach((octet, i) => {
      bytes[12 + i] = Number(octet);
    });
    return bytes;
  }
  if (!isIPv6(a)) return undefined;
  const words = ipv6Words(a);
  words.forEach((w, i) => {
    bytes[2 * i] = w >> 8;
    bytes[2 * i + 1] = w & 0xff;
  });
  return bytes;
}

/** The eight 16-bit words of an address that `isIPv6` accepted (a dotted IPv4 tail becomes two words). */
export function ipv6Words(address: string): number[] {
  let a = address;
  const lastColon = a.lastIndexOf(':');
  const tail = a.slice(lastColon + 1);
  if (tail.includes('.')) {
    const [b0, b1, b2, b3] = tail.split('.').map(Number) as [number, number, number, number];
    a = `${a.slice(0, lastColon + 1)}${((b0 << 8) | b1).toString(16)}:${((b2 << 8) | b3).toString(16)}`;
  }
  const [head = '', rest] = a.split('::');
  const headWords = head === '' ? [] : head.split(':');
  const restWords = rest === undefined || rest === '' ? [] : rest.split(':');
  const zeros = rest === undefined ? 0 : 8 - headWords.length - restWords.length;
  return [...headWords, ...Array<string>(zeros).fill('0'), ...restWords].map((w) => Number.parseInt(w, 16));
}
