import uWS from 'uWebSockets.js';
import type { Logger } from '@rtv/service-kit';
import { registerSeedRoutes } from '../http/seed-routes.js';
import type { OpenAiFrameIntake } from '../openai/openai-intake.js';
import { createOpenAiSocketBehavior, OPENAI_REALTIME_PATH } from '../openai/openai-route.js';
import type { OpenAiRouteDeps } from '../openai/openai-upgrade.js';
import { createSocketBehavior, REALTIME_PATH, type SocketBehaviorOptions } from './socket-handlers.js';

export interface RealtimeServerOptions {
  host: string;
  port: number;
  sockets: SocketBehaviorOptions;
  /** The OpenAI-compatible route `/v1/realtime` (frame intake and policy). */
  openai: { intake: OpenAiFrameIntake; route: OpenAiRouteDeps };
  /** The status API the seed's HTTP routes are forwarded to. */
  statusUrl: string;
  /** Requests per second per client address to the forwarded seed routes (`RTV_STATUS_RATE_PER_S`). */
  statusRatePerS: number;
  log: Logger;
}

/** The listening uWS app: the two WebSocket routes and the seed's HTTP routes. */
export interface RealtimeServer {
  /** The bound port (the configured one, or the one picked for port 0). */
  readonly port: number;
  /** Stops accepting connections; open sockets stay until they are closed. */
  stopListening(): void;
  /** Closes the app and whatever sockets are left. */
  close(): void;
}

/** Builds the uWS app (authenticated and anonymous realtime routes, seed HTTP routes) and starts listening. */
export async function listenRealtime(opts: RealtimeServerOptions): Promise<RealtimeServer> {
  const app = uWS.App();
  app.ws(REALTIME_PATH, createSocketBehavior(opts.sockets, 'authenticated'));
  app.ws(`${REALTIME_PATH}/:user_id`, createSocketBehavior(opts.sockets, 'anonymous'));
  app.ws(
    OPENAI_REALTIME_PATH,
    createOpenAiSocketBehavior(opts.sockets, opts.openai.intake, opts.openai.route),
  );
  const { trustedProxies, metrics } = opts.sockets.upgrade;
  registerSeedRoutes(app, opts.statusUrl, opts.log, {
    ratePerS: opts.statusRatePerS,
    trustedProxies,
    metrics,
  });

  const listenSocket = await new Promise<uWS.us_listen_socket>((resolve, reject) => {
    app.listen(opts.host, opts.port, (socket) => {
      if (socket) resolve(socket);
      else reject(new Error(`gateway could not listen on ${opts.host}:${opts.port}`));
    });
  });
  return {
    port: uWS.us_socket_local_port(listenSocket as unknown as uWS.us_socket),
    stopListening: () => uWS.us_listen_socket_close(listenSocket),
    // close() exists at run time on uWS v20.30+; the bundled typings predate it.
    close: () => (app as unknown as { close(): void }).close(),
  };
}
