import type {
  HttpRequest,
  HttpResponse,
  us_socket_context_t,
  WebSocket,
  WebSocketBehavior,
} from 'uWebSockets.js';
import { createHash } from 'node:crypto';
import { randomId } from '@rtv/bus';
import {
  CloseCode,
  type ErrorCode,
  encodeError,
  encodePong,
  encodeSessionCreated,
  FrameKind,
  type FrameLimits,
  PROTOCOL_VERSION,
  parseClientFrame,
} from '@rtv/protocol';
import type { Logger } from '@rtv/service-kit';
import type { GatewayMetrics } from '../metrics.js';
import { ClientSession, type ClientSessionLimits, type SocketData } from '../routing/client-session.js';
import type { SessionRouter } from '../routing/session-router.js';
import { DEFAULT_SESSION_CONFIG, type SessionStore } from '../routing/session-store.js';

export const REALTIME_PATH = '/api/v1/streaming/realtime';
const USER_ID = /^[A-Za-z0-9_.@:-]{1,128}$/;

export interface SocketHandlerDeps {
  gatewayId: string;
  router: SessionRouter;
  store: SessionStore;
  metrics: GatewayMetrics;
  log: Logger;
  frameLimits: FrameLimits;
  sessionLimits: ClientSessionLimits;
  bindTimeoutMs: number;
  idleTimeoutS: number;
  maxBackpressureBytes: number;
  /** False while draining or while Redis is unreachable: new sockets are refused with 1013. */
  accepting: () => boolean;
}

/**
 * The uWS behaviour for both seed endpoints. Request data is copied inside `upgrade` (the request object is
 * only valid in that synchronous scope); the session object travels as the socket's user data.
 */
export function createSocketBehavior(
  deps: SocketHandlerDeps,
  route: 'anonymous' | 'authenticated',
): WebSocketBehavior<SocketData> {
  const { router, metrics, log } = deps;

  const sendError = (session: ClientSession, code: ErrorCode, message: string, field?: string) => {
    metrics.errors.inc({ code });
    send(session, encodeError(code, message, field));
  };

  const send = (session: ClientSession, text: string) => {
    if (session.closed || !session.ws) return;
    session.ws.send(text, false);
    metrics.framesOut.inc();
    metrics.bytesOut.inc(text.length);
  };

  return {
    // The hard limit sits above the soft one so a frame just over the limit still gets a readable error
    // before the close; anything beyond the hard limit is cut off by uWS itself.
    maxPayloadLength: deps.frameLimits.maxFrameBytes * 2,
    maxBackpressure: deps.maxBackpressureBytes,
    closeOnBackpressureLimit: 0,
    idleTimeout: deps.idleTimeoutS,
    sendPingsAutomatically: true,

    upgrade: (res: HttpResponse, req: HttpRequest, context: us_socket_context_t) => {
      const secKey = req.getHeader('sec-websocket-key');
      const secProtocol = req.getHeader('sec-websocket-protocol');
      const secExtensions = req.getHeader('sec-websocket-extensions');
      let userId: string;
      if (route === 'authenticated') {
        const auth = req.getHeader('authorization');
        const token = /^Bearer\s+(\S+)\s*$/i.exec(auth)?.[1];
        if (!token) {
          metrics.upgradesRejected.inc({ reason: 'unauthorized' });
          res
            .writeStatus('401 Unauthorized')
            .writeHeader('content-type', 'application/json')
            .writeHeader('www-authenticate', 'Bearer')
            .end('{"error":{"code":"unauthorized","message":"unauthorized"}}');
          return;
        }
        // Token verification (JWT/API keys) is not in place yet: until it is, the bearer token only
        // names the caller, as an opaque digest. See docs/security.md.
        userId = `bearer-${createHash('sha256').update(token).digest('hex').slice(0, 24)}`;
      } else {
        let raw: string;
        try {
          raw = decodeURIComponent(req.getParameter(0) ?? '');
        } catch {
          raw = '';
        }
        if (!USER_ID.test(raw)) {
          metrics.upgradesRejected.inc({ reason: 'invalid_user_id' });
          res
            .writeStatus('400 Bad Request')
            .writeHeader('content-type', 'application/json')
            .end(
              '{"error":{"code":"invalid_message","field":"user_id","message":"user_id must be 1-128 characters of A-Z a-z 0-9 _ . @ : -"}}',
            );
          return;
        }
        userId = raw;
      }
      const session = new ClientSession(randomId('sess_'), userId, route, Date.now(), deps.sessionLimits);
      // Offered subprotocols: echo the first plain one (browsers fail a handshake that offered protocols
      // and got none back).
      const protocol = secProtocol.split(',')[0]?.trim() ?? '';
      res.upgrade<SocketData>({ session }, secKey, protocol, secExtensions, context);
    },

    open: (ws: WebSocket<SocketData>) => {
      const { session } = ws.getUserData();
      session.ws = ws;
      if (!deps.accepting()) {
        session.closed = true;
        metrics.closes.inc({ code: String(CloseCode.TryAgainLater) });
        ws.end(CloseCode.TryAgainLater, 'service unavailable, retry later');
        return;
      }
      metrics.connections.inc();
      metrics.connectionsTotal.inc({ route });
      router.add(session);
      send(
        session,
        encodeSessionCreated({
          id: session.sid,
          user_id: session.userId,
          protocol_version: PROTOCOL_VERSION,
          ...DEFAULT_SESSION_CONFIG,
        }),
      );
      session.bindTimer = setTimeout(() => {
        session.bindTimer = undefined;
        if (session.owner !== undefined || session.closed) return;
        log.warn({ sid: session.sid }, 'no worker bound the session in time');
        sendError(session, 'service_unavailable', 'No session worker is available; try again later');
        closeSession(session, CloseCode.TryAgainLater, 'no session worker available');
      }, deps.bindTimeoutMs);
      deps.store
        .create(
          {
            sid: session.sid,
            userId: session.userId,
            gatewayId: deps.gatewayId,
            createdMs: session.openedAt,
          },
          { ...DEFAULT_SESSION_CONFIG },
        )
        .catch((err: Error) => {
          log.error({ err, sid: session.sid }, 'could not create session');
          sendError(session, 'service_unavailable', 'The session could not be created; try again later');
          closeSession(session, CloseCode.TryAgainLater, 'session store unavailable');
        });
    },

    message: (ws: WebSocket<SocketData>, message: ArrayBuffer, isBinary: boolean) => {
      const { session } = ws.getUserData();
      if (session.closed) return;
      metrics.bytesIn.inc(message.byteLength);
      if (isBinary) {
        // Extension: a binary frame is raw PCM16 mono 24 kHz audio, the same as an input_audio_buffer
        // message without the base64 cost on the client.
        if (message.byteLength === 0 || message.byteLength % 2 !== 0) {
          metrics.framesIn.inc({ type: 'invalid' });
          sendError(
            session,
            'invalid_audio',
            'Binary audio frames must carry PCM16 (an even, non-zero byte count)',
          );
          return;
        }
        if (message.byteLength > deps.frameLimits.maxAudioBytes) {
          metrics.framesIn.inc({ type: 'invalid' });
          sendError(
            session,
            'message_too_large',
            `Binary audio frames are limited to ${deps.frameLimits.maxAudioBytes} bytes`,
          );
          closeSession(session, CloseCode.MessageTooBig, 'message too large');
          return;
        }
        metrics.framesIn.inc({ type: 'input_audio_binary' });
        accept(session, FrameKind.Audio, Buffer.from(message).toString('base64'));
        return;
      }
      const parsed = parseClientFrame(message, deps.frameLimits);
      if (!parsed.ok) {
        metrics.framesIn.inc({ type: 'invalid' });
        sendError(session, parsed.error.code, parsed.error.message, parsed.error.field);
        if (parsed.error.code === 'message_too_large') {
          closeSession(session, CloseCode.MessageTooBig, 'message too large');
        }
        return;
      }
      const msg = parsed.message;
      metrics.framesIn.inc({ type: msg.type });
      if (msg.type === 'ping') {
        // Answered here, never forwarded: the seed's pong echoes the ping's timestamp at the top level.
        send(session, encodePong(msg.ping.timestamp));
        return;
      }
      if (
        msg.type === 'conversation.item.input' &&
        msg.conversation_item_input.type === 'input_audio_buffer'
      ) {
        accept(session, FrameKind.Audio, msg.conversation_item_input.audio);
        return;
      }
      accept(session, FrameKind.Json, JSON.stringify(msg));
    },

    drain: () => {},

    close: (ws: WebSocket<SocketData>, code: number) => {
      const { session } = ws.getUserData();
      const wasOpen = router.sessions.get(session.sid) === session;
      session.closed = true;
      session.ws = undefined;
      if (!wasOpen) return;
      metrics.connections.dec();
      metrics.closes.inc({ code: String(code) });
      const bound = session.owner !== undefined;
      router.remove(session, 'client_closed');
      if (!bound) {
        deps.store.discardUnbound(session.sid).catch((err: Error) => {
          log.warn({ err, sid: session.sid }, 'could not discard unbound session');
        });
      }
    },
  };

  function accept(session: ClientSession, kind: FrameKind, payload: string): void {
    if (!router.forward(session, kind, payload)) {
      sendError(
        session,
        'rate_limited',
        'Too many frames before the session was ready; slow down and resend after a moment',
      );
    }
  }

  function closeSession(session: ClientSession, code: number, reason: string): void {
    if (session.closed || !session.ws) return;
    session.ws.end(code, reason);
  }
}
