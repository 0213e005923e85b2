import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { REALTIME_HANDSHAKE } from '@rtv/protocol/openai-realtime';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';
import { type ConnectionContext, EngineConnection, type InjectedError } from './connection.js';
import { closeReason } from './errors.js';
import { checkHandshake, readHandshake, selectProtocol } from './handshake.js';
import { newId } from './ids.js';
import { createSynthesizer, type TtsMode } from './tts.js';

export interface LocalEngineOptions {
  /** Interface to bind. Loopback by default: the engine has no TLS and, unless `apiKey` is set, no auth. */
  host?: string;
  /** TCP port; 0 (default) picks a free one, so parallel tests never collide. */
  port?: number;
  /** WebSocket path, like the provider's. Other paths get 404 before the upgrade. @defaultValue '/v1/realtime' */
  path?: string;
  /**
   * `speech` (default) is the protocol-faithful model stand-in. `echo` answers every
   * `input_audio_buffer.append` at once with an audio delta carrying the same base64, for benchmarks that
   * must measure the gateway rather than the engine.
   */
  mode?: 'speech' | 'echo';
  /** When set, connections must present this key (Bearer header or key subprotocol), else close 3000. */
  apiKey?: string;
  /** Session lifetime; then `session_expired` and close 1001, as the provider does at 60 min. @defaultValue 3_600_000 */
  maxSessionMs?: number;
  /** WebSocket PING interval (the provider pings about every 20 s); unanswered pings drop the socket. */
  pingIntervalMs?: number;
  /** Pace audio deltas at playback speed. @defaultValue true in speech mode, false in echo mode */
  realtime?: boolean;
  /** Voice source: espeak-ng when on PATH (`auto`), or the built-in synthetic voice. @defaultValue 'auto' */
  tts?: TtsMode;
  /** Refuse the beta shape like today's provider (`beta_api_shape_disabled`, close 4000). @defaultValue false */
  rejectBetaShape?: boolean;
}

export interface LocalEngine {
  /** `ws://host:port/v1/realtime`; append `?model=gpt-realtime`. */
  readonly url: string;
  readonly port: number;
  /**
   * Test hooks. `'client-event' (connId, event)`: every parsed client event, per connection, in order.
   * `'connection' (connId)` when a session starts; `'disconnect' (connId, code)` when its socket closes.
   * The connection id is the session id reported in `session.created`.
   */
  readonly events: EventEmitter;
  /** Open sessions (sockets past the handshake checks). */
  connections(): number;
  /** Fault injection: terminate every socket abruptly, or close each with `code` when given. */
  dropAll(code?: number): void;
  /** Fault injection: the next response (on any connection) ends with status "failed" and this error. */
  failNextResponse(error?: InjectedError): void;
  close(): Promise<void>;
}

const DEFAULT_FAILURE: InjectedError = {
  type: 'server_error',
  code: 'server_error',
  message: 'The server had an error while processing your request. Sorry about that!',
};
/** A bit above the provider's 15 MiB append limit, so a maximal append still fits in one frame. */
const MAX_FRAME_BYTES = 16 * 1024 * 1024;

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0)
    throw new RangeError(`${name} must be a positive number, got ${value}`);
  return value;
}

/** Starts the engine and resolves once it listens. */
export async function startLocalEngine(opts: LocalEngineOptions = {}): Promise<LocalEngine> {
  const host = opts.host ?? '127.0.0.1';
  const path = opts.path ?? REALTIME_HANDSHAKE.path;
  if (!path.startsWith('/')) throw new TypeError(`path must start with '/', got '${path}'`);
  const mode = opts.mode ?? 'speech';
  const maxSessionMs = positive('maxSessionMs', opts.maxSessionMs ?? 3_600_000);
  const pingIntervalMs = positive('pingIntervalMs', opts.pingIntervalMs ?? 20_000);
  const synthesizer = await createSynthesizer(opts.tts ?? 'auto');
  const events = new EventEmitter();
  const sessions = new Map<WebSocket, EngineConnection>();
  const sockets = new Set<WebSocket>();
  const alive = new WeakMap<WebSocket, boolean>();
  const failures: InjectedError[] = [];
  let closing: Promise<void> | undefined;

  const server = createServer((req, res) => {
    // Plain HTTP on the WebSocket path is a client error, anything else does not exist.
    const status = pathOf(req) === path ? 426 : 404;
    res
      .writeHead(status, { 'content-type': 'text/plain', connection: 'close' })
      .end(status === 426 ? 'Upgrade Required' : 'Not Found');
  });
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_FRAME_BYTES,
    clientTracking: false,
    handleProtocols: (offered) => selectProtocol(offered),
  });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    if (closing) {
      socket.destroy();
      return;
    }
    if (pathOf(req) !== path) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => accept(ws, req));
  });

  function accept(ws: WebSocket, req: IncomingMessage): void {
    sockets.add(ws);
    alive.set(ws, true);
    ws.on('error', () => {}); // Socket errors surface as 'close'; nothing here may throw.
    ws.on('pong', () => alive.set(ws, true));
    ws.once('close', () => sockets.delete(ws));
    const request = readHandshake(req);
    // Like the provider, every upgrade completes (101); refusals are an error event plus a close.
    const fatal = checkHandshake(request, {
      apiKey: opts.apiKey,
      rejectBetaShape: opts.rejectBetaShape ?? false,
    });
    if (fatal) {
      const error = {
        type: fatal.type,
        code: fatal.code,
        message: fatal.message,
        param: null,
        event_id: null,
      };
      ws.send(JSON.stringify({ type: 'error', event_id: newId('event'), error }));
      ws.close(fatal.closeCode, closeReason(fatal));
      return;
    }
    const ctx: ConnectionContext = {
      shape: request.shape,
      mode,
      realtime: opts.realtime ?? mode === 'speech',
      model: request.model!,
      maxSessionMs,
      synthesizer,
      events,
      takeInjectedFailure: () => failures.shift() ?? null,
    };
    const conn = new EngineConnection(ws, ctx);
    sessions.set(ws, conn);
    ws.on('message', (data: RawData, isBinary: boolean) => conn.handleMessage(toBuffer(data), isBinary));
    ws.once('close', (code: number) => {
      conn.dispose();
      sessions.delete(ws);
      events.emit('disconnect', conn.id, code);
    });
    events.emit('connection', conn.id);
    conn.start();
  }

  const pinger = setInterval(() => {
    for (const ws of sockets) {
      if (!alive.get(ws)) {
        ws.terminate();
        continue;
      }
      alive.set(ws, false);
      // The provider's pings carry 4 random bytes.
      ws.ping(randomBytes(4));
    }
  }, pingIntervalMs);
  pinger.unref();

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;

  return {
    url: `ws://${urlHost}:${port}${path}`,
    port,
    events,
    connections: () => sessions.size,
    dropAll(code?: number) {
      for (const ws of sockets) {
        if (code === undefined) ws.terminate();
        else {
          try {
            ws.close(code);
          } catch {
            // Codes that cannot be sent (1005, 1006, …) mean "abnormal": cut the TCP connection instead.
            ws.terminate();
          }
        }
      }
    },
    failNextResponse(error = DEFAULT_FAILURE) {
      failures.push({ ...error });
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        clearInterval(pinger);
        for (const ws of sockets) ws.terminate();
        wss.close();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

function pathOf(req: IncomingMessage): string {
  try {
    return new URL(req.url ?? '/', 'http://engine.invalid').pathname;
  } catch {
    return '';
  }
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
}
