import type { HttpResponse, TemplatedApp } from 'uWebSockets.js';
import type { Logger } from '@rtv/service-kit';

const FORWARDED = ['/api/v1/streaming/realtime/status', '/api/v1/streaming/realtime/health'] as const;

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
          return {
            status: 503,
            body: JSON.stringify({
              status: 'unavailable',
              error: { code: 'service_unavailable', message: 'The status service is unreachable' },
            }),
          };
        })
        .then(({ status, body }) => {
          if (aborted) return;
          res.cork(() => {
            res.writeStatus(statusLine(status)).writeHeader('content-type', 'application/json').end(body);
          });
        });
    });
  }
  app.any('/*', (res: HttpResponse) => {
    res
      .writeStatus('404 Not Found')
      .writeHeader('content-type', 'application/json')
      .end('{"error":{"code":"not_found","message":"No such route"}}');
  });
}

function statusLine(status: number): string {
  const text: Record<number, string> = {
    200: 'OK',
    503: 'Service Unavailable',
    500: 'Internal Server Error',
  };
  return `${status} ${text[status] ?? 'Status'}`;
}
