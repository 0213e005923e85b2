// Connection limits that hold, also behind an L7 proxy, at running gateways: open connections per address and
// per gateway (released exactly once: on close, after a 4429 refusal, and when the client aborts an upgrade
// that waits on token verification), a failed-upgrade budget apart from the good-connection budget, client
// addresses from X-Forwarded-For and PROXY protocol v2 only when the peer is a trusted proxy, and the public
// status and health routes rate limited per client address.
import { createServer, type Server } from 'node:http';
import net from 'node:net';
import { TrustedProxies } from '@rtv/auth';
import { createLogger } from '@rtv/service-kit';
import {
  createTestRedis,
  type RawUpgradeReply,
  rawUpgrade,
  type TestRedis,
  WsTestClient,
  waitFor,
} from '@rtv/testing';
import type { FastifyInstance } from 'fastify';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { buildStatusApi } from '../../services/status-api/src/app.js';
import { type Stack, startStack, TEST_JWT_SECRET } from '../e2e/helpers/stack.js';

const REALTIME = '/api/v1/streaming/realtime';
const ISSUER = 'https://id.example.com';
const AUDIENCE = 'realtime-voice';

async function goodToken(sub: string): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setExpirationTime('5m')
    .sign(new TextEncoder().encode(TEST_JWT_SECRET));
}

/** A PROXY protocol v2 header (PROXY command, TCP over IPv4) naming `source` as the client. */
function proxyV2Header(source: string): Buffer {
  const signature = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
  const src = source.split('.').map(Number);
  const addresses = Buffer.from([...src, 127, 0, 0, 1, 0x30, 0x39, 0x1f, 0x40]);
  return Buffer.concat([signature, Buffer.from([0x21, 0x11, 0x00, addresses.length]), addresses]);
}

/** {@link rawUpgrade} on the realtime route unless told otherwise, with a PROXY v2 header naming `proxyV2`. */
function upgradeAt(
  port: number,
  opts: { path?: string; headers?: Record<string, string>; proxyV2?: string; localAddress?: string } = {},
): Promise<RawUpgradeReply> {
  return rawUpgrade(port, {
    path: opts.path ?? REALTIME,
    headers: opts.headers,
    preamble: opts.proxyV2 ? proxyV2Header(opts.proxyV2) : undefined,
    localAddress: opts.localAddress,
  });
}

/** An open anonymous-route socket bound to `localAddress` (any 127.x.y.z on Linux), or the refusal status. */
function connectFrom(url: string, localAddress: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { localAddress });
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => {
      reject(new Error(`HTTP ${res.statusCode}`));
      ws.terminate();
    });
    ws.once('error', reject);
  });
}

/** The value of a gateway metric with these labels (its constant labels aside), 0 when not yet counted. */
async function metricValue(
  adminPort: number,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const line = text
    .split('\n')
    .find(
      (l) => (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) && wanted.every((w) => l.includes(w)),
    );
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

/** Opens sockets on the anonymous route for `users`, all or none (a refusal closes those already open). */
async function openAll(
  stack: Stack,
  users: string[],
  headers: (i: number) => Record<string, string> = () => ({}),
): Promise<WsTestClient[]> {
  const opened: WsTestClient[] = [];
  try {
    for (const [i, user] of users.entries()) {
      opened.push(await WsTestClient.connect(stack.wsUrl(user), { headers: headers(i) }));
    }
    return opened;
  } catch (err) {
    await Promise.all(opened.map((ws) => ws.close()));
    throw err;
  }
}

const refusal = (body: string) => (JSON.parse(body) as { error: { code: string } }).error.code;

describe('open connections per address and per gateway', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      gatewayEnv: { RTV_MAX_CONNECTIONS_PER_IP: '3', RTV_MAX_CONNECTIONS_PER_GATEWAY: '5' },
    });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('one address cannot take the whole gateway: its 4th socket gets 429, others get in, a close frees a slot, the gateway cap answers 503', async () => {
    const port = stack.gateways[0]!.port;
    const adminPort = stack.gateways[0]!.adminPort;
    const mine: WsTestClient[] = [];
    for (let i = 0; i < 3; i++) {
      const ws = await WsTestClient.connect(stack.wsUrl(`hog-${i}`));
      await ws.nextOfType('session.created');
      mine.push(ws);
    }
    const over = await upgradeAt(port, { path: `${REALTIME}/hog-3` });
    expect(over.status).toBe(429);
    expect(refusal(over.body)).toBe('rate_limited');
    expect(over.headers['retry-after']).toBeDefined();
    await expect(WsTestClient.connect(stack.wsUrl('hog-4'))).rejects.toThrow(/HTTP 429/);

    // Another address is not affected by the first one's count.
    const neighbour = await connectFrom(stack.wsUrl('neighbour'), '127.0.0.2');

    // Closing one of the first address's sockets gives its slot back.
    await mine.shift()!.close();
    const again = await waitFor(() => WsTestClient.connect(stack.wsUrl('hog-again')), {
      message: 'a slot for 127.0.0.1 after a close',
    });
    mine.push(again);

    // 3 + 1 open; a fifth from a third address fills the gateway, the sixth is refused with 503.
    const fifth = await connectFrom(stack.wsUrl('fifth'), '127.0.0.3');
    const full = await upgradeAt(port, { path: `${REALTIME}/sixth`, localAddress: '127.0.0.4' });
    expect(full.status).toBe(503);
    expect(refusal(full.body)).toBe('service_unavailable');

    expect(
      await metricValue(adminPort, 'rtv_gateway_limit_rejections_total', { kind: 'connections_per_ip' }),
    ).toBeGreaterThanOrEqual(2);
    expect(
      await metricValue(adminPort, 'rtv_gateway_limit_rejections_total', { kind: 'connections_per_gateway' }),
    ).toBe(1);
    neighbour.close();
    fifth.close();
    await Promise.all(mine.map((ws) => ws.close()));
  });
});

describe('open-connection slots are released exactly once', () => {
  let stack: Stack;
  let jwks: Server;
  const heldJwks: (() => void)[] = [];
  const jwksRequests: number[] = [];
  let signingKey: CryptoKey;

  beforeAll(async () => {
    const pair = await generateKeyPair('ES256');
    signingKey = pair.privateKey as CryptoKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    // A key set that answers only when the test lets it: verification waits as long as the test wants.
    jwks = createServer((_req, res) => {
      jwksRequests.push(Date.now());
      heldJwks.push(() => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ keys: [jwk] }));
      });
    });
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    const jwksPort = (jwks.address() as net.AddressInfo).port;
    stack = await startStack({
      gatewayEnv: {
        RTV_MAX_CONNECTIONS_PER_IP: '3',
        RTV_MAX_CONNECTIONS_PER_USER: '1',
        RTV_AUTH_JWKS_URL: `http://127.0.0.1:${jwksPort}/jwks`,
        RTV_AUTH_ISSUER: ISSUER,
        RTV_AUTH_AUDIENCE: AUDIENCE,
      },
    });
  });
  afterAll(async () => {
    for (const answer of heldJwks.splice(0)) answer();
    await stack?.stop();
    await new Promise((resolve) => jwks?.close(resolve));
  });

  it('a socket refused after the upgrade (4429) gives its slot back once, not never and not twice', async () => {
    const holder = await WsTestClient.connect(stack.wsUrl('dup'));
    await holder.nextOfType('session.created');
    for (let i = 0; i < 4; i++) {
      const refused = await WsTestClient.connect(stack.wsUrl('dup'));
      expect((await refused.closed).code).toBe(4429);
    }
    // Leaked slots would leave no room; released twice, a fourth socket would fit. Exactly two more fit.
    const a = await WsTestClient.connect(stack.wsUrl('after-a'));
    const b = await WsTestClient.connect(stack.wsUrl('after-b'));
    await expect(WsTestClient.connect(stack.wsUrl('after-c'))).rejects.toThrow(/HTTP 429/);
    await Promise.all([holder.close(), a.close(), b.close()]);
  });

  it('an upgrade the client aborts while its token is being verified gives its slot back', async () => {
    // Wait for the previous test's closes to free every slot.
    const probes = await waitFor(() => openAll(stack, ['probe-0', 'probe-1', 'probe-2']), {
      message: 'three free slots',
    });
    await Promise.all(probes.map((ws) => ws.close()));
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setSubject('aborter')
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setExpirationTime('5m')
      .sign(signingKey);
    // Three upgrades wait on the key set (each holds a slot), then their clients go away. The gateway asked for
    // the set at start; that request is still held, and the verifications wait on it.
    const sockets: net.Socket[] = [];
    for (let i = 0; i < 3; i++) {
      const socket = net.connect({ host: '127.0.0.1', port: stack.gateways[0]!.port });
      socket.on('error', () => undefined);
      socket.write(
        [
          `GET ${REALTIME} HTTP/1.1`,
          'Host: 127.0.0.1',
          'Upgrade: websocket',
          'Connection: Upgrade',
          'Sec-WebSocket-Version: 13',
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
          `Authorization: Bearer ${token}`,
          '',
          '',
        ].join('\r\n'),
      );
      sockets.push(socket);
    }
    await waitFor(() => jwksRequests.length > 0, { message: 'the key set asked for (held)' });
    await waitFor(
      async () => (await upgradeAt(stack.gateways[0]!.port, { path: `${REALTIME}/full` })).status === 429,
      { message: 'the waiting upgrades holding every slot' },
    );
    for (const socket of sockets) socket.destroy();
    // The key set is still not answering: the slots come back from the aborts, not from verification ending.
    const after = await waitFor(() => WsTestClient.connect(stack.wsUrl('after-abort')), {
      message: 'a slot after the aborted upgrades',
    });
    await after.nextOfType('session.created');
    expect(heldJwks.length).toBeGreaterThan(0);
    for (const answer of heldJwks.splice(0)) answer();
    await after.close();
  });
});

describe('junk upgrades behind a trusted proxy (X-Forwarded-For, PROXY protocol v2)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      gatewayEnv: {
        RTV_TRUSTED_PROXIES: '127.0.0.1/32',
        RTV_AUTH_ISSUER: ISSUER,
        RTV_AUTH_AUDIENCE: AUDIENCE,
        // The real default: before this change, 20 junk upgrades a second from the proxy locked everyone out.
        RTV_MAX_NEW_CONNECTIONS_PER_IP: '20',
        RTV_MAX_FAILED_UPGRADES_PER_IP: '10',
      },
    });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('50 junk upgrades from one client are refused, the rest of the clients behind the proxy still connect', async () => {
    const port = stack.gateways[0]!.port;
    const statuses: number[] = [];
    for (let i = 0; i < 50; i++) {
      const reply = await upgradeAt(port, {
        headers: { authorization: 'Bearer junk-token', 'x-forwarded-for': '203.0.113.7' },
      });
      statuses.push(reply.status);
    }
    // Its failed-upgrade budget, then refused before any verification.
    expect(statuses.filter((s) => s === 401)).toHaveLength(10);
    expect(statuses.filter((s) => s === 429)).toHaveLength(40);

    const good = await WsTestClient.connect(stack.wsUrl('').replace(/\/$/, ''), {
      headers: {
        authorization: `Bearer ${await goodToken('behind-proxy')}`,
        'x-forwarded-for': '198.51.100.9',
      },
    });
    await good.nextOfType('session.created');

    // The junk client cannot hide behind an address it writes itself: the proxy appends what it saw.
    const spoofed = await upgradeAt(port, {
      headers: {
        authorization: `Bearer ${await goodToken('spoofer')}`,
        'x-forwarded-for': '198.51.100.77, 203.0.113.7',
      },
    });
    expect(spoofed.status).toBe(429);
    expect(refusal(spoofed.body)).toBe('rate_limited');

    // A PROXY protocol v2 header from the trusted peer names the client the same way.
    const viaProxyProtocol = await upgradeAt(port, {
      proxyV2: '203.0.113.7',
      headers: { authorization: `Bearer ${await goodToken('via-proxy-protocol')}` },
    });
    expect(viaProxyProtocol.status).toBe(429);
    const otherViaProxyProtocol = await upgradeAt(port, {
      proxyV2: '198.51.100.10',
      headers: { authorization: `Bearer ${await goodToken('via-proxy-protocol')}` },
    });
    expect(otherViaProxyProtocol.status).toBe(101);

    const adminPort = stack.gateways[0]!.adminPort;
    expect(
      await metricValue(adminPort, 'rtv_gateway_limit_rejections_total', { kind: 'failed_upgrades_per_ip' }),
    ).toBeGreaterThanOrEqual(41);
    await good.close();
  });

  it('an unreadable X-Forwarded-For from the trusted proxy falls back to the peer and is counted', async () => {
    const adminPort = stack.gateways[0]!.adminPort;
    const series = 'rtv_gateway_forwarded_address_invalid_total';
    const before = await metricValue(adminPort, series);
    const ws = await WsTestClient.connect(stack.wsUrl('garbled'), {
      headers: { 'x-forwarded-for': 'unknown' },
    });
    await ws.nextOfType('session.created');
    expect(await metricValue(adminPort, series)).toBe(before + 1);
    await ws.close();
  });
});

describe('without a trusted proxy', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      gatewayEnv: {
        RTV_AUTH_ISSUER: ISSUER,
        RTV_AUTH_AUDIENCE: AUDIENCE,
        RTV_MAX_NEW_CONNECTIONS_PER_IP: '4',
        RTV_MAX_FAILED_UPGRADES_PER_IP: '100',
      },
    });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('junk from an address does not spend the new-connection budget its good clients use', async () => {
    const port = stack.gateways[0]!.port;
    for (let i = 0; i < 10; i++) {
      const reply = await upgradeAt(port, { headers: { authorization: 'Bearer junk-token' } });
      expect(reply.status).toBe(401);
    }
    for (let i = 0; i < 2; i++) {
      const reply = await upgradeAt(port, { path: `${REALTIME}/bad%20user` });
      expect(reply.status).toBe(400);
    }
    // Twelve refusals in well under a second, and the good budget (4 a second) is untouched.
    for (let i = 0; i < 4; i++) {
      const reply = await upgradeAt(port, { path: `${REALTIME}/good-${i}` });
      expect(reply.status).toBe(101);
    }
  });
});

describe('without a trusted proxy, forwarded addresses are ignored', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ gatewayEnv: { RTV_MAX_CONNECTIONS_PER_IP: '2' } });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it("an untrusted peer's X-Forwarded-For and PROXY protocol header change nothing: every socket counts for the peer", async () => {
    const port = stack.gateways[0]!.port;
    const opened = await openAll(stack, ['xff-1', 'xff-2'], (i) => ({
      'x-forwarded-for': `198.51.100.${i + 1}`,
    }));
    const third = await upgradeAt(port, {
      path: `${REALTIME}/xff-3`,
      headers: { 'x-forwarded-for': '198.51.100.3' },
    });
    expect(third.status).toBe(429);
    const proxied = await upgradeAt(port, { path: `${REALTIME}/pp`, proxyV2: '198.51.100.4' });
    expect(proxied.status).toBe(429);
    await Promise.all(opened.map((ws) => ws.close()));
  });
});

describe('public status and health routes', () => {
  let redis: TestRedis;
  let status: FastifyInstance;
  let statusUrl: string;
  let stack: Stack;
  beforeAll(async () => {
    redis = await createTestRedis('status-rate');
    status = await buildStatusApi({
      redisUrl: redis.url,
      prefix: redis.prefix,
      log: createLogger('status-api', 'silent'),
      statusRatePerS: 1,
      trustedProxies: TrustedProxies.parse('127.0.0.1/32'),
    });
    await status.listen({ host: '127.0.0.1', port: 0 });
    statusUrl = `http://127.0.0.1:${(status.server.address() as net.AddressInfo).port}`;
    stack = await startStack({ gatewayEnv: { RTV_STATUS_RATE_PER_S: '1' } });
  });
  afterAll(async () => {
    await status?.close();
    await redis?.cleanup();
    await stack?.stop();
  });

  const get = (url: string, headers: Record<string, string> = {}) => fetch(url, { headers });

  it('the status API answers 429 rate_limited with retry-after after a burst, per client, and recovers', async () => {
    const health = `${statusUrl}${REALTIME}/health`;
    const statusRoute = `${statusUrl}${REALTIME}/status`;
    // Bursts of twice the rate: two requests, whichever route.
    expect((await get(health)).status).not.toBe(429);
    expect((await get(statusRoute)).status).not.toBe(429);
    const limited = await get(statusRoute);
    expect(limited.status).toBe(429);
    expect(((await limited.json()) as { error: { code: string } }).error.code).toBe('rate_limited');
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect((await get(health)).status).toBe(429);

    // The probes are not limited: the kubelet can poll them as often as it likes.
    for (let i = 0; i < 20; i++) expect((await get(`${statusUrl}/healthz`)).status).toBe(200);
    // Another client behind the trusted proxy has its own budget.
    expect((await get(health, { 'x-forwarded-for': '198.51.100.9' })).status).not.toBe(429);

    await new Promise((r) => setTimeout(r, retryAfter * 1000 + 100));
    expect((await get(statusRoute)).status).toBe(200);
  });

  it('the gateway limits its forwarded seed routes per client address too', async () => {
    const url = stack.httpUrl(`${REALTIME}/status`);
    expect((await get(url)).status).toBe(200);
    expect((await get(url)).status).toBe(200);
    const limited = await get(url);
    expect(limited.status).toBe(429);
    expect(((await limited.json()) as { error: { code: string } }).error.code).toBe('rate_limited');
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    await new Promise((r) => setTimeout(r, retryAfter * 1000 + 100));
    expect((await get(url)).status).toBe(200);
  });
});
