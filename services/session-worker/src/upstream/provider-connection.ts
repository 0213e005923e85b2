import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import WebSocket from 'ws';
import { authHeaders, type ProviderAuth } from './provider-auth.js';
import {
  classifyClose,
  classifyUpgradeRefusal,
  fatalKindOf,
  ProviderConnectError,
  type ProviderFailure,
  type ProviderRefusal,
  parseRefusal,
  providerFailure,
} from './provider-failure.js';

export type { ProviderAuth } from './provider-auth.js';
export { ProviderConnectError } from './provider-failure.js';

export type ProviderShape = 'ga' | 'beta';

/** Events are JSON text: a Buffer must still go out as a text frame. */
const TEXT_FRAME = { binary: false } as const;
/** Bytes of an HTTP refusal's body read for its error code (Azure: `{"error":{"code":"DeploymentNotFound"}}`). */
const MAX_REFUSAL_BODY = 4096;

export interface ProviderConnectionOptions {
  /** Realtime endpoint, e.g. wss://api.openai.com/v1/realtime (the model goes in the query). */
  url: string;
  /** The model id, or the Azure OpenAI deployment name: sent as `?model=`. */
  model: string;
  /** OpenAI key, sent as `Authorization: Bearer`. Omitted only for the local engine without a key. Never logged. */
  apiKey?: string | undefined;
  /** Another credential form (Azure OpenAI's `api-key`, or an Entra ID token file); wins over `apiKey`. */
  auth?: ProviderAuth | undefined;
  shape: ProviderShape;
  /** Handshake + first `session.created` must complete within this. @defaultValue 10000 */
  connectTimeoutMs?: number;
}

export interface ProviderHandlers {
  /** Every provider event as raw UTF-8 bytes, in order (the caller decides what to decode and parse). */
  onEvent: (raw: Buffer) => void;
  /** The socket closed after `connect()` resolved. */
  onClose: (code: number, reason: string) => void;
}

/**
 * One upstream Realtime connection over `ws`. GA is the default shape; the beta shape adds the
 * `OpenAI-Beta: realtime=v1` header. `connect()` resolves on the provider's first event (`session.created`),
 * which is when the session is really usable. Whatever stops it first is classified (see `provider-failure.ts`)
 * into the `ProviderConnectError` it rejects with: OpenAI upgrades first and refuses a bad key or model
 * afterwards with an `error` event plus close 3000/4000; Azure and proxies answer with an HTTP status instead.
 */
export class ProviderConnection {
  private ws: WebSocket | undefined;
  private closedByUs = false;
  /** When `session.created` arrived (`performance.now()`); the provider's session time cap runs from then. */
  private createdAt: number | undefined;

  constructor(
    private readonly opts: ProviderConnectionOptions,
    private handlers: ProviderHandlers,
  ) {}

  get isOpen(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  /**
   * Milliseconds since the provider session opened (`session.created`); 0 before. A warm connection taken
   * from the pool is already this old, and the provider's session cap counts from its opening, not its taking.
   */
  get ageMs(): number {
    return this.createdAt === undefined ? 0 : performance.now() - this.createdAt;
  }

  /**
   * Sends later events and the close to `handlers` instead (a warm connection passing from the pool to the
   * session that took it). Events already delivered stay where they went.
   */
  handTo(handlers: ProviderHandlers): void {
    this.handlers = handlers;
  }

  async connect(): Promise<string> {
    const { apiKey } = this.opts;
    const headers = await authHeaders(
      this.opts.auth ?? (apiKey ? { type: 'bearer', key: apiKey } : undefined),
    );
    if (this.opts.shape === 'beta') headers['openai-beta'] = 'realtime=v1';
    if (this.closedByUs) {
      throw new ProviderConnectError('closed before connecting', providerFailure('unavailable', 'closed'));
    }
    const url = new URL(this.opts.url);
    url.searchParams.set('model', this.opts.model);
    // No permessage-deflate: base64 audio barely compresses and deflate costs CPU and latency on every frame.
    // No UTF-8 validation of every event either: audio deltas are cut out as bytes and never decoded, and
    // other events are decoded with replacement characters before JSON.parse.
    const ws = new WebSocket(url, {
      headers,
      handshakeTimeout: this.opts.connectTimeoutMs ?? 10_000,
      perMessageDeflate: false,
      skipUTF8Validation: true,
    });
    this.ws = ws;
    return this.handshake(ws);
  }

  /** Waits for `session.created`, or classifies what came instead. */
  private handshake(ws: WebSocket): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      let settled = false;
      let refusal: ProviderRefusal | undefined;
      const timer = setTimeout(
        () => fail('provider connect timed out', providerFailure('unavailable', 'timeout')),
        this.opts.connectTimeoutMs ?? 10_000,
      );
      const fail = (message: string, failure: ProviderFailure, cause?: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.closedByUs = true;
        ws.terminate();
        reject(new ProviderConnectError(message, failure, cause === undefined ? undefined : { cause }));
      };
      ws.on('message', (data: Buffer, isBinary: boolean) => {
        if (isBinary) return;
        if (settled) {
          this.handlers.onEvent(data);
          return;
        }
        const raw = data.toString('utf8');
        if (raw.includes('"type":"session.created"')) {
          settled = true;
          clearTimeout(timer);
          this.createdAt = performance.now();
          resolve(raw);
        } else if (raw.includes('"type":"error"')) {
          refusal = parseRefusal(raw);
          // A refusal no retry can fix: the provider closes right after it, no need to wait for that.
          if (fatalKindOf(refusal))
            fail(`provider refused the session (${refused(refusal)})`, classifyClose(0, refusal));
        }
      });
      ws.on('close', (code: number, reasonBuf: Buffer) => {
        const reason = reasonBuf.toString('utf8');
        if (!settled) {
          const failure = classifyClose(code, refusal ?? parseRefusal(reason));
          fail(`provider closed the connection (${code}: ${failure.detail})`, failure);
          return;
        }
        if (!this.closedByUs) this.handlers.onClose(code, reason);
      });
      ws.on('unexpected-response', (_req, res) => {
        const status = res.statusCode ?? 0;
        void refusalCode(res).then((bodyCode) =>
          fail(`provider refused the upgrade (HTTP ${status})`, classifyUpgradeRefusal(status, bodyCode)),
        );
      });
      ws.on('error', (err: NodeJS.ErrnoException) => {
        const detail = err.code && /^[A-Z_]{1,40}$/.test(err.code) ? err.code : 'socket_error';
        fail(`provider unreachable: ${err.message}`, providerFailure('unavailable', detail), err);
      });
    });
  }

  /**
   * Sends one event as JSON text (a string, or its UTF-8 bytes: sent as a text frame without conversion);
   * dropped when the socket is not open (the caller tracks state).
   */
  send(raw: string | Buffer): boolean {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    this.corkUntilTurnEnds(ws);
    ws.send(raw, TEXT_FRAME);
    return true;
  }

  /**
   * Holds this socket's writes until the current turn of the event loop ends: every event sent to the provider
   * in one turn (a bus batch carries several frames of a session when the worker catches up) leaves in one
   * `writev` instead of one write system call per frame. No latency is added: the writes go out as soon as the
   * code that made them returns.
   */
  private corkUntilTurnEnds(ws: WebSocket): void {
    if (this.corked !== undefined) return;
    // ws keeps its net.Socket as `_socket`; without one (not yet connected) there is nothing to cork.
    const socket = (ws as unknown as { _socket?: Socket })._socket;
    if (socket === undefined || typeof socket.cork !== 'function') return;
    socket.cork();
    this.corked = socket;
    process.nextTick(this.uncork);
  }

  private corked: Socket | undefined;
  private readonly uncork = (): void => {
    const socket = this.corked;
    this.corked = undefined;
    socket?.uncork();
  };

  close(code = 1000, reason = 'OK'): void {
    this.closedByUs = true;
    const ws = this.ws;
    if (!ws) return;
    if (ws.readyState === WebSocket.OPEN) ws.close(code, reason);
    else ws.terminate();
  }
}

function refused(refusal: ProviderRefusal | undefined): string {
  return [refusal?.type, refusal?.code].filter(Boolean).join('.') || 'error';
}

/** The `error.code` of a refusal's JSON body (read briefly and bounded), if it has one. */
function refusalCode(res: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve) => {
    let body = '';
    const done = () => {
      clearTimeout(timer);
      res.removeAllListeners('data');
      const code = parseRefusal(body)?.code ?? /"code"\s*:\s*"([A-Za-z_]{1,64})"/.exec(body)?.[1];
      resolve(code);
    };
    const timer = setTimeout(done, 1000);
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      body += chunk;
      if (body.length >= MAX_REFUSAL_BODY) done();
    });
    res.on('end', done);
    res.on('error', done);
    res.on('close', done);
  });
}
