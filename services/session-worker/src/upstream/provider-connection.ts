import WebSocket from 'ws';

export type ProviderShape = 'ga' | 'beta';

/** Events are JSON text: a Buffer must still go out as a text frame. */
const TEXT_FRAME = { binary: false } as const;

export interface ProviderConnectionOptions {
  /** Realtime endpoint, e.g. wss://api.openai.com/v1/realtime (the model goes in the query). */
  url: string;
  model: string;
  /** Omitted only for the local engine when it runs without a key. Never logged. */
  apiKey?: string | undefined;
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

/** A failed provider connect, classified so the caller knows whether retrying can help (STYLE §11). */
export class ProviderConnectError extends Error {
  readonly retryable: boolean;
  constructor(message: string, retryable: boolean, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ProviderConnectError';
    this.retryable = retryable;
  }
}

/**
 * One upstream Realtime connection over `ws`. GA is the default shape; the beta shape adds the
 * `OpenAI-Beta: realtime=v1` header. `connect()` resolves on the provider's first event (`session.created`),
 * which is when the session is really usable; auth and model errors arrive after the 101 as an `error` event
 * plus a close 3000/4000, and are turned into a non-retryable `ProviderConnectError`.
 */
export class ProviderConnection {
  private ws: WebSocket | undefined;
  private closedByUs = false;

  constructor(
    private readonly opts: ProviderConnectionOptions,
    private readonly handlers: ProviderHandlers,
  ) {}

  get isOpen(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  connect(): Promise<string> {
    const url = new URL(this.opts.url);
    url.searchParams.set('model', this.opts.model);
    const headers: Record<string, string> = {};
    if (this.opts.apiKey) headers.authorization = `Bearer ${this.opts.apiKey}`;
    if (this.opts.shape === 'beta') headers['openai-beta'] = 'realtime=v1';
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
    return new Promise<string>((resolve, reject) => {
      let settled = false;
      let lastError = '';
      const timer = setTimeout(
        () => fail(new ProviderConnectError('provider connect timed out', true)),
        this.opts.connectTimeoutMs ?? 10_000,
      );
      const fail = (err: ProviderConnectError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.closedByUs = true;
        ws.terminate();
        reject(err);
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
          resolve(raw);
          return;
        }
        if (raw.includes('"type":"error"')) lastError = raw;
      });
      ws.on('close', (code: number, reasonBuf: Buffer) => {
        const reason = reasonBuf.toString('utf8');
        if (!settled) {
          // 3000 = auth, 4000 = request shape: retrying with the same settings cannot help.
          const fatal = code === 3000 || code === 4000;
          const detail = safeReason(reason || lastError);
          fail(
            new ProviderConnectError(
              `provider closed the connection (${code}${detail ? `: ${detail}` : ''})`,
              !fatal,
            ),
          );
          return;
        }
        if (!this.closedByUs) this.handlers.onClose(code, reason);
      });
      ws.on('unexpected-response', (_req, res) => {
        const status = res.statusCode ?? 0;
        fail(
          new ProviderConnectError(
            `provider refused the upgrade (HTTP ${status})`,
            status >= 500 || status === 429,
          ),
        );
      });
      ws.on('error', (err: Error) => {
        if (!settled)
          fail(new ProviderConnectError(`provider unreachable: ${err.message}`, true, { cause: err }));
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
    ws.send(raw, TEXT_FRAME);
    return true;
  }

  close(code = 1000, reason = 'OK'): void {
    this.closedByUs = true;
    const ws = this.ws;
    if (!ws) return;
    if (ws.readyState === WebSocket.OPEN) ws.close(code, reason);
    else ws.terminate();
  }
}

/** Keeps only a short machine-readable reason (e.g. `invalid_request_error.invalid_api_key`). */
function safeReason(text: string): string {
  const m = /"code"\s*:\s*"([a-z_]+)"/.exec(text) ?? /^([a-z_]+(?:\.[a-z_]+)?)$/.exec(text.trim());
  return m?.[1] ?? '';
}
