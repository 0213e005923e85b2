import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createApiKeyVerifier, generateApiKey, hashApiKey, parseApiKeys } from '../src/index.js';

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
    const verify = createApiKeyVerifier(parseApiKeys(`svc-a:${a.hash},svc-b:${b.hash}`));
    expect(verify(a.key)).toEqual({ ok: true, userId: 'svc-a', via: 'api_key' });
    expect(verify(b.key)).toEqual({ ok: true, userId: 'svc-b', via: 'api_key' });
    expect(verify(`${a.key}x`)).toEqual({ ok: false, status: 401, reason: 'unknown_api_key' });
    // The hash itself is not a key: a leaked config does not grant access.
    expect(verify(a.hash)).toMatchObject({ ok: false, reason: 'unknown_api_key' });
    expect(createApiKeyVerifier([])(a.key)).toMatchObject({ ok: false, reason: 'unknown_api_key' });
  });

  it('rejects entries built by hand with a wrong digest size', () => {
    expect(() => createApiKeyVerifier([{ id: 'svc', hash: new Uint8Array(16) }])).toThrow(/32 bytes/);
  });
});
