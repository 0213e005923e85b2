import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';

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

/** Where `rtv_build_info` takes its version from. */
export interface BuildInfoSource {
  /**
   * The service's own package.json (`new URL('../package.json', import.meta.url)` from `src/app.ts`, which is
   * also right from `dist/app.js`): its `version` is reported unless `RTV_VERSION` is set.
   */
  packageJson?: URL;
  /** Environment to read `RTV_VERSION` from; the process's by default (tests pass their own). */
  env?: NodeJS.ProcessEnv;
}

/** Reported when neither `RTV_VERSION` nor a readable package.json gives a version. */
export const UNKNOWN_VERSION = 'unknown';

/**
 * The version a process reports: `RTV_VERSION` (set by the image build or the deployment, e.g. a git tag or
 * commit) wins over the package.json version, which does not change between commits.
 */
export function buildVersion(source: BuildInfoSource = {}): string {
  const fromEnv = (source.env ?? process.env).RTV_VERSION?.trim();
  if (fromEnv) return fromEnv;
  if (!source.packageJson) return UNKNOWN_VERSION;
  try {
    const version = (JSON.parse(readFileSync(source.packageJson, 'utf8')) as { version?: unknown }).version;
    return typeof version === 'string' && version !== '' ? version : UNKNOWN_VERSION;
  } catch {
    // A build info metric must never stop a service from starting.
    return UNKNOWN_VERSION;
  }
}

/**
 * A registry with the default process metrics and `rtv_build_info`, injected into every component instead of
 * a global. `constLabels` (the services pass `rtv_service`) go on every series. `rtv_build_info` is always 1;
 * its `version` label changes with a deploy, which is what the dashboard's deploy annotations look for.
 */
export function createRegistry(
  constLabels: Record<string, string> = {},
  build: BuildInfoSource = {},
): Registry {
  const registry = new Registry();
  registry.setDefaultLabels(constLabels);
  collectDefaultMetrics({ register: registry });
  new Gauge({
    name: 'rtv_build_info',
    help: 'Always 1; labels say which build runs: version (RTV_VERSION or the service package.json) and node_version',
    labelNames: ['version', 'node_version'],
    registers: [registry],
  }).set({ version: buildVersion(build), node_version: process.version }, 1);
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
