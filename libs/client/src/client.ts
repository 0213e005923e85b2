import {
  type ClientMessage,
  CloseCode,
  closeCodeInfo,
  type ServerMessage,
  type SessionCreatedInfo,
  type SessionInfo,
} from '@rtv/protocol';
import { DEFAULT_RECONNECT, type ReconnectOptions, reconnectDelay } from './backoff.js';
import type {
  ClientStats,
  ConnectionState,
  OpenEvent,
  RealtimeClientEvents,
  RealtimeClientOptions,
  SessionUpdate,
  TranscriptEvent,
} from './client-types.js';
import { connectFailure, describeError, stopFailure } from './close-policy.js';
import { TypedEmitter } from './emitter.js';
import { RealtimeClientError } from './errors.js';
import { audioBytes, audioFrame, readServerFrame, textTurn } from './frames.js';
import {
  type CallBatch,
  CallLedger,
  type FunctionCall,
  functionCallOf,
  functionOutputFrame,
  type PendingAnswer,
  runHandler,
  type SendFunctionOutputOptions,
  toFunctionOutput,
} from './function-calls.js';
import { PendingRequests } from './requests.js';
import {
  globalWebSocket,
  handshakeFor,
  type ResumeParams,
  resumeProtocols,
  SOCKET_OPEN,
  type SocketCloseEvent,
  type SocketErrorEvent,
  type SocketMessageEvent,
  sessionUrl,
  type WebSocketConstructor,
  type WebSocketLike,
} from './socket.js';

export type {
  ClientStats,
  CloseEvent,
  ConnectionState,
  OpenEvent,
  RealtimeClientEvents,
  RealtimeClientOptions,
  ReconnectingEvent,
  ServerMessageEvents,
  SessionUpdate,
  TranscriptEvent,
} from './client-types.js';

/**
 * A client for the realtime-voice protocol: one logical conversation over a WebSocket that it reconnects
 * when the close code allows (docs/protocol.md, Close codes), with typed events, request helpers and one
 * error type. Framework-free; runs in browsers and in Node ≥ 20.
 */
export class RealtimeVoiceClient extends TypedEmitter<RealtimeClientEvents> {
  readonly #opts: RealtimeClientOptions;
  readonly #reconnect: ReconnectOptions | undefined;
  readonly #WebSocket: WebSocketConstructor;
  #state: ConnectionState = 'idle';
  #socket: WebSocketLike | undefined;
  #session: SessionCreatedInfo | undefined;
  #config: SessionInfo | undefined;
  #desired: SessionUpdate;
  #attempt = 0;
  #everOpened = false;
  /** The next attempt presents the session id and resume token. */
  #resumable = false;
  /** The current socket is a resume attempt. */
  #resuming = false;
  /** Highest `seq` received in this session: duplicates are dropped, and a resume replays after it. */
  #lastSeq = 0;
  #userClosed = false;
  #responding = false;
  #latencyMs: number | undefined;
  #lastError: unknown;
  /** The `open` event of the session that just arrived, emitted after its message events. */
  #pendingOpen: OpenEvent | undefined;
  #connectWaiter:
    | { resolve: (session: SessionCreatedInfo) => void; reject: (err: RealtimeClientError) => void }
    | undefined;
  #connecting: Promise<SessionCreatedInfo> | undefined;
  #closeWaiters: Array<() => void> = [];
  #timers = new Set<ReturnType<typeof setTimeout>>();
  #connectTimer: ReturnType<typeof setTimeout> | undefined;
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  readonly #requests = new PendingRequests();
  readonly #calls = new CallLedger();
  /** Calls `onFunctionCall` is answering, one batch per reply, oldest first. */
  #callBatches: CallBatch[] = [];
  readonly #stats: ClientStats = { audioChunksSent: 0, audioChunksDropped: 0, reconnects: 0 };

  constructor(options: RealtimeClientOptions) {
    super();
    const ctor = options.WebSocket ?? globalWebSocket();
    if (ctor === undefined) {
      throw new TypeError(
        'no WebSocket implementation: pass { WebSocket } (e.g. from the "ws" package on Node 20)',
      );
    }
    this.#WebSocket = ctor;
    this.#opts = options;
    this.#reconnect =
      options.reconnect === false ? undefined : { ...DEFAULT_RECONNECT, ...options.reconnect };
    this.#desired = { ...options.session, ...(options.tools ? { tools: options.tools } : {}) };
  }

  get state(): ConnectionState {
    return this.#state;
  }
  /** The current session (`session.created`), kept after a close until the next one opens. */
  get session(): SessionCreatedInfo | undefined {
    return this.#session;
  }
  /** The configuration in effect, from the last `session.update` response. */
  get config(): SessionInfo | undefined {
    return this.#config;
  }
  /** True from the first delta or audio chunk of a reply until its `response.done`. */
  get responding(): boolean {
    return this.#responding;
  }
  /** Last measured round trip, in milliseconds. */
  get latencyMs(): number | undefined {
    return this.#latencyMs;
  }
  get stats(): Readonly<ClientStats> {
    return { ...this.#stats };
  }

  /**
   * Opens the connection; resolves with the session once `session.created` arrives. A failure of this first
   * attempt rejects (no retry: the caller decides); later losses reconnect by themselves.
   */
  connect(): Promise<SessionCreatedInfo> {
    if (this.#state === 'open' && this.#session) return Promise.resolve(this.#session);
    if (this.#connecting) return this.#connecting;
    if (this.#state === 'reconnecting') return this.#nextOpen();
    this.#userClosed = false;
    this.#everOpened = false;
    this.#resumable = false;
    this.#attempt = 0;
    this.#connecting = new Promise<SessionCreatedInfo>((resolve, reject) => {
      this.#connectWaiter = { resolve, reject };
    }).finally(() => {
      this.#connecting = undefined;
    });
    this.#setState('connecting');
    void this.#openSocket();
    return this.#connecting;
  }

  /** Closes the connection and stops reconnecting. Resolves once the socket is closed. */
  close(code: number = CloseCode.Normal, reason = 'client closed'): Promise<void> {
    this.#userClosed = true;
    // Answers not sent by now belong to a session that is ending.
    this.#callBatches = [];
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    const socket = this.#socket;
    if (socket === undefined) {
      this.#settleConnect(new RealtimeClientError('client_closed', 'the client was closed'));
      if (this.#state !== 'idle') this.#setState('closed');
      return Promise.resolve();
    }
    const closed = new Promise<void>((resolve) => this.#closeWaiters.push(resolve));
    socket.close(code, reason);
    // A peer that never answers the close frame must not hold the caller: give up on it after a second.
    this.#later(() => {
      if (this.#socket === socket)
        this.#onClose(socket, { code: CloseCode.AbnormalClosure, reason: 'close handshake timed out' });
    }, 1000);
    return closed;
  }

  /** Sends any protocol message as JSON. Throws `not_connected` unless the session is open. */
  send(message: ClientMessage): void {
    this.#sendFrame(JSON.stringify(message));
  }

  /**
   * Sends a user text turn (`conversation.item.input` with `input_text`). A text sent during a reply is
   * answered after it; with `interrupt: true` the server cancels the reply in progress first.
   */
  sendText(text: string, options: { interrupt?: boolean } = {}): void {
    this.send(textTurn(text, options.interrupt === true));
  }

  /**
   * Answers a function call (`function_call_output`): `output` as is when it is a string, else as JSON.
   * Returns false, sending nothing, when this call id was already answered by this client. Throws
   * `invalid_argument` for a bad call id, a value JSON cannot represent or an output the protocol would
   * reject, `not_connected` unless open.
   */
  sendFunctionOutput(callId: string, output: unknown, options: SendFunctionOutputOptions = {}): boolean {
    if (this.#calls.answered(callId)) return false;
    let text: string;
    try {
      text = toFunctionOutput(output);
    } catch (err) {
      if (RealtimeClientError.is(err)) throw err;
      throw new RealtimeClientError('invalid_argument', `the output is not JSON: ${String(err)}`, {
        cause: err,
      });
    }
    const respond = options.respond ?? true;
    this.send(functionOutputFrame(callId, text, respond));
    const name = this.#calls.markAnswered(callId);
    this.emit('functionCallOutput', { callId, name, output: text, failed: false, respond });
    return true;
  }

  /**
   * Sends PCM16 mono 24 kHz audio (little-endian bytes). Returns false when the chunk was dropped: the
   * connection is not open, or the socket's send buffer is over `maxBufferedBytes`. Audio captured while
   * disconnected is stale by the time a session opens again, so it is never queued.
   */
  sendAudio(pcm: ArrayBuffer | ArrayBufferView): boolean {
    const bytes = audioBytes(pcm);
    const socket = this.#socket;
    const limit = this.#opts.maxBufferedBytes ?? 1_048_576;
    if (this.#state !== 'open' || socket?.readyState !== SOCKET_OPEN || socket.bufferedAmount > limit) {
      this.#stats.audioChunksDropped++;
      return false;
    }
    socket.send(audioFrame(bytes, this.#opts.audioFrames ?? 'binary'));
    this.#stats.audioChunksSent++;
    return true;
  }

  /**
   * Changes the session configuration; resolves with the configuration in effect (the server's
   * `session.update` answer) or rejects with the server's error for this request. Applied updates are
   * remembered and restored on every later session of this client.
   */
  updateSession(update: SessionUpdate): Promise<SessionInfo> {
    return this.#requestUpdate(update);
  }

  /** Ends the user's audio turn (with `turn_detection: null`). */
  commitAudio(): void {
    this.send({ type: 'input_audio_buffer.commit' });
  }

  /** Asks for a reply now (with `turn_detection: null`, after `commitAudio` or a text turn). */
  createResponse(): void {
    this.send({ type: 'response.create' });
  }

  /** Stops the reply in progress; its `response.done` arrives with `status: "cancelled"`. */
  cancelResponse(): void {
    this.send({ type: 'response.cancel' });
  }

  /**
   * Tells the model how much of its last spoken reply was heard (after a barge-in), so its memory of the
   * conversation ends where the user stopped listening.
   */
  truncateResponse(playedMs: number): void {
    this.send({ type: 'response.truncate', audio_end_ms: Math.max(0, Math.round(playedMs)) });
  }

  /** Sends a `ping` and resolves with the round trip in milliseconds; rejects with `ping_timeout`. */
  ping(timeoutMs = this.#opts.pingTimeoutMs ?? 5000): Promise<number> {
    const timestamp = this.#requests.nextPingTimestamp();
    this.send({ type: 'ping', ping: { timestamp } });
    return this.#requests.ping(timestamp, timeoutMs);
  }

  async #openSocket(): Promise<void> {
    const attempt = { number: this.#attempt + 1, previousSessionId: this.#session?.id };
    let socket: WebSocketLike;
    try {
      const url = typeof this.#opts.url === 'function' ? await this.#opts.url(attempt) : this.#opts.url;
      const token = typeof this.#opts.token === 'function' ? await this.#opts.token() : this.#opts.token;
      if (this.#userClosed) return;
      const transport = this.#opts.tokenTransport ?? (this.#opts.WebSocket ? 'header' : 'subprotocol');
      const { protocols, headers } = handshakeFor(token, transport);
      const resume = this.#resumeParams();
      const target = this.#opts.resume === false ? url : sessionUrl(url, resume);
      const offered = resumeProtocols(protocols, resume);
      socket = new this.#WebSocket(target, offered, headers ? { headers } : undefined);
    } catch (err) {
      // A bad URL or token is not a network problem: retrying would fail the same way.
      const failure = new RealtimeClientError('invalid_argument', `cannot connect: ${describeError(err)}`, {
        cause: err,
      });
      this.#settleConnect(failure);
      this.#fail(failure);
      this.#setState('closed');
      return;
    }
    this.#socket = socket;
    this.#lastError = undefined;
    socket.binaryType = 'arraybuffer';
    socket.onmessage = (event: SocketMessageEvent) => {
      if (this.#socket === socket) this.#onFrame(event.data);
    };
    socket.onerror = (event: SocketErrorEvent) => {
      if (this.#socket === socket) this.#lastError = event.error ?? event.message ?? event;
    };
    socket.onclose = (event: SocketCloseEvent) => this.#onClose(socket, event);
    const timeoutMs = this.#opts.connectTimeoutMs ?? 10_000;
    this.#connectTimer = this.#later(() => {
      this.#lastError = new RealtimeClientError(
        'connect_timeout',
        `no session.created within ${timeoutMs} ms`,
      );
      this.#abandon(socket, 'connect timeout');
    }, timeoutMs);
  }

  #requestUpdate(update: SessionUpdate): Promise<SessionInfo> {
    const eventId = this.#requests.nextEventId();
    try {
      this.send({ type: 'session.update', event_id: eventId, session_update: update });
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#requests.update(eventId, update, this.#opts.requestTimeoutMs ?? 10_000);
  }

  /** Resolves on the next `open`, rejects if the client closes first (a connect() during reconnecting). */
  #nextOpen(): Promise<SessionCreatedInfo> {
    return new Promise((resolve, reject) => {
      const offOpen = this.once('open', (event) => {
        offState();
        resolve(event.session);
      });
      const offState = this.on('state', ({ state }) => {
        if (state !== 'closed') return;
        offOpen();
        offState();
        reject(new RealtimeClientError('not_connected', 'the connection closed before a session opened'));
      });
    });
  }

  /** What this attempt presents to continue the previous session, if it should and can. */
  #resumeParams(): ResumeParams | undefined {
    const session = this.#session;
    this.#resuming = this.#resumable && session?.resume_token !== undefined;
    if (!this.#resuming || session?.resume_token === undefined) {
      this.#lastSeq = 0;
      return undefined;
    }
    return { sessionId: session.id, resumeToken: session.resume_token, lastSeq: this.#lastSeq };
  }

  #onFrame(data: unknown): void {
    const message = readServerFrame(data);
    if (RealtimeClientError.is(message)) {
      this.#fail(message);
      return;
    }
    // Numbered messages (`seq=1`) of the session: a replay after a resume may repeat the last few.
    const seq = (message as { seq?: unknown }).seq;
    if (typeof seq === 'number' && message.type !== 'session.created') {
      if (seq <= this.#lastSeq) return;
      this.#lastSeq = seq;
    }
    switch (message.type) {
      case 'session.created':
        this.#onSessionCreated(message.session);
        break;
      case 'session.update': {
        this.#config = message.session;
        // Applied updates are what a new session gets again after a reconnect.
        const applied = this.#requests.updateAnswered(message.session);
        if (applied) this.#desired = { ...this.#desired, ...applied };
        break;
      }
      case 'pong':
        this.#latencyMs = this.#requests.pong(message.timestamp) ?? this.#latencyMs;
        break;
      case 'response.delta':
      case 'response.audio':
        this.#responding = true;
        break;
      case 'response.done': {
        this.#responding = false;
        // The reply that made the calls is over: its answers may go once their handlers settled.
        const batch = this.#callBatches.find((b) => !b.done);
        if (batch) {
          batch.done = true;
          batch.cancelled = message.response.status === 'cancelled';
        }
        break;
      }
      case 'error': {
        const { code, message: text, field, event_id: eventId, param } = message.error;
        const failure = new RealtimeClientError(code, text, { field, eventId, param });
        this.#requests.updateFailed(failure);
        this.#fail(failure);
        break;
      }
    }
    this.emit('message', message);
    (this.emit as (type: string, payload: ServerMessage) => void)(message.type, message);
    if (message.type === 'session.created') this.#afterSessionCreated();
    else if (message.type === 'response.function_call')
      this.#onFunctionCall(functionCallOf(message.response));
    else if (message.type === 'response.done') this.#sendAnswers();
    else if (message.type === 'conversation.item.transcript') {
      const { item_id: itemId, role, text, final } = message.conversation_item_transcript;
      const event: TranscriptEvent = { itemId, role, text, final };
      this.emit('transcript', event);
    }
  }

  #onFunctionCall(call: FunctionCall): void {
    // Once per call id: a resumed or recovered session may deliver a call again.
    if (!this.#calls.admit(call)) return;
    this.emit('functionCall', call);
    const handler = this.#opts.onFunctionCall;
    if (handler === undefined) return;
    // Calls arrive before the `response.done` of their reply; a call after it starts the next reply's batch.
    let batch = this.#callBatches.at(-1);
    if (batch === undefined || batch.done) {
      batch = { answers: [], done: false, cancelled: false };
      this.#callBatches.push(batch);
    }
    const answer: PendingAnswer = { call, result: undefined };
    batch.answers.push(answer);
    void runHandler(handler, call).then((result) => {
      answer.result = result;
      if (result.error !== undefined) {
        const reason = result.error instanceof Error ? result.error.message : String(result.error);
        this.#fail(
          new RealtimeClientError(
            'function_call_failed',
            `${call.name} (call ${call.callId}) failed: ${reason}; the model was sent the error`,
            { cause: result.error },
          ),
        );
      }
      this.#sendAnswers();
    });
  }

  /**
   * Sends the answers of every finished reply whose handlers have all settled, in order: all but the last
   * with `respond: false`, so the model answers once with every result. Waits while not open (a resumed
   * session gets them; a new session drops them, see `#afterSessionCreated`).
   */
  #sendAnswers(): void {
    for (;;) {
      const batch = this.#callBatches[0];
      if (batch === undefined || !batch.done || batch.answers.some((a) => a.result === undefined)) return;
      if (this.#state !== 'open' || this.#socket?.readyState !== SOCKET_OPEN) return;
      this.#callBatches.shift();
      // A call answered meanwhile with sendFunctionOutput is not answered again.
      const due = batch.answers.filter((a) => !this.#calls.answered(a.call.callId));
      due.forEach(({ call, result }, i) => {
        const respond = !batch.cancelled && i === due.length - 1;
        const output = result!.output;
        try {
          this.send(functionOutputFrame(call.callId, output, respond));
        } catch (err) {
          // A call id the protocol does not allow (a faulty server): nothing can answer it.
          this.#fail(
            RealtimeClientError.is(err)
              ? err
              : new RealtimeClientError('invalid_argument', String(err), { cause: err }),
          );
          return;
        }
        this.#calls.markAnswered(call.callId);
        this.emit('functionCallOutput', {
          callId: call.callId,
          name: call.name,
          output,
          failed: result!.error !== undefined,
          respond,
        });
      });
    }
  }

  #onSessionCreated(session: SessionCreatedInfo): void {
    this.#cancel(this.#connectTimer);
    const previous = this.#session;
    const reconnected = this.#everOpened;
    const resumed = reconnected && previous?.id === session.id;
    this.#session = session;
    if (!resumed) this.#config = undefined;
    this.#attempt = 0;
    this.#setState('open');
    this.#startHeartbeat();
    this.#everOpened = true;
    if (reconnected) this.#stats.reconnects++;
    this.#pendingOpen = { session, reconnected, resumed, previousSessionId: previous?.id };
  }

  // Runs after the session.created message events, so listeners see the message before `open`.
  #afterSessionCreated(): void {
    const open = this.#pendingOpen;
    this.#pendingOpen = undefined;
    if (open === undefined) return;
    // A resumed session kept its configuration; a new one gets it again.
    if (!open.resumed && Object.keys(this.#desired).length > 0) {
      // Failures surface through the `failure` event; nobody awaits this one.
      this.#requestUpdate(this.#desired).catch(() => undefined);
    }
    // Answers that waited for the connection go to the resumed session; a new session never saw the calls.
    if (open.resumed) this.#sendAnswers();
    else this.#callBatches = [];
    this.emit('open', open);
    this.#settleConnect(undefined, open.session);
  }

  #onClose(socket: WebSocketLike, event: SocketCloseEvent): void {
    if (this.#socket !== socket) return;
    socket.onopen = socket.onmessage = socket.onerror = socket.onclose = null;
    this.#socket = undefined;
    this.#cancel(this.#connectTimer);
    this.#stopHeartbeat();
    this.#responding = false;
    this.#requests.rejectAll(new RealtimeClientError('not_connected', `connection closed (${event.code})`));
    const info = closeCodeInfo(event.code);
    const waiters = this.#closeWaiters.splice(0);
    const finish = (willReconnect: boolean, delayMs?: number) => {
      this.emit('close', { code: event.code, reason: event.reason, info, willReconnect, delayMs });
      for (const resolve of waiters) resolve();
    };

    if (this.#userClosed) {
      this.#setState('closed');
      this.#settleConnect(new RealtimeClientError('client_closed', 'the client was closed'));
      finish(false);
      return;
    }
    if (!this.#everOpened) {
      // The first attempt failed: report it to connect()'s caller instead of retrying behind its back.
      const failure = connectFailure(this.#lastError, event.code, event.reason, info);
      this.#setState('closed');
      this.#settleConnect(failure);
      this.#fail(failure);
      finish(false);
      return;
    }
    this.#attempt++;
    // A reconnect attempt that opened but got no session.created is worth knowing about; plain network
    // failures of attempts are not (the `reconnecting` events already tell that story).
    if (RealtimeClientError.is(this.#lastError) && this.#lastError.code === 'connect_timeout') {
      this.#fail(this.#lastError);
    }
    // A refused resume (4001: session ended, grace period over, bad token) is terminal for that session
    // only: start a new one at once rather than stop.
    const refused = this.#resuming && event.code === CloseCode.SessionNotFound;
    this.#resumable = !refused && info.resume && this.#opts.resume !== false;
    let delayMs: number | undefined;
    if (this.#reconnect && refused) delayMs = this.#attempt <= this.#reconnect.maxAttempts ? 0 : undefined;
    else if (this.#reconnect) delayMs = reconnectDelay(info, this.#attempt, this.#reconnect);
    if (delayMs === undefined) {
      this.#setState('closed');
      if (event.code !== CloseCode.Normal) {
        const exhausted = info.reconnect && this.#reconnect !== undefined;
        const attempts = this.#attempt - 1;
        this.#fail(stopFailure(exhausted, attempts, this.#lastError, event.code, event.reason, info));
      }
      finish(false);
      return;
    }
    this.#setState('reconnecting');
    finish(true, delayMs);
    this.emit('reconnecting', { attempt: this.#attempt, delayMs, closeCode: event.code });
    this.#later(() => {
      if (!this.#userClosed) void this.#openSocket();
    }, delayMs);
  }

  /** Gives up on a socket that is not answering: handled as a lost connection (1006). */
  #abandon(socket: WebSocketLike, reason: string): void {
    if (this.#socket !== socket) return;
    const terminate = (socket as WebSocketLike & { terminate?: () => void }).terminate;
    if (typeof terminate === 'function') terminate.call(socket);
    else socket.close(CloseCode.ClientReconnecting, reason);
    this.#onClose(socket, { code: CloseCode.AbnormalClosure, reason });
  }

  #startHeartbeat(): void {
    const interval = this.#opts.heartbeatIntervalMs ?? 15_000;
    if (interval === false) return;
    this.#heartbeat = setInterval(() => {
      const socket = this.#socket;
      if (socket === undefined || this.#state !== 'open') return;
      this.ping().then(
        (ms) => this.emit('latency', ms),
        (err: RealtimeClientError) => {
          if (err.code !== 'ping_timeout' || this.#socket !== socket) return;
          this.#fail(err);
          this.#lastError = err;
          this.#abandon(socket, 'heartbeat timeout');
        },
      );
    }, interval);
  }

  #stopHeartbeat(): void {
    if (this.#heartbeat !== undefined) clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
  }

  #sendFrame(frame: string): void {
    const socket = this.#socket;
    if (this.#state !== 'open' || socket?.readyState !== SOCKET_OPEN) {
      throw new RealtimeClientError('not_connected', `cannot send while ${this.#state}`);
    }
    socket.send(frame);
  }

  #settleConnect(failure: RealtimeClientError | undefined, session?: SessionCreatedInfo): void {
    const waiter = this.#connectWaiter;
    this.#connectWaiter = undefined;
    if (waiter === undefined) return;
    if (failure) waiter.reject(failure);
    else waiter.resolve(session!);
  }

  #fail(error: RealtimeClientError): void {
    this.emit('failure', error);
  }

  #setState(state: ConnectionState): void {
    const previous = this.#state;
    if (previous === state) return;
    this.#state = state;
    this.emit('state', { state, previous });
  }

  #cancel(timer: ReturnType<typeof setTimeout> | undefined): void {
    if (timer === undefined) return;
    clearTimeout(timer);
    this.#timers.delete(timer);
  }

  #later(fn: () => void, ms: number): ReturnType<typeof setTimeout> {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      fn();
    }, ms);
    this.#timers.add(timer);
    return timer;
  }
}
