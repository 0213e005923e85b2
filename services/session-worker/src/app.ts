import type { RedisClient, SessionState } from '@rtv/bus';
import {
  createKeys,
  createRedis,
  type Keys,
  randomId,
  redisTopologyOf,
  SessionRecords,
  StreamReader,
  StreamWriter,
  TokenBudgets,
  waitReady,
} from '@rtv/bus';
import type { LocalEngine } from '@rtv/local-engine';
import { createRegistry, EventLoopLagGuard, type Logger, startAdminServer } from '@rtv/service-kit';
import { CompatSessionRunner } from './compat/compat-session-runner.js';
import type { WorkerConfig } from './config.js';
import { InStreamRepair } from './in-stream-repair.js';
import { createWorkerMetrics, type WorkerMetrics } from './metrics.js';
import { gatewayLiveness } from './sessions/gateway-liveness.js';
import { createConnectGate, createRunnerDeps, startProviderPool } from './sessions/runner-deps.js';
import { type HostedRunner, SessionHost } from './sessions/session-host.js';
import { openSessionJobQueue, startSessionQueue } from './sessions/session-queue.js';
import { SessionRunner, type SessionRunnerDeps } from './sessions/session-runner.js';
import type { ProviderFailure } from './upstream/provider-failure.js';
import { ProviderHealth } from './upstream/provider-health.js';
import { resolveProvider } from './upstream/resolve-provider.js';
import { startWorkerHeartbeat, type WorkerStatus } from './worker-heartbeat.js';

export { WORKER_VERSION } from './worker-heartbeat.js';

export interface SessionWorker {
  readonly id: string;
  readonly adminPort: number;
  /** The in-process local engine, when no provider key is configured. */
  readonly engine: LocalEngine | undefined;
  sessions(): number;
  stop(): Promise<void>;
}

/**
 * Composition root: config → provider (or local engine), Redis, records and bus, the session host, the BullMQ
 * worker that feeds it, heartbeat, admin. Behaviour lives in `SessionHost` and below; this only wires.
 */
export async function startSessionWorker(config: WorkerConfig, log: Logger): Promise<SessionWorker> {
  const id = config.RTV_WORKER_ID ?? randomId('wk-', 12);
  const keys = createKeys(config.RTV_REDIS_PREFIX);
  const registry = createRegistry(
    { rtv_service: 'session-worker' },
    { packageJson: new URL('../package.json', import.meta.url) },
  );
  const metrics = createWorkerMetrics(registry);
  metrics.capacity.set(config.RTV_WORKER_CAPACITY);
  const status: WorkerStatus = { stopping: false };

  const stores = await openStores(config, id, keys, log);
  const { provider, providerHealth, connects } = await openProvider(config, metrics, log);
  const { commands, blocking, bullConn, queue, records, writer } = stores;
  const shared = { workerId: id, keys, records, writer, metrics, log };
  const runnerDeps = createRunnerDeps({ ...shared, ...connects, config, provider });
  const intake = new EventLoopLagGuard({ maxLagMs: config.RTV_INTAKE_MAX_LAG_MS });
  intake.start();
  const host = new SessionHost({
    ...shared,
    gatewaysAlive: gatewayLiveness(commands, keys),
    createRunner: runnerFactory(runnerDeps, new TokenBudgets(commands, keys)),
    progressIntervalMs: config.RTV_PROGRESS_INTERVAL_MS,
    queue,
    leaseRecoveryMs: config.RTV_LEASE_RECOVERY_MS,
    intake,
    ensureInStream: () => reader.maintain(),
  });
  metrics.heldTurns.bytes = () => host.uncommittedTurnBytes();
  const { reader, redisReturn } = await startInStream(keys.workerIn(id), { commands, blocking }, host, log);
  const bull = startSessionQueue(host, config, { connection: bullConn, keys, log });
  host.startProgressTimer();
  const heartbeat = await startWorkerHeartbeat(config, {
    id,
    keys,
    redis: commands,
    host,
    reader,
    provider,
    providerHealth,
    status,
    redisReturn,
    onError: redisErrorLogger(log),
  });

  const admin = await startAdminServer({
    host: config.RTV_ADMIN_HOST,
    port: config.RTV_WORKER_ADMIN_PORT,
    registry,
    ready: () => !status.stopping && commands.status === 'ready' && bull.isRunning(),
    details: () => ({ id, sessions: host.count(), redis: commands.status }),
  });
  log.info({ id, adminPort: admin.port, capacity: config.RTV_WORKER_CAPACITY }, 'session worker ready');

  const stop = async () => {
    status.stopping = true;
    // Stop taking jobs (and warming provider connections) first, then hand every live session over (DESIGN §5).
    connects.pool?.close();
    const closing = bull.close();
    host.handOffAll();
    await closing;
    host.stopProgressTimer();
    intake.stop();
    await writer.drain().catch(() => undefined);
    await heartbeat.stop();
    await reader.stop(true);
    await admin.close();
    await provider.engine?.close();
    await queue.close().catch(() => undefined);
    await Promise.allSettled([commands.quit(), bullConn.quit(), stores.queueConn.quit()]);
  };
  let stopped: Promise<void> | undefined;
  return {
    id,
    adminPort: admin.port,
    engine: provider.engine,
    sessions: () => host.count(),
    stop: () => (stopped ??= stop()),
  };
}

/** Builds each claimed session's runner: the OpenAI-compatible one for `/v1/realtime` sessions, else the seed's. */
function runnerFactory(
  runnerDeps: SessionRunnerDeps,
  budgets: TokenBudgets,
): (state: SessionState) => HostedRunner {
  return (state) =>
    state.config.openai
      ? new CompatSessionRunner(state, { ...runnerDeps, spendTokens: (u, t, b) => budgets.spend(u, t, b) })
      : new SessionRunner(state, runnerDeps);
}

/**
 * The provider (OpenAI, Azure or a local engine started here) and the worker-wide view of its health, the connect
 * gate every provider connect runs through, and the pool of warm provider connections (when it is on).
 */
async function openProvider(config: WorkerConfig, metrics: WorkerMetrics, log: Logger) {
  const providerHealth = new ProviderHealth(log);
  const provider = await resolveProvider(config, log);
  const onProviderConnect = (ok: boolean, failure?: ProviderFailure) => providerHealth.record(ok, failure);
  const connectGate = createConnectGate(config, metrics);
  const pool = startProviderPool({ config, provider, connectGate, metrics, log, onProviderConnect });
  return { provider, providerHealth, connects: { onProviderConnect, connectGate, pool } };
}

/** Reads the worker's in-stream into `host`, and re-creates the stream as soon as Redis is back after an outage. */
async function startInStream(
  stream: string,
  redis: { commands: RedisClient; blocking: RedisClient },
  host: SessionHost,
  log: Logger,
): Promise<{ reader: StreamReader; redisReturn: InStreamRepair }> {
  const reader = new StreamReader({
    stream,
    ...redis,
    onBatch: (batch, entryId) => host.onBatch(batch, entryId),
    onError: (err) => log.warn({ err: err.message }, 'in-stream read failed'),
  });
  await reader.start();
  const redisReturn = new InStreamRepair({ redis: redis.commands, reader, log });
  redisReturn.start();
  return { reader, redisReturn };
}

/**
 * The worker's Redis connections (commands, the blocking in-stream reader, BullMQ's worker, and a fail-fast
 * one for the session queue, where lost session jobs are put back), records and writer.
 */
async function openStores(config: WorkerConfig, id: string, keys: Keys, log: Logger) {
  const onError = redisErrorLogger(log);
  const topology = redisTopologyOf(config);
  const commands = createRedis(config.REDIS_URL, { name: `rtv-worker-${id}`, onError, topology });
  const blocking = createRedis(config.REDIS_URL, { name: `rtv-worker-${id}-read`, onError, topology });
  const bullConn = createRedis(config.REDIS_URL, { name: `rtv-worker-${id}-bull`, onError, topology });
  const queueConn = createRedis(config.REDIS_URL, {
    name: `rtv-worker-${id}-queue`,
    role: 'producer',
    onError,
    topology,
  });
  await Promise.all([waitReady(commands), waitReady(blocking), waitReady(bullConn), waitReady(queueConn)]);
  const queue = openSessionJobQueue(queueConn, keys, log);
  const records = new SessionRecords(commands, keys, {
    ttlMs: config.RTV_SESSION_TTL_MS,
    historyMaxBytes: config.RTV_HISTORY_MAX_BYTES,
    historyItemMaxBytes: config.RTV_HISTORY_ITEM_MAX_BYTES,
  });
  const writer = new StreamWriter(commands, {
    maxLen: config.RTV_STREAM_MAXLEN,
    minFlushIntervalMs: config.RTV_BUS_FLUSH_MS,
    onDrop: (stream, lines, err) => log.warn({ stream, lines, err: err.message }, 'bus write dropped'),
  });
  return { commands, blocking, bullConn, queueConn, queue, records, writer };
}

function redisErrorLogger(log: Logger): (err: Error) => void {
  return (err) => log.warn({ err: err.message }, 'redis connection error');
}
