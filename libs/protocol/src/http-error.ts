import { ErrorCode } from './codes.js';

/**
 * Reason phrases of RFC 9110 §15 for the statuses the error registry maps to, plus the success and
 * gateway statuses a relaying server passes on. A status line needs one; clients ignore its wording.
 */
const REASON_PHRASES: Readonly<Record<number, string>> = {
  200: 'OK',
  204: 'No Content',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  409: 'Conflict',
  410: 'Gone',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/**
 * The status line without the HTTP version, as `res.writeStatus` takes it: `'401 Unauthorized'`. A
 * status missing from the table gets an empty reason phrase, which RFC 9112 §4 allows (`'599 '`).
 */
export function httpStatusLine(status: number): string {
  return `${status} ${REASON_PHRASES[status] ?? ''}`;
}

/** The JSON body of every HTTP refusal: the same `error` object a WebSocket `error` frame carries. */
export interface HttpErrorPayload<C extends ErrorCode = ErrorCode> {
  readonly error: {
    readonly code: C;
    readonly message: string;
    /** Dotted path of the request field at fault, when one is. */
    readonly field?: string;
  };
}

/**
 * One HTTP refusal, ready for any server: uWebSockets.js takes the line and text, fastify the rest. `status`
 * keeps the registry's literal type, so where replies are typed by status (fastify with response schemas)
 * the compiler checks that the route declares it.
 */
export interface HttpError<C extends ErrorCode = ErrorCode> {
  /** The code's HTTP status from the registry. */
  readonly status: (typeof ErrorCode)[C]['httpStatus'];
  /** Status and reason phrase: `'401 Unauthorized'`. */
  readonly statusLine: string;
  /** The body as an object, for servers that serialize replies themselves (or embed it in a larger one). */
  readonly payload: HttpErrorPayload<C>;
  /** The body as JSON text: `{"error":{"code":…,"message":…[,"field":…]}}`. */
  readonly body: string;
}

/**
 * Turns an error code into an HTTP refusal, so the status always matches the one `ErrorCode` (and
 * docs/protocol.md) gives the code. The message defaults to the registry's; pass a fixed one where a
 * refusal must say no more than its code (authentication failures).
 */
export function httpError<C extends ErrorCode>(
  code: C,
  message: string = ErrorCode[code].message,
  field?: string,
): HttpError<C> {
  const status: (typeof ErrorCode)[C]['httpStatus'] = ErrorCode[code].httpStatus;
  const payload: HttpErrorPayload<C> = {
    error: field === undefined ? { code, message } : { code, message, field },
  };
  return { status, statusLine: httpStatusLine(status), payload, body: JSON.stringify(payload) };
}
