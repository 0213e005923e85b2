import { describe, expect, it } from 'vitest';
import {
  type AuthSuccess,
  DEFAULT_API_KEY_SCOPES,
  deny,
  isScope,
  JWT_SCOPES,
  mayReadHistory,
  requireScope,
  SCOPES,
} from '../src/index.js';

const jwt = (userId: string): AuthSuccess => ({ ok: true, userId, via: 'jwt', scopes: JWT_SCOPES });
const key = (userId: string, scopes: AuthSuccess['scopes']): AuthSuccess => ({
  ok: true,
  userId,
  via: 'api_key',
  scopes,
});

describe('scopes', () => {
  it('knows exactly sessions:connect and history:read; keys and JWTs default to connecting only', () => {
    expect(SCOPES).toEqual(['sessions:connect', 'history:read']);
    expect(DEFAULT_API_KEY_SCOPES).toEqual(['sessions:connect']);
    expect(JWT_SCOPES).toEqual(['sessions:connect']);
    expect(isScope('history:read')).toBe(true);
    expect(isScope('history:write')).toBe(false);
  });

  it('requireScope passes a credential with the scope and refuses one without it with 403 scope', () => {
    const reader = key('ops', ['history:read']);
    expect(requireScope(jwt('alice'), 'sessions:connect')).toEqual(jwt('alice'));
    expect(requireScope(reader, 'sessions:connect')).toEqual({ ok: false, status: 403, reason: 'scope' });
    expect(requireScope(reader, 'history:read')).toBe(reader);
    // A failure stays the failure it was.
    expect(requireScope(deny('expired'), 'sessions:connect')).toEqual(deny('expired'));
  });

  it('lets a caller read its own sessions, and anyone else’s only with history:read', () => {
    expect(mayReadHistory(jwt('alice'), 'alice')).toBe(true);
    expect(mayReadHistory(jwt('bob'), 'alice')).toBe(false);
    expect(mayReadHistory(jwt('alice'), 'anon:alice')).toBe(false);
    expect(mayReadHistory(key('svc', ['sessions:connect']), 'alice')).toBe(false);
    expect(mayReadHistory(key('svc', ['sessions:connect']), 'svc')).toBe(true);
    expect(mayReadHistory(key('ops', ['history:read']), 'alice')).toBe(true);
    expect(mayReadHistory(key('ops', ['history:read']), 'anon:alice')).toBe(true);
  });
});
