import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { HandshakeInfo, LocalEngine } from '../src/index.js';
import { askText, engine, RealtimeTestClient, responseOf } from './helpers.js';

const KEY = 'sk-test-0123456789abcd';

/** Opens `url` with the given headers/protocols (the helpers' connect() only targets engine.url). */
async function open(
  url: string,
  opts: { headers?: Record<string, string>; protocols?: string[] } = {},
): Promise<RealtimeTestClient> {
  const ws = new WebSocket(url, opts.protocols ?? [], { headers: opts.headers ?? {} });
  const client = new RealtimeTestClient(ws);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return client;
}

function handshakes(e: LocalEngine): [string, HandshakeInfo][] {
  const seen: [string, HandshakeInfo][] = [];
  e.events.on('handshake', (id: string, info: HandshakeInfo) => seen.push([id, info]));
  return seen;
}

describe('Azure OpenAI GA form', () => {
  it('serves /openai/v1/realtime with the api-key header and the deployment name as model', async () => {
    const e = await engine({ apiKey: KEY });
    expect(e.azureUrl).toBe(e.url.replace('/v1/realtime', '/openai/v1/realtime'));
    const client = await open(`${e.azureUrl}?model=my-realtime-prod`, { headers: { 'api-key': KEY } });
    try {
      const created = await client.next();
      expect(created).toMatchObject({
        type: 'session.created',
        session: { type: 'realtime', object: 'realtime.session', model: 'my-realtime-prod' },
      });
      askText(client, 'Hello');
      expect(responseOf(await client.next('response.done')).status).toBe('completed');
    } finally {
      client.ws.terminate();
    }
  });

  it('accepts api-key on the OpenAI path and Bearer on the Azure path, and refuses a wrong api-key', async () => {
    const e = await engine({ apiKey: KEY });
    const a = await open(`${e.url}?model=gpt-realtime`, { headers: { 'api-key': KEY } });
    const b = await open(`${e.azureUrl}?model=gpt-realtime`, { headers: { Authorization: `Bearer ${KEY}` } });
    const c = await open(`${e.azureUrl}?model=dep1`, { headers: { 'api-key': 'wrong-key-000000' } });
    try {
      expect((await a.next()).type).toBe('session.created');
      expect((await b.next()).type).toBe('session.created');
      expect((await c.next()).error).toMatchObject({ code: 'invalid_api_key' });
      expect(await c.closed).toEqual({ code: 3000, reason: 'invalid_request_error.invalid_api_key' });
    } finally {
      for (const x of [a, b, c]) x.ws.terminate();
    }
  });

  it('maps any well-formed deployment name to GA, refuses malformed ones and the beta shape', async () => {
    const e = await engine();
    // A deployment may be named after anything, even a retired model id: Azure maps it to its deployment.
    const named = await open(`${e.azureUrl}?model=gpt-4o-realtime-preview`);
    const bad = await open(`${e.azureUrl}?model=${encodeURIComponent('no spaces allowed')}`);
    const missing = await open(e.azureUrl);
    const beta = await open(`${e.azureUrl}?model=dep`, { headers: { 'OpenAI-Beta': 'realtime=v1' } });
    try {
      expect((await named.next()).session).toMatchObject({
        type: 'realtime',
        model: 'gpt-4o-realtime-preview',
      });
      expect((await bad.next()).error).toMatchObject({ code: 'invalid_model' });
      expect((await bad.closed).code).toBe(4000);
      expect((await missing.next()).error).toMatchObject({ code: 'missing_model' });
      expect((await beta.next()).error).toMatchObject({ code: 'beta_api_shape_disabled' });
    } finally {
      for (const x of [named, bad, missing, beta]) x.ws.terminate();
    }
  });

  it('answers plain HTTP on the Azure path with 426 and other paths with 404', async () => {
    const e = await engine();
    const base = e.url.replace('ws://', 'http://').replace('/v1/realtime', '');
    expect((await fetch(`${base}/openai/v1/realtime`)).status).toBe(426);
    expect((await fetch(`${base}/openai/realtime`)).status).toBe(404);
  });
});

describe("'handshake' report", () => {
  it('reports path, model and which credentials were sent, never the key itself', async () => {
    const e = await engine({ apiKey: KEY });
    const seen = handshakes(e);
    const bearer = await open(`${e.url}?model=gpt-realtime`, { headers: { Authorization: `Bearer ${KEY}` } });
    const azure = await open(`${e.azureUrl}?model=dep-eu`, { headers: { 'api-key': KEY } });
    const browser = await open(`${e.url}?model=gpt-realtime`, {
      protocols: ['realtime', `openai-insecure-api-key.${KEY}`],
    });
    const anonymous = await open(`${e.url}?model=gpt-realtime`);
    try {
      const created = await bearer.next('session.created');
      await azure.next('session.created');
      await browser.next('session.created');
      await anonymous.closed;
      expect(seen).toHaveLength(4);
      expect(seen[0]![0]).toBe((created.session as { id: string }).id);
      expect(seen.map(([, info]) => info)).toEqual([
        {
          path: '/v1/realtime',
          flavor: 'openai',
          model: 'gpt-realtime',
          shape: 'ga',
          headers: { authorization: true, 'api-key': false, 'openai-beta': false },
          subprotocols: [],
          auth: 'bearer',
          keyLast4: 'abcd',
          refused: null,
        },
        {
          path: '/openai/v1/realtime',
          flavor: 'azure',
          model: 'dep-eu',
          shape: 'ga',
          headers: { authorization: false, 'api-key': true, 'openai-beta': false },
          subprotocols: [],
          auth: 'api-key',
          keyLast4: 'abcd',
          refused: null,
        },
        {
          path: '/v1/realtime',
          flavor: 'openai',
          model: 'gpt-realtime',
          shape: 'ga',
          headers: { authorization: false, 'api-key': false, 'openai-beta': false },
          subprotocols: ['realtime', 'openai-insecure-api-key.<redacted>'],
          auth: 'subprotocol',
          keyLast4: 'abcd',
          refused: null,
        },
        {
          path: '/v1/realtime',
          flavor: 'openai',
          model: 'gpt-realtime',
          shape: 'ga',
          headers: { authorization: false, 'api-key': false, 'openai-beta': false },
          subprotocols: [],
          auth: null,
          keyLast4: null,
          refused: 'invalid_api_key',
        },
      ]);
      expect(JSON.stringify(seen)).not.toContain(KEY);
    } finally {
      for (const x of [bearer, azure, browser, anonymous]) x.ws.terminate();
    }
  });

  it('does not reveal short keys at all', async () => {
    const e = await engine();
    const seen = handshakes(e);
    const client = await open(`${e.url}?model=gpt-4o-realtime-preview-2024-10-01`, {
      headers: { Authorization: 'Bearer sk-short', 'OpenAI-Beta': 'realtime=v1' },
    });
    await client.closed;
    expect(seen[0]![1]).toMatchObject({
      shape: 'beta',
      headers: { authorization: true, 'openai-beta': true },
      keyLast4: null,
      refused: 'beta_api_shape_disabled',
    });
  });
});

describe('handshakeDelayMs', () => {
  it('waits before session.created and handles events sent meanwhile afterwards, in order', async () => {
    const e = await engine({ handshakeDelayMs: 300 });
    const started = performance.now();
    const client = await open(`${e.url}?model=gpt-realtime`);
    try {
      const opened = performance.now();
      client.send({ type: 'session.update', session: { type: 'realtime', instructions: 'Be brief.' } });
      client.send({ type: 'nope' });
      expect(e.connections()).toBe(0);
      const created = await client.next();
      const waited = performance.now() - started;
      expect(created.type).toBe('session.created');
      expect(waited).toBeGreaterThanOrEqual(290);
      expect(opened - started).toBeLessThan(waited);
      expect((await client.next()).type).toBe('session.updated');
      expect((await client.next()).error).toMatchObject({ code: 'invalid_value', param: 'type' });
      expect(e.connections()).toBe(1);
    } finally {
      client.ws.terminate();
    }
  });

  it('delays refusals too, and forgets a socket that closes while waiting', async () => {
    const e = await engine({ handshakeDelayMs: 200 });
    const started = performance.now();
    const refused = await open(`${e.url}?model=gpt-nope`);
    expect((await refused.next()).error).toMatchObject({ code: 'invalid_model' });
    expect(performance.now() - started).toBeGreaterThanOrEqual(190);
    const connections: string[] = [];
    e.events.on('connection', (id: string) => connections.push(id));
    const quitter = await open(`${e.url}?model=gpt-realtime`);
    quitter.ws.close(1000);
    await quitter.closed;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(connections).toEqual([]);
    expect(e.connections()).toBe(0);
  });

  it('is 0 by default: session.created follows the upgrade at once', async () => {
    const e = await engine();
    const started = performance.now();
    const client = await open(`${e.url}?model=gpt-realtime`);
    try {
      expect((await client.next()).type).toBe('session.created');
      expect(performance.now() - started).toBeLessThan(250);
    } finally {
      client.ws.terminate();
    }
  });
});
