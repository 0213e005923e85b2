import { ErrorCode as ERROR_TABLE, type ErrorCode, isErrorCode } from '@rtv/protocol';

/**
 * Failures the client itself detects, next to the server's stable error codes (`ErrorCode`). Codes are
 * stable snake_case strings like the server's: branch on them, not on messages.
 */
export const ClientErrorCode = {
  /** The WebSocket could not be opened: network error, refused upgrade (bad URL, 401, 503). */
  connect_failed: { retryable: true },
  /** The socket opened but no `session.created` arrived within `connectTimeoutMs`. */
  connect_timeout: { retryable: true },
  /** The server closed the connection with a terminal close code (see `closeCode`); no reconnect. */
  connection_closed: { retryable: false },
  /** Reconnecting failed `maxAttempts` times in a row; the client stopped trying. */
  reconnect_exhausted: { retryable: false },
  /** No `pong` within the ping timeout. The heartbeat treats this as a dead connection and reconnects. */
  ping_timeout: { retryable: true },
  /** A request got no answer in time (`updateSession`). */
  request_timeout: { retryable: true },
  /** A send while the connection is not open (connecting, reconnecting or closed). */
  not_connected: { retryable: true },
  /** A call with an argument the protocol would reject (caught before it is sent). */
  invalid_argument: { retryable: false },
  /** The server sent a frame that is not a JSON object with a `type`; it was ignored. */
  bad_server_message: { retryable: false },
  /** The client was closed while the operation was pending. */
  client_closed: { retryable: false },
  /** The `onFunctionCall` handler threw, rejected or returned an unsendable value; the model got the error. */
  function_call_failed: { retryable: false },
} as const satisfies Record<string, { readonly retryable: boolean }>;

export type ClientErrorCode = keyof typeof ClientErrorCode;

/** Every code a {@link RealtimeClientError} can carry: the server's error codes and the client's own. */
export type RealtimeErrorCode = ErrorCode | ClientErrorCode;

export interface RealtimeClientErrorDetails {
  /** Close code of the connection, for errors caused by a close. */
  closeCode?: number;
  closeReason?: string;
  /** Dotted path of the request field the server rejected (`session_update.temperature`). */
  field?: string;
  /** `event_id` of the request that failed. */
  eventId?: string;
  /** The provider's name of the parameter it rejected (`upstream_invalid_request`), for diagnosis. */
  param?: string;
  cause?: unknown;
}

// A brand instead of `instanceof`: two copies of this package in one bundle must still recognise each other.
const BRAND = Symbol.for('rtv.client.RealtimeClientError');

/** The one error type the client raises and reports through its `failure` event. */
export class RealtimeClientError extends Error {
  readonly code: RealtimeErrorCode;
  /** Whether the same operation may succeed later unchanged (after a backoff). */
  readonly retryable: boolean;
  readonly closeCode: number | undefined;
  readonly closeReason: string | undefined;
  readonly field: string | undefined;
  readonly eventId: string | undefined;
  readonly param: string | undefined;
  readonly [BRAND] = true;

  constructor(code: RealtimeErrorCode, message: string, details: RealtimeClientErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'RealtimeClientError';
    this.code = code;
    // A code from a newer server is unknown here: treat it as not retryable.
    this.retryable = isErrorCode(code)
      ? ERROR_TABLE[code].retryable
      : ((ClientErrorCode as Record<string, { retryable: boolean }>)[code]?.retryable ?? false);
    this.closeCode = details.closeCode;
    this.closeReason = details.closeReason;
    this.field = details.field;
    this.eventId = details.eventId;
    this.param = details.param;
  }

  /** Whether `value` is a {@link RealtimeClientError} (from any copy of this package). */
  static is(value: unknown): value is RealtimeClientError {
    return typeof value === 'object' && value !== null && (value as { [BRAND]?: unknown })[BRAND] === true;
  }
}
