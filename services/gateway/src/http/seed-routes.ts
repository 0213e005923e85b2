import type { HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { RequestRateLimiter, type TrustedProxies } from '@rtv/auth';
import { httpError, httpStatusLine } from '@rtv/protocol';
import type { Logger } from '@rtv/service-kit';
import type { GatewayMetrics } from '../metrics.js';
import { resolveClientAddress } from './client-address.js';

const FORWARDED = ['/api/v1/streaming/realtime/status', '/api/v1/streaming/realtime/health'] as const;

/** Answered for the status API when it cannot be reached: `status` and `error` as in its own Redis-down reply. */
const STATUS_API_UNREACHABLE = httpError('service_unavailable', 'The status service is unreachable');
const UNAVAILABLE_BODY = JSON.stringify({ status: 'unavailable', ...STATUS_API_UNREACHABLE.payload });
const NO_SUCH_ROUTE = httpError('not_found');
const TOO_MANY_REQUESTS = httpError('rate_limited', 'Too many requests, slow down');

/** Who may ask how often, for the forwarded seed routes. */
export interface SeedRouteLimits {
  /** Requests per second per client address (`RTV_STATUS_RATE_PER_S`), bursts of twice that. */
  ratePerS: number;
  /** The same trusted proxies as the upgrade: the client address is resolved the same way. */
  trustedProxies: TrustedProxies;
  metrics: GatewayMetrics;
}

/**
 * The seed's HTTP endpoints answer on the gateway's port too, so `localhost:8000` serves the whole seed API.
 * They are owned by the status API; the gateway forwards the GET and relays status and body. Each client
 * address gets a token bucket first (the status API keeps its own, but it sees every forwarded request
 * coming from the gateway), and the forwarded request names the client in `X-Forwarded-For`, which the
 * status API believes when the gateway is in its `RTV_TRUSTED_PROXIES`.
 */
export function registerSeedRoutes(
  app: TemplatedApp,
  statusUrl: string,
  log: Logger,
  limits: SeedRouteLimits,
  timeoutMs = 3000,
): void {
  const requests = new RequestRateLimiter({ ratePerS: limits.ratePerS });
  for (const path of FORWARDED) {
    app.get(path, (res, req) => {
      const client = resolveClientAddress(limits.trustedProxies, limits.metrics, res, req);
      const verdict = requests.take(client, Date.now());
      if (!verdict.ok) {
        limits.metrics.limitRejections.inc({ kind: 'status_requests_per_ip' });
        res
          .writeStatus(TOO_MANY_REQUESTS.statusLine)
          .writeHeader('content-type', 'application/json')
          .writeHeader('retry-after', String(verdict.retryAfterS))
          .end(TOO_MANY_REQUESTS.body);
        return;
      }
      forward(res, new URL(path, statusUrl), client, log, timeoutMs);
    });
  }
  app.any('/*', (res: HttpResponse) => {
    res
      .writeStatus(NO_SUCH_ROUTE.statusLine)
      .writeHeader('content-type', 'application/json')
      .end(NO_SUCH_ROUTE.body);
  });
}

/** GETs `url` from the status API for `client` and relays status and body (503 when it cannot be reached). */
function forward(res: HttpResponse, url: URL, client: string, log: Logger, timeoutMs: number): void {
  let aborted = false;
  res.onAborted(() => {
    aborted = true;
  });
  fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { 'x-forwarded-for': client } })
    .then(async (upstream) => ({ status: upstream.status, body: await upstream.text() }))
    .catch((err: Error) => {
      log.warn({ err: err.message }, 'status API unreachable');
      return { status: STATUS_API_UNREACHABLE.status, body: UNAVAILABLE_BODY };
    })
    .then(({ status, body }) => {
      if (aborted) return;
      res.cork(() => {
        res.writeStatus(httpStatusLine(status)).writeHeader('content-type', 'application/json').end(body);
      });
    });
}
