import type { IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger, createRegistry, type Logger } from '@rtv/service-kit';
import { waitFor } from '@rtv/testing';
import type { Registry } from 'prom-client';
import { type WebSocket, WebSocketServer } from 'ws';

/** One event a client sent to the fake provider, parsed. */
export interface ReceivedEvent {
  /** Connection number, 1-based, in the order the provider accepted them. */
  conn: number;
  type: string;
  event: Record<string, unknown>;
}

export interface FakeProviderOptions {
  /**
   * What the provider does when a socket connects: `created` sends `session.created` at once (a usable
   * session), `hold` waits for {@link FakeProvider.sendCreated}, `reject-auth` closes with 3000 like the
   * provider does for a bad API key.
   * @defaultValue 'created'
   */
  onConnect?: 'created' | 'hold' | 'reject-auth' | 'drop';
  /**
   * Refuse each session right after the upgrade as the provider refuses a fatal request: an `error` event with
   * this type and code, then a close with `closeCode` and the reason `<type>.<code>` (`<type>` when the code is
   * null). Wins over `onConnect`. E.g. `{type: 'invalid_request_error', code: 'invalid_model', closeCode: 4000}`.
   */
  refuse?: { type: string; code: string | null; closeCode: number };
  /**
   * Answer every upgrade request with this HTTP status instead of 101, with `body` as a JSON body (Azure OpenAI
   * and proxies refuse this way, e.g. 404 `{"error":{"code":"DeploymentNotFound"}}`). Wins over the others.
   */
  refuseUpgrade?: { status: number; body?: string };
  /** TCP port to listen on (a provider restarted on the port it had); 0 picks a free one. @defaultValue 0 */
  port?: number;
}

/**
 * A real local WebSocket server that plays the OpenAI Realtime provider (GA shape) for the worker's
 * `ProviderConnection`: it answers each connection with `session.created`, records every event the client
 * sends, and lets a test push provider events or drop a connection.
 */
export class FakeProvider {
  readonly received: ReceivedEvent[] = [];
  /** Request URL and authorization header of each accepted connection, in order (all headers: `upgrades`). */
  readonly requests: Array<{ url: string; authorization: string | undefined }> = [];
  /** Connection numbers the client closed (or that were dropped). */
  readonly closed: number[] = [];
  /**
   * Every upgrade request, accepted or refused, in order: when it came (`performance.now()`), its URL and
   * headers. Counts the connect attempts a client made, refused ones included.
   */
  readonly upgrades: Array<{ at: number; url: string; headers: IncomingHttpHeaders }> = [];
  private readonly sockets: WebSocket[] = [];

  private constructor(
    private readonly wss: WebSocketServer,
    private opts: FakeProviderOptions,
  ) {
    wss.on('connection', (ws, req) => {
      this.sockets.push(ws);
      const conn = this.sockets.length;
      this.requests.push({ url: req.url ?? '', authorization: req.headers.authorization });
      ws.on('message', (data: Buffer) => {
        const event = JSON.parse(data.toString('utf8')) as Record<string, unknown>;
        this.received.push({ conn, type: String(event.type), event });
      });
      ws.on('close', () => this.closed.push(conn));
      const refuse = this.opts.refuse;
      const mode = this.opts.onConnect ?? 'created';
      if (refuse) {
        const error = { type: refuse.type, code: refuse.code, message: 'refused by the fake provider' };
        ws.send(JSON.stringify({ type: 'error', event_id: `event_refuse_${conn}`, error }));
        ws.close(refuse.closeCode, refuse.code ? `${refuse.type}.${refuse.code}` : refuse.type);
      } else if (mode === 'drop') ws.terminate();
      else if (mode === 'created') this.sendCreated(conn);
      else if (mode === 'reject-auth') {
        ws.send(
          JSON.stringify({
            type: 'error',
            error: { type: 'invalid_request_error', code: 'invalid_api_key', message: 'bad key' },
          }),
        );
        ws.close(3000, 'invalid_request_error.invalid_api_key');
      }
    });
  }

  static async start(opts: FakeProviderOptions = {}): Promise<FakeProvider> {
    let provider: FakeProvider | undefined;
    const wss = new WebSocketServer({
      host: '127.0.0.1',
      port: opts.port ?? 0,
      // Sees every upgrade request before the handshake: records it, and refuses it when told to.
      verifyClient: (info, accept) => provider!.verify(info.req, accept),
    });
    await new Promise<void>((resolve, reject) => {
      wss.once('listening', resolve);
      wss.once('error', reject);
    });
    provider = new FakeProvider(wss, opts);
    return provider;
  }

  /** Changes how later connections are answered (e.g. the key gets revoked mid-session). */
  configure(opts: FakeProviderOptions): void {
    this.opts = opts;
  }

  /** Upgrade requests received so far, refused ones included. */
  get attempts(): number {
    return this.upgrades.length;
  }

  /** Resolves once `n` upgrade requests arrived. */
  waitForAttempts(n: number): Promise<true> {
    return waitFor(() => this.attempts >= n, { message: `${n} provider connect attempt(s)` });
  }

  private verify(
    req: { url?: string | undefined; headers: IncomingHttpHeaders },
    accept: (ok: boolean, status?: number, message?: string, headers?: Record<string, string>) => void,
  ): void {
    this.upgrades.push({ at: performance.now(), url: req.url ?? '', headers: req.headers });
    const refusal = this.opts.refuseUpgrade;
    if (!refusal) accept(true);
    else accept(false, refusal.status, refusal.body ?? '', { 'Content-Type': 'application/json' });
  }

  get url(): string {
    return `ws://127.0.0.1:${(this.wss.address() as AddressInfo).port}/v1/realtime`;
  }

  /** Connections accepted so far. */
  get connections(): number {
    return this.sockets.length;
  }

  /** Events received on connection `conn` (optionally of one type), in order. */
  eventsOn(conn: number, type?: string): ReceivedEvent[] {
    return this.received.filter((e) => e.conn === conn && (type === undefined || e.type === type));
  }

  /** Event types received on connection `conn`, in order. */
  typesOn(conn: number): string[] {
    return this.eventsOn(conn).map((e) => e.type);
  }

  sendCreated(conn: number): void {
    this.send(conn, {
      type: 'session.created',
      event_id: `event_${conn}`,
      session: { id: `sess_provider_${conn}`, type: 'realtime', model: 'gpt-realtime' },
    });
  }

  /** Sends one provider event (an object, sent as JSON text) on connection `conn`. */
  send(conn: number, event: Record<string, unknown>): void {
    this.socket(conn).send(JSON.stringify(event));
  }

  /** Sends `text` as one message on connection `conn`, as is (a malformed or hostile provider event). */
  sendRaw(conn: number, text: string): void {
    this.socket(conn).send(text);
  }

  /** Drops connection `conn` the way a provider or network failure does (no close handshake). */
  drop(conn: number): void {
    this.socket(conn).terminate();
  }

  /** Resolves once `n` connections were accepted. */
  waitForConnections(n: number): Promise<true> {
    return waitFor(() => this.connections >= n, { message: `${n} provider connection(s)` });
  }

  /** Resolves with the events on `conn` once it has received at least `n`. */
  waitForEvents(conn: number, n: number): Promise<ReceivedEvent[]> {
    return waitFor(
      () => {
        const events = this.eventsOn(conn);
        return events.length >= n ? events : undefined;
      },
      { message: `${n} event(s) on provider connection ${conn}` },
    );
  }

  async stop(): Promise<void> {
    for (const ws of this.wss.clients) ws.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  private socket(conn: number): WebSocket {
    const ws = this.sockets[conn - 1];
    if (!ws) throw new Error(`no provider connection ${conn}`);
    return ws;
  }
}

/** A logger that writes nothing. */
export function silentLogger(): Logger {
  return createLogger('test', 'silent');
}

/** A fresh registry (per test: metric names are registered once per registry). */
export function freshRegistry(): Registry {
  return createRegistry();
}

/** The value of metric `name` for exactly these label values (0 when the series does not exist yet). */
export async function metricValue(
  registry: Registry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  const { values } = await metric.get();
  const wanted = Object.entries(labels);
  const match = values.find(
    (v) =>
      Object.keys(v.labels).length === wanted.length &&
      wanted.every(([k, value]) => String(v.labels[k]) === value),
  );
  return match?.value ?? 0;
}
