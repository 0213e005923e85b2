import {
  compatErrorFor,
  DEFAULT_SESSION_CONFIG,
  type ErrorCode,
  encodeCompatError,
  encodeError,
  encodeNotice,
  encodeSessionCreated,
  type NoticeCode,
  NoticeCode as Notices,
  PROTOCOL_VERSION,
} from '@rtv/protocol';

/** What the gateway says on its own to a new or resumed client (`session.created` on the seed route). */
export interface SessionOpened {
  sid: string;
  userId: string;
  resumeToken: string;
  /** A new session (not a resume): the seed route then includes the initial configuration. */
  isNew: boolean;
  /** OpenAI-compatible route: the model the session runs on. */
  model?: string;
}

/**
 * The messages a gateway writes itself, in the protocol its client speaks: the seed protocol, or the provider's
 * for the OpenAI-compatible route (`/v1/realtime`), whose stock SDKs must see nothing but provider events.
 * Everything the workers send is already in the client's protocol and passes through as it is.
 */
export interface ClientDialect {
  readonly name: 'seed' | 'openai';
  /**
   * An `error` with one of our stable codes. `field` names the offending field of a client message (the seed's
   * dotted path), `eventId` the client event, `param` a request parameter outside any message (a query
   * parameter); the provider's shape has only `param`, which takes either.
   */
  error(code: ErrorCode, message?: string, field?: string, eventId?: string, param?: string): string;
  /** A notice, or undefined when this client does not get notices. */
  notice(code: NoticeCode, message?: string): string | undefined;
  /** The first message of a socket, or undefined when the protocol has none of ours. */
  opened(info: SessionOpened): string | undefined;
}

/** The seed protocol (`docs/protocol.md`). */
export const SEED_DIALECT: ClientDialect = {
  name: 'seed',
  error: (code, message, field, eventId, param) =>
    encodeError(code, message, field, eventId, param === undefined ? undefined : { param }),
  notice: (code, message = Notices[code].message) => encodeNotice(code, message),
  opened: (info) =>
    encodeSessionCreated({
      id: info.sid,
      user_id: info.userId,
      resume_token: info.resumeToken,
      protocol_version: PROTOCOL_VERSION,
      ...(info.isNew ? DEFAULT_SESSION_CONFIG : {}),
    }),
};

/**
 * The OpenAI-compatible route: errors in the provider's `error` event shape (with our stable codes), and, only
 * for a client that asked with `?rtv_events=1`, `rtv.session` (session id and resume token) and `rtv.notice`
 * events. A stock SDK gets none of those.
 */
export function openAiDialect(rtvEvents: boolean): ClientDialect {
  return {
    name: 'openai',
    error: (code, message, field, eventId, param) =>
      encodeCompatError(compatErrorFor(code, message, param ?? field, eventId)),
    notice: (code, message = Notices[code].message) =>
      rtvEvents ? JSON.stringify({ type: 'rtv.notice', code, message }) : undefined,
    opened: (info) =>
      rtvEvents
        ? JSON.stringify({
            type: 'rtv.session',
            session_id: info.sid,
            user_id: info.userId,
            resume_token: info.resumeToken,
            model: info.model,
          })
        : undefined,
  };
}
