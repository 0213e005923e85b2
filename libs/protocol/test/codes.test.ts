import { describe, expect, it } from 'vitest';
import {
  CLOSE_CODES,
  CloseCode,
  closeCodeInfo,
  ERROR_CODES,
  ErrorCode,
  isErrorCode,
  NOTICE_CODES,
} from '../src/index.js';

const SERVICE_MISCONFIGURED: ReadonlySet<string> = new Set([
  'upstream_model_unavailable',
  'upstream_auth_failed',
  'upstream_shape_unsupported',
]);

describe('error code registry', () => {
  it('lists the codes the protocol promises', () => {
    expect(ERROR_CODES).toEqual(
      expect.arrayContaining([
        'invalid_json',
        'invalid_message',
        'unknown_message_type',
        'message_too_large',
        'invalid_audio',
        'rate_limited',
        'unauthorized',
        'forbidden',
        'session_not_found',
        'session_expired',
        'upstream_unavailable',
        'upstream_error',
        'internal_error',
        'service_unavailable',
        'conversation_busy',
        'upstream_rate_limited',
        'upstream_invalid_request',
        'upstream_server_error',
        'upstream_model_unavailable',
        'upstream_auth_failed',
        'upstream_shape_unsupported',
      ]),
    );
  });

  it('distinguishes what the provider did, and what retrying can fix', () => {
    expect(ErrorCode.upstream_rate_limited).toMatchObject({ httpStatus: 429, retryable: true });
    expect(ErrorCode.upstream_invalid_request).toMatchObject({ httpStatus: 400, retryable: false });
    expect(ErrorCode.upstream_server_error).toMatchObject({ httpStatus: 502, retryable: true });
    for (const code of [
      'upstream_model_unavailable',
      'upstream_auth_failed',
      'upstream_shape_unsupported',
    ] as const) {
      expect(ErrorCode[code], code).toMatchObject({ httpStatus: 503, retryable: false });
    }
    expect(ErrorCode.upstream_error).toMatchObject({ httpStatus: 502, retryable: true });
  });

  it.each(ERROR_CODES)('%s is snake_case with a message and an HTTP error status', (code) => {
    expect(code).toMatch(/^[a-z]+(_[a-z]+)*$/);
    const spec = ErrorCode[code];
    expect(spec.message.length).toBeGreaterThan(0);
    expect(spec.httpStatus).toBeGreaterThanOrEqual(400);
    expect(spec.httpStatus).toBeLessThan(600);
    // Server faults are worth retrying, except a service misconfiguration only an operator can fix; most
    // client faults are not.
    if (spec.httpStatus >= 500 && !SERVICE_MISCONFIGURED.has(code)) expect(spec.retryable).toBe(true);
  });

  it('recognises only its own codes', () => {
    expect(isErrorCode('rate_limited')).toBe(true);
    for (const value of ['constructor', '__proto__', 'toString', 'RATE_LIMITED', 42, undefined]) {
      expect(isErrorCode(value)).toBe(false);
    }
  });
});

describe('close codes', () => {
  const entries = Object.entries(CLOSE_CODES);

  it('are unique, named constants', () => {
    expect(new Set(entries.map(([, spec]) => spec.code)).size).toBe(entries.length);
    for (const [name, spec] of entries) expect(CloseCode[name as keyof typeof CloseCode]).toBe(spec.code);
  });

  it.each(entries)('%s has a reason that fits a close frame (≤ 123 bytes)', (_name, spec) => {
    expect(spec.reason.length).toBeGreaterThan(0);
    expect(new TextEncoder().encode(spec.reason).length).toBeLessThanOrEqual(123);
    // Backoff and resume only make sense when reconnecting.
    if (!spec.reconnect) expect(spec.backoff || spec.resume).toBe(false);
  });

  it('have the reconnect semantics clients rely on', () => {
    const terminal = [1000, 1008, 1009, 4000, 4001, 4401, 4403, 4408, 4502];
    for (const code of terminal) expect(closeCodeInfo(code).reconnect).toBe(false);
    expect(closeCodeInfo(1011)).toMatchObject({ reconnect: true, resume: true });
    expect(closeCodeInfo(1012)).toMatchObject({
      name: 'ServiceRestart',
      reconnect: true,
      backoff: false,
      resume: true,
    });
    expect(closeCodeInfo(1013)).toMatchObject({ reconnect: true, backoff: true });
    expect(closeCodeInfo(4429)).toMatchObject({ reconnect: true, backoff: true });
    expect(closeCodeInfo(CloseCode.Unauthorized).reason).toBe('unauthorized');
    expect(closeCodeInfo(4502)).toEqual({
      name: 'UpstreamMisconfigured',
      code: 4502,
      reason: 'speech model refused the service configuration',
      reconnect: false,
      backoff: false,
      resume: false,
    });
  });

  it('classify unknown codes by range', () => {
    expect(closeCodeInfo(4499)).toMatchObject({ name: 'UNKNOWN', reconnect: false });
    expect(closeCodeInfo(4100)).toMatchObject({ name: 'UNKNOWN', reconnect: true, backoff: true });
    expect(closeCodeInfo(1014)).toMatchObject({ name: 'UNKNOWN', reconnect: true, backoff: true });
  });
});

describe('notice codes', () => {
  it('include setting_not_applied', () => {
    expect(NOTICE_CODES).toContain('setting_not_applied');
  });

  it.each(NOTICE_CODES)('%s matches the wire pattern', (code) => {
    expect(code).toMatch(/^[a-z][a-z0-9_]{0,63}$/);
  });
});
