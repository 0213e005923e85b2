// A WebSocket client for tests: records every message, lets a test await the next one that matches.
import { WebSocket } from 'ws';

/** A received frame: parsed JSON for text frames (the raw string when it is not JSON), a Buffer for binary. */
export type WsMessage = unknown;

export interface WsConnectOptions {
  /** Upgrade request headers, e.g. `{ authorization: 'Bearer …' }`. */
  headers?: Record<string, string>;
  /** Subprotocols offered in Sec-WebSocket-Protocol. */
  protocols?: string[];
  /**
   * Connect timeout.
   * @defaultValue 5000
   */
  timeoutMs?: number;
}

export interface WsClose {
  code: number;
  reason: string;
}

interface Waiter {
  predicate: (msg: WsMessage) => boolean;
  resolve: (msg: WsMessage) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

function describe(msg: WsMessage): string {
  if (Buffer.isBuffer(msg)) return `<binary ${msg.length} bytes>`;
  if (msg && typeof msg === 'object' && 'type' in msg) return String((msg as { type: unknown }).type);
  return JSON.stringify(msg)?.slice(0, 60) ?? String(msg);
}

export class WsTestClient {
  readonly #ws: WebSocket;
  readonly #messages: WsMessage[] = [];
  /** Index of the first message `next()` has not passed over yet. */
  #cursor = 0;
  #waiters: Waiter[] = [];
  #close: WsClose | undefined;
  /** Resolves when the socket closes, with the peer's code and reason. */
  readonly closed: Promise<WsClose>;

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.on('message', (data, isBinary) => this.#receive(data as Buffer, isBinary));
    this.closed = new Promise((resolve) => {
      ws.once('close', (code, reason) => {
        this.#close = { code, reason: reason.toString() };
        for (const w of this.#waiters.splice(0)) {
          clearTimeout(w.timer);
          w.reject(new Error(`socket closed (${code} ${this.#close.reason}) before a matching message`));
        }
        resolve(this.#close);
      });
    });
    ws.on('error', () => {
      // surfaced through 'close' and the connect promise
    });
  }

  /** Opens a connection; rejects with the HTTP status when the upgrade is refused. */
  static connect(
    url: string,
    { headers, protocols, timeoutMs = 5000 }: WsConnectOptions = {},
  ): Promise<WsTestClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, protocols ?? [], { headers, handshakeTimeout: timeoutMs });
      const client = new WsTestClient(ws);
      ws.once('open', () => resolve(client));
      ws.once('unexpected-response', (_req, res) => {
        reject(new Error(`upgrade to ${url} refused: HTTP ${res.statusCode}`));
        ws.terminate();
      });
      ws.once('error', (err) => reject(new Error(`cannot connect to ${url}: ${err.message}`)));
    });
  }

  /** The negotiated subprotocol ('' when none). */
  get protocol(): string {
    return this.#ws.protocol;
  }

  /** Sends an object as JSON, or a string / bytes as they are. */
  send(message: unknown): void {
    const data = typeof message === 'string' || Buffer.isBuffer(message) ? message : JSON.stringify(message);
    this.#ws.send(data);
  }

  /**
   * Resolves with the first message after the last one `next()` returned that satisfies `predicate`
   * (already received or yet to come), and moves past it. Messages it skips stay in `all()`.
   */
  next<T = WsMessage>(predicate: (msg: WsMessage) => boolean = () => true, timeoutMs = 5000): Promise<T> {
    for (let i = this.#cursor; i < this.#messages.length; i++) {
      if (predicate(this.#messages[i])) {
        this.#cursor = i + 1;
        return Promise.resolve(this.#messages[i] as T);
      }
    }
    // Nothing buffered matches: later messages are checked as they arrive.
    this.#cursor = this.#messages.length;
    if (this.#close) {
      return Promise.reject(new Error(`socket already closed (${this.#close.code} ${this.#close.reason})`));
    }
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        const seen = this.#messages.slice(-10).map(describe).join(', ') || 'nothing';
        reject(new Error(`no matching message within ${timeoutMs} ms; last received: ${seen}`));
      }, timeoutMs);
      const waiter: Waiter = { predicate, resolve: resolve as (m: WsMessage) => void, reject, timer };
      this.#waiters.push(waiter);
    });
  }

  /** Shorthand for `next()` on a message's `type` field. */
  nextOfType<T = WsMessage>(type: string, timeoutMs = 5000): Promise<T> {
    return this.next<T>(
      (m) => typeof m === 'object' && m !== null && (m as { type?: unknown }).type === type,
      timeoutMs,
    );
  }

  /** Every message received so far, in order. */
  all(): readonly WsMessage[] {
    return this.#messages;
  }

  /** Sends raw data with an explicit frame type: bytes as a text frame make invalid UTF-8 possible. */
  sendFrame(data: string | Uint8Array, binary: boolean): void {
    this.#ws.send(data, { binary });
  }

  /** Drops the connection without a close frame (a network failure, as the server sees it). */
  async terminate(): Promise<WsClose> {
    if (!this.#close) this.#ws.terminate();
    return this.closed;
  }

  /** Closes (or, if the peer does not answer within 2 s, terminates) and resolves with the close frame. */
  async close(code = 1000, reason = ''): Promise<WsClose> {
    if (!this.#close) {
      const timer = setTimeout(() => this.#ws.terminate(), 2000);
      this.#ws.close(code, reason);
      await this.closed;
      clearTimeout(timer);
    }
    return this.closed;
  }

  #receive(data: Buffer, isBinary: boolean): void {
    let msg: WsMessage = data;
    if (!isBinary) {
      const text = data.toString('utf8');
      try {
        msg = JSON.parse(text);
      } catch {
        msg = text;
      }
    }
    this.#messages.push(msg);
    // Only one waiter can take a message, the oldest first, and it moves the cursor past it.
    const index = this.#waiters.findIndex((w) => w.predicate(msg));
    if (index >= 0) {
      const [waiter] = this.#waiters.splice(index, 1);
      clearTimeout(waiter!.timer);
      this.#cursor = this.#messages.length;
      waiter!.resolve(msg);
    }
  }
}
