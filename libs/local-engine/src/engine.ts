import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { REALTIME_HANDSHAKE } from '@rtv/protocol/openai-realtime';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';
import { type ConnectionContext, EngineConnection, type InjectedError } from './connection.js';
import { closeReason } from './errors.js';
import {
  AZURE_REALTIME_PATH,
  checkHandshake,
  describeHandshake,
  readHandshake,
  selectProtocol,
} from './handshake.js';
import { newId } from './ids.js';
import { createSynthesizer, type TtsMode } from './tts.js';

export interface LocalEngineOptions {
  /** Interface to bind. Loopback by default: the engine has no TLS and, unless `apiKey` is set, no auth. */
  host?: string;
  /** TCP port; 0 (default) picks a free one, so parallel tests never collide. */
  port?: number;
  /**
   * WebSocket path, like the provider's. The Azure OpenAI GA path `/openai/v1/realtime` is served as well;
   * other paths get 404 before the upgrade. @defaultValue '/v1/realtime'
   */
  path?: string;
  /**
   * `speech` (default) is the protocol-faithful model stand-in. `echo` answers every
   * `input_audio_buffer.append` at once with an audio delta carrying the same base64, for benchmarks that
   * must measure the gateway rather than the engine.
   */
  mode?: 'speech' | 'echo';
  /**
   * When set, connections must present this key (`Authorization: Bearer`, Azure's `api-key` header, or the
   * key subprotocol), else close 3000.
   */
  apiKey?: string;
  /** Session lifetime; then `session_expired` and close 1001, as the provider does at 60 min. @defaultValue 3_600_000 */
  maxSessionMs?: number;
  /** WebSocket PING interval (the provider pings about every 20 s); unanswered pings drop the socket. */
  pingIntervalMs?: number;
  /**
   * Pace audio and text deltas at playback speed. Off by default in every mode: the provider generates audio
   * faster than real time over WebSocket, and clients must cope with bursts. Turn it on for tests that need a
   * response to still be streaming a while after it started (barge-in, a socket killed mid-response).
   * @defaultValue false
   */
  pace?: boolean;
  /** Alias of {@link pace} (its former name); `pace` wins when both are given. @deprecated use `pace` */
  realtime?: boolean;
  /** Voice source: espeak-ng when on PATH (`auto`), or the built-in synthetic voice. @defaultValue 'auto' */
  tts?: TtsMode;
  /**
   * Serve the retired beta shape (`OpenAI-Beta: realtime=v1` header or `openai-beta.realtime-v1`
   * subprotocol), as some third-party endpoints still do. By default the engine refuses it like today's
   * provider: `error` `beta_api_shape_disabled`, then close 4000. @defaultValue false
   */
  allowBetaShape?: boolean;
  /**
   * Former inverse of {@link allowBetaShape}, kept for callers that still pass it: `rejectBetaShape: false`
   * allows the beta shape. `allowBetaShape` wins when both are given. @deprecated use `allowBetaShape`
   */
  rejectBetaShape?: boolean;
  /**
   * Wait this long after the upgrade before the first server event (`session.created`, or the refusal), as
   * the provider takes a few hundred ms to open a session; client events sent meanwhile are queued and handled
   * afterwards. Lets benchmarks show the cost of opening a provider session honestly. @defaultValue 0
   */
  handshakeDelayMs?: number;
}

export interface LocalEngine {
  /** `ws://host:port/v1/realtime`; append `?model=gpt-realtime`. */
  readonly url: string;
  /** The Azure OpenAI GA form, `ws://host:port/openai/v1/realtime`; append `?model=<deployment>`. */
  readonly azureUrl: string;
  readonly port: number;
  /**
   * Test hooks. `'client-event' (connId, event)`: every parsed client event, per connection, in order.
   * `'connection' (connId)` when a session starts; `'disconnect' (connId, code)` when its socket closes.
   * `'handshake' (connId, info: HandshakeInfo)` for every upgrade, accepted or refused, at upgrade time: path,
   * model, shape, which credential headers were present (`headers.authorization`, `headers['api-key']`,
   * booleans), offered subprotocols (key redacted), `keyLast4` and `refused` (error code or null).
   * The connection id is the session id reported in `session.created`.
   */
  readonly events: EventEmitter;
  /** Open sessions (sockets past the handshake checks). */
  connections(): number;
  /** Fault injection: terminate every socket abruptly, or close each with `code` when given. */
  dropAll(code?: number): void;
  /**
   * Fault injection: terminate one session's socket abruptly (or close it with `code`), by the session id its
   * `session.created` reported; false when no open session has that id.
   */
  drop(sessionId: string, code?: number): boolean;
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
/** Client events held while a delayed session opens; a client that floods it meanwhile is cut off. */
const MAX_QUEUED_BYTES = 64 * 1024 * 1024;

function nonNegative(name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0)
    throw new RangeError(`${name} must be a non-negative number, got ${value}`);
  return value;
}

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
  const handshakeDelayMs = nonNegative('handshakeDelayMs', opts.handshakeDelayMs ?? 0);
  // `pace` wins over its alias, so `{ realtime: false, ...overrides }` spreads still work.
  const pace = opts.pace ?? opts.realtime ?? false;
  const allowBetaShape =
    opts.allowBetaShape ?? (opts.rejectBetaShape === undefined ? false : !opts.rejectBetaShape);
  const served = new Set([path, AZURE_REALTIME_PATH]);
  const synthesizer = await createSynthesizer(opts.tts ?? 'auto');
  const events = new EventEmitter();
  const sessions = new Map<WebSocket, EngineConnection>();
  const sockets = new Set<WebSocket>();
  const alive = new WeakMap<WebSocket, boolean>();
  const failures: InjectedError[] = [];
  let closing: Promise<void> | undefined;

  const server = createServer((req, res) => {
    // Plain HTTP on the WebSocket path is a client error, anything else does not exist.
    const status = served.has(pathOf(req)) ? 426 : 404;
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
    if (!served.has(pathOf(req))) {
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
    const connId = newId('sess');
    // Like the provider, every upgrade completes (101); refusals are an error event plus a close.
    const fatal = checkHandshake(request, { apiKey: opts.apiKey, allowBetaShape });
    events.emit('handshake', connId, describeHandshake(request, fatal));
    // Client events that arrive before the session opens (handshake delay) are handled once it has.
    let conn: EngineConnection | null = null;
    const queued: [Buffer, boolean][] = [];
    let queuedBytes = 0;
    ws.on('message', (data: RawData, isBinary: boolean) => {
      const buf = toBuffer(data);
      if (conn) {
        conn.handleMessage(buf, isBinary);
        return;
      }
      queuedBytes += buf.length;
      if (queuedBytes > MAX_QUEUED_BYTES) ws.terminate();
      else queued.push([buf, isBinary]);
    });
    const open = (): void => {
      if (ws.readyState !== ws.OPEN) return;
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
        realtime: pace,
        model: request.model!,
        maxSessionMs,
        synthesizer,
        events,
        takeInjectedFailure: () => failures.shift() ?? null,
      };
      const session = new EngineConnection(ws, ctx, connId);
      sessions.set(ws, session);
      ws.once('close', (code: number) => {
        session.dispose();
        sessions.delete(ws);
        events.emit('disconnect', session.id, code);
      });
      events.emit('connection', session.id);
      session.start();
      conn = session;
      for (const [buf, isBinary] of queued.splice(0)) session.handleMessage(buf, isBinary);
    };
    if (handshakeDelayMs === 0) {
      open();
      return;
    }
    const timer = setTimeout(open, handshakeDelayMs);
    ws.once('close', () => clearTimeout(timer));
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
    azureUrl: `ws://${urlHost}:${port}${AZURE_REALTIME_PATH}`,
    port,
    events,
    connections: () => sessions.size,
    dropAll(code?: number) {
      for (const ws of sockets) cut(ws, code);
    },
    drop(sessionId: string, code?: number) {
      for (const [ws, session] of sessions) {
        if (session.id !== sessionId) continue;
        cut(ws, code);
        return true;
      }
      return false;
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

/** Terminates `ws`, or closes it with `code` when given. */
function cut(ws: WebSocket, code: number | undefined): void {
  if (code === undefined) {
    ws.terminate();
    return;
  }
  try {
    ws.close(code);
  } catch {
    // Codes that cannot be sent (1005, 1006, …) mean "abnormal": cut the TCP connection instead.
    ws.terminate();
  }
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
