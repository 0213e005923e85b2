import type {
  ClientSessionUpdate,
  CloseCodeInfo,
  FunctionTool,
  ServerMessage,
  SessionCreatedInfo,
} from '@rtv/protocol';
import type { ReconnectOptions } from './backoff.js';
import type { RealtimeClientError } from './errors.js';
import type { FunctionCall, FunctionCallHandler, FunctionCallOutputEvent } from './function-calls.js';
import type { WebSocketConstructor } from './socket.js';

/** The configurable part of a session (the `session_update` of a `session.update` request). */
export type SessionUpdate = ClientSessionUpdate['session_update'];

/** Where the connection is. `reconnecting` covers the wait before an attempt and the attempt itself. */
export type ConnectionState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

type Resolvable<T> = T | (() => T | Promise<T>);

export interface RealtimeClientOptions {
  /**
   * Gateway endpoint: `ws(s)://host/api/v1/streaming/realtime/<user_id>` (anonymous route) or
   * `…/realtime` with a `token`. A function is called before every attempt, so a reconnect can go
   * elsewhere (another region, a URL with fresh query parameters).
   */
  url: string | ((attempt: { number: number; previousSessionId?: string }) => string | Promise<string>);
  /** Bearer token for the authenticated route; a function is called before every attempt (refresh). */
  token?: Resolvable<string>;
  /**
   * How the token travels. `header` sends `Authorization: Bearer …` (needs a constructor that takes
   * headers, such as `ws`); `subprotocol` offers `["rtv.v1", "rtv.bearer.<token>"]`, the only way a browser
   * can send one.
   * @defaultValue `'header'` when `WebSocket` is given, else `'subprotocol'`
   */
  tokenTransport?: 'header' | 'subprotocol';
  /**
   * WebSocket constructor. Browsers (and Node ≥ 22) have a global one; on Node 20 pass `WebSocket` from
   * the `ws` package.
   */
  WebSocket?: WebSocketConstructor;
  /**
   * Configuration applied to every session this client opens, sent right after `session.created`.
   * Updates made with `updateSession` are merged in, so a reconnect restores them on the new session.
   */
  session?: SessionUpdate;
  /**
   * Function tools the model may call, sent with the `session` configuration (a shorthand for
   * `session.tools`, which it replaces). `session.tool_choice` says whether the model calls them.
   */
  tools?: FunctionTool[];
  /**
   * Answers the model's function calls (`response.function_call`). Its return value, or what its promise
   * resolves to, is the output: a string as is, `undefined` as `""`, anything else as JSON. A throw, a
   * rejection, or a value that cannot be sent (not JSON-serializable, over 65,536 characters) answers
   * `{"error":"<message>"}` and is reported as a `function_call_failed` failure, so the model is never left
   * waiting. The outputs of one reply are sent once its `response.done` has arrived and every handler has
   * settled, in call order, all but the last with `respond: false` (none asks for a follow-up when the reply
   * was cancelled). Each call id is handled once, also when a resumed session delivers the call again.
   * Without it, answer with `sendFunctionOutput` (the `functionCall` event tells when).
   */
  onFunctionCall?: FunctionCallHandler;
  /** Reconnect tuning, or `false` to never reconnect by itself. */
  reconnect?: Partial<ReconnectOptions> | false;
  /**
   * Continue the same session after a lost connection when the close code allows it: reconnect with the
   * session id and resume token, and the server replays what was missed (messages are numbered with
   * `seq=1` so the replay starts exactly after the last one received). `false` opens a new session on every
   * reconnect.
   * @defaultValue true
   */
  resume?: boolean;
  /**
   * Time for one attempt, from creating the socket to `session.created`.
   * @defaultValue 10_000
   */
  connectTimeoutMs?: number;
  /**
   * Default timeout of `ping()` and of heartbeat pings.
   * @defaultValue 5000
   */
  pingTimeoutMs?: number;
  /**
   * How long `updateSession` waits for the server's answer before rejecting with `request_timeout`.
   * @defaultValue 10_000
   */
  requestTimeoutMs?: number;
  /**
   * Interval of heartbeat pings while open, or `false`. They measure latency (`latency` event) and catch a
   * connection that died silently (no close frame, e.g. a laptop that slept): a missed pong reconnects.
   * @defaultValue 15_000
   */
  heartbeatIntervalMs?: number | false;
  /**
   * How audio goes out: `binary` frames of raw PCM16 (the extension; a third smaller, no base64 work) or
   * seed `conversation.item.input` JSON with base64, for servers that only speak the seed protocol.
   * @defaultValue 'binary'
   */
  audioFrames?: 'binary' | 'json';
  /**
   * Audio is dropped (and counted) while the socket has more than this many bytes queued: late audio is
   * worth less than fresh audio, and an unbounded queue would only grow on a slow link.
   * @defaultValue 1_048_576
   */
  maxBufferedBytes?: number;
}

/** Payload of the `open` event: a session is ready. */
export interface OpenEvent {
  session: SessionCreatedInfo;
  /** This connection replaced one that was lost. */
  reconnected: boolean;
  /**
   * The server continued the previous session (same id, history and configuration kept; missed messages
   * follow). False for a new session, whose configuration the client restores but not the history.
   */
  resumed: boolean;
  previousSessionId: string | undefined;
}

/** Payload of the `close` event: a socket closed (or could not be opened). */
export interface CloseEvent {
  code: number;
  reason: string;
  /** What the close code means (`closeCodeInfo`); `reconnect: false` is terminal. */
  info: CloseCodeInfo;
  /** Whether the client will try again; `delayMs` says when. */
  willReconnect: boolean;
  delayMs: number | undefined;
}

/** Payload of the `reconnecting` event. */
export interface ReconnectingEvent {
  /** Attempt number since the last successful connection, from 1. */
  attempt: number;
  delayMs: number;
  closeCode: number;
}

/** Payload of the `transcript` event: the user's speech as text (`conversation.item.transcript`). */
export interface TranscriptEvent {
  /** The user input item (one spoken turn) the text belongs to. */
  itemId: string;
  role: 'user';
  /** `final: false`: the next piece, to append; `final: true`: the whole transcript, to replace them. */
  text: string;
  final: boolean;
}

/** Every server message is an event named after its `type`, with the message as payload. */
export type ServerMessageEvents = { [M in ServerMessage as M['type']]: M };

export interface RealtimeClientEvents extends ServerMessageEvents {
  /** Every server message, including types this version does not know. */
  message: ServerMessage;
  state: { state: ConnectionState; previous: ConnectionState };
  open: OpenEvent;
  close: CloseEvent;
  reconnecting: ReconnectingEvent;
  /**
   * Every problem in one place: server `error` messages (code = the server's), failed connects, terminal
   * closes, exhausted reconnects, ping timeouts, unreadable server frames.
   */
  failure: RealtimeClientError;
  /** Round trip of a heartbeat ping, in milliseconds. */
  latency: number;
  /** A function call of the model, once per call id (a repeated delivery is not reported again). */
  functionCall: FunctionCall;
  /** A `function_call_output` was sent (by `onFunctionCall` or `sendFunctionOutput`). */
  functionCallOutput: FunctionCallOutputEvent;
  /** A piece, or the final text, of the transcript of the user's speech. */
  transcript: TranscriptEvent;
}

/** Counters for dashboards and tests. */
export interface ClientStats {
  audioChunksSent: number;
  /** Chunks not sent: the connection was not open, or the socket's send buffer was over the limit. */
  audioChunksDropped: number;
  /** Sessions opened after a lost connection. */
  reconnects: number;
}
