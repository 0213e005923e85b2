import { describe, expect, it } from 'vitest';
import { extractCredentials, MAX_TOKEN_CHARS, selectSubprotocol } from '../src/index.js';

const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEifQ.c2lnbmF0dXJl';

describe('extractCredentials', () => {
  it('takes a bearer token from the Authorization header (scheme case-insensitive)', () => {
    expect(extractCredentials({ authorization: `Bearer ${JWT}` })).toEqual({
      ok: true,
      token: JWT,
      source: 'header',
      echoProtocol: '',
    });
    expect(extractCredentials({ authorization: `bearer   ${JWT} ` })).toMatchObject({ ok: true, token: JWT });
  });

  it('refuses other schemes and a header with no token', () => {
    expect(extractCredentials({ authorization: 'Basic dXNlcjpwYXNz' })).toEqual({
      ok: false,
      status: 401,
      reason: 'malformed',
    });
    expect(extractCredentials({ authorization: 'Bearer' })).toMatchObject({ ok: false, reason: 'malformed' });
    expect(extractCredentials({ authorization: 'Bearer a b' })).toMatchObject({
      ok: false,
      reason: 'malformed',
    });
  });

  it('treats an empty header (how uWS reports a missing one) as absent', () => {
    expect(extractCredentials({ authorization: '' })).toEqual({ ok: false, status: 401, reason: 'missing' });
    expect(extractCredentials({})).toMatchObject({ ok: false, reason: 'missing' });
  });

  it('takes a browser token from the subprotocol entry and echoes rtv.v1, never the token', () => {
    const result = extractCredentials({ secWebSocketProtocol: `rtv.v1, rtv.bearer.${JWT}` });
    expect(result).toEqual({ ok: true, token: JWT, source: 'subprotocol', echoProtocol: 'rtv.v1' });
    // Order and separate header lines do not matter.
    expect(extractCredentials({ secWebSocketProtocol: [`rtv.bearer.${JWT}`, 'rtv.v1'] })).toEqual(result);
  });

  it('refuses a token entry offered without a plain protocol to echo', () => {
    expect(extractCredentials({ secWebSocketProtocol: `rtv.bearer.${JWT}` })).toEqual({
      ok: false,
      status: 401,
      reason: 'protocol_missing',
    });
  });

  it('refuses a request that carries more than one credential', () => {
    const both = { authorization: `Bearer ${JWT}`, secWebSocketProtocol: `rtv.v1, rtv.bearer.${JWT}` };
    expect(extractCredentials(both)).toMatchObject({ ok: false, reason: 'multiple_credentials' });
    const twoEntries = { secWebSocketProtocol: `rtv.v1, rtv.bearer.${JWT}, rtv.bearer.other` };
    expect(extractCredentials(twoEntries)).toMatchObject({ ok: false, reason: 'multiple_credentials' });
  });

  it('refuses ?access_token= by default, even next to a valid header', () => {
    expect(extractCredentials({ query: `access_token=${JWT}` })).toEqual({
      ok: false,
      status: 401,
      reason: 'query_token_disabled',
    });
    expect(
      extractCredentials({ authorization: `Bearer ${JWT}`, query: `?access_token=${JWT}` }),
    ).toMatchObject({
      ok: false,
      reason: 'query_token_disabled',
    });
    // Other query parameters are none of its business.
    expect(extractCredentials({ authorization: `Bearer ${JWT}`, query: 'resume=abc' })).toMatchObject({
      ok: true,
    });
  });

  it('accepts ?access_token= when enabled, from a string or parsed parameters', () => {
    const opts = { allowQueryToken: true };
    expect(extractCredentials({ query: `?access_token=${JWT}` }, opts)).toMatchObject({
      ok: true,
      token: JWT,
      source: 'query',
    });
    const params = new URLSearchParams({ access_token: JWT });
    expect(extractCredentials({ query: params }, opts)).toMatchObject({ ok: true, source: 'query' });
    expect(extractCredentials({ query: `access_token=a&access_token=b` }, opts)).toMatchObject({
      ok: false,
      reason: 'multiple_credentials',
    });
  });

  it('refuses empty, oversize and non-b64token tokens before anything verifies them', () => {
    expect(extractCredentials({ secWebSocketProtocol: 'rtv.v1, rtv.bearer.' })).toMatchObject({
      ok: false,
      reason: 'malformed',
    });
    const huge = `Bearer ${'a'.repeat(MAX_TOKEN_CHARS + 1)}`;
    expect(extractCredentials({ authorization: huge })).toMatchObject({ ok: false, reason: 'malformed' });
    expect(extractCredentials({ authorization: `Bearer ${'a'.repeat(MAX_TOKEN_CHARS)}` })).toMatchObject({
      ok: true,
    });
    expect(extractCredentials({ query: 'access_token=a%00b' }, { allowQueryToken: true })).toMatchObject({
      ok: false,
      reason: 'malformed',
    });
  });
});

describe('selectSubprotocol', () => {
  it('prefers rtv.v1, else the first plain entry, never a bearer entry', () => {
    expect(selectSubprotocol('chat, rtv.v1')).toBe('rtv.v1');
    expect(selectSubprotocol('rtv.bearer.abc, chat, other')).toBe('chat');
    expect(selectSubprotocol('rtv.bearer.abc')).toBe('');
    expect(selectSubprotocol('')).toBe('');
    expect(selectSubprotocol(undefined)).toBe('');
  });
});
