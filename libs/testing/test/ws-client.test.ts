import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type WebSocket, WebSocketServer } from 'ws';
import { WsTestClient } from '../src/index.js';

let server: WebSocketServer;
let url: string;
let upgrades: { headers: Record<string, string | string[] | undefined>; protocol: string | undefined }[];
let sockets: WebSocket[];

beforeEach(async () => {
  upgrades = [];
  sockets = [];
  server = new WebSocketServer({
    port: 0,
    host: '127.0.0.1',
    handleProtocols: (protocols) => (protocols.has('rtv.v1') ? 'rtv.v1' : false),
    verifyClient: (info, done) => {
      if (info.req.url === '/forbidden') done(false, 403);
      else done(true);
    },
  });
  server.on('connection', (ws, req) => {
    sockets.push(ws);
    upgrades.push({ headers: req.headers, protocol: ws.protocol || undefined });
    ws.on('message', (data, isBinary) => {
      if (isBinary) return ws.send(data, { binary: true });
      const text = data.toString();
      if (text === 'close-me') return ws.close(4000, 'asked to');
      for (let i = 1; i <= 3; i++) ws.send(JSON.stringify({ type: 'echo', n: i, text }));
      ws.send('not json');
    });
  });
  await new Promise((resolve) => server.once('listening', resolve));
  url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(async () => {
  for (const ws of sockets) ws.terminate();
  await new Promise((resolve) => server.close(resolve));
});

describe('WsTestClient', () => {
  it('connects with headers and subprotocols', async () => {
    const client = await WsTestClient.connect(`${url}/x`, {
      headers: { authorization: 'Bearer t0k' },
      protocols: ['rtv.v1'],
    });
    expect(client.protocol).toBe('rtv.v1');
    expect(upgrades[0]?.headers.authorization).toBe('Bearer t0k');
    await client.close();
  });

  it('next() walks forward through messages, skipping non-matching ones, and all() keeps everything', async () => {
    const client = await WsTestClient.connect(url);
    client.send({ hello: 1 });
    const second = await client.next<{ n: number }>((m) => (m as { n?: number }).n === 2);
    expect(second.n).toBe(2);
    // The skipped n=1 is behind the cursor now; the next echo is n=3.
    expect(await client.nextOfType<{ n: number }>('echo')).toMatchObject({ n: 3 });
    expect(await client.next()).toBe('not json');
    expect(client.all()).toHaveLength(4);
    expect(client.all()[0]).toEqual({ type: 'echo', n: 1, text: '{"hello":1}' });
    client.send(Buffer.from([1, 2, 3]));
    expect(await client.next((m) => Buffer.isBuffer(m))).toEqual(Buffer.from([1, 2, 3]));
    await client.close();
  });

  it('rejects next() on timeout listing what arrived, and when the socket closes', async () => {
    const client = await WsTestClient.connect(url);
    client.send('x');
    await expect(client.nextOfType('never', 200)).rejects.toThrow(
      /within 200 ms; last received: echo, echo, echo/,
    );
    const pending = client.nextOfType('never', 5000);
    client.send('close-me');
    await expect(pending).rejects.toThrow(/socket closed \(4000 asked to\)/);
    expect(await client.closed).toEqual({ code: 4000, reason: 'asked to' });
    await expect(client.next()).rejects.toThrow(/already closed/);
  });

  it('reports a refused upgrade with its HTTP status', async () => {
    await expect(WsTestClient.connect(`${url}/forbidden`)).rejects.toThrow(/refused: HTTP 403/);
  });
});
