import { ConfigError, loadConfig } from '@rtv/service-kit';
import { describe, expect, it } from 'vitest';
import { AUTH_ENV, authSettingsFromConfig, generateApiKey, isOriginAllowed } from '../src/index.js';

const load = (env: Record<string, string>) =>
  authSettingsFromConfig(loadConfig('test', AUTH_ENV, env), { maxFrameBytes: 1_048_576 });

describe('AUTH_ENV and authSettingsFromConfig', () => {
  it('defaults serve a laptop: anonymous route on, any origin, no query tokens', () => {
    const s = load({});
    expect(s.allowAnonymous).toBe(true);
    expect(s.appliedDefaults.map((d) => [d.variable, d.value])).toEqual([
      ['RTV_ALLOW_ANONYMOUS', 'true'],
      ['RTV_ALLOWED_ORIGINS', '*'],
    ]);
    expect(s.extract).toEqual({ allowQueryToken: false });
    expect(isOriginAllowed('https://anything.test', s.origins)).toBe(true);
    expect(s.verifier).toEqual({ userClaim: 'sub', apiKeys: [] });
    expect(s.maxConnectionsPerUser).toBe(10);
    expect(s.maxNewConnectionsPerIp).toBe(20);
  });

  it('maps every variable', () => {
    const key = generateApiKey();
    const s = load({
      RTV_AUTH_JWT_SECRET: 's'.repeat(32),
      RTV_AUTH_JWKS_URL: 'https://idp.example.test/.well-known/jwks.json',
      RTV_AUTH_ISSUER: 'https://idp.example.test/, https://old-idp.example.test/',
      RTV_AUTH_AUDIENCE: 'realtime-voice',
      RTV_AUTH_USER_CLAIM: 'https://example.test/uid',
      RTV_AUTH_API_KEYS: `billing:${key.hash}`,
      RTV_AUTH_QUERY_TOKENS: 'true',
      RTV_ALLOW_ANONYMOUS: 'false',
      RTV_ALLOWED_ORIGINS: 'https://app.example.test,*.example.test',
      RTV_MAX_CONNECTIONS_PER_USER: '3',
      RTV_MAX_NEW_CONNECTIONS_PER_IP: '5',
      RTV_MAX_MESSAGES_PER_S: '60',
      RTV_MAX_BYTES_PER_S: '131072',
    });
    expect(s.verifier).toMatchObject({
      jwtSecret: 's'.repeat(32),
      jwksUrl: 'https://idp.example.test/.well-known/jwks.json',
      issuer: ['https://idp.example.test/', 'https://old-idp.example.test/'],
      audience: ['realtime-voice'],
      userClaim: 'https://example.test/uid',
    });
    expect(s.verifier.apiKeys?.map((k) => k.id)).toEqual(['billing']);
    expect(s.appliedDefaults).toEqual([]);
    expect(s.extract.allowQueryToken).toBe(true);
    expect(s.allowAnonymous).toBe(false);
    expect(isOriginAllowed('https://x.example.test', s.origins)).toBe(true);
    expect(isOriginAllowed('https://evil.test', s.origins)).toBe(false);
    expect(s.maxConnectionsPerUser).toBe(3);
    expect(s.maxNewConnectionsPerIp).toBe(5);
    // The byte burst never drops below the frame limit, so a maximal frame can always pass.
    expect(s.connectionRate).toEqual({
      messagesPerS: 60,
      messageBurst: 120,
      bytesPerS: 131_072,
      byteBurst: 1_048_576,
      audioBurstBytes: 524_288,
    });
  });

  it('reports every problem at once, naming variables but never their secret values', () => {
    let error: unknown;
    try {
      load({
        RTV_AUTH_JWT_SECRET: 'too-short-secret',
        RTV_AUTH_JWKS_URL: 'https://idp.example.test/jwks',
        RTV_AUTH_API_KEYS: 'svc:plaintext-key-pasted-by-mistake',
        RTV_ALLOWED_ORIGINS: 'app.example.test',
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    for (const name of [
      'RTV_AUTH_JWT_SECRET',
      'RTV_AUTH_JWKS_URL',
      'RTV_AUTH_API_KEYS',
      'RTV_ALLOWED_ORIGINS',
    ]) {
      expect(message).toContain(name);
    }
    expect(message).not.toContain('too-short-secret');
    expect(message).not.toContain('plaintext-key');
  });

  describe('production-safe defaults', () => {
    const secret = { RTV_AUTH_JWT_SECRET: 's'.repeat(32) };
    const jwks = {
      RTV_AUTH_JWKS_URL: 'https://idp.example.test/jwks',
      RTV_AUTH_ISSUER: 'https://idp.example.test/',
      RTV_AUTH_AUDIENCE: 'rtv',
    };
    const keys = { RTV_AUTH_API_KEYS: `svc:${generateApiKey().hash}` };
    const prod = { NODE_ENV: 'production' };

    // [case, env, anonymous route, browser origin https://evil.example allowed]
    it.each([
      ['laptop: nothing configured', {}, true, true],
      ['NODE_ENV=development', { NODE_ENV: 'development' }, true, true],
      ['NODE_ENV=production', prod, false, false],
      ['NODE_ENV=Production (any case)', { NODE_ENV: 'Production' }, false, false],
      ['a JWT secret', secret, false, true],
      ['a JWKS URL', jwks, false, true],
      ['API keys', keys, false, true],
      ['an empty RTV_AUTH_API_KEYS (no key configured)', { RTV_AUTH_API_KEYS: ' , ' }, true, true],
      ['production and a JWT secret', { ...prod, ...secret }, false, false],
      [
        'RTV_ALLOW_ANONYMOUS=true in production with a secret',
        { ...prod, ...secret, RTV_ALLOW_ANONYMOUS: 'true' },
        true,
        false,
      ],
      ['RTV_ALLOW_ANONYMOUS=true with API keys', { ...keys, RTV_ALLOW_ANONYMOUS: 'true' }, true, true],
      ['RTV_ALLOW_ANONYMOUS=false on a laptop', { RTV_ALLOW_ANONYMOUS: 'false' }, false, true],
      ['RTV_ALLOWED_ORIGINS=* in production', { ...prod, RTV_ALLOWED_ORIGINS: '*' }, false, true],
      [
        'an explicit origin list in production',
        { ...prod, RTV_ALLOWED_ORIGINS: 'https://evil.example' },
        false,
        true,
      ],
      ['an explicit origin list on a laptop', { RTV_ALLOWED_ORIGINS: 'https://app.example' }, true, false],
    ] as const)('%s', (_case, env, anonymous, evilOriginAllowed) => {
      const s = load(env);
      expect(s.allowAnonymous).toBe(anonymous);
      expect(isOriginAllowed('https://evil.example', s.origins)).toBe(evilOriginAllowed);
      // Clients without Origin (servers, CLIs) are never refused by the origin check.
      expect(isOriginAllowed(undefined, s.origins)).toBe(true);
    });

    it('says which defaults it applied and why, and how to change them', () => {
      const byVariable = (env: Record<string, string>) =>
        Object.fromEntries(load(env).appliedDefaults.map((d) => [d.variable, d.message]));
      expect(byVariable({ ...secret, ...keys })).toEqual({
        RTV_ALLOW_ANONYMOUS:
          'anonymous route off: a verifier is configured (RTV_AUTH_JWT_SECRET, RTV_AUTH_API_KEYS); set RTV_ALLOW_ANONYMOUS=true to allow it',
        RTV_ALLOWED_ORIGINS: expect.stringMatching(
          /^every browser origin allowed: NODE_ENV is not production/,
        ),
      });
      expect(byVariable(prod)).toEqual({
        RTV_ALLOW_ANONYMOUS:
          'anonymous route off: NODE_ENV=production; set RTV_ALLOW_ANONYMOUS=true to allow it',
        RTV_ALLOWED_ORIGINS: expect.stringMatching(
          /^browser origins refused: NODE_ENV=production and RTV_ALLOWED_ORIGINS is unset/,
        ),
      });
      expect(byVariable({})['RTV_ALLOW_ANONYMOUS']).toMatch(/^anonymous route on: .*laptop default/);
      // An explicit value is not a default: nothing to report for it.
      expect(byVariable({ ...prod, RTV_ALLOW_ANONYMOUS: 'false', RTV_ALLOWED_ORIGINS: '*' })).toEqual({});
    });
  });

  describe('RTV_AUTH_JWKS_URL transport', () => {
    const withJwks = (url: string) =>
      load({ RTV_AUTH_JWKS_URL: url, RTV_AUTH_ISSUER: 'https://idp.test/', RTV_AUTH_AUDIENCE: 'rtv' });

    it.each([
      'http://idp.example.test/.well-known/jwks.json',
      'http://10.0.0.7:8080/jwks',
      'http://[2001:db8::1]/jwks',
      'http://localhost.evil.test/jwks',
      'http://127.0.0.1.evil.test/jwks',
    ])('refuses %s: plain http to a non-loopback host, naming the variable and why', (url) => {
      let error: unknown;
      try {
        withJwks(url);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(ConfigError);
      const message = (error as Error).message;
      expect(message).toContain('RTV_AUTH_JWKS_URL');
      expect(message).toContain('https://');
      expect(message).toMatch(/mint tokens/);
    });

    it.each([
      'https://idp.example.test/.well-known/jwks.json',
      'http://127.0.0.1:4000/.well-known/jwks.json',
      'http://127.10.20.30/jwks',
      'http://[::1]:4000/jwks',
      'http://localhost:4000/jwks',
      'http://LOCALHOST/jwks',
    ])('accepts %s (https, or http to a loopback host)', (url) => {
      expect(withJwks(url).verifier.jwksUrl).toBe(url);
    });
  });
});
