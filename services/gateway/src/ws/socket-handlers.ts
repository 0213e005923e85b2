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
  FrameKind,
  type FrameLimits,
  parseClientFrame,
} from '@rtv/protocol';
import { ClientSession, type SocketData } from '../routing/client-session.js';
import type { SessionLifecycle } from './session-lifecycle.js';

export const REALTIME_PATH = '/api/v1/streaming/realtime';
const USER_ID = /^[A-Za-z0-9_.@:-]{1,128}$/;
const SESSION_ID = /^sess_[0-9A-Za-z]{21}$/;

export interface SocketBehaviorOptions {
  lifecycle: SessionLifecycle;
  frameLimits: FrameLimits;
  idleTimeoutS: number;
  maxBackpressureBytes: number;
}

/**
 * The uWS behaviour for both seed endpoints. Request data is copied inside `upgrade` (the request object is
 * only valid in that synchronous scope); the session object travels as the socket's user data. `message` is
 * the hot path: one parse, then either a local answer (ping) or one numbered bus line.
 */
export function createSocketBehavior(
  opts: SocketBehaviorOptions,
  route: 'anonymous' | 'authenticated',
): WebSocketBehavior<SocketData> {
  const { lifecycle } = opts;
  const { metrics } = lifecycle.deps;
  // Label lookups cost a hash per call; the hot path uses pre-bound children.
  const framesInByType = new Map<string, { inc(): void }>();
  const countFrame = (type: string) => {
    let child = framesInByType.get(type);
    if (!child) {
      child = metrics.framesIn.labels(type);
      framesInByType.set(type, child);
    }
    child.inc();
  };

  const sendError = (session: ClientSession, code: ErrorCode, message: string, field?: string) => {
    metrics.errors.inc({ code });
    lifecycle.send(session, encodeError(code, message, field));
  };

  const accept = (session: ClientSession, kind: FrameKind, payload: string) => {
    if (!lifecycle.deps.router.forward(session, kind, payload)) {
      sendError(
        session,
        'rate_limited',
        'Too many frames before the session was ready; slow down and resend after a moment',
      );
    }
  };

  return {
    // The hard limit sits above the soft one so a frame just over the limit still gets a readable error
    // before the close; anything beyond the hard limit is cut off by uWS itself while it arrives.
    maxPayloadLength: opts.frameLimits.maxFrameBytes * 2,
    maxBackpressure: opts.maxBackpressureBytes,
    closeOnBackpressureLimit: 0,
    idleTimeout: opts.idleTimeoutS,
    sendPingsAutomatically: true,

    upgrade: (res: HttpResponse, req: HttpRequest, context: us_socket_context_t) => {
      const secKey = req.getHeader('sec-websocket-key');
      const secProtocol = req.getHeader('sec-websocket-protocol');
      const secExtensions = req.getHeader('sec-websocket-extensions');
      const query = new URLSearchParams(req.getQuery() ?? '');
      const userId = route === 'authenticated' ? bearerUser(req.getHeader('authorization')) : pathUser(req);
      if (userId === undefined) {
        const unauthorized = route === 'authenticated';
        metrics.upgradesRejected.inc({ reason: unauthorized ? 'unauthorized' : 'invalid_user_id' });
        res
          .writeStatus(unauthorized ? '401 Unauthorized' : '400 Bad Request')
          .writeHeader('content-type', 'application/json')
          .end(
            unauthorized
              ? '{"error":{"code":"unauthorized","message":"unauthorized"}}'
              : '{"error":{"code":"invalid_message","field":"user_id","message":"user_id must be 1-128 characters of A-Z a-z 0-9 _ . @ : -"}}',
          );
        return;
      }
      const resumeSid = query.get('resume');
      const sid = resumeSid !== null && SESSION_ID.test(resumeSid) ? resumeSid : randomId('sess_');
      const session = new ClientSession(sid, userId, route, Date.now(), lifecycle.deps.sessionLimits);
      session.wantSeq = query.get('seq') === '1';
      const data: SocketData = { session };
      if (resumeSid !== null) {
        const lastSeq = Number(query.get('last_seq') ?? '');
        data.resume = {
          valid: SESSION_ID.test(resumeSid),
          token: query.get('resume_token') ?? '',
          lastSeq: Number.isSafeInteger(lastSeq) && lastSeq > 0 ? lastSeq : undefined,
        };
      }
      // Offered subprotocols: echo the first plain one (browsers fail a handshake that offered protocols
      // and got none back).
      const protocol = secProtocol.split(',')[0]?.trim() ?? '';
      res.upgrade<SocketData>(data, secKey, protocol, secExtensions, context);
    },

    open: (ws: WebSocket<SocketData>) => {
      const data = ws.getUserData();
      data.session.ws = ws;
      if (data.resume) lifecycle.openResumed(data.session, data.resume, route);
      else lifecycle.openNew(data.session, route);
    },

    message: (ws: WebSocket<SocketData>, message: ArrayBuffer, isBinary: boolean) => {
      const { session } = ws.getUserData();
      if (session.closed) return;
      metrics.bytesIn.inc(message.byteLength);
      if (isBinary) {
        // Extension: a binary frame is raw PCM16 mono 24 kHz audio, the same as an input_audio_buffer
        // message without the base64 cost on the client.
        if (message.byteLength === 0 || message.byteLength % 2 !== 0) {
          countFrame('invalid');
          sendError(
            session,
            'invalid_audio',
            'Binary audio frames must carry PCM16 (an even, non-zero byte count)',
          );
          return;
        }
        if (message.byteLength > opts.frameLimits.maxAudioBytes) {
          countFrame('invalid');
          sendError(
            session,
            'message_too_large',
            `Binary audio frames are limited to ${opts.frameLimits.maxAudioBytes} bytes`,
          );
          lifecycle.close(session, CloseCode.MessageTooBig, 'message too large');
          return;
        }
        countFrame('input_audio_binary');
        accept(session, FrameKind.Audio, Buffer.from(message).toString('base64'));
        return;
      }
      const parsed = parseClientFrame(message, opts.frameLimits);
      if (!parsed.ok) {
        countFrame('invalid');
        sendError(session, parsed.error.code, parsed.error.message, parsed.error.field);
        if (parsed.error.code === 'message_too_large') {
          lifecycle.close(session, CloseCode.MessageTooBig, 'message too large');
        }
        return;
      }
      const msg = parsed.message;
      countFrame(msg.type);
      if (msg.type === 'ping') {
        // Answered here, never forwarded: the seed's pong echoes the ping's timestamp at the top level.
        lifecycle.send(session, encodePong(msg.ping.timestamp));
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

    close: (ws: WebSocket<SocketData>, code: number) => {
      lifecycle.onClosed(ws.getUserData().session, code);
    },
  };
}

/** The caller of the authenticated route, from `Authorization: Bearer …`; undefined when absent. */
function bearerUser(authorization: string): string | undefined {
  const token = /^Bearer\s+(\S+)\s*$/i.exec(authorization)?.[1];
  if (!token) return undefined;
  // Token verification (JWT/API keys) is not in place yet: until it is, the bearer token only names the
  // caller, as an opaque digest. See docs/security.md.
  return `bearer-${createHash('sha256').update(token).digest('hex').slice(0, 24)}`;
}

/** The `{user_id}` path segment when valid; undefined otherwise. */
function pathUser(req: HttpRequest): string | undefined {
  let raw: string;
  try {
    raw = decodeURIComponent(req.getParameter(0) ?? '');
  } catch {
    return undefined;
  }
  return USER_ID.test(raw) ? raw : undefined;
}
