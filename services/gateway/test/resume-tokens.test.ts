import { describe, expect, it } from 'vitest';
import { type ResumeBinding, ResumeTokens } from '../src/routing/resume-tokens.js';

const binding: ResumeBinding = {
  sid: 'sess_aaaaaaaaaaaaaaaaaaaaa',
  userId: 'alice',
  route: 'authenticated',
  credential: 'jwt',
};
const NOW = 1_700_000_000_000;

function tokens(opts: { ttlS?: number; maxSessionMs?: number } = {}): ResumeTokens {
  return new ResumeTokens(Buffer.from('unit-test-resume-secret'), {
    ttlS: opts.ttlS ?? 3600,
    maxSessionMs: opts.maxSessionMs ?? 0,
  });
}

describe('ResumeTokens v2', () => {
  it('issues v2.<exp>.<generation>.<mac> that verifies for its binding and names its generation', () => {
    const t = tokens();
    const token = t.issue(binding, 7, NOW, NOW);
    expect(token).toMatch(/^v2\.\d+\.7\.[A-Za-z0-9_-]{43}$/);
    expect(t.verify(token, binding, NOW)).toEqual({ ok: true, generation: 7 });
  });

  it.each([
    ['session', { sid: 'sess_bbbbbbbbbbbbbbbbbbbbb' }],
    ['user', { userId: 'mallory' }],
    ['route', { route: 'anonymous' }],
    ['credential kind', { credential: 'api_key' }],
  ] as const)('is bound to the %s', (_what, change) => {
    const t = tokens();
    const token = t.issue(binding, 0, NOW, NOW);
    expect(t.verify(token, { ...binding, ...change }, NOW)).toEqual({ ok: false, reason: 'mismatch' });
  });

  it('a changed generation or expiry breaks the MAC', () => {
    const t = tokens();
    const [v, exp, gen, mac] = tokens().issue(binding, 1, NOW, NOW).split('.');
    expect(t.verify([v, exp, Number(gen) + 1, mac].join('.'), binding, NOW)).toEqual({
      ok: false,
      reason: 'mismatch',
    });
    expect(t.verify([v, Number(exp) + 60, gen, mac].join('.'), binding, NOW)).toEqual({
      ok: false,
      reason: 'mismatch',
    });
  });

  it('another secret does not verify it', () => {
    const other = new ResumeTokens(Buffer.from('another-secret'), { ttlS: 3600, maxSessionMs: 0 });
    expect(other.verify(tokens().issue(binding, 0, NOW, NOW), binding, NOW)).toEqual({
      ok: false,
      reason: 'mismatch',
    });
  });

  it('expires at the session’s maximum end, and never later than the TTL after issue', () => {
    const capped = tokens({ ttlS: 12 * 3600, maxSessionMs: 60_000 });
    const createdMs = NOW - 50_000;
    const token = capped.issue(binding, 0, createdMs, NOW);
    expect(capped.verify(token, binding, NOW + 9_000)).toMatchObject({ ok: true });
    expect(capped.verify(token, binding, NOW + 11_000)).toEqual({ ok: false, reason: 'expired' });
    const short = tokens({ ttlS: 60, maxSessionMs: 4 * 3600_000 });
    const early = short.issue(binding, 0, NOW, NOW);
    expect(short.verify(early, binding, NOW + 59_000)).toMatchObject({ ok: true });
    expect(short.verify(early, binding, NOW + 61_000)).toEqual({ ok: false, reason: 'expired' });
  });

  it.each([
    '',
    'v1.9999999999.AAAA',
    `v2.1.0.${'A'.repeat(42)}`,
    `v2.x.0.${'A'.repeat(43)}`,
    `v2.1.-1.${'A'.repeat(43)}`,
  ])('refuses the malformed token %j', (token) => {
    expect(tokens().verify(token, binding, NOW)).toEqual({ ok: false, reason: 'malformed' });
  });
});
