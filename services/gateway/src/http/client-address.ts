import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import type { TrustedProxies } from '@rtv/auth';
import type { GatewayMetrics } from '../metrics.js';

/**
 * The client's address for a request on the public port (an upgrade or a seed HTTP route): the socket's
 * peer, unless the peer is a trusted proxy; then its PROXY protocol v2 header (uWS parses one at the start
 * of any connection, so it is only believed from a trusted peer) and its `X-Forwarded-For` headers (all of
 * them, in order) are read. An unreadable header from a trusted proxy falls back to the nearest known
 * address and is counted, so a misconfigured proxy shows in the metrics. Call it while `req` is valid.
 */
export function resolveClientAddress(
  trustedProxies: TrustedProxies,
  metrics: GatewayMetrics,
  res: HttpResponse,
  req: HttpRequest,
): string {
  const peer = Buffer.from(res.getRemoteAddressAsText()).toString();
  if (!trustedProxies.trusts(peer)) return peer;
  const forwarded: string[] = [];
  req.forEach((name, value) => {
    if (name === 'x-forwarded-for') forwarded.push(value);
  });
  const resolved = trustedProxies.resolve({
    peer,
    proxyProtocol: Buffer.from(res.getProxiedRemoteAddressAsText()).toString(),
    forwardedFor: forwarded.join(','),
  });
  if (resolved.malformed) metrics.forwardedAddressInvalid.inc();
  return resolved.address;
}
