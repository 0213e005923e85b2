import uWS from 'uWebSockets.js';
import {
  authSettingsFromConfig,
  createTokenVerifier,
  NewConnectionLimiter,
  UserConnectionLimiter,
} from '@rtv/auth';
import {
  createKeys,
  createRedis,
  Heartbeat,
  randomId,
  StreamReader,
  StreamWriter,
  waitReady,
} from '@rtv/bus';
import { CloseCode, DEFAULT_FRAME_LIMITS } from '@rtv/protocol';
import { createRegistry, type Logger, startAdminServer } from '@rtv/service-kit';
import { Queue } from 'bullmq';
import type { GatewayConfig } from './config.js';
import { registerSeedRoutes } from './http/seed-routes.js';
import { createGatewayMetrics } from './metrics.js';
import type { ClientSession } from './routing/client-session.js';
import { ResumeTokens } from './routing/resume-tokens.js';
import { SessionRouter } from './routing/session-router.js';
import { type SessionJobData, SessionStore } from './routing/session-store.js';
import { SessionLifecycle } from './ws/session-lifecycle.js';
import { createSocketBehavior, REALTIME_PATH } from './ws/socket-handlers.js';

export const GATEWAY_VERSION = '0.1.0';

export interface Gateway {
  readonly id: string;
  readonly port: number;
  readonly adminPort: number;
  connections(): number;
  /** Stops accepting, closes every client with `code`, releases Redis state. Idempotent. */
  stop(code?: number): Promise<void>;
}

/** Composition root: config → Redis, bus, queue, router, uWS app, heartbeat, admin server. */
export async function startGateway(config: GatewayConfig, log: Logger): Promise<Gateway> {
  const id = config.RTV_GATEWAY_ID ?? randomId('gw-', 12);
  const keys = createKeys(config.RTV_REDIS_PREFIX);
  const registry = createRegistry({ service: 'gateway' });
  const metrics = createGatewayMetrics(registry);
  const onRedisError = (err: Error) => log.warn({ err: err.message }, 'redis connection error');
  const commands = createRedis(config.REDIS_URL, { name: `rtv-gateway-${id}`, onError: onRedisError });
  const blocking = createRedis(config.REDIS_URL, { name: `rtv-gateway-${id}-read`, onError: onRedisError });
  const queueConn = createRedis(config.REDIS_URL, { name: `rtv-gateway-${id}-queue`, onError: onRedisError });
  await Promise.all([waitReady(commands), waitReady(blocking), waitReady(queueConn)]);

  const queue = new Queue<SessionJobData>(keys.queueName, { connection: queueConn, prefix: keys.bullPrefix });
  queue.on('error', onRedisError);
  const store = new SessionStore(commands, keys, queue);
  const writer = new StreamWriter(commands, {
    maxLen: config.RTV_STREAM_MAXLEN,
    minFlushIntervalMs: config.RTV_BUS_FLUSH_MS,
    onFlush: () => metrics.busEntriesOut.inc(),
    onDrop: (stream, lines, err) => {
      metrics.busDropped.inc(lines);
      log.warn({ stream, lines, err: err.message }, 'bus write dropped');
    },
  });

  let stopping = false;
  const closeClient = (session: ClientSession, code: number, reason: string): void => {
    if (session.closed || !session.ws) return;
    session.ws.end(code, reason);
  };
  const router = new SessionRouter({
    gatewayId: id,
    keys,
    writer,
    metrics,
    log,
    maxBackpressureBytes: config.RTV_MAX_BACKPRESSURE_BYTES,
    closeClient,
  });
  const reader = new StreamReader({
    stream: keys.gatewayOut(id),
    blocking,
    commands,
    onBatch: (batch, id) => router.onBatch(batch, id),
    onError: (err) => log.warn({ err: err.message }, 'out-stream read failed'),
  });
  await reader.start();

  const tokens = await ResumeTokens.create({
    secret: config.RTV_RESUME_SECRET,
    redis: commands,
    key: `${keys.prefix}:resume-secret`,
    ttlS: config.RTV_RESUME_TOKEN_TTL_S,
  });
  const auth = authSettingsFromConfig(config, { maxFrameBytes: config.RTV_MAX_FRAME_BYTES }, 'gateway');
  const verifierConfigured =
    auth.verifier.jwtSecret !== undefined ||
    auth.verifier.jwksUrl !== undefined ||
    (auth.verifier.apiKeys?.length ?? 0) > 0;
  if (!verifierConfigured) {
    log.warn(
      'no RTV_AUTH_JWT_SECRET, RTV_AUTH_JWKS_URL or RTV_AUTH_API_KEYS: the authenticated route refuses every connection',
    );
  }
  if (auth.allowAnonymous)
    log.info('the anonymous route /api/v1/streaming/realtime/{user_id} is on (RTV_ALLOW_ANONYMOUS)');
  const userLimiter = new UserConnectionLimiter({
    redis: commands,
    prefix: keys.prefix,
    maxPerUser: auth.maxConnectionsPerUser,
    onError: (err: Error) => log.warn({ err: err.message }, 'per-user connection lease renewal failed'),
  });
  userLimiter.start();
  const upgradeDeps = {
    auth,
    verifier: verifierConfigured ? createTokenVerifier(auth.verifier) : undefined,
    userLimiter,
    ipLimiter: new NewConnectionLimiter({ maxPerWindow: auth.maxNewConnectionsPerIp }),
    redisReady: () => commands.status === 'ready',
    tokenExpiryGraceMs: config.RTV_CLOSE_ON_TOKEN_EXPIRY ? (auth.verifier.clockSkewMs ?? 30_000) : undefined,
    metrics,
    log,
    sessionLimits: {
      pendingMaxFrames: config.RTV_PENDING_MAX_FRAMES,
      replayMaxBytes: config.RTV_REPLAY_MAX_BYTES,
    },
  };
  const lifecycle = new SessionLifecycle({
    gatewayId: id,
    router,
    store,
    tokens,
    metrics,
    log,
    sessionLimits: {
      pendingMaxFrames: config.RTV_PENDING_MAX_FRAMES,
      replayMaxBytes: config.RTV_REPLAY_MAX_BYTES,
    },
    bindTimeoutMs: config.RTV_BIND_TIMEOUT_MS,
    accepting: () => !stopping && commands.status === 'ready',
    userLimiter,
    connectionRate: auth.connectionRate,
    maxSessionMs: config.RTV_MAX_SESSION_S * 1000,
  });
  const behaviorOptions = {
    lifecycle,
    upgrade: upgradeDeps,
    frameLimits: { ...DEFAULT_FRAME_LIMITS, maxFrameBytes: config.RTV_MAX_FRAME_BYTES },
    idleTimeoutS: config.RTV_IDLE_TIMEOUT_S,
    maxBackpressureBytes: config.RTV_MAX_BACKPRESSURE_BYTES,
  };

  // Redis outage: open clients hear about it once; when Redis is back, unacknowledged frames are sent again
  // (writes during the outage were dropped; owners drop what they already applied).
  let redisDown = false;
  commands.on('close', () => {
    if (redisDown || stopping) return;
    redisDown = true;
    log.warn('redis unreachable: refusing new sessions (1013) until it is back');
    lifecycle.announceDegraded();
  });
  commands.on('ready', () => {
    if (!redisDown) return;
    redisDown = false;
    log.info('redis reachable again');
    void reader.maintain().catch(() => undefined);
    router.resendUnacked();
  });

  const app = uWS.App();
  app.ws(REALTIME_PATH, createSocketBehavior(behaviorOptions, 'authenticated'));
  app.ws(`${REALTIME_PATH}/:user_id`, createSocketBehavior(behaviorOptions, 'anonymous'));
  registerSeedRoutes(app, config.RTV_STATUS_URL, log);

  const listenSocket = await new Promise<uWS.us_listen_socket>((resolve, reject) => {
    app.listen(config.RTV_GATEWAY_HOST, config.RTV_GATEWAY_PORT, (socket) => {
      if (socket) resolve(socket);
      else
        reject(
          new Error(`gateway could not listen on ${config.RTV_GATEWAY_HOST}:${config.RTV_GATEWAY_PORT}`),
        );
    });
  });
  const port = uWS.us_socket_local_port(listenSocket as unknown as uWS.us_socket);

  const heartbeat = new Heartbeat({
    redis: commands,
    hashKey: keys.gateway(id),
    registryKey: keys.gateways(),
    id,
    fields: () => ({
      connections: router.sessions.size,
      draining: stopping ? 1 : 0,
      version: GATEWAY_VERSION,
      port,
      read_id: reader.lastDeliveredId,
    }),
    extra: () => reader.maintain(),
    onError: onRedisError,
  });
  await heartbeat.start();

  const admin = await startAdminServer({
    port: config.RTV_GATEWAY_ADMIN_PORT,
    registry,
    ready: () => !stopping && commands.status === 'ready',
    details: () => ({ id, connections: router.sessions.size, redis: commands.status }),
  });
  log.info({ id, port, adminPort: admin.port }, 'gateway listening');

  let stopped: Promise<void> | undefined;
  return {
    id,
    port,
    adminPort: admin.port,
    connections: () => router.sessions.size,
    stop: (code = CloseCode.ServiceRestart) =>
      (stopped ??= (async () => {
        // Drain (DESIGN §5): not ready, no new sockets, clients warned, then closed with 1012 so they resume
        // on another gateway; their sessions are detached (kept by the owners), not ended.
        stopping = true;
        uWS.us_listen_socket_close(listenSocket);
        if (router.sessions.size > 0 && config.RTV_DRAIN_GRACE_MS > 0) {
          lifecycle.announceDrain();
          await new Promise((r) => setTimeout(r, config.RTV_DRAIN_GRACE_MS));
        }
        lifecycle.closeAll(code, 'server restarting: resume the session');
        await lifecycle.settle();
        lifecycle.dispose();
        userLimiter.stop();
        await userLimiter.releaseAll().catch(() => undefined);
        await writer.drain().catch(() => undefined);
        await heartbeat.stop();
        await reader.stop(true);
        await queue.close();
        await admin.close();
        await Promise.allSettled([commands.quit(), queueConn.quit()]);
        // close() exists at run time on uWS v20.30+; the bundled typings predate it.
        (app as unknown as { close(): void }).close();
      })()),
  };
}
