import type {
  HttpRequest,
  HttpResponse,
  us_socket_context_t,
  WebSocket,
  WebSocketBehavior,
} from 'uWebSockets.js';
import { jsonDepthExceeds } from '@rtv/auth';
import {
  CloseCode,
  type ErrorCode,
  encodeError,
  encodePong,
  FrameKind,
  type FrameLimits,
  parseClientFrame,
  scanAudioFrame,
} from '@rtv/protocol';
import type { ClientSession, SocketData } from '../routing/client-session.js';
import type { SessionLifecycle } from './session-lifecycle.js';
import { handleUpgrade, takeUserSlot, type UpgradeDeps } from './upgrade.js';

export const REALTIME_PATH = '/api/v1/streaming/realtime';
/** Deepest JSON nesting accepted; real messages nest 3 levels, so this only stops hostile frames early. */
const MAX_JSON_DEPTH = 32;

export interface SocketBehaviorOptions {
  lifecycle: SessionLifecycle;
  upgrade: UpgradeDeps;
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
  const byType = new Map<string, { frames: { inc(): void }; bytes: { inc(n: number): void } }>();
  const countFrame = (type: string, bytes: number) => {
    let child = byType.get(type);
    if (!child) {
      child = { frames: metrics.framesIn.labels(type), bytes: metrics.bytesIn.labels(type) };
      byType.set(type, child);
    }
    child.frames.inc();
    child.bytes.inc(bytes);
  };

  const sendError = (
    session: ClientSession,
    code: ErrorCode,
    message: string,
    field?: string,
    eventId?: string,
  ) => {
    metrics.errors.inc({ code });
    lifecycle.send(session, encodeError(code, message, field, eventId));
  };

  /** `payload` may be a view into the frame: it is copied into the bus line before this returns. */
  const accept = (session: ClientSession, kind: FrameKind, payload: string | Uint8Array) => {
    if (!lifecycle.deps.router.forward(session, kind, payload)) {
      metrics.limitRejections.inc({ kind: 'pending_frames' });
      sendError(
        session,
        'rate_limited',
        'Too many frames before the session was ready; slow down and resend after a moment',
      );
    }
  };

  const opened = (data: SocketData) => {
    if (data.refuse) {
      lifecycle.refuseAfterUpgrade(data.session, data.refuse.code, data.refuse.message);
      return;
    }
    if (data.resume) lifecycle.openResumed(data.session, data.resume, route);
    else lifecycle.openNew(data.session, route);
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
      handleUpgrade(opts.upgrade, route, res, req, context);
    },

    open: (ws: WebSocket<SocketData>) => {
      const data = ws.getUserData();
      data.session.ws = ws;
      if (data.slotPending) {
        // Frames that arrive meanwhile are numbered and held like any frame before a worker binds.
        void takeUserSlot(opts.upgrade, data).then(() => {
          data.slotPending = false;
          if (!data.session.closed) opened(data);
          else if (data.session.leaseId) {
            // Closed while the slot was being taken: give it back.
            void opts.upgrade.userLimiter
              .release(data.session.userId, data.session.leaseId)
              .catch(() => undefined);
          }
        });
        return;
      }
      // An asynchronous upgrade (after token verification) completes inside a cork; a send from within that
      // same open callback can make uWS close the fresh socket without a close frame (uWebSockets issue
      // #1928). The first sends therefore wait one turn; a socket that closed meanwhile is skipped.
      setImmediate(() => {
        if (!data.session.closed) opened(data);
      });
    },

    message: (ws: WebSocket<SocketData>, message: ArrayBuffer, isBinary: boolean) => {
      const { session } = ws.getUserData();
      if (session.closed) return;
      const bytes = message.byteLength;
      if (isBinary) {
        if (!lifecycle.admitFrame(session, message.byteLength, true)) return;
        // Extension: a binary frame is raw PCM16 mono 24 kHz audio, the same as an input_audio_buffer
        // message without the base64 cost on the client.
        if (message.byteLength === 0 || message.byteLength % 2 !== 0) {
          countFrame('invalid', bytes);
          sendError(
            session,
            'invalid_audio',
            'Binary audio frames must carry PCM16 (an even, non-zero byte count)',
          );
          return;
        }
        if (message.byteLength > opts.frameLimits.maxAudioBytes) {
          countFrame('invalid', bytes);
          metrics.limitRejections.inc({ kind: 'audio_size' });
          sendError(
            session,
            'message_too_large',
            `Binary audio frames are limited to ${opts.frameLimits.maxAudioBytes} bytes`,
          );
          lifecycle.close(session, CloseCode.MessageTooBig, 'message too large');
          return;
        }
        countFrame('input_audio_binary', bytes);
        accept(session, FrameKind.Audio, Buffer.from(message).toString('base64'));
        return;
      }
      // The commonest frame, an audio chunk in the seed's canonical form, is checked byte by byte and its
      // base64 copied straight into the bus line: no string, no JSON.parse (anything else takes the full parser).
      const view = new Uint8Array(message);
      const audio = scanAudioFrame(view, opts.frameLimits.maxAudioBytes, opts.frameLimits.maxFrameBytes);
      if (audio !== undefined) {
        if (!lifecycle.admitFrame(session, bytes, true)) return;
        countFrame('conversation.item.input', bytes);
        accept(session, FrameKind.Audio, view.subarray(audio.start, audio.end));
        return;
      }
      // Oversize frames go straight to the parser, which answers message_too_large before anything else.
      if (message.byteLength <= opts.frameLimits.maxFrameBytes && jsonDepthExceeds(view, MAX_JSON_DEPTH)) {
        countFrame('invalid', bytes);
        if (lifecycle.admitFrame(session, message.byteLength, false)) {
          sendError(session, 'invalid_message', `The message is nested deeper than ${MAX_JSON_DEPTH} levels`);
        }
        return;
      }
      const parsed = parseClientFrame(message, opts.frameLimits);
      const isAudio =
        parsed.ok &&
        parsed.message.type === 'conversation.item.input' &&
        parsed.message.conversation_item_input.type === 'input_audio_buffer';
      // An oversize frame is answered with message_too_large and a 1009 close below, not counted as a rate.
      if (bytes <= opts.frameLimits.maxFrameBytes && !lifecycle.admitFrame(session, bytes, isAudio)) return;
      if (!parsed.ok) {
        countFrame('invalid', bytes);
        sendError(session, parsed.error.code, parsed.error.message, parsed.error.field, parsed.error.eventId);
        if (parsed.error.code === 'message_too_large') {
          metrics.limitRejections.inc({ kind: 'frame_size' });
          lifecycle.close(session, CloseCode.MessageTooBig, 'message too large');
        }
        return;
      }
      const msg = parsed.message;
      countFrame(msg.type, bytes);
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
