// The JWT matrix: every way a bearer token can be wrong, against a real JWKS served over HTTP on port 0. Every
// verdict is reached twice, by jose (`verify`) and within the call (`verifyNow`), and the two must agree.
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { waitFor } from '@rtv/testing';
import {
  base64url,
  type CryptoKey,
  exportJWK,
  exportSPKI,
  generateKeyPair,
  type JWK,
  type JWTPayload,
  SignJWT,
} from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AuthResult,
  createTokenVerifier as createVerifier,
  extractCredentials,
  generateApiKey,
  parseApiKeys,
  RTV_SUBPROTOCOL,
  type TokenVerifier,
  type TokenVerifierOptions,
} from '../src/index.js';

const NOW_S = 1_900_000_000; // a fixed clock: no assertion depends on when the test runs
const now = () => NOW_S * 1000;
const SECRET = 'a-test-secret-that-is-at-least-32-bytes-long';
const ISS = 'https://idp.example.test/';
const AUD = 'realtime-voice';

function claims(overrides: JWTPayload = {}): JWTPayload {
  return { sub: 'user-1', iss: ISS, aud: AUD, iat: NOW_S - 10, exp: NOW_S + 300, ...overrides };
}

async function hs256(payload: JWTPayload, secret: string | Uint8Array = SECRET): Promise<string> {
  const key = typeof secret === 'string' ? new TextEncoder().encode(secret) : secret;
  return new SignJWT(payload).setProtectedHeader({ alg: 'HS256' }).sign(key);
}

async function signWith(key: CryptoKey, alg: 'RS256' | 'ES256', kid: string, payload = claims()) {
  return new SignJWT(payload).setProtectedHeader({ alg, kid }).sign(key);
}

function unsecured(payload: JWTPayload): string {
  const part = (v: object) => base64url.encode(JSON.stringify(v));
  return `${part({ alg: 'none', typ: 'JWT' })}.${part(payload)}.`;
}

/**
 * The verifier under test, with `verify` checking that `verifyNow` (when it answers) gives jose's verdict. The
 * tokens it answered within the call are counted, so a test can say which path judged them.
 */
const answered = { now: 0, later: 0 };
function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  const inner = createVerifier(options);
  return {
    refreshKeys: () => inner.refreshKeys(),
    verifyNow: (token) => inner.verifyNow(token),
    async verify(token) {
      const immediate = inner.verifyNow(token);
      const result = await inner.verify(token);
      if (immediate === undefined) answered.later++;
      else {
        answered.now++;
        expect(immediate).toEqual(result);
      }
      return result;
    },
  };
}

/** An HS256 token over exactly these header and payload texts (for claim sets a JWT library would not build). */
function rawHs256(header: object, payload: string, secret = SECRET): string {
  const signingInput = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(payload).toString('base64url')}`;
  const signature = createHmac('sha256', secret).update(signingInput).digest('base64url');
  return `${signingInput}.${signature}`;
}

function expectDenied(result: AuthResult, status: 401 | 403, reason: string) {
  expect(result).toEqual({ ok: false, status, reason });
}

describe('createTokenVerifier: HS256', () => {
  const verifier = createTokenVerifier({ jwtSecret: SECRET, issuer: ISS, audience: AUD, now });

  it('accepts a valid token and reports the user, the method, the connect-only scope, the expiry and the claims', async () => {
    const result = await verifier.verify(await hs256({ ...claims(), rtv_class: 'gold' }));
    expect(result).toEqual({
      ok: true,
      userId: 'user-1',
      via: 'jwt',
      scopes: ['sessions:connect'],
      expiresAt: (NOW_S + 300) * 1000,
      claims: expect.objectContaining({ sub: 'user-1', rtv_class: 'gold' }),
    });
  });

  it('refuses a user claim in the anon: namespace with 403 reserved_user_id', async () => {
    expectDenied(await verifier.verify(await hs256(claims({ sub: 'anon:alice' }))), 403, 'reserved_user_id');
    expectDenied(await verifier.verify(await hs256(claims({ sub: 'anon:' }))), 403, 'reserved_user_id');
    // Only the exact prefix is reserved: these ids cannot collide with an anonymous caller's.
    for (const sub of ['anon', 'anonymous:alice', 'ANON:alice', 'x:anon:alice']) {
      expect(await verifier.verify(await hs256(claims({ sub })))).toMatchObject({ ok: true, userId: sub });
    }
  });

  it('refuses an expired token, but allows the clock-skew margin (30 s by default)', async () => {
    expectDenied(await verifier.verify(await hs256(claims({ exp: NOW_S - 31 }))), 401, 'expired');
    expect((await verifier.verify(await hs256(claims({ exp: NOW_S - 20 })))).ok).toBe(true);
  });

  it('refuses a token that is not valid yet, with the same margin', async () => {
    expectDenied(await verifier.verify(await hs256(claims({ nbf: NOW_S + 31 }))), 401, 'not_yet_valid');
    expect((await verifier.verify(await hs256(claims({ nbf: NOW_S + 20 })))).ok).toBe(true);
  });

  it('honours a configured clock skew', async () => {
    const strict = createTokenVerifier({
      jwtSecret: SECRET,
      issuer: ISS,
      audience: AUD,
      now,
      clockSkewMs: 0,
    });
    expectDenied(await strict.verify(await hs256(claims({ exp: NOW_S - 1 }))), 401, 'expired');
  });

  it('refuses a wrong or missing audience and issuer', async () => {
    expectDenied(await verifier.verify(await hs256(claims({ aud: 'another-app' }))), 401, 'bad_audience');
    expectDenied(await verifier.verify(await hs256(claims({ aud: undefined }))), 401, 'bad_audience');
    expectDenied(
      await verifier.verify(await hs256(claims({ iss: 'https://evil.test/' }))),
      401,
      'bad_issuer',
    );
    expectDenied(await verifier.verify(await hs256(claims({ iss: undefined }))), 401, 'bad_issuer');
  });

  it('refuses a token without exp: it would be valid forever', async () => {
    expectDenied(await verifier.verify(await hs256(claims({ exp: undefined }))), 401, 'bad_claims');
  });

  it('refuses a bad signature: another secret, or a payload changed after signing', async () => {
    const other = await hs256(claims(), 'another-secret-that-is-also-32-bytes-long!!');
    expectDenied(await verifier.verify(other), 401, 'bad_signature');
    const [header, , signature] = (await hs256(claims())).split('.');
    const forged = base64url.encode(JSON.stringify(claims({ sub: 'admin' })));
    expectDenied(await verifier.verify(`${header}.${forged}.${signature}`), 401, 'bad_signature');
  });

  it('refuses alg "none" whatever the payload says', async () => {
    expectDenied(await verifier.verify(unsecured(claims())), 401, 'alg_not_allowed');
  });

  it('refuses HS384/HS512 and RS256 tokens when only the HS256 secret is configured', async () => {
    const key = new TextEncoder().encode(SECRET);
    const hs512 = await new SignJWT(claims()).setProtectedHeader({ alg: 'HS512' }).sign(key);
    expectDenied(await verifier.verify(hs512), 401, 'alg_not_allowed');
    const { privateKey } = await generateKeyPair('RS256');
    expectDenied(await verifier.verify(await signWith(privateKey, 'RS256', 'k')), 401, 'alg_not_allowed');
  });

  it('takes the user id from the configured claim and refuses an unusable one with 403', async () => {
    const byUid = createTokenVerifier({
      jwtSecret: SECRET,
      issuer: ISS,
      audience: AUD,
      now,
      userClaim: 'uid',
    });
    const ok = await byUid.verify(await hs256(claims({ uid: 'tenant-7:alice@example.com' })));
    expect(ok).toMatchObject({ ok: true, userId: 'tenant-7:alice@example.com' });
    expectDenied(await byUid.verify(await hs256(claims())), 403, 'bad_user_claim');
    expectDenied(await byUid.verify(await hs256(claims({ uid: 'has space' }))), 403, 'bad_user_claim');
    expectDenied(await byUid.verify(await hs256(claims({ uid: 42 }))), 403, 'bad_user_claim');
    expectDenied(await byUid.verify(await hs256(claims({ uid: 'x'.repeat(129) }))), 403, 'bad_user_claim');
  });

  it('refuses tokens that are not JWTs at all', async () => {
    expectDenied(await verifier.verify('not-a-token'), 401, 'malformed');
    expectDenied(await verifier.verify('e30.e30.'), 401, 'alg_not_allowed'); // {} header: no alg
    expectDenied(await verifier.verify('!!!.e30.abc'), 401, 'malformed');
    expectDenied(await verifier.verify('bm90IGpzb24.e30.abc'), 401, 'malformed'); // header is not JSON
  });

  it('answers HS256 tokens within the call, unusual claim sets included, as jose does', async () => {
    const before = { ...answered };
    const tokens = [
      await hs256(claims()),
      await hs256(claims({ exp: NOW_S - 60 })),
      await hs256(claims({ nbf: NOW_S + 60 })),
      await hs256(claims({ aud: ['other', AUD] })),
      await hs256(claims({ aud: ['other'] })),
      await hs256(claims({ iss: undefined, aud: undefined, exp: undefined })),
      await hs256(claims({ exp: NOW_S - 29 })), // inside the 30 s margin
      await hs256(claims({ exp: NOW_S - 30 })), // exactly at it: expired, as jose counts
      rawHs256({ alg: 'HS256' }, JSON.stringify({ ...claims(), exp: null })),
      rawHs256({ alg: 'HS256' }, JSON.stringify({ ...claims(), nbf: 'soon' })),
      rawHs256({ alg: 'HS256' }, JSON.stringify({ ...claims(), iat: 'then' })),
      rawHs256({ alg: 'HS256' }, JSON.stringify({ ...claims(), iss: 7 })),
      rawHs256({ alg: 'HS256' }, '[1,2,3]'),
      rawHs256({ alg: 'HS256' }, '{"sub": "user-1",'),
      rawHs256({ alg: 'HS256', typ: 'JWT', kid: 'ignored' }, JSON.stringify(claims())),
    ];
    for (const token of tokens) await verifier.verify(token);
    expect(answered.now - before.now).toBe(tokens.length);
    expect(answered.later).toBe(before.later);
  });

  it('leaves to jose the token forms it alone judges: crit or b64 headers, non-canonical base64url', async () => {
    const crit = rawHs256({ alg: 'HS256', crit: ['exp'] }, JSON.stringify(claims()));
    const b64 = rawHs256({ alg: 'HS256', b64: false, crit: ['b64'] }, JSON.stringify(claims()));
    const good = await hs256(claims());
    const [head, body, sig] = good.split('.') as [string, string, string];
    // A last character with stray low bits decodes to the same bytes under a lenient decoder.
    const stray = `${head}.${body}.${sig.slice(0, -1)}${sig.endsWith('A') ? 'B' : 'A'}`;
    for (const token of [crit, b64]) {
      expect(verifier.verifyNow(token)).toBeUndefined();
      expect((await verifier.verify(token)).ok).toBe(false);
    }
    const strayNow = verifier.verifyNow(stray);
    if (strayNow !== undefined) expect(strayNow).toEqual(await verifier.verify(stray));
  });

  it('rejects unusable options at construction', () => {
    expect(() => createTokenVerifier({ jwtSecret: 'short' })).toThrow(/32 bytes/);
    expect(() => createTokenVerifier({ jwksUrl: 'https://idp.example.test/jwks' })).toThrow(/issuer/);
    expect(() => createTokenVerifier({ jwtSecret: SECRET, clockSkewMs: -1 })).toThrow(/clockSkewMs/);
  });
});

describe('createTokenVerifier: RS256/ES256 from a JWKS', () => {
  let server: Server;
  let jwksUrl: string;
  let served: { keys: JWK[] } = { keys: [] };
  let fetches = 0;
  let failWith: number | undefined;
  let rsa1: CryptoKeyPair;
  let rsa2: CryptoKeyPair;
  let ec: CryptoKeyPair;

  const publicJwk = async (pair: CryptoKeyPair, kid: string, alg: string): Promise<JWK> => ({
    ...(await exportJWK(pair.publicKey)),
    kid,
    alg,
    use: 'sig',
  });

  beforeAll(async () => {
    rsa1 = await generateKeyPair('RS256', { extractable: true });
    rsa2 = await generateKeyPair('RS256', { extractable: true });
    ec = await generateKeyPair('ES256', { extractable: true });
    served = { keys: [await publicJwk(rsa1, 'rsa-1', 'RS256'), await publicJwk(ec, 'ec-1', 'ES256')] };
    server = createServer((_req, res) => {
      fetches++;
      if (failWith !== undefined) {
        res.writeHead(failWith).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(served));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  const make = (extra: Partial<TokenVerifierOptions> = {}) =>
    createTokenVerifier({ jwksUrl, issuer: ISS, audience: AUD, now, ...extra });

  it('accepts RS256 and ES256 tokens signed by keys in the set', async () => {
    const verifier = make();
    expect(await verifier.verify(await signWith(rsa1.privateKey, 'RS256', 'rsa-1'))).toMatchObject({
      ok: true,
      userId: 'user-1',
      via: 'jwt',
    });
    expect((await verifier.verify(await signWith(ec.privateKey, 'ES256', 'ec-1'))).ok).toBe(true);
  });

  it('answers RS256 and ES256 within the call once the key set is cached, and leaves the first to jose', async () => {
    const verifier = make();
    const rs = await signWith(rsa1.privateKey, 'RS256', 'rsa-1');
    const es = await signWith(ec.privateKey, 'ES256', 'ec-1');
    expect(verifier.verifyNow(rs)).toBeUndefined(); // nothing fetched yet
    expect((await verifier.verify(rs)).ok).toBe(true);
    expect(verifier.verifyNow(rs)).toMatchObject({ ok: true, userId: 'user-1', via: 'jwt' });
    expect(verifier.verifyNow(es)).toMatchObject({ ok: true, userId: 'user-1', via: 'jwt' });
    const wrongKey = await signWith(rsa2.privateKey, 'RS256', 'rsa-1');
    expect(verifier.verifyNow(wrongKey)).toEqual({ ok: false, status: 401, reason: 'bad_signature' });
    const expired = await signWith(ec.privateKey, 'ES256', 'ec-1', claims({ exp: NOW_S - 60 }));
    expect(verifier.verifyNow(expired)).toEqual(await verifier.verify(expired));
    // A kid the cached set lacks may be a rotated-in key: that one goes to jose, which refetches.
    expect(verifier.verifyNow(await signWith(rsa2.privateKey, 'RS256', 'rsa-2'))).toBeUndefined();
  });

  it('refreshKeys fetches the set ahead of any token; verifyNow then answers the first one', async () => {
    const verifier = make();
    const before = fetches;
    await verifier.refreshKeys();
    expect(fetches).toBe(before + 1);
    const token = await signWith(rsa1.privateKey, 'RS256', 'rsa-1');
    expect(verifier.verifyNow(token)).toMatchObject({ ok: true, userId: 'user-1' });
    expect(fetches).toBe(before + 1);
    // Without one, the first token asks for the set in the background and the next is answered from it.
    const cold = make();
    expect(cold.verifyNow(token)).toBeUndefined();
    await waitFor(() => cold.verifyNow(token)?.ok === true, { message: 'the set fetched in the background' });
  });

  it('refetches the set in the background once it is half its maximum age, still answering from it', async () => {
    const verifier = make({ jwks: { cacheMaxAgeMs: 600, cooldownMs: 0 } });
    const token = await signWith(ec.privateKey, 'ES256', 'ec-1');
    await verifier.refreshKeys();
    const fetched = fetches;
    await new Promise((resolve) => setTimeout(resolve, 350));
    expect(verifier.verifyNow(token)).toMatchObject({ ok: true }); // 350 ms old: still fresh
    await waitFor(() => fetches === fetched + 1, { message: 'a refetch ahead of expiry' });
    await new Promise((resolve) => setTimeout(resolve, 350));
    // 700 ms after the first fetch: past its maximum age, but the refetch keeps the set fresh.
    expect(verifier.verifyNow(token)).toMatchObject({ ok: true });
  });

  it('refuses a token whose signature does not match the key named by its kid', async () => {
    const verifier = make();
    expectDenied(
      await verifier.verify(await signWith(rsa2.privateKey, 'RS256', 'rsa-1')),
      401,
      'bad_signature',
    );
  });

  it('refuses HS256 signed with the RSA public key as the secret (algorithm confusion)', async () => {
    const pem = new TextEncoder().encode(await exportSPKI(rsa1.publicKey));
    const jwk = new TextEncoder().encode(JSON.stringify(await exportJWK(rsa1.publicKey)));
    for (const secret of [pem, jwk]) {
      const confused = await new SignJWT(claims())
        .setProtectedHeader({ alg: 'HS256', kid: 'rsa-1' })
        .sign(secret);
      // JWKS only: HS256 has no key here at all.
      expectDenied(await make().verify(confused), 401, 'alg_not_allowed');
      // Secret and JWKS both configured: HS256 goes to the shared secret only, where it fails.
      expectDenied(await make({ jwtSecret: SECRET }).verify(confused), 401, 'bad_signature');
    }
  });

  it('refuses alg "none" and algorithms outside RS256/ES256, even with a kid from the set', async () => {
    const verifier = make();
    expectDenied(await verifier.verify(unsecured(claims())), 401, 'alg_not_allowed');
    const ps256 = await new SignJWT(claims())
      .setProtectedHeader({ alg: 'PS256', kid: 'rsa-1' })
      .sign((await generateKeyPair('PS256')).privateKey);
    expectDenied(await verifier.verify(ps256), 401, 'alg_not_allowed');
  });

  it('checks exp, nbf, aud and iss on JWKS tokens too', async () => {
    const verifier = make();
    const sign = (p: JWTPayload) => signWith(rsa1.privateKey, 'RS256', 'rsa-1', claims(p));
    expectDenied(await verifier.verify(await sign({ exp: NOW_S - 60 })), 401, 'expired');
    expectDenied(await verifier.verify(await sign({ nbf: NOW_S + 60 })), 401, 'not_yet_valid');
    expectDenied(await verifier.verify(await sign({ aud: 'other' })), 401, 'bad_audience');
    expectDenied(await verifier.verify(await sign({ iss: 'https://other.test/' })), 401, 'bad_issuer');
  });

  it('refetches the set for an unknown kid, so a rotated-in key works at once', async () => {
    const original = served;
    try {
      const verifier = make({ jwks: { cooldownMs: 0 } });
      expect((await verifier.verify(await signWith(rsa1.privateKey, 'RS256', 'rsa-1'))).ok).toBe(true);
      const rotated = await signWith(rsa2.privateKey, 'RS256', 'rsa-2');
      expectDenied(await verifier.verify(rotated), 401, 'unknown_key');

      const before = fetches;
      served = { keys: [await publicJwk(rsa2, 'rsa-2', 'RS256'), ...original.keys] };
      expect(await verifier.verify(rotated)).toMatchObject({ ok: true, userId: 'user-1' });
      expect(fetches).toBe(before + 1);
    } finally {
      served = original;
    }
  });

  it('stops accepting a rotated-out key once the cached set has aged out', async () => {
    const original = served;
    try {
      const verifier = make({ jwks: { cacheMaxAgeMs: 0 } });
      const token = await signWith(rsa1.privateKey, 'RS256', 'rsa-1');
      expect((await verifier.verify(token)).ok).toBe(true);
      served = { keys: original.keys.filter((k) => k.kid !== 'rsa-1') };
      expectDenied(await verifier.verify(token), 401, 'unknown_key');
    } finally {
      served = original;
    }
  });

  it('does not refetch for unknown kids during the cooldown (kid spraying cannot hammer the provider)', async () => {
    const verifier = make({ jwks: { cooldownMs: 60_000 } });
    expect((await verifier.verify(await signWith(rsa1.privateKey, 'RS256', 'rsa-1'))).ok).toBe(true);
    const before = fetches;
    const { privateKey } = await generateKeyPair('RS256');
    for (let i = 0; i < 5; i++) {
      expectDenied(
        await verifier.verify(await signWith(privateKey, 'RS256', `spray-${i}`)),
        401,
        'unknown_key',
      );
    }
    expect(fetches).toBe(before);
  });

  it('refuses with jwks_unavailable when the key set cannot be fetched', async () => {
    failWith = 500;
    try {
      const verifier = make();
      expectDenied(
        await verifier.verify(await signWith(rsa1.privateKey, 'RS256', 'rsa-1')),
        401,
        'jwks_unavailable',
      );
    } finally {
      failWith = undefined;
    }
    const unreachable = createTokenVerifier({
      jwksUrl: 'http://127.0.0.1:1/jwks',
      issuer: ISS,
      audience: AUD,
      now,
    });
    expectDenied(
      await unreachable.verify(await signWith(rsa1.privateKey, 'RS256', 'rsa-1')),
      401,
      'jwks_unavailable',
    );
  });
});

describe('createTokenVerifier: API keys', () => {
  const issued = generateApiKey();
  const verifier = createTokenVerifier({
    jwtSecret: SECRET,
    apiKeys: parseApiKeys(`billing-service:${issued.hash}`),
    now,
  });

  it('accepts a configured key as its id, and refuses any other opaque token', async () => {
    expect(verifier.verifyNow(issued.key)).toMatchObject({ ok: true, userId: 'billing-service' });
    expect(await verifier.verify(issued.key)).toEqual({
      ok: true,
      userId: 'billing-service',
      via: 'api_key',
      scopes: ['sessions:connect'],
    });
    expectDenied(await verifier.verify(generateApiKey().key), 401, 'unknown_api_key');
  });

  it('still verifies JWTs beside the keys', async () => {
    expect((await verifier.verify(await hs256(claims({ iss: undefined, aud: undefined })))).ok).toBe(true);
  });

  it('refuses everything when nothing is configured', async () => {
    const empty = createTokenVerifier({ now });
    expectDenied(await empty.verify(await hs256(claims())), 401, 'not_configured');
    expectDenied(await empty.verify(issued.key), 401, 'malformed');
  });
});

describe('from the upgrade request to a user', () => {
  const verifier = createTokenVerifier({ jwtSecret: SECRET, issuer: ISS, audience: AUD, now });
  const authenticate = async (sources: Parameters<typeof extractCredentials>[0], allowQueryToken = false) => {
    const creds = extractCredentials(sources, { allowQueryToken });
    return creds.ok ? { ...(await verifier.verify(creds.token)), echo: creds.echoProtocol } : creds;
  };

  it('authenticates a token in the Authorization header', async () => {
    const token = await hs256(claims());
    expect(await authenticate({ authorization: `Bearer ${token}` })).toMatchObject({
      ok: true,
      userId: 'user-1',
    });
  });

  it('authenticates a token in the subprotocol entry and echoes only rtv.v1', async () => {
    const token = await hs256(claims());
    const result = await authenticate({ secWebSocketProtocol: `${RTV_SUBPROTOCOL}, rtv.bearer.${token}` });
    expect(result).toMatchObject({ ok: true, userId: 'user-1', echo: 'rtv.v1' });
  });

  it('refuses a token in the query string unless enabled', async () => {
    const token = await hs256(claims());
    expectDenied(await authenticate({ query: `access_token=${token}` }), 401, 'query_token_disabled');
    expect(await authenticate({ query: `access_token=${token}` }, true)).toMatchObject({ ok: true });
  });
});
