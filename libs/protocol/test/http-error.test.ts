import { STATUS_CODES } from 'node:http';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, ErrorCode, httpError, httpStatusLine, isErrorCode } from '../src/index.js';

describe('httpError', () => {
  it('takes the status from the registry and the message from it by default', () => {
    const refusal = httpError('session_expired');
    expect(refusal.status).toBe(410);
    expect(refusal.statusLine).toBe('410 Gone');
    expect(refusal.payload).toEqual({ error: { code: 'session_expired', message: 'Session expired' } });
    expect(refusal.body).toBe('{"error":{"code":"session_expired","message":"Session expired"}}');
  });

  it('keeps an explicit message byte for byte (auth refusals say no more than their code)', () => {
    expect(httpError('unauthorized', 'unauthorized').body).toBe(
      '{"error":{"code":"unauthorized","message":"unauthorized"}}',
    );
    expect(httpError('forbidden', 'forbidden').statusLine).toBe('403 Forbidden');
  });

  it('names the field at fault after the message, as a WebSocket error frame does', () => {
    const refusal = httpError('invalid_message', 'user_id must be 1-128 characters', 'user_id');
    expect(refusal.statusLine).toBe('400 Bad Request');
    expect(refusal.body).toBe(
      '{"error":{"code":"invalid_message","message":"user_id must be 1-128 characters","field":"user_id"}}',
    );
    expect(JSON.parse(refusal.body)).toEqual(refusal.payload);
  });

  it('escapes the message as JSON', () => {
    const message = 'quote " backslash \\ newline \n';
    expect(JSON.parse(httpError('internal_error', message).body).error.message).toBe(message);
  });

  it('answers an unknown route with not_found 404', () => {
    expect(httpError('not_found')).toMatchObject({ status: 404, statusLine: '404 Not Found' });
    expect(isErrorCode('not_found')).toBe(true);
  });

  it.each(ERROR_CODES)('%s has a standard reason phrase for its status', (code) => {
    const { status, statusLine } = httpError(code);
    expect(status).toBe(ErrorCode[code].httpStatus);
    expect(statusLine).toMatch(/^\d{3} \S/);
    // Same wording as Node's table, except where RFC 9110 renamed the status.
    const renamed: Record<number, string> = { 413: 'Content Too Large', 422: 'Unprocessable Content' };
    expect(statusLine).toBe(`${status} ${renamed[status] ?? STATUS_CODES[status]}`);
  });
});

describe('httpStatusLine', () => {
  it('words the statuses a relay passes on', () => {
    expect(httpStatusLine(200)).toBe('200 OK');
    expect(httpStatusLine(503)).toBe('503 Service Unavailable');
    expect(httpStatusLine(504)).toBe('504 Gateway Timeout');
  });

  it('leaves the reason phrase empty for a status it does not know (still a valid status line)', () => {
    expect(httpStatusLine(599)).toBe('599 ');
  });
});
