import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '@rtv/service-kit';
import type { Asset } from './build.js';

export interface DemoServerOptions {
  host: string;
  port: number;
  /** Realtime endpoint the page connects to, without the user id. */
  gatewayUrl: string;
  assets: Map<string, Asset>;
  log: Logger;
}

export interface DemoServer {
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

/**
 * The page's policy: scripts only from this origin (and the Blob the audio worklets load from), no eval,
 * sockets to any ws/wss endpoint (the gateway is usually on another port or host). Inline styles are
 * allowed because React hoists the component's stylesheet as a <style> element.
 */
const CSP = [
  "default-src 'self'",
  "script-src 'self' blob:",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  'connect-src ws: wss:',
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'none'",
].join('; ');

const COMMON_HEADERS = {
  'content-security-policy': CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'permissions-policy': 'microphone=(self), camera=(), geolocation=()',
  'cache-control': 'no-cache',
};

/**
 * Serves the demo pages (`/` and the OpenAI SDK mode's `/openai`), their bundles, `/config.js`, and the
 * `/healthz` and `/readyz` probes.
 */
export async function startDemoServer(options: DemoServerOptions): Promise<DemoServer> {
  let closing = false;
  // JSON in a script: `<` is escaped so a crafted URL cannot close the script element.
  const configJs = Buffer.from(
    `window.__RTV_DEMO__ = ${JSON.stringify({ gatewayUrl: options.gatewayUrl }).replace(/</g, '\\u003c')};\n`,
  );
  const routes = new Map<string, Asset>(options.assets);
  routes.set('/', options.assets.get('/index.html')!);
  // The OpenAI SDK mode's page, at a path without the extension (the pages link to it there).
  const openAiPage = options.assets.get('/openai.html');
  if (openAiPage) routes.set('/openai', openAiPage);
  routes.set('/config.js', { body: configJs, contentType: 'text/javascript; charset=utf-8' });

  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://demo').pathname;
    if (path === '/healthz' || path === '/readyz') {
      const ready = path === '/healthz' || !closing;
      res.writeHead(ready ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify({ status: ready ? 'ok' : 'draining' }));
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    const asset = routes.get(path);
    if (asset === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    res.writeHead(200, {
      ...COMMON_HEADERS,
      'content-type': asset.contentType,
      'content-length': asset.body.length,
    });
    res.end(req.method === 'HEAD' ? undefined : asset.body);
  });
  // Idle keep-alive sockets must not hold shutdown for the default five seconds.
  server.keepAliveTimeout = 2000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const shownHost = options.host === '0.0.0.0' || options.host === '::' ? 'localhost' : options.host;
  const url = `http://${shownHost}:${port}/`;
  options.log.info({ port, gatewayUrl: options.gatewayUrl }, 'demo page server listening');
  return {
    port,
    url,
    close: async () => {
      closing = true;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
    },
  };
}
