import type { BusWriter, HistoryAppendResult, Keys, SessionRecords } from '@rtv/bus';
import type { Logger } from '@rtv/service-kit';
import type { WorkerConfig } from '../config.js';
import type { WorkerMetrics } from '../metrics.js';
import { ConnectGate } from '../upstream/connect-gate.js';
import type { ProviderFailure } from '../upstream/provider-failure.js';
import { ProviderPool, type WarmConnectionSource } from '../upstream/provider-pool.js';
import type { ResolvedProvider } from '../upstream/resolve-provider.js';
import type { SessionRunnerDeps } from './session-runner.js';

export interface RunnerDepsOptions {
  config: WorkerConfig;
  workerId: string;
  keys: Keys;
  writer: BusWriter;
  records: SessionRecords;
  provider: ResolvedProvider;
  metrics: WorkerMetrics;
  log: Logger;
  /** Told whether each provider connect attempt succeeded, and why not (published in the heartbeat). */
  onProviderConnect: (ok: boolean, failure?: ProviderFailure) => void;
  /**
   * The worker's connect gate (see {@link ConnectGate}), shared with the provider pool's refills; a new one
   * (`RTV_PROVIDER_CONNECT_CONCURRENCY`) when absent.
   */
  connectGate?: ConnectGate;
  /** Warm provider connections new sessions take first; absent when RTV_PROVIDER_POOL_SIZE is 0. */
  pool?: WarmConnectionSource | undefined;
}

/** The worker's one {@link ConnectGate}: every provider connect, sessions' and the pool's, runs through it. */
export function createConnectGate(config: WorkerConfig, metrics: WorkerMetrics): ConnectGate {
  return new ConnectGate(config.RTV_PROVIDER_CONNECT_CONCURRENCY, (waiting) =>
    metrics.providerConnectsWaiting.set(waiting),
  );
}

/**
 * The worker's warm provider connections for its default target (see {@link ProviderPool}), started; undefined
 * when `RTV_PROVIDER_POOL_SIZE` is 0.
 */
export function startProviderPool(opts: {
  config: WorkerConfig;
  provider: ResolvedProvider;
  connectGate: ConnectGate;
  metrics: WorkerMetrics;
  log: Logger;
  onProviderConnect: (ok: boolean, failure?: ProviderFailure) => void;
}): ProviderPool | undefined {
  const { config, provider } = opts;
  if (config.RTV_PROVIDER_POOL_SIZE === 0) return undefined;
  const pool = new ProviderPool({
    target: {
      url: provider.url,
      model: provider.model,
      apiKey: provider.apiKey,
      auth: provider.auth,
      shape: provider.shape,
    },
    size: config.RTV_PROVIDER_POOL_SIZE,
    maxAgeMs: config.RTV_PROVIDER_POOL_MAX_AGE_S * 1000,
    connectGate: opts.connectGate,
    metrics: opts.metrics,
    log: opts.log.child({ component: 'provider-pool' }),
    onConnect: opts.onProviderConnect,
  });
  pool.start();
  return pool;
}

/**
 * What every `SessionRunner` of this process shares: the bus writer, the provider settings behind one connect
 * gate, the pre-bound hot-path counters, and the session record's history and config writes. A failed record
 * write is logged and the session goes on; history writes resolve either way, so the runner can wait for one
 * (a function call is written before it is announced).
 */
export function createRunnerDeps(opts: RunnerDepsOptions): SessionRunnerDeps {
  const { config, records, metrics, log, provider } = opts;
  const connectGate = opts.connectGate ?? createConnectGate(config, metrics);
  return {
    keys: opts.keys,
    writer: opts.writer,
    log,
    metrics,
    workerId: opts.workerId,
    provider: {
      connectGate,
      ...(opts.pool ? { pool: opts.pool } : {}),
      url: provider.url,
      model: provider.model,
      apiKey: provider.apiKey,
      shape: provider.shape,
      auth: provider.auth,
      renewAfterMs: config.RTV_PROVIDER_RENEW_MS,
      maxQueuedBytes: config.RTV_PROVIDER_QUEUE_MAX_BYTES,
      retryBudgetMs: config.RTV_PROVIDER_RETRY_BUDGET_S * 1000,
      uncommittedTurnMaxBytes: config.RTV_UNCOMMITTED_TURN_MAX_BYTES,
    },
    providerKind: provider.kind,
    resumeGraceMs: config.RTV_RESUME_GRACE_MS,
    maxSessionMs: config.RTV_MAX_SESSION_S * 1000,
    resumeBufferBytes: config.RTV_RESUME_BUFFER_BYTES,
    audioFramesToProvider: metrics.framesToProvider.tally({ type: 'audio' }),
    audioDeltaEvents: metrics.upstreamEvents.labels({ type: 'response.output_audio.delta' }),
    onProviderConnect: opts.onProviderConnect,
    appendHistory: (sid, item) =>
      records.appendHistory(sid, item).then(
        (result) => countHistoryTrims(metrics, result),
        (err: Error) => log.warn({ sid, err: err.message }, 'history write failed'),
      ),
    loadHistory: (sid) => records.loadHistory(sid),
    saveConfig: (sid, cfg) =>
      void records
        .saveConfig(sid, cfg)
        .catch((err: Error) => log.warn({ sid, err: err.message }, 'config write failed')),
  };
}

/** What an append cut or dropped to stay within the history's budgets (`rtv_worker_history_items_trimmed_total`). */
function countHistoryTrims(metrics: WorkerMetrics, result: HistoryAppendResult): void {
  if (result.truncated) metrics.historyTrims.inc({ reason: 'item_bytes' });
  if (result.droppedForBytes > 0)
    metrics.historyTrims.inc({ reason: 'session_bytes' }, result.droppedForBytes);
  if (result.droppedForCount > 0) metrics.historyTrims.inc({ reason: 'item_count' }, result.droppedForCount);
}
