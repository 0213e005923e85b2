import { CloseCode, type CloseCodeInfo } from '@rtv/protocol';
import { RealtimeClientError } from './errors.js';

/** A readable description of a close: `Unauthorized (4401 token expired)`. */
export function describeClose(info: CloseCodeInfo, code: number, reason: string): string {
  return `${info.name} (${code}${reason ? ` ${reason}` : ''})`;
}

/** The message of whatever an `error` event or a thrown value carried, or `''`. */
export function describeError(err: unknown): string {
  if (err === undefined || err === null) return '';
  if (err instanceof Error) return err.message;
  if (typeof err === 'object' && 'message' in err && typeof err.message === 'string') return err.message;
  return typeof err === 'string' ? err : '';
}

/**
 * Why the first attempt failed. A socket that never opened closes with 1006 (browsers hide the HTTP status
 * of a refused upgrade; `ws` puts it in the error message); a socket the server closed has a real code.
 */
export function connectFailure(
  lastError: unknown,
  code: number,
  reason: string,
  info: CloseCodeInfo,
): RealtimeClientError {
  if (RealtimeClientError.is(lastError)) return lastError;
  const details = { closeCode: code, closeReason: reason, cause: lastError };
  if (code === CloseCode.AbnormalClosure) {
    const why = describeError(lastError) || 'connection refused or upgrade rejected';
    return new RealtimeClientError('connect_failed', `cannot connect: ${why}`, details);
  }
  return new RealtimeClientError(
    'connection_closed',
    `the server closed the connection: ${describeClose(info, code, reason)}`,
    details,
  );
}

/** Why the client stopped after a session was open: a terminal close, or reconnecting gave up. */
export function stopFailure(
  exhausted: boolean,
  attempts: number,
  lastError: unknown,
  code: number,
  reason: string,
  info: CloseCodeInfo,
): RealtimeClientError {
  const details = { closeCode: code, closeReason: reason };
  if (exhausted) {
    return new RealtimeClientError('reconnect_exhausted', `gave up after ${attempts} reconnect attempts`, {
      ...details,
      cause: lastError,
    });
  }
  return new RealtimeClientError(
    'connection_closed',
    `the server closed the connection: ${describeClose(info, code, reason)}`,
    details,
  );
}
