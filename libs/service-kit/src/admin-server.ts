import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, Registry } from 'prom-client';

export interface AdminServerOptions {
  /**
   * Interface to bind (`RTV_ADMIN_HOST`); loopback when absent. A container sets `0.0.0.0` so Prometheus and
   * the kubelet's probes reach the port from outside the pod.
   */
  host?: string;
  /** 0 picks a free port (tests). */
  port: number;
  registry: Registry;
  /** `/readyz` answers 200 only while this returns true (false while draining or when Redis is away). */
  ready: () => boolean;
  /** Optional detail included in `/readyz` and `/healthz` bodies. */
  details?: () => Record<string, unknown>;
}

export interface AdminServer {
  /** The address bound (the given host, or loopback). */
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

/** A registry with the default process metrics, injected into every component instead of a global. */
export function createRegistry(constLabels: Record<string, string> = {}): Registry {
  const registry = new Registry();
  registry.setDefaultLabels(constLabels);
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** `/metrics`, `/healthz` (alive) and `/readyz` (ready to take work) on the admin port (DESIGN §7). */
export async function startAdminServer(opts: AdminServerOptions): Promise<AdminServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/metrics') {
      opts.registry.metrics().then(
        (body) => res.writeHead(200, { 'content-type': opts.registry.contentType }).end(body),
        () => res.writeHead(500).end(),
      );
      return;
    }
    if (path === '/healthz' || path === '/readyz') {
      const ok = path === '/healthz' || opts.ready();
      const body = JSON.stringify({ status: ok ? 'ok' : 'unavailable', ...opts.details?.() });
      res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' }).end(body);
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not_found"}');
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    host: address.address,
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
