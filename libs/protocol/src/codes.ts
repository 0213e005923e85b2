/**
 * Registry of the stable error codes sent in `error.code` and used by the HTTP endpoints.
 *
 * Codes are part of the public contract: clients branch on them, so a code is never renamed, and a
 * retired code stays listed (marked `@deprecated`) so it is never reused with another meaning.
 * `docs/protocol.md` lists every code with the same HTTP status; a test keeps the two in step.
 */
export interface ErrorCodeSpec {
  /** Default human-readable message, used when the sender has nothing more specific to say. */
  readonly message: string;
  /**
   * HTTP status the code maps to when it is reported over HTTP (WebSocket upgrade refusals, the
   * status API), so the mapping is explicit instead of guessed at each call site.
   */
  readonly httpStatus: number;
  /**
   * True when repeating the same request later may succeed without changing it (back off first);
   * false when the request or the credentials must change.
   */
  readonly retryable: boolean;
}

export const ErrorCode = {
  /**
   * The frame is not JSON: a syntax error, bytes that are not valid UTF-8, or nesting too deep for
   * the parser. The connection stays open.
   */
  invalid_json: { message: 'Frame is not valid JSON', httpStatus: 400, retryable: false },
  /**
   * The frame is JSON but not a valid message: wrong shape, missing or unknown field, value out of
   * range. The message names the field by dotted path.
   */
  invalid_message: { message: 'Message does not match the protocol', httpStatus: 400, retryable: false },
  /** The `type` field names no request this server knows; the message lists the supported types. */
  unknown_message_type: { message: 'Unknown message type', httpStatus: 400, retryable: false },
  /**
   * The frame is larger than the frame limit (a binary audio frame: larger than the audio limit). The
   * server closes the connection with 1009 right after this error.
   */
  message_too_large: { message: 'Frame is too large', httpStatus: 413, retryable: false },
  /**
   * `conversation_item_input.audio` is not usable PCM16: empty, not standard padded base64, an odd
   * number of bytes, or larger than the audio limit.
   */
  invalid_audio: { message: 'Audio is not valid base64 PCM16', httpStatus: 400, retryable: false },
  /** The client sends more messages or bytes per second than allowed; slow down and retry. */
  rate_limited: { message: 'Too many requests; slow down', httpStatus: 429, retryable: true },
  /** Missing, malformed or expired credentials. At upgrade time this closes with 4401. */
  unauthorized: { message: 'Authentication required', httpStatus: 401, retryable: false },
  /** The credentials are valid but do not grant this action (e.g. another user's session). */
  forbidden: { message: 'Not allowed', httpStatus: 403, retryable: false },
  /** The session id given to resume or look up does not exist (never existed or already ended). */
  session_not_found: { message: 'Session not found', httpStatus: 404, retryable: false },
  /**
   * The HTTP path names no endpoint this server serves (a mistyped URL, or a route of a newer version).
   * HTTP only: a WebSocket never sends it, an unknown session is `session_not_found`.
   */
  not_found: { message: 'No such route', httpStatus: 404, retryable: false },
  /**
   * A resume on the anonymous route found the session still attached to its previous connection (its drop is
   * not recorded yet): nothing changed. The server closes with 1013; retry the same resume with backoff.
   */
  session_in_use: {
    message: 'The session is still attached to another connection; retry shortly',
    httpStatus: 409,
    retryable: true,
  },
  /**
   * While Redis was unreachable the gateway kept this connection's frames for the session, and the buffer
   * (`RTV_REPLAY_MAX_BYTES`) is full: the frame that got this was not taken. Close 1013 follows; resume the
   * session (the frames taken before are kept and reach it).
   */
  replay_buffer_full: {
    message: 'The gateway cannot hold more of your input while the service recovers; resume shortly',
    httpStatus: 503,
    retryable: true,
  },
  /**
   * After a Redis outage the session was not running again within the recovery bound
   * (`RTV_REDIS_RECOVERY_MS`, default 10 s). Close 1013 follows; resume it.
   */
  session_recovery_failed: {
    message: 'The session could not be re-established after a service fault; resume it',
    httpStatus: 503,
    retryable: true,
  },
  /** The session reached its maximum lifetime or its resume grace period ran out. */
  session_expired: { message: 'Session expired', httpStatus: 410, retryable: false },
  /** The speech model cannot be reached after repeated attempts; the session cannot continue now. */
  upstream_unavailable: { message: 'Speech model unavailable', httpStatus: 503, retryable: true },
  /**
   * The speech model rejected or failed a request for a reason no more specific `upstream_*` code covers;
   * provider details are never forwarded.
   */
  upstream_error: { message: 'Speech model error', httpStatus: 502, retryable: true },
  /** The provider rate-limited the request (tokens or requests per minute); retry after a backoff. */
  upstream_rate_limited: {
    message: 'Speech model rate limit reached; retry shortly',
    httpStatus: 429,
    retryable: true,
  },
  /**
   * The provider rejected a request as invalid, e.g. a tool's `parameters` it does not accept. `error.param`
   * names the provider's parameter when it said which; change the request (usually the session settings).
   */
  upstream_invalid_request: {
    message: 'Speech model rejected the request as invalid',
    httpStatus: 400,
    retryable: false,
  },
  /** The provider failed with a server error of its own; retry after a backoff. */
  upstream_server_error: { message: 'Speech model server error', httpStatus: 502, retryable: true },
  /**
   * The configured speech model is unknown to the provider or retired. An operator must change the
   * service configuration; retrying does not help.
   */
  upstream_model_unavailable: {
    message: 'The configured speech model is not available',
    httpStatus: 503,
    retryable: false,
  },
  /**
   * The provider refused the service's own credentials (not the client's): an operator must fix the key.
   */
  upstream_auth_failed: {
    message: 'Speech model refused the service credentials',
    httpStatus: 503,
    retryable: false,
  },
  /**
   * The provider no longer accepts the protocol shape (API version) the service is configured for; an
   * operator must change the configuration.
   */
  upstream_shape_unsupported: {
    message: 'Speech model no longer accepts the configured protocol shape',
    httpStatus: 503,
    retryable: false,
  },
  /** An unexpected server fault. Details go to the server logs, never to the client. */
  internal_error: { message: 'Internal server error', httpStatus: 500, retryable: true },
  /** The service is overloaded, draining or missing a dependency (e.g. Redis); retry with backoff. */
  service_unavailable: { message: 'Service temporarily unavailable', httpStatus: 503, retryable: true },
  /**
   * A response is already being generated; cancel it or wait for `response.done` first. Sent for
   * `response.create` during a reply. A user text sent during a reply is now queued (answered after the
   * reply, or at once with `interrupt: true`), so it no longer gets this code.
   */
  conversation_busy: { message: 'A response is already in progress', httpStatus: 409, retryable: true },
  /**
   * OpenAI-compatible route: the model asked for (`?model=`) is not in the deployment's allowlist for this
   * user's class. Sent as the provider's `error` event right after the upgrade, then close 4403.
   */
  model_not_allowed: {
    message: 'This model is not allowed for this user',
    httpStatus: 403,
    retryable: false,
  },
  /**
   * OpenAI-compatible route: a `session.update` or `response.create` sets a field the deployment forbids, or
   * a tool that is not in its allowlist. The event is not applied; the connection stays open.
   */
  setting_forbidden: {
    message: 'This setting is not allowed by the deployment',
    httpStatus: 403,
    retryable: false,
  },
  /**
   * The user's token budget for the current window is spent: refused at connect, or the session ends after
   * the response that spent it (close 4000). Retrying helps only once the window has passed.
   */
  budget_exhausted: {
    message: 'The token budget for this period is spent',
    httpStatus: 429,
    retryable: false,
  },
  /**
   * The client sent an OpenAI API key (`sk-…`) as its credential. The gateway never takes provider keys from
   * clients (its workers hold the provider key): use a gateway API key or token.
   */
  provider_key_refused: {
    message: 'Provider API keys are not accepted here; use a gateway credential',
    httpStatus: 401,
    retryable: false,
  },
} as const satisfies Record<string, ErrorCodeSpec>;

/** One of the stable error codes (the keys of {@link ErrorCode}). */
export type ErrorCode = keyof typeof ErrorCode;

/** Every error code, in registry order (the order `docs/protocol.md` lists them). */
export const ERROR_CODES = Object.freeze(Object.keys(ErrorCode)) as readonly ErrorCode[];

/** True when `value` is one of the registered error codes (own keys only, so `"constructor"` is not). */
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ErrorCode, value);
}
