import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  createApiKeyVerifier,
  formatApiKeyEntry,
  generateApiKey,
  hashApiKey,
  parseApiKeys,
} from '../src/index.js';

describe('API keys', () => {
  it('hashes with SHA-256 hex, as the config format expects', () => {
    expect(hashApiKey('abc')).toBe(createHash('sha256').update('abc').digest('hex'));
    const { key, hash } = generateApiKey();
    expect(key).toMatch(/^rtv_[A-Za-z0-9_-]{43}$/);
    expect(hash).toBe(hashApiKey(key));
    expect(generateApiKey().key).not.toBe(key);
  });

  it('parses id:hash pairs separated by commas or whitespace; ids may contain colons', () => {
    const a = generateApiKey();
    const b = generateApiKey();
    const entries = parseApiKeys(` billing:${a.hash},\n tenant:7:ingest:${b.hash.toUpperCase()} `);
    expect(entries.map((e) => e.id)).toEqual(['billing', 'tenant:7:ingest']);
    expect(Buffer.from(entries[1]!.hash).toString('hex')).toBe(b.hash);
    expect(parseApiKeys('')).toEqual([]);
  });

  it('gives an entry without scopes sessions:connect only, and reads scopes joined by + after the hash', () => {
    const [a, b, c, d] = [generateApiKey(), generateApiKey(), generateApiKey(), generateApiKey()];
    const entries = parseApiKeys(
      [
        `plain:${a.hash}`,
        `ops:${b.hash}:history:read`,
        `tenant:7:both:${c.hash}:sessions:connect+history:read`,
        `twice:${d.hash}:history:read+history:read`,
      ].join(','),
    );
    expect(entries.map((e) => [e.id, e.scopes])).toEqual([
      ['plain', ['sessions:connect']],
      ['ops', ['history:read']],
      ['tenant:7:both', ['sessions:connect', 'history:read']],
      ['twice', ['history:read']],
    ]);
  });

  it('takes the last 64-hex field as the hash, so ids holding colons or hex stay unambiguous', () => {
    const inner = hashApiKey('not the key');
    const { hash } = generateApiKey();
    const [withHexId, scoped] = parseApiKeys(`svc:${inner}:${hash} svc2:${inner}:${hash}:history:read`);
    expect(withHexId!.id).toBe(`svc:${inner}`);
    expect(Buffer.from(withHexId!.hash).toString('hex')).toBe(hash);
    expect(withHexId!.scopes).toEqual(['sessions:connect']);
    expect(scoped!.id).toBe(`svc2:${inner}`);
    expect(scoped!.scopes).toEqual(['history:read']);
  });

  it('refuses an unknown or empty scope, naming the entry by position without echoing it', () => {
    const { hash } = generateApiKey();
    for (const tail of ['admin', 'history:write', 'history:read+', 'Sessions:Connect', '']) {
      const spec = `ok:${generateApiKey().hash},svc:${hash}:${tail}`;
      let message = '';
      try {
        parseApiKeys(spec);
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message, tail).toMatch(/^API key entry 2: /);
      expect(message).not.toContain(hash);
    }
    expect(() => parseApiKeys(`svc:${hash}:history:read:${'k'.repeat(20)}`)).toThrow(
      /entry 1: unknown scope/,
    );
    expect(() => parseApiKeys(`svc:${hash}:history:read:${'k'.repeat(20)}`)).not.toThrow(/kkkk/);
  });

  it('refuses an id in the anon: namespace, which anonymous callers are given', () => {
    const { hash } = generateApiKey();
    expect(() => parseApiKeys(`ok:${generateApiKey().hash},anon:alice:${hash}`)).toThrow(
      /entry 2: the id must not start with "anon:"/,
    );
    expect(() => createApiKeyVerifier([{ id: 'anon:alice', hash: Buffer.from(hash, 'hex') }])).toThrow(
      /anon:/,
    );
    // `anon` alone is an ordinary id.
    expect(parseApiKeys(`anon:${hash}`)[0]!.id).toBe('anon');
  });

  it('formats an entry in the scoped form only when the scopes are not the default', () => {
    const { hash } = generateApiKey();
    expect(formatApiKeyEntry('svc', hash)).toBe(`svc:${hash}`);
    expect(formatApiKeyEntry('svc', hash, ['sessions:connect'])).toBe(`svc:${hash}`);
    const both = formatApiKeyEntry('ops', hash, ['history:read', 'sessions:connect']);
    expect(both).toBe(`ops:${hash}:history:read+sessions:connect`);
    expect(parseApiKeys(both)[0]!.scopes).toEqual(['history:read', 'sessions:connect']);
  });

  it('refuses malformed entries without echoing them', () => {
    const secretish = 'svc:not-a-hash-but-maybe-a-pasted-key';
    expect(() => parseApiKeys(secretish)).toThrow(/entry 1: expected/);
    expect(() => parseApiKeys(secretish)).not.toThrow(/pasted-key/);
    expect(() => parseApiKeys(`:${hashApiKey('k')}`)).toThrow(/entry 1/);
    expect(() => parseApiKeys(`bad id:${hashApiKey('k')}`)).toThrow(/entry 1/);
    expect(() => parseApiKeys(`svc:${hashApiKey('k').slice(1)}`)).toThrow(/entry 1/);
    const h = hashApiKey('k');
    expect(() => parseApiKeys(`svc:${h},svc:${h}`)).toThrow(/entry 2: duplicate id/);
  });

  it('verifies a presented key to its id and refuses any other', () => {
    const a = generateApiKey();
    const b = generateApiKey();
    const verify = createApiKeyVerifier(parseApiKeys(`svc-a:${a.hash},svc-b:${b.hash}:history:read`));
    expect(verify(a.key)).toEqual({
      ok: true,
      userId: 'svc-a',
      via: 'api_key',
      scopes: ['sessions:connect'],
    });
    expect(verify(b.key)).toEqual({ ok: true, userId: 'svc-b', via: 'api_key', scopes: ['history:read'] });
    expect(verify(`${a.key}x`)).toEqual({ ok: false, status: 401, reason: 'unknown_api_key' });
    // The hash itself is not a key: a leaked config does not grant access.
    expect(verify(a.hash)).toMatchObject({ ok: false, reason: 'unknown_api_key' });
    expect(createApiKeyVerifier([])(a.key)).toMatchObject({ ok: false, reason: 'unknown_api_key' });
  });

  it('rejects entries built by hand with a wrong digest size', () => {
    expect(() => createApiKeyVerifier([{ id: 'svc', hash: new Uint8Array(16) }])).toThrow(/32 bytes/);
  });
});
