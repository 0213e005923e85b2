// The slice of the WebSocket API the client uses: the browser's global WebSocket and the `ws` package's
// class both fit it, so the client runs unchanged in either.

/** The events the client listens to; both the WHATWG WebSocket and `ws` deliver these shapes. */
export interface SocketMessageEvent {
  readonly data: unknown;
}
export interface SocketCloseEvent {
  readonly code: number;
  readonly reason: string;
  readonly wasClean?: boolean;
}
export interface SocketErrorEvent {
  readonly message?: string;
  readonly error?: unknown;
}

/** A WebSocket as the client needs it. */
export interface WebSocketLike {
  readonly readyState: number;
  /** The subprotocol the server selected (`rtv.v1`), or `''`. */
  readonly protocol: string;
  /** Bytes queued but not yet handed to the network; audio is dropped above a limit instead of piling up. */
  readonly bufferedAmount: number;
  binaryType: string;
  // The client assigns these itself, with the Socket*Event parameter types above. The parameter is typed
  // `never` here so that both the DOM's and `ws`'s handler typings are assignable to this interface.
  onopen: ((event: never) => void) | null;
  onmessage: ((event: never) => void) | null;
  onclose: ((event: never) => void) | null;
  onerror: ((event: never) => void) | null;
  send(data: string | ArrayBuffer | ArrayBufferView): void;
  close(code?: number, reason?: string): void;
}

/**
 * A WebSocket constructor: the browser's `WebSocket`, or `WebSocket` from the `ws` package in Node (which
 * also accepts the third argument, used to send the `Authorization` header).
 */
export type WebSocketConstructor = new (
  url: string,
  protocols?: string | string[],
  options?: { headers?: Record<string, string> },
) => WebSocketLike;

/** `readyState` of an open socket (the same constant in every implementation). */
export const SOCKET_OPEN = 1;

/**
 * Subprotocol offered on every connection: names the protocol major version. The gateway echoes the first
 * offered subprotocol, so it must come first (browsers fail a handshake that offered protocols and got
 * none back).
 */
export const PROTOCOL_SUBPROTOCOL = 'rtv.v1';

/** Prefix of the subprotocol that carries a bearer token where headers cannot be set (browsers). */
export const BEARER_SUBPROTOCOL_PREFIX = 'rtv.bearer.';

/**
 * Prefix of the subprotocol that carries the resume token. The token is a secret that resumes the session, so
 * it never goes into the URL (proxies and access logs keep URLs); the server never echoes it.
 */
export const RESUME_SUBPROTOCOL_PREFIX = 'rtv.resume.';

// RFC 7230 `token`: the characters a Sec-WebSocket-Protocol value may hold. JWTs and base64url fit.
const SUBPROTOCOL_TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * The handshake for `token`: the `Authorization` header (Node, or any constructor that takes headers) or
 * the browser form, `Sec-WebSocket-Protocol: rtv.v1, rtv.bearer.<token>`.
 */
export function handshakeFor(
  token: string | undefined,
  transport: 'header' | 'subprotocol',
): { protocols: string[]; headers?: Record<string, string> } {
  if (token === undefined) return { protocols: [PROTOCOL_SUBPROTOCOL] };
  if (transport === 'header') {
    return { protocols: [PROTOCOL_SUBPROTOCOL], headers: { authorization: `Bearer ${token}` } };
  }
  if (!SUBPROTOCOL_TOKEN.test(token)) {
    throw new TypeError(
      "the token cannot travel in Sec-WebSocket-Protocol: use only letters, digits and !#$%&'*+.^_`|~-",
    );
  }
  return { protocols: [PROTOCOL_SUBPROTOCOL, `${BEARER_SUBPROTOCOL_PREFIX}${token}`] };
}

/** The global WebSocket constructor (browsers, Node ≥ 22), if there is one. */
export function globalWebSocket(): WebSocketConstructor | undefined {
  const candidate = (globalThis as { WebSocket?: unknown }).WebSocket;
  return typeof candidate === 'function' ? (candidate as WebSocketConstructor) : undefined;
}

/** What a reconnect presents to continue a session (docs/protocol.md, Connecting). */
export interface ResumeParams {
  sessionId: string;
  resumeToken: string;
  /** The last `seq` received; the server replays everything after it (0: let the server decide). */
  lastSeq: number;
}

/**
 * The endpoint with the session parameters: numbered server messages, and which session to resume. The resume
 * token is not among them: it travels in {@link resumeProtocols}.
 */
export function sessionUrl(endpoint: string, resume: ResumeParams | undefined): string {
  const url = new URL(endpoint);
  url.searchParams.set('seq', '1');
  if (resume) {
    url.searchParams.set('resume', resume.sessionId);
    if (resume.lastSeq > 0) url.searchParams.set('last_seq', String(resume.lastSeq));
  }
  return url.toString();
}

/** `protocols` with the resume token's subprotocol entry added (`rtv.resume.<token>`), when resuming. */
export function resumeProtocols(protocols: string[], resume: ResumeParams | undefined): string[] {
  if (!resume) return protocols;
  if (!SUBPROTOCOL_TOKEN.test(resume.resumeToken)) {
    throw new TypeError('the resume token cannot travel in Sec-WebSocket-Protocol');
  }
  return [...protocols, `${RESUME_SUBPROTOCOL_PREFIX}${resume.resumeToken}`];
}
