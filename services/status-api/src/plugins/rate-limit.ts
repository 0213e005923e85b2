import { RequestRateLimiter, type TrustedProxies } from '@rtv/auth';
import { httpError } from '@rtv/protocol';
import type { FastifyInstance, FastifyRequest } from 'fastify';

const TOO_MANY_REQUESTS = httpError('rate_limited', 'Too many requests, slow down');

export interface PublicRateLimitOptions {
  /** Requests per second per client address (`RTV_STATUS_RATE_PER_S`); bursts of twice that. */
  ratePerS: number;
  /** Proxies whose `X-Forwarded-For` names the client (`RTV_TRUSTED_PROXIES`), as at the gateway. */
  trustedProxies: TrustedProxies;
  /** Route URLs (as registered) that are limited; the probes, `/metrics` and the rest are not. */
  paths: readonly string[];
}

/**
 * A token bucket per client address in front of the public routes (the seed's status and health): they are
 * cheap but unauthenticated, so without it one client could keep the process and its Redis reads busy. The
 * kubelet's probes use `/healthz` and `/readyz`, which are not limited, so a probe storm cannot turn a pod
 * unready. Refusals are 429 with the error table's `rate_limited` body and `retry-after`. Installed on the
 * root instance before the routes, so the hook sees them all.
 */
export function limitPublicRoutes(app: FastifyInstance, opts: PublicRateLimitOptions): void {
  const limiter = new RequestRateLimiter({ ratePerS: opts.ratePerS });
  const limited = new Set(opts.paths);
  app.addHook('onRequest', async (req, reply) => {
    if (!limited.has(req.routeOptions.url ?? '')) return;
    const verdict = limiter.take(clientAddress(req, opts.trustedProxies), Date.now());
    if (verdict.ok) return;
    reply.code(TOO_MANY_REQUESTS.status).header('retry-after', String(verdict.retryAfterS));
    return reply.send(TOO_MANY_REQUESTS.payload);
  });
}

/**
 * The socket's peer, or, from a trusted proxy, the rightmost untrusted `X-Forwarded-For` hop (the algorithm
 * the gateway uses; node joins repeated headers with commas). The status API has no PROXY protocol.
 */
function clientAddress(req: FastifyRequest, trusted: TrustedProxies): string {
  const peer = req.socket.remoteAddress ?? '';
  if (!trusted.trusts(peer)) return peer;
  const header = req.headers['x-forwarded-for'];
  const forwardedFor = Array.isArray(header) ? header.join(',') : header;
  return trusted.resolve({ peer, forwardedFor }).address;
}
