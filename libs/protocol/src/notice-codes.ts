/**
 * Codes carried by `session.notice` (an extension): informational events about the session itself,
 * never errors in what the client sent. The set is open: a client must ignore a code it does not know,
 * so adding a code is a compatible change. Each is listed in `docs/protocol.md` (checked by a test).
 */
export const NoticeCode = {
  /**
   * The session moved to another worker after a failure and continues with its configuration and
   * history. Audio may pause briefly; no accepted input was lost.
   */
  session_recovered: { message: 'Session recovered after a server failure' },
  /** This connection resumed an existing session; missed server messages follow, without duplicates. */
  session_resumed: { message: 'Session resumed' },
  /**
   * The same user resumed this session on another connection: this one is closed with 4409 right after and
   * must not resume (the session continues on the other connection).
   */
  session_resumed_elsewhere: { message: 'This session was resumed on another connection' },
  /** The connection to the speech model dropped and is being re-established with the same context. */
  upstream_reconnecting: { message: 'Reconnecting to the speech model' },
  /**
   * After `upstream_reconnecting`: a new connection to the speech model is up with the session's context and
   * the user's turn in progress. Audio sent meanwhile (within a bound) was kept and reached it.
   */
  upstream_recovered: { message: 'Reconnected to the speech model' },
  /**
   * This gateway is shutting down: a close with 1012 follows shortly. Reconnect with the session id and
   * resume token to continue on another gateway.
   */
  server_draining: { message: 'Server is restarting; reconnect to continue' },
  /** A dependency is degraded (e.g. Redis unreachable): responses may be delayed or fail until it recovers. */
  service_degraded: { message: 'Service degraded; responses may be delayed' },
  /**
   * A requested setting is not supported by the provider's protocol shape and was not applied (e.g.
   * `temperature` on the GA shape). The rest of the update was applied; the message names the setting.
   */
  setting_not_applied: { message: 'A requested setting is not supported and was not applied' },
} as const satisfies Record<string, { readonly message: string }>;

/** A notice code this version defines (the wire format accepts any snake_case code). */
export type NoticeCode = keyof typeof NoticeCode;

/** Every defined notice code, in registry order. */
export const NOTICE_CODES = Object.freeze(Object.keys(NoticeCode)) as readonly NoticeCode[];
