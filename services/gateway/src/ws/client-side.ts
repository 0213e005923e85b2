import { TokenBudgets } from '@rtv/bus';
import { DEFAULT_FRAME_LIMITS } from '@rtv/protocol';
import type { GatewayConfig } from '../config.js';
import { OpenAiFrameIntake } from '../openai/openai-intake.js';
import { loadOpenAiPolicy } from '../openai/openai-route.js';
import type { GatewayReadiness } from '../readiness.js';
import { RedisOutageWatch } from '../redis-outage-watch.js';
import { ResumeTokens } from '../routing/resume-tokens.js';
import type { GatewayWiring, RoutingPlane } from '../routing/routing-plane.js';
import { SessionRecovery } from '../routing/session-recovery.js';
import { createConnectionAdmission } from './connection-admission.js';
import { ClientFrameIntake } from './frame-intake.js';
import { SessionLifecycle } from './session-lifecycle.js';

/**
 * The client side: resume tokens, upgrade admission and limits, the session lifecycle and the frame intake,
 * plus the watch that tells open clients about a Redis outage and the recovery that gets their sessions
 * running again after it.
 */
export async function createClientSide(
  config: GatewayConfig,
  wiring: GatewayWiring & { readiness: GatewayReadiness; routing: RoutingPlane },
) {
  const { id, keys, redis, metrics, log, readiness, routing } = wiring;
  const sessionLimits = {
    pendingMaxFrames: config.RTV_PENDING_MAX_FRAMES,
    replayMaxBytes: config.RTV_REPLAY_MAX_BYTES,
    replayBudget: routing.replayBudget,
  };
  const tokens = await ResumeTokens.create({
    secret: config.RTV_RESUME_SECRET,
    redis: redis.commands,
    key: keys.resumeSecret(),
    ttlS: config.RTV_RESUME_TOKEN_TTL_S,
    maxSessionMs: config.RTV_MAX_SESSION_S * 1000,
  });
  const admission = createConnectionAdmission(config, redis.commands, keys, sessionLimits, metrics, log);
  const recovery = new SessionRecovery({
    gatewayId: id,
    registry: routing.registry,
    store: routing.store,
    reader: routing.reader,
    router: routing.router,
    // The lifecycle is made next; the recovery calls it only once an outage is over.
    endings: { detach: (s) => lifecycle.detach(s), fail: (s) => lifecycle.failRecovery(s) },
    metrics,
    log,
    boundMs: config.RTV_REDIS_RECOVERY_MS,
  });
  const lifecycle = new SessionLifecycle({
    gatewayId: id,
    router: routing.router,
    registry: routing.registry,
    store: routing.store,
    tokens,
    metrics,
    log,
    sessionLimits,
    bindTimeoutMs: config.RTV_BIND_TIMEOUT_MS,
    accepting: () => readiness.accepting(),
    userLimiter: admission.upgrade.userLimiter,
    connectionRate: admission.connectionRate,
    maxSessionMs: config.RTV_MAX_SESSION_S * 1000,
    recovery,
    budgets: new TokenBudgets(redis.commands, keys),
  });
  const limits = { ...DEFAULT_FRAME_LIMITS, maxFrameBytes: config.RTV_MAX_FRAME_BYTES };
  const intake = new ClientFrameIntake({ router: routing.router, client: lifecycle, metrics, limits });
  const policy = loadOpenAiPolicy(config);
  const openai = {
    intake: new OpenAiFrameIntake({ router: routing.router, client: lifecycle, metrics, limits, policy }),
    route: { policy },
  };
  new RedisOutageWatch({ redis: redis.commands, readiness, lifecycle, recovery, log }).start();
  return { admission, lifecycle, intake, openai, recovery };
}
