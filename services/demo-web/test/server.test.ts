// The demo server with the real page bundle: what it serves, its security headers, its probes.
import { createLogger } from '@rtv/service-kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Asset, buildDemoAssets } from '../src/build.js';
import { loadDemoConfig } from '../src/config.js';
import { type DemoServer, startDemoServer } from '../src/server.js';

let assets: Map<string, Asset>;
let server: DemoServer;
const base = () => `http://127.0.0.1:${server.port}`;

beforeAll(async () => {
  assets = await buildDemoAssets();
  server = await startDemoServer({
    host: '127.0.0.1',
    port: 0,
    gatewayUrl: 'ws://gateway.test:8000/api/v1/streaming/realtime?x=</script><script>alert(1)</script>',
    assets,
    log: createLogger('demo-web-test', 'silent'),
  });
}, 60_000);
afterAll(async () => {
  await server?.close();
});

describe('demo page server', () => {
  it('serves the page with a strict content security policy', async () => {
    const res = await fetch(`${base()}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self' blob:");
    expect(csp).not.toContain('unsafe-eval');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    const html = await res.text();
    expect(html).toContain('<script src="/config.js"></script>');
    expect(html).toContain('<script type="module" src="/app.js"></script>');
  });

  it('bundles the page without the protocol validators (no eval under the CSP) and minified', async () => {
    const res = await fetch(`${base()}/app.js`);
    expect(res.status).toBe(200);
    const js = await res.text();
    expect(js).toContain('rtv-capture');
    expect(js).toContain('rtv.v1');
    expect(js).not.toMatch(/TypeCompiler|new Function|Function\(/);
    // React and the page, minified: well under half a megabyte.
    expect(js.length).toBeLessThan(400_000);
    expect((await fetch(`${base()}/app.js.map`)).status).toBe(200);
  });

  it('serves the OpenAI SDK mode at /openai: the same page with its own bundle, which carries the SDK', async () => {
    const res = await fetch(`${base()}/openai`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self' blob:");
    const html = await res.text();
    expect(html).toContain('<title>realtime-voice demo · OpenAI SDK mode</title>');
    expect(html).toContain('<script src="/config.js"></script>');
    expect(html).toContain('<script type="module" src="/openai-sdk.js"></script>');
    expect(html).not.toContain('/app.js');
    expect(await (await fetch(`${base()}/openai.html`)).text()).toBe(html);

    const js = await (await fetch(`${base()}/openai-sdk.js`)).text();
    // The Agents SDK's browser build (subprotocol auth), the page's audio player, the demo's tool.
    expect(js).toContain('openai-insecure-api-key.');
    expect(js).toContain('rtv-playback');
    expect(js).toContain('get_time');
    expect((await fetch(`${base()}/openai-sdk.js.map`)).status).toBe(200);
    // The main page does not carry the SDK.
    const app = await (await fetch(`${base()}/app.js`)).text();
    expect(app).not.toContain('openai-insecure-api-key.');
  });

  it('injects the gateway URL as data that cannot break out of its script', async () => {
    const js = await (await fetch(`${base()}/config.js`)).text();
    expect(js).not.toContain('</script>');
    const window: { __RTV_DEMO__?: { gatewayUrl: string } } = {};
    new Function('window', js)(window);
    expect(window.__RTV_DEMO__?.gatewayUrl).toBe(
      'ws://gateway.test:8000/api/v1/streaming/realtime?x=</script><script>alert(1)</script>',
    );
  });

  it('answers probes, HEAD, unknown paths and other methods', async () => {
    expect((await fetch(`${base()}/healthz`)).status).toBe(200);
    expect(await (await fetch(`${base()}/readyz`)).json()).toEqual({ status: 'ok' });
    const head = await fetch(`${base()}/app.js`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(Number(head.headers.get('content-length'))).toBe(assets.get('/app.js')!.body.length);
    expect((await fetch(`${base()}/nope`)).status).toBe(404);
    expect((await fetch(`${base()}/`, { method: 'POST' })).status).toBe(405);
  });
});

describe('demo configuration', () => {
  it('defaults to port 8080 and the local gateway, and insists on a ws/wss gateway URL', () => {
    const config = loadDemoConfig({});
    expect(config.RTV_DEMO_PORT).toBe(8080);
    expect(config.RTV_DEMO_GATEWAY_URL).toBe('ws://localhost:8000/api/v1/streaming/realtime');
    expect(() => loadDemoConfig({ RTV_DEMO_GATEWAY_URL: 'http://localhost:8000' })).toThrow(
      /RTV_DEMO_GATEWAY_URL.*scheme must be one of ws, wss/,
    );
    expect(() => loadDemoConfig({ RTV_DEMO_PORT: '70000' })).toThrow(/RTV_DEMO_PORT/);
  });
});
