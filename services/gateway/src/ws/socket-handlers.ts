import type {
  HttpRequest,
  HttpResponse,
  us_socket_context_t,
  WebSocket,
  WebSocketBehavior,
} from 'uWebSockets.js';
import type { SocketData } from '../routing/client-session.js';
import type { ClientFrameIntake } from './frame-intake.js';
import type { SessionLifecycle } from './session-lifecycle.js';
import { handleUpgrade, takeUserSlot, type UpgradeDeps } from './upgrade.js';

export const REALTIME_PATH = '/api/v1/streaming/realtime';

export type RealtimeRoute = 'anonymous' | 'authenticated' | 'openai';

export interface SocketBehaviorOptions {
  lifecycle: SessionLifecycle;
  intake: ClientFrameIntake;
  upgrade: UpgradeDeps;
  /** The soft frame limit (`FrameLimits.maxFrameBytes`): frames above it get message_too_large and 1009. */
  maxFrameBytes: number;
  idleTimeoutS: number;
  maxBackpressureBytes: number;
}

/**
 * The uWS behaviour for both seed endpoints. Request data is copied inside `upgrade` (the request object is
 * only valid in that synchronous scope); the session object travels as the socket's user data. `message` is
 * the hot path, handed to {@link ClientFrameIntake.onMessage}.
 */
export function createSocketBehavior(
  opts: SocketBehaviorOptions,
  route: RealtimeRoute,
): WebSocketBehavior<SocketData> {
  const { lifecycle, intake } = opts;
  return {
    // The hard limit sits above the soft one so a frame just over the limit still gets a readable error
    // before the close; anything beyond the hard limit is cut off by uWS itself while it arrives.
    maxPayloadLength: opts.maxFrameBytes * 2,
    maxBackpressure: opts.maxBackpressureBytes,
    closeOnBackpressureLimit: 0,
    idleTimeout: opts.idleTimeoutS,
    sendPingsAutomatically: true,

    upgrade: (res: HttpResponse, req: HttpRequest, context: us_socket_context_t) => {
      handleUpgrade(opts.upgrade, route === 'anonymous' ? 'anonymous' : 'authenticated', res, req, context);
    },

    open: (ws: WebSocket<SocketData>) => {
      const data = ws.getUserData();
      data.session.ws = ws;
      if (data.slotPending) {
        // Frames that arrive meanwhile are numbered and held like any frame before a worker binds.
        void openAfterUserSlot(opts, data, route);
        return;
      }
      // An asynchronous upgrade (after token verification) completes inside a cork; a send from within that
      // same open callback can make uWS close the fresh socket without a close frame (uWebSockets issue
      // #1928). The first sends therefore wait one turn; a socket that closed meanwhile is skipped.
      setImmediate(() => {
        if (!data.session.closed) openSession(lifecycle, data, route);
      });
    },

    message: (ws: WebSocket<SocketData>, message: ArrayBuffer, isBinary: boolean) => {
      intake.onMessage(ws.getUserData().session, message, isBinary);
    },

    close: (ws: WebSocket<SocketData>, code: number) => {
      const data = ws.getUserData();
      // Every upgraded socket ends here, refused-after-upgrade ones (4429, 1013) included: the one place its
      // open-connection slot is given back.
      data.connectionSlot?.release();
      lifecycle.onClosed(data.session, code);
    },
  };
}

/** Takes the user's connection slot (synchronous upgrades), then opens the session or gives the slot back. */
async function openAfterUserSlot(
  opts: SocketBehaviorOptions,
  data: SocketData,
  route: RealtimeRoute,
): Promise<void> {
  await takeUserSlot(opts.upgrade, data);
  data.slotPending = false;
  const { session } = data;
  if (!session.closed) openSession(opts.lifecycle, data, route);
  else if (session.leaseId) {
    // Closed while the slot was being taken: give it back.
    void opts.upgrade.userLimiter.release(session.userId, session.leaseId).catch(() => undefined);
  }
}

/**
 * A new session, a resumed one, or a socket admitted only to hear why it is refused (over a limit, or a resume
 * token in the URL).
 */
function openSession(lifecycle: SessionLifecycle, data: SocketData, route: RealtimeRoute): void {
  if (data.refuse) {
    lifecycle.refuseAfterUpgrade(data.session, data.refuse.code, data.refuse.message, data.refuse.errorCode);
    return;
  }
  if (data.urlResumeToken !== undefined)
    lifecycle.refuseUrlToken(data.session, data.urlResumeToken, data.resume);
  else if (data.resume) lifecycle.openResumed(data.session, data.resume, route);
  else lifecycle.openNew(data.session, route);
}
