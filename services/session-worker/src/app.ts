import {
  createKeys,
  createRedis,
  Heartbeat,
  randomId,
  StreamReader,
  StreamWriter,
  waitReady,
} from '@rtv/bus';
import { type LocalEngine, startLocalEngine } from '@rtv/local-engine';
import { decodeBatch, encodeAckLine } from '@rtv/protocol';
import { createRegistry, type Logger, startAdminServer } from '@rtv/service-kit';
import { DelayedError, type Job, Worker } from 'bullmq';
import type { WorkerConfig } from './config.js';
import { createWorkerMetrics } from './metrics.js';
import { SessionRunner } from './sessions/session-runner.js';
import { SessionRecords } from './sessions/session-state.js';
import { ConnectGate } from './upstream/connect-gate.js';
import { resolveShape } from './upstream/event-mapping.js';

export const WORKER_VERSION = '0.1.0';

export interface SessionWorker {
  readonly id: string;
  readonly adminPort: number;
  /** The in-process local engine, when no provider key is configured. */
  readonly engine: LocalEngine | undefined;
  sessions(): number;
  stop(): Promise<void>;
}

interface SessionJobData {
  sid: string;
}

/** Composition root: config → provider (or local engine), Redis, bus, BullMQ worker, heartbeat, admin. */
export async function startSessionWorker(config: WorkerConfig, log: Logger): Promise<SessionWorker> {
  const id = config.RTV_WORKER_ID ?? randomId('wk-', 12);
  const keys = createKeys(config.RTV_REDIS_PREFIX);
  const registry = createRegistry({ service: 'session-worker' });
  const metrics = createWorkerMetrics(registry);
  metrics.capacity.set(config.RTV_WORKER_CAPACITY);
  const onRedisError = (err: Error) => log.warn({ err: err.message }, 'redis connection error');

  let engine: LocalEngine | undefined;
  let providerUrl = config.OPENAI_REALTIME_URL;
  if (!config.OPENAI_API_KEY) {
    engine = await startLocalEngine({ mode: config.RTV_ENGINE_MODE as 'speech' | 'echo' });
    providerUrl = engine.url;
    log.info(
      { url: engine.url, mode: config.RTV_ENGINE_MODE },
      'OPENAI_API_KEY is not set: using the local engine',
    );
  }
  const model = config.OPENAI_REALTIME_MODEL;
  const shape = resolveShape(config.RTV_PROVIDER_SHAPE as 'auto' | 'ga' | 'beta', model, providerUrl);
  log.info(
    { model, shape, provider: engine ? 'local-engine' : new URL(providerUrl).host },
    'provider configured',
  );

  const commands = createRedis(config.REDIS_URL, { name: `rtv-worker-${id}`, onError: onRedisError });
  const blocking = createRedis(config.REDIS_URL, { name: `rtv-worker-${id}-read`, onError: onRedisError });
  const bullConn = createRedis(config.REDIS_URL, { name: `rtv-worker-${id}-bull`, onError: onRedisError });
  await Promise.all([waitReady(commands), waitReady(blocking), waitReady(bullConn)]);

  const records = new SessionRecords(commands, keys, config.RTV_SESSION_TTL_MS);
  const writer = new StreamWriter(commands, {
    maxLen: config.RTV_STREAM_MAXLEN,
    minFlushIntervalMs: config.RTV_BUS_FLUSH_MS,
    onDrop: (stream, lines, err) => log.warn({ stream, lines, err: err.message }, 'bus write dropped'),
  });
  const runners = new Map<string, SessionRunner>();

  const reader = new StreamReader({
    stream: keys.workerIn(id),
    blocking,
    commands,
    onBatch: (batch, entryId) => {
      const writtenMs = Number(entryId.slice(0, entryId.indexOf('-')));
      const ageS = writtenMs > 0 ? Math.max(0, Date.now() - writtenMs) / 1000 : -1;
      decodeBatch(
        batch,
        (line) => {
          switch (line.op) {
            case 'F':
              if (ageS >= 0) metrics.framePath.observe(ageS);
              runners.get(line.sid)?.apply(line.seq, line.kind, line.payload);
              return;
            case 'E':
              runners.get(line.sid)?.end(line.reason === 'client_gone' ? 'client_gone' : 'client_closed');
              return;
            case 'D':
              runners.get(line.sid)?.detach(line.gid);
              return;
            case 'R':
              runners.get(line.sid)?.resume(line.gid, line.lastSeq);
              return;
            default:
              return;
          }
        },
        (_raw, why) => log.warn({ why }, 'malformed bus line skipped'),
      );
    },
    onError: (err) => log.warn({ err: err.message }, 'in-stream read failed'),
  });
  await reader.start();

  // Whether the last provider connect succeeded; published in the heartbeat for the cluster health check.
  let providerOk = true;
  const connectGate = new ConnectGate(config.RTV_PROVIDER_CONNECT_CONCURRENCY, (waiting) =>
    metrics.providerConnectsWaiting.set(waiting),
  );
  const runnerDeps = {
    keys,
    writer,
    log,
    metrics,
    workerId: id,
    provider: {
      connectGate,
      url: providerUrl,
      model,
      apiKey: config.OPENAI_API_KEY,
      shape,
      renewAfterMs: config.RTV_PROVIDER_RENEW_MS,
      maxAttempts: config.RTV_PROVIDER_MAX_ATTEMPTS,
    },
    resumeGraceMs: config.RTV_RESUME_GRACE_MS,
    resumeBufferBytes: config.RTV_RESUME_BUFFER_BYTES,
    audioFramesToProvider: metrics.framesToProvider.labels('audio'),
    audioDeltaEvents: metrics.upstreamEvents.labels({ type: 'response.output_audio.delta' }),
    onProviderConnect: (ok: boolean) => {
      providerOk = ok;
    },
    appendHistory: (sid: string, item: Parameters<SessionRecords['appendHistory']>[1]) =>
      void records
        .appendHistory(sid, item)
        .catch((err: Error) => log.warn({ sid, err: err.message }, 'history write failed')),
    loadHistory: (sid: string) => records.loadHistory(sid),
    saveConfig: (sid: string, cfg: Parameters<SessionRecords['saveConfig']>[1]) =>
      void records
        .saveConfig(sid, cfg)
        .catch((err: Error) => log.warn({ sid, err: err.message }, 'config write failed')),
  };

  const runSession = async (job: Job<SessionJobData>, token?: string): Promise<string> => {
    const sid = job.data.sid;
    const state = await records.claim(sid, id);
    if (!state) return 'gone';
    // A session whose gateway is gone (a whole-stack restart, a gateway that died) has no client to bind
    // to: it starts detached and ends after the resume grace unless its client resumes elsewhere.
    if (state.clientAttached && (await commands.exists(keys.gateway(state.gatewayId))) === 0) {
      state.clientAttached = false;
    }
    // This worker may take back a session whose lease it lost (a stall): the newer claim wins here too.
    runners.get(sid)?.end('lease_lost');
    const runner = new SessionRunner(state, runnerDeps);
    runners.set(sid, runner);
    metrics.sessions.set(runners.size);
    metrics.sessionsStarted.inc({ kind: state.epoch > 1 ? 'takeover' : 'new' });
    log.info({ sid, userId: state.userId, epoch: state.epoch }, 'session claimed');
    void runner.start();
    const startedAt = performance.now();
    const reason = await runner.done;
    metrics.sessionDuration.observe((performance.now() - startedAt) / 1000);
    if (runners.get(sid) === runner) runners.delete(sid);
    metrics.sessions.set(runners.size);
    metrics.sessionsEnded.inc({ reason });
    log.info({ sid, reason }, 'session ended here');
    if (reason === 'handoff') {
      // Persist what was applied, then put the job back so another worker claims it (epoch + 1). The
      // gateway replays whatever is not acknowledged; the next owner drops what is.
      try {
        await records.saveProgress([{ state, seq: runner.appliedSeq, workerId: id }]);
        await job.moveToDelayed(Date.now(), token);
        metrics.handoffs.inc({ result: 'ok' });
      } catch (err) {
        metrics.handoffs.inc({ result: 'failed' });
        throw err;
      }
      throw new DelayedError();
    }
    if (reason !== 'lease_lost') {
      await records
        .remove(sid)
        .catch((err: Error) => log.warn({ sid, err: err.message }, 'session cleanup failed'));
    }
    return reason;
  };

  const bull = new Worker<SessionJobData, string>(keys.queueName, runSession, {
    connection: bullConn,
    prefix: keys.bullPrefix,
    concurrency: config.RTV_WORKER_CAPACITY,
    // The lock is the lease: renewed every lockDuration/2 while the session runs. A dead worker's sessions
    // are found by the stalled check and moved to another worker (DESIGN §5).
    lockDuration: config.RTV_LEASE_MS,
    // Renewing at a quarter of the lease leaves three renewals of slack for a busy event loop.
    lockRenewTime: Math.floor(config.RTV_LEASE_MS / 4),
    stalledInterval: Math.max(500, Math.floor(config.RTV_LEASE_MS / 2)),
    maxStalledCount: 1000,
    drainDelay: 1,
  });
  bull.on('error', (err) => log.warn({ err: err.message }, 'queue worker error'));
  // A lease that could not be renewed may already be someone else's: let those sessions go now rather
  // than at the next progress write (an idle session would never make one).
  bull.on('lockRenewalFailed', (jobIds: string[]) => {
    for (const sid of jobIds) {
      const runner = runners.get(sid);
      if (!runner) continue;
      metrics.leaseLost.inc();
      log.warn({ sid }, 'session lease could not be renewed: letting go');
      runner.end('lease_lost');
    }
  });
  bull.on('failed', (job, err) => log.warn({ sid: job?.id, err: err.message }, 'session job failed'));

  // Progress: acknowledge applied seqs to gateways (so they can drop replay data) and persist them, batched
  // for every session on one timer, never per frame (DESIGN §4.1).
  const progressTimer = setInterval(() => {
    const dirty: Array<{
      state: SessionRunner['state'];
      seq: number;
      workerId: string;
      runner: SessionRunner;
    }> = [];
    for (const runner of runners.values()) {
      if (runner.appliedSeq > runner.savedSeq) {
        dirty.push({ state: runner.state, seq: runner.appliedSeq, workerId: id, runner });
      }
    }
    if (dirty.length === 0) return;
    records.saveProgress(dirty).then(
      (lost) => {
        const lostSet = new Set(lost);
        for (const d of dirty) {
          if (lostSet.has(d.state.sid)) {
            metrics.leaseLost.inc();
            log.warn(
              { sid: d.state.sid, epoch: d.state.epoch },
              'a newer owner took the session: letting go',
            );
            d.runner.end('lease_lost');
            continue;
          }
          d.runner.savedSeq = Math.max(d.runner.savedSeq, d.seq);
          writer.write(keys.gatewayOut(d.state.gatewayId), encodeAckLine(d.state.sid, d.state.epoch, d.seq));
        }
      },
      (err: Error) => log.warn({ err: err.message }, 'progress write failed'),
    );
  }, config.RTV_PROGRESS_INTERVAL_MS);
  progressTimer.unref();

  // Sessions whose gateway stopped beating (it was killed, not drained) start their resume grace here: a
  // client that reconnects elsewhere resumes them, otherwise they end instead of holding a provider socket.
  const detachFromDeadGateways = async () => {
    const byGateway = new Map<string, SessionRunner[]>();
    for (const runner of runners.values()) {
      const list = byGateway.get(runner.state.gatewayId) ?? [];
      list.push(runner);
      byGateway.set(runner.state.gatewayId, list);
    }
    if (byGateway.size === 0) return;
    const ids = [...byGateway.keys()];
    const pipeline = commands.pipeline();
    for (const gid of ids) pipeline.exists(keys.gateway(gid));
    const results = (await pipeline.exec()) ?? [];
    results.forEach(([err, exists], i) => {
      if (err || exists !== 0) return;
      const gid = ids[i]!;
      for (const runner of byGateway.get(gid) ?? []) runner.detach(gid);
    });
  };

  let stopping = false;
  const heartbeat = new Heartbeat({
    redis: commands,
    hashKey: keys.worker(id),
    registryKey: keys.workers(),
    id,
    fields: () => ({
      sessions: runners.size,
      capacity: config.RTV_WORKER_CAPACITY,
      draining: stopping ? 1 : 0,
      version: WORKER_VERSION,
      provider: engine ? 'local-engine' : 'openai',
      provider_ok: providerOk ? 1 : 0,
      read_id: reader.lastDeliveredId,
    }),
    extra: async () => {
      await reader.maintain();
      await detachFromDeadGateways();
    },
    onError: onRedisError,
  });
  await heartbeat.start();

  const admin = await startAdminServer({
    port: config.RTV_WORKER_ADMIN_PORT,
    registry,
    ready: () => !stopping && commands.status === 'ready' && bull.isRunning(),
    details: () => ({ id, sessions: runners.size, redis: commands.status }),
  });
  log.info({ id, adminPort: admin.port, capacity: config.RTV_WORKER_CAPACITY }, 'session worker ready');

  let stopped: Promise<void> | undefined;
  return {
    id,
    adminPort: admin.port,
    engine,
    sessions: () => runners.size,
    stop: () =>
      (stopped ??= (async () => {
        stopping = true;
        // Stop taking jobs first, then hand every live session to the other workers (DESIGN §5).
        const closing = bull.close();
        log.info({ sessions: runners.size }, 'draining: handing sessions over');
        for (const runner of runners.values()) runner.end('handoff');
        await closing;
        clearInterval(progressTimer);
        await writer.drain().catch(() => undefined);
        await heartbeat.stop();
        await reader.stop(true);
        await admin.close();
        await engine?.close();
        await Promise.allSettled([commands.quit(), bullConn.quit()]);
      })()),
  };
}
