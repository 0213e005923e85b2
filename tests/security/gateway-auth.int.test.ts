// Authentication and connection limits at a running gateway: JWTs in the header or the browser subprotocol
// form, query tokens refused by default, the origin allowlist, the anonymous-route switch, the cluster-wide
// per-user cap across two gateways, new connections per address, and the server-enforced session length.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { rawUpgrade, WsTestClient, waitFor } from '@rtv/testing';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack, TEST_JWT_SECRET } from '../e2e/helpers/stack.js';

const key = new TextEncoder().encode(TEST_JWT_SECRET);

async function token(claims: {
  sub?: string;
  iss?: string;
  aud?: string;
  exp?: string | number;
  nbf?: string | number;
}) {
  const jwt = new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setIssuedAt();
  if (claims.sub) jwt.setSubject(claims.sub);
  jwt.setIssuer(claims.iss ?? 'https://id.example.com');
  jwt.setAudience(claims.aud ?? 'realtime-voice');
  jwt.setExpirationTime(claims.exp ?? '5m');
  if (claims.nbf !== undefined) jwt.setNotBefore(claims.nbf);
  return jwt.sign(key);
}

/** An unsigned token (`alg: none`) with otherwise valid claims. */
function unsignedToken(sub: string): string {
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  return `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub, iss: 'https://id.example.com', aud: 'realtime-voice', exp: now + 300 })}.`;
}

type Created = { session: { user_id: string } };

/** A raw WebSocket upgrade request that must be refused, to read the refusal's status and body. */
async function upgradeRequest(
  port: number,
  authorization: string,
): Promise<{ status: number; body: string }> {
  const reply = await rawUpgrade(port, { path: '/api/v1/streaming/realtime', headers: { authorization } });
  if (reply.status === 101) throw new Error('the upgrade was accepted');
  return reply;
}

describe('authenticated route and limits', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      gateways: 2,
      gatewayEnv: {
        RTV_AUTH_ISSUER: 'https://id.example.com',
        RTV_AUTH_AUDIENCE: 'realtime-voice',
        RTV_ALLOWED_ORIGINS: 'https://app.example.com,*.trusted.example',
        RTV_MAX_CONNECTIONS_PER_USER: '2',
      },
    });
  });
  afterAll(async () => {
    await stack?.stop();
  });
  const authUrl = (g = 0) => stack.wsUrl('', g).replace(/\/$/, '');

  it('accepts a valid JWT in the Authorization header; the user id comes from sub', async () => {
    const ws = await WsTestClient.connect(authUrl(), {
      headers: { authorization: `Bearer ${await token({ sub: 'alice' })}` },
    });
    expect((await ws.nextOfType<Created>('session.created')).session.user_id).toBe('alice');
    await ws.close();
  });

  it('completes a verified upgrade within the upgrade handler: the first frame follows the 101 even for a request saying Connection: close', async () => {
    // uWS can close a socket upgraded later, inside a cork, right after its 101: deterministically when the
    // request said `Connection: close`, at random otherwise (uWebSockets #1928/#1929). An HS256 token is
    // verified at once, so its upgrade never takes that path.
    for (const connection of ['Upgrade', 'close']) {
      const reply = await rawUpgrade(stack.gateways[0]!.port, {
        path: '/api/v1/streaming/realtime',
        headers: { authorization: `Bearer ${await token({ sub: 'at-once' })}` },
        connection,
        readFirstFrame: true,
      });
      expect(reply.status).toBe(101);
      expect(JSON.parse(reply.firstFrame ?? '{}')).toMatchObject({ type: 'session.created' });
    }
  });

  it('ends a connection when its token expires (exp plus the 30 s skew allowance): unauthorized, then 4401', async () => {
    // Valid at the upgrade only thanks to the skew allowance; it lapses about two seconds later.
    const exp = Math.floor(Date.now() / 1000) - 28;
    const expiring = await WsTestClient.connect(authUrl(), {
      headers: { authorization: `Bearer ${await token({ sub: 'short-lived', exp })}` },
    });
    await expiring.nextOfType('session.created');
    const lasting = await WsTestClient.connect(authUrl(1), {
      headers: { authorization: `Bearer ${await token({ sub: 'long-lived' })}` },
    });
    await lasting.nextOfType('session.created');
    const err = await expiring.nextOfType<{ error: { code: string; message: string } }>('error', 8000);
    expect(err.error.code).toBe('unauthorized');
    expect(err.error.message).toMatch(/token expired/);
    expect((await expiring.closed).code).toBe(4401);
    // The other connection, with a token valid for minutes, is untouched and still answered.
    lasting.send({ type: 'ping', ping: { timestamp: 7 } });
    expect(await lasting.nextOfType<{ timestamp: number }>('pong')).toMatchObject({ timestamp: 7 });
    await lasting.close();
  });

  it('accepts the browser form: the token in a subprotocol entry, echoing only rtv.v1', async () => {
    const jwt = await token({ sub: 'browser-user' });
    const ws = await WsTestClient.connect(authUrl(1), { protocols: ['rtv.v1', `rtv.bearer.${jwt}`] });
    expect(ws.protocol).toBe('rtv.v1');
    expect((await ws.nextOfType<Created>('session.created')).session.user_id).toBe('browser-user');
    await ws.close();
  });

  it.each([
    ['expired', () => token({ sub: 'a', exp: Math.floor(Date.now() / 1000) - 3600 })],
    ['not yet valid', () => token({ sub: 'a', nbf: Math.floor(Date.now() / 1000) + 3600 })],
    ['wrong audience', () => token({ sub: 'a', aud: 'someone-else' })],
    ['wrong issuer', () => token({ sub: 'a', iss: 'https://evil.example.com' })],
    ['bad signature', async () => `${(await token({ sub: 'a' })).slice(0, -4)}AAAA`],
    ['alg none', async () => unsignedToken('a')],
    ['not a JWT', async () => 'opaque-token'],
  ])('refuses a %s token with 401 and no detail', async (_name, make) => {
    const res = await upgradeRequest(stack.gateways[0]!.port, `Bearer ${await make()}`);
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body)).toEqual({ error: { code: 'unauthorized', message: 'unauthorized' } });
  });

  it('refuses a token in the query string by default', async () => {
    const jwt = await token({ sub: 'q' });
    await expect(WsTestClient.connect(`${authUrl()}?access_token=${jwt}`)).rejects.toThrow(/HTTP 401/);
  });

  it('enforces the origin allowlist for browsers; clients without Origin are let through', async () => {
    const headers = (origin: string) => ({ headers: { origin } });
    await expect(
      WsTestClient.connect(stack.wsUrl('o1'), headers('https://evil.example.org')),
    ).rejects.toThrow(/HTTP 403/);
    await expect(WsTestClient.connect(stack.wsUrl('o2'), headers('http://app.example.com'))).rejects.toThrow(
      /HTTP 403/,
    );
    for (const origin of ['https://app.example.com', 'https://a.trusted.example']) {
      const ws = await WsTestClient.connect(stack.wsUrl('o3'), headers(origin));
      await ws.nextOfType('session.created');
      await ws.close();
    }
    const plain = await WsTestClient.connect(stack.wsUrl('o4'));
    await plain.nextOfType('session.created');
    await plain.close();
  });

  it('caps concurrent connections per user across both gateways (4429), and frees the slot on close', async () => {
    const a = await WsTestClient.connect(stack.wsUrl('capped', 0));
    await a.nextOfType('session.created');
    const b = await WsTestClient.connect(stack.wsUrl('capped', 1));
    await b.nextOfType('session.created');
    const c = await WsTestClient.connect(stack.wsUrl('capped', 0));
    const err = await c.nextOfType<{ error: { code: string } }>('error');
    expect(err.error.code).toBe('rate_limited');
    expect((await c.closed).code).toBe(4429);
    await a.close();
    const d = await WsTestClient.connect(stack.wsUrl('capped', 1));
    await d.nextOfType('session.created');
    await Promise.all([b.close(), d.close()]);
  });
});

describe('anonymous route switched off', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ gatewayEnv: { RTV_ALLOW_ANONYMOUS: 'false' } });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('refuses /{user_id} with 403 while the authenticated route works', async () => {
    await expect(WsTestClient.connect(stack.wsUrl('anyone'))).rejects.toThrow(/HTTP 403/);
    const jwt = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('bob')
      .setExpirationTime('5m')
      .sign(key);
    const ws = await WsTestClient.connect(stack.wsUrl('').replace(/\/$/, ''), {
      headers: { authorization: `Bearer ${jwt}` },
    });
    expect((await ws.nextOfType<Created>('session.created')).session.user_id).toBe('bob');
    await ws.close();
  });
});

describe('new connections per address and session length', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ gatewayEnv: { RTV_MAX_NEW_CONNECTIONS_PER_IP: '3', RTV_MAX_SESSION_S: '1' } });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('refuses the fourth new connection within a second with 429, and ends a session at its maximum length', async () => {
    const opened: WsTestClient[] = [];
    for (let i = 0; i < 3; i++) opened.push(await WsTestClient.connect(stack.wsUrl(`ip-${i}`)));
    await expect(WsTestClient.connect(stack.wsUrl('ip-4'))).rejects.toThrow(/HTTP 429/);
    const first = opened[0]!;
    const expired = await first.nextOfType<{ error: { code: string } }>('error', 5000);
    expect(expired.error.code).toBe('session_expired');
    expect((await first.closed).code).toBe(4408);
    await Promise.all(opened.map((ws) => ws.close()));
  });
});

describe('tokens of an identity provider (JWKS)', () => {
  let stack: Stack;
  let jwks: Server;
  let fetches = 0;
  let signingKey: CryptoKey;
  beforeAll(async () => {
    const pair = await generateKeyPair('ES256');
    signingKey = pair.privateKey as CryptoKey;
    const set = { keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'idp-1', alg: 'ES256', use: 'sig' }] };
    jwks = createServer((_req, res) => {
      fetches++;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(set));
    });
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    stack = await startStack({
      gatewayEnv: {
        RTV_AUTH_JWKS_URL: `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks`,
        RTV_AUTH_ISSUER: 'https://id.example.com',
        RTV_AUTH_AUDIENCE: 'realtime-voice',
      },
    });
  });
  afterAll(async () => {
    await stack?.stop();
    await new Promise((resolve) => jwks?.close(resolve));
  });

  it('fetches the key set at start, so even the first token is verified and upgraded within the upgrade handler', async () => {
    await waitFor(() => fetches > 0, { message: 'the gateway fetching the key set at start' });
    const jwt = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: 'idp-1' })
      .setSubject('first-of-the-day')
      .setIssuer('https://id.example.com')
      .setAudience('realtime-voice')
      .setExpirationTime('5m')
      .sign(signingKey);
    // `Connection: close` makes uWS close a socket upgraded later inside a cork every time (see above).
    const reply = await rawUpgrade(stack.gateways[0]!.port, {
      path: '/api/v1/streaming/realtime',
      headers: { authorization: `Bearer ${jwt}` },
      connection: 'close',
      readFirstFrame: true,
    });
    expect(reply.status).toBe(101);
    expect(JSON.parse(reply.firstFrame ?? '{}')).toMatchObject({
      type: 'session.created',
      session: { user_id: 'first-of-the-day' },
    });
  });
});
