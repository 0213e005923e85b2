// An in-process cluster for end-to-end tests: N gateways, N workers and the status API on loopback ports,
// sharing one real Redis under a fresh key prefix, with a local engine as the provider. Running several
// gateways and workers in one process is what proves cross-instance routing (every frame still crosses Redis).
import { createTokenVerifier, hashApiKey, parseApiKeys } from '@rtv/auth';
import { createRedis, type RedisTopology, waitReady } from '@rtv/bus';
import { type LocalEngine, type LocalEngineOptions, startLocalEngine } from '@rtv/local-engine';
import { createLogger } from '@rtv/service-kit';
import { createTestRedis, deleteKeysWithPrefix, type TestRedis, uniquePrefix } from '@rtv/testing';
import type { Redis } from 'ioredis';
import { type Gateway, startGateway } from '../../../services/gateway/src/app.js';
import { loadGatewayConfig } from '../../../services/gateway/src/config.js';
import { type SessionWorker, startSessionWorker } from '../../../services/session-worker/src/app.js';
import { loadWorkerConfig } from '../../../services/session-worker/src/config.js';
import { buildStatusApi } from '../../../services/status-api/src/app.js';

export interface StackOptions {
  gateways?: number;
  workers?: number;
  engine?: LocalEngineOptions;
  /** Provider wire shape the workers use. @defaultValue 'ga' */
  shape?: 'ga' | 'beta';
  /** Extra environment for every gateway / worker. */
  gatewayEnv?: Record<string, string>;
  workerEnv?: Record<string, string>;
  /**
   * A Redis Cluster or Sentinel deployment to run on (its seed nodes or sentinels as a comma-separated `url`)
   * instead of the test Redis: every service gets RTV_REDIS_MODE and the list, as in production.
   */
  redisTopology?: RedisTopology & { url: string };
}

export interface Stack {
  redis: TestRedis;
  /** The key the local engine expects; give it to worker processes started outside the stack. */
  providerKey: string;
  engine: LocalEngine;
  gateways: Gateway[];
  workers: SessionWorker[];
  statusUrl: string;
  /** ws://127.0.0.1:<port of gateway i>/api/v1/streaming/realtime/<user> */
  wsUrl(user: string, gateway?: number): string;
  httpUrl(path: string, gateway?: number): string;
  stop(): Promise<void>;
}

const API_KEY = 'test-provider-key';
/** A server-to-server API key with the `history:read` scope, which the test status API accepts. */
export const TEST_API_KEY = 'rtv_test_api_key_0123456789abcdef';
/** HS256 secret every test gateway accepts, so tests can mint tokens for the authenticated route. */
export const TEST_JWT_SECRET = 'test-jwt-secret-of-at-least-32-bytes!!';

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const redis = opts.redisTopology ? await topologyRedis(opts.redisTopology) : await createTestRedis('e2e');
  const log = createLogger('e2e', process.env.RTV_TEST_LOG_LEVEL ?? 'silent');
  const engine = await startLocalEngine({
    pace: false,
    allowBetaShape: opts.shape === 'beta',
    ...opts.engine,
    apiKey: API_KEY,
  });
  const status = await buildStatusApi({
    redisUrl: redis.url,
    prefix: redis.prefix,
    ...(opts.redisTopology ? { redisTopology: opts.redisTopology } : {}),
    log,
    verifier: createTokenVerifier({
      jwtSecret: TEST_JWT_SECRET,
      // An operator's key: reads every session's history (an entry without scopes could only connect).
      apiKeys: parseApiKeys(`ops:${hashApiKey(TEST_API_KEY)}:history:read`),
    }),
  });
  await status.listen({ host: '127.0.0.1', port: 0 });
  const address = status.server.address();
  const statusUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  const common = {
    REDIS_URL: redis.url,
    RTV_REDIS_PREFIX: redis.prefix,
    RTV_LOG_LEVEL: 'silent',
    ...topologyEnv(opts.redisTopology),
  };
  const workers: SessionWorker[] = [];
  for (let i = 0; i < (opts.workers ?? 1); i++) {
    const config = loadWorkerConfig({
      ...common,
      RTV_WORKER_ID: `wk-${i}`,
      RTV_WORKER_ADMIN_PORT: '0',
      OPENAI_API_KEY: API_KEY,
      OPENAI_REALTIME_URL: engine.url,
      OPENAI_REALTIME_MODEL: 'gpt-realtime',
      RTV_PROVIDER_SHAPE: opts.shape ?? 'ga',
      ...opts.workerEnv,
    });
    workers.push(await startSessionWorker(config, log.child({ worker: i })));
  }
  const gateways: Gateway[] = [];
  for (let i = 0; i < (opts.gateways ?? 1); i++) {
    const config = loadGatewayConfig({
      ...common,
      RTV_GATEWAY_ID: `gw-${i}`,
      RTV_GATEWAY_HOST: '127.0.0.1',
      RTV_GATEWAY_PORT: '0',
      RTV_GATEWAY_ADMIN_PORT: '0',
      RTV_STATUS_URL: statusUrl,
      RTV_AUTH_JWT_SECRET: TEST_JWT_SECRET,
      // With a JWT secret configured the anonymous route is off unless asked for; most suites use it.
      RTV_ALLOW_ANONYMOUS: 'true',
      // Tests open many sockets from one address in a burst.
      RTV_MAX_NEW_CONNECTIONS_PER_IP: '1000',
      ...opts.gatewayEnv,
    });
    gateways.push(await startGateway(config, log.child({ gateway: i })));
  }
  return {
    redis,
    providerKey: API_KEY,
    engine,
    gateways,
    workers,
    statusUrl,
    wsUrl: (user, g = 0) => `ws://127.0.0.1:${gateways[g]!.port}/api/v1/streaming/realtime/${user}`,
    httpUrl: (path, g = 0) => `http://127.0.0.1:${gateways[g]!.port}${path}`,
    stop: async () => {
      await Promise.allSettled(gateways.map((g) => g.stop()));
      await Promise.allSettled(workers.map((w) => w.stop()));
      await status.close();
      await engine.close();
      await redis.cleanup();
    },
  };
}

/** The environment that puts a service on `topology` (nothing for the single test Redis). */
export function topologyEnv(topology: StackOptions['redisTopology']): Record<string, string> {
  if (!topology) return {};
  return {
    RTV_REDIS_MODE: topology.mode,
    ...(topology.sentinelMaster ? { RTV_REDIS_SENTINEL_MASTER: topology.sentinelMaster } : {}),
  };
}

/**
 * A client of a Cluster or Sentinel deployment under a fresh prefix, shaped like the test Redis. Its client is a
 * `Cluster` in cluster mode: the commands tests use exist on both, and each test's keys are its own to read.
 */
async function topologyRedis(topology: RedisTopology & { url: string }): Promise<TestRedis> {
  const client = createRedis(topology.url, { name: 'e2e-test', role: 'producer', topology });
  await waitReady(client, 10_000);
  const prefix = uniquePrefix('e2e');
  let cleaned: Promise<void> | undefined;
  return {
    redis: client as unknown as Redis,
    prefix,
    url: topology.url,
    cleanup: () => {
      cleaned ??= (async () => {
        try {
          await deleteKeysWithPrefix(client, prefix);
        } finally {
          client.disconnect();
        }
      })();
      return cleaned;
    },
  };
}
