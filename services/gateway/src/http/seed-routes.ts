import type { HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { httpError, httpStatusLine } from '@rtv/protocol';
import type { Logger } from '@rtv/service-kit';

const FORWARDED = ['/api/v1/streaming/realtime/status', '/api/v1/streaming/realtime/health'] as const;

/** Answered for the status API when it cannot be reached: `status` and `error` as in its own Redis-down reply. */
const STATUS_API_UNREACHABLE = httpError('service_unavailable', 'The status service is unreachable');
const UNAVAILABLE_BODY = JSON.stringify({ status: 'unavailable', ...STATUS_API_UNREACHABLE.payload });
const NO_SUCH_ROUTE = httpError('not_found');

/**
 * The seed's HTTP endpoints answer on the gateway's port too, so `localhost:8000` serves the whole seed API.
 * They are owned by the status API; the gateway forwards the GET and relays status and body.
 */
export function registerSeedRoutes(
  app: TemplatedApp,
  statusUrl: string,
  log: Logger,
  timeoutMs = 3000,
): void {
  for (const path of FORWARDED) {
    app.get(path, (res) => {
      let aborted = false;
      res.onAborted(() => {
        aborted = true;
      });
      fetch(new URL(path, statusUrl), { signal: AbortSignal.timeout(timeoutMs) })
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
    });
  }
  app.any('/*', (res: HttpResponse) => {
    res
      .writeStatus(NO_SUCH_ROUTE.statusLine)
      .writeHeader('content-type', 'application/json')
      .end(NO_SUCH_ROUTE.body);
  });
}
