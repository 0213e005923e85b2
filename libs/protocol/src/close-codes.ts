/**
 * WebSocket close codes the servers send (and the one a client sends to say it will resume), and what a
 * client should do after each one.
 *
 * The flags are the contract a client reconnect loop follows: `reconnect` false means terminal (do not
 * retry without user action), `backoff` means wait with jittered exponential backoff first, `resume`
 * means reconnect with the session id and resume token to continue the same session rather than start
 * a new one. A retired code stays listed so it is never reused with a different meaning.
 */
export interface CloseCodeSpec {
  /** Numeric WebSocket close code. */
  readonly code: number;
  /** Short reason sent in the close frame (the protocol allows at most 123 bytes). */
  readonly reason: string;
  /** Whether a client should reconnect automatically. False means terminal. */
  readonly reconnect: boolean;
  /** Whether to wait with jittered exponential backoff before reconnecting (avoids reconnect storms). */
  readonly backoff: boolean;
  /** Whether the reconnect should present the session id and resume token to continue the session. */
  readonly resume: boolean;
}

export const CLOSE_CODES = {
  /** The session ended normally (the client or the server closed it on purpose). */
  Normal: { code: 1000, reason: 'normal closure', reconnect: false, backoff: false, resume: false },
  /**
   * The peer is going away without a planned drain: a browser leaving the page, a process exiting.
   * The session survives on the server for the resume grace period.
   */
  GoingAway: { code: 1001, reason: 'going away', reconnect: true, backoff: true, resume: true },
  /**
   * Reserved: never sent in a close frame. A client's WebSocket reports it when the connection dropped
   * without a close handshake (network loss, a killed process); listed so clients know to resume.
   */
  AbnormalClosure: {
    code: 1006,
    reason: 'connection lost',
    reconnect: true,
    backoff: true,
    resume: true,
  },
  /** Protocol abuse: floods after warnings, repeated invalid frames, binary where text is required. */
  PolicyViolation: {
    code: 1008,
    reason: 'policy violation',
    reconnect: false,
    backoff: false,
    resume: false,
  },
  /** A frame exceeded the size limit; when the protocol layer caught it, `message_too_large` came first. */
  MessageTooBig: {
    code: 1009,
    reason: 'message too big',
    reconnect: false,
    backoff: false,
    resume: false,
  },
  /** An unexpected server fault; the session usually survives, so resume after a backoff. */
  InternalError: { code: 1011, reason: 'internal error', reconnect: true, backoff: true, resume: true },
  /**
   * The gateway is restarting or draining (deploys, scale-in). Reconnect at once (the load balancer picks
   * another gateway) and resume: nothing sent before the close is lost.
   */
  ServiceRestart: {
    code: 1012,
    reason: 'service restart',
    reconnect: true,
    backoff: false,
    resume: true,
  },
  /** Temporarily unable to serve (overload, Redis unreachable): reconnect with backoff. */
  TryAgainLater: {
    code: 1013,
    reason: 'try again later',
    reconnect: true,
    backoff: true,
    resume: true,
  },
  /** The server ended the session (maximum lifetime reached or ended by an operator). Terminal. */
  SessionEnded: { code: 4000, reason: 'session ended', reconnect: false, backoff: false, resume: false },
  /**
   * Resume refused: the session does not exist, already ended, or the resume token does not match.
   * Terminal for that session; the client may start a new one.
   */
  SessionNotFound: {
    code: 4001,
    reason: 'session not found',
    reconnect: false,
    backoff: false,
    resume: false,
  },
  /**
   * Sent by a client, never by a server: it gave up on a socket that stopped answering (a missed heartbeat)
   * and is reconnecting to resume. The gateway keeps the session for the resume grace period, as after a
   * dropped connection. Browsers may only send 1000 or 3000–4999, so 1001 is not available to them.
   */
  ClientReconnecting: {
    code: 4002,
    reason: 'client reconnecting',
    reconnect: true,
    backoff: false,
    resume: true,
  },
  /** Missing, invalid or expired credentials. Terminal until the client has new credentials. */
  Unauthorized: { code: 4401, reason: 'unauthorized', reconnect: false, backoff: false, resume: false },
  /** Valid credentials that do not grant this session or endpoint. Terminal. */
  Forbidden: { code: 4403, reason: 'forbidden', reconnect: false, backoff: false, resume: false },
  /** No client activity within the idle timeout, or the session outlived its maximum duration. */
  SessionTimeout: {
    code: 4408,
    reason: 'session timeout',
    reconnect: false,
    backoff: false,
    resume: false,
  },
  /**
   * The same user resumed this session on another connection (with the current resume token and a valid
   * credential): this socket no longer speaks for the session. Terminal for this client, which must not
   * resume (that would take the session back and start a tug of war); preceded by a `session.notice`
   * `session_resumed_elsewhere`. Mirrors HTTP 409 Conflict, so a client that predates it (4400–4499 range)
   * also stops.
   */
  SessionResumedElsewhere: {
    code: 4409,
    reason: 'session resumed elsewhere',
    reconnect: false,
    backoff: false,
    resume: false,
  },
  /** Too many concurrent connections for this user or this gateway; reconnect with backoff. */
  TooManyConnections: {
    code: 4429,
    reason: 'too many connections',
    reconnect: true,
    backoff: true,
    resume: true,
  },
  /**
   * Do not reconnect: the service's provider configuration (model, key, protocol shape) is wrong and the
   * speech model refuses it; an operator must fix it. Preceded by an `error` with one of
   * `upstream_model_unavailable`, `upstream_auth_failed`, `upstream_shape_unsupported`.
   */
  UpstreamMisconfigured: {
    code: 4502,
    reason: 'speech model refused the service configuration',
    reconnect: false,
    backoff: false,
    resume: false,
  },
} as const satisfies Record<string, CloseCodeSpec>;

/** Name of a registered close code (`'Unauthorized'`, …). */
export type CloseCodeName = keyof typeof CLOSE_CODES;

/** Named numeric constants: `ws.close(CloseCode.Unauthorized, …)`. Docs live on {@link CLOSE_CODES}. */
export const CloseCode = Object.freeze(
  Object.fromEntries(Object.entries(CLOSE_CODES).map(([name, spec]) => [name, spec.code])),
) as { readonly [K in CloseCodeName]: (typeof CLOSE_CODES)[K]['code'] };

/** One of the registered numeric close codes. */
export type CloseCode = (typeof CloseCode)[CloseCodeName];

/** What a close code means for a client; `name` is `'UNKNOWN'` for codes outside the table. */
export interface CloseCodeInfo extends CloseCodeSpec {
  readonly name: CloseCodeName | 'UNKNOWN';
}

const BY_CODE: ReadonlyMap<number, CloseCodeInfo> = new Map(
  Object.entries(CLOSE_CODES).map(([name, spec]) => [
    spec.code,
    Object.freeze({ name: name as CloseCodeName, ...spec }),
  ]),
);

/**
 * Looks up what a close code means. Codes outside the table follow the ranges: 4400–4499 mirror HTTP
 * 4xx client errors and are terminal; anything else is treated as transient (reconnect with backoff
 * and try to resume), which is the safe default for a code a newer server might send.
 */
export function closeCodeInfo(code: number): CloseCodeInfo {
  const known = BY_CODE.get(code);
  if (known !== undefined) return known;
  const clientError = code >= 4400 && code <= 4499;
  return {
    code,
    name: 'UNKNOWN',
    reason: clientError ? 'client error' : 'unknown close code',
    reconnect: !clientError,
    backoff: !clientError,
    resume: !clientError,
  };
}
