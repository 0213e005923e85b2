// A scripted server on a real socket (port 0) for the client's edge cases that the real stack cannot be made
// to produce on demand: silence after the upgrade, unanswered pings, arbitrary close codes, junk frames.
import type { AddressInfo } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';

export interface PeerConnection {
  ws: WebSocket;
  /** Path without the query. */
  path: string;
  query: URLSearchParams;
  headers: Record<string, string | string[] | undefined>;
  /** The subprotocols offered (Sec-WebSocket-Protocol), in order. */
  protocols: string[];
  /** Text frames parsed as JSON, and binary frames as Buffers, in arrival order. */
  received: unknown[];
  sessionId: string;
}

export interface PeerBehaviour {
  /** Send session.created on connect. @defaultValue true */
  greet?: boolean;
  /** Answer ping with pong. @defaultValue true */
  pong?: boolean;
  /**
   * Honour `?resume=` with a valid token in the `rtv.resume.<token>` subprotocol (else: error session_not_found
   * and close 4001). @defaultValue true
   */
  resume?: boolean;
  /** Answer this many resumes with `session_in_use` and close 1013 first, as a gateway does while the old socket's drop is not recorded yet. */
  busyResumes?: number;
}

export interface Peer {
  url(path?: string): string;
  connections: PeerConnection[];
  behaviour: PeerBehaviour;
  /** Resolves with the next connection (or the n-th, counting from 1). */
  connection(n: number): Promise<PeerConnection>;
  /** Stops listening and drops every connection without a close frame, like a crashed server. */
  close(): Promise<void>;
}

export async function startPeer(behaviour: PeerBehaviour = {}): Promise<Peer> {
  const server = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    handleProtocols: (protocols) => protocols.values().next().value ?? false,
    verifyClient: ({ req }, done) => (req.url?.startsWith('/needs-auth') ? done(false, 401) : done(true)),
  });
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  const connections: PeerConnection[] = [];
  // Session id → the resume token last handed out for it.
  const tokens = new Map<string, string>();
  const waiting: Array<{ n: number; resolve: (c: PeerConnection) => void }> = [];
  const peer: Peer = {
    url: (path = '/api/v1/streaming/realtime/tester') => `ws://127.0.0.1:${port}${path}`,
    connections,
    behaviour,
    connection: (n) =>
      connections[n - 1]
        ? Promise.resolve(connections[n - 1]!)
        : new Promise((resolve) => waiting.push({ n, resolve })),
    close: async () => {
      for (const c of connections) c.ws.terminate();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  server.on('connection', (ws, req) => {
    const url = new URL(req.url ?? '/', 'ws://peer');
    const resumeId = url.searchParams.get('resume');
    const conn: PeerConnection = {
      ws,
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      protocols: String(req.headers['sec-websocket-protocol'] ?? '')
        .split(',')
        .map((p) => p.trim())
        .filter((p) => p !== ''),
      received: [],
      sessionId: resumeId ?? `sess_peer${connections.length + 1}`,
    };
    connections.push(conn);
    for (const w of waiting.filter((w) => w.n === connections.length)) w.resolve(conn);
    const send = (m: unknown) => ws.send(JSON.stringify(m));
    if (resumeId !== null) {
      if ((behaviour.busyResumes ?? 0) > 0) {
        behaviour.busyResumes = (behaviour.busyResumes ?? 0) - 1;
        send({ type: 'error', error: { code: 'session_in_use', message: 'retry shortly' } });
        ws.close(1013, 'try again later');
        return;
      }
      const offered = conn.protocols.find((p) => p.startsWith('rtv.resume.'))?.slice('rtv.resume.'.length);
      const ok = (behaviour.resume ?? true) && offered !== undefined && tokens.get(resumeId) === offered;
      if (!ok) {
        send({ type: 'error', error: { code: 'session_not_found', message: 'Session not found' } });
        ws.close(4001, 'session not found');
        return;
      }
    }
    if (behaviour.greet ?? true) {
      const token = `rt_${conn.sessionId}_${connections.length}`;
      tokens.set(conn.sessionId, token);
      send({
        type: 'session.created',
        session: { id: conn.sessionId, user_id: 'tester', protocol_version: '1.0', resume_token: token },
        timestamp: Date.now() / 1000,
      });
      if (resumeId !== null) {
        send({
          type: 'session.notice',
          notice: { code: 'session_resumed', message: 'Session resumed' },
          timestamp: Date.now() / 1000,
        });
      }
    }
    ws.on('message', (data, isBinary) => {
      if (isBinary) {
        conn.received.push(Buffer.from(data as Buffer));
        return;
      }
      const message = JSON.parse(String(data));
      conn.received.push(message);
      if (message.type === 'ping' && (behaviour.pong ?? true)) {
        send({ type: 'pong', timestamp: message.ping.timestamp });
      } else if (message.type === 'session.update') {
        send({
          type: 'session.update',
          session: { id: conn.sessionId, voice: 'alloy', language: 'en', ...message.session_update },
        });
      }
    });
  });
  return peer;
}
