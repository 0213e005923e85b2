/**
 * What a benchmark runs against: the local engine (the provider both sides share), the stack (status API,
 * one session worker, one gateway on a fresh Redis prefix) and the baseline relay. Each target exposes the
 * seed WebSocket URL (the stack also its OpenAI-compatible one), the processes to measure and the session
 * counts its processes report.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { deleteKeysWithPrefix, freePort } from '@rtv/testing';
import type { Cluster, Redis } from 'ioredis';
import { Inspector } from './inspector.js';
import { type Probe, pidProbe } from './proc-stats.js';
import { getJson, type Launched, launch } from './processes.js';
import { type RuntimeSample, scrapePrometheus } from './runtime-stats.js';

export const SEED_WS_PATH = '/api/v1/streaming/realtime';
/** The gateway's OpenAI-compatible route, with the model the stack's worker runs the engine as. */
export const OPENAI_WS_PATH = '/v1/realtime?model=gpt-realtime';

/** Key prefixes of the stacks running now, with the connection to clean them up through (see Ctrl-C). */
const liveStacks = new Map<string, Redis | Cluster>();

/** Deletes the keys of every stack still running: after its processes were killed on an interrupt. */
export async function deleteLiveStackKeys(): Promise<void> {
  await Promise.all([...liveStacks].map(([prefix, redis]) => removeStackKeys(redis, prefix).catch(() => 0)));
  liveStacks.clear();
}

/**
 * Deletes every key of the stack whose `RTV_REDIS_PREFIX` is `prefix`: its own (`<prefix>:…`) and BullMQ's
 * (`{<prefix>:bull}:…`). Returns how many were deleted.
 */
export function removeStackKeys(redis: Redis | Cluster, prefix: string): Promise<number> {
  return deleteKeysWithPrefix(redis, prefix);
}

export interface Engine {
  readonly url: string;
  readonly apiKey: string;
  readonly probe: Probe;
  stop(): Promise<void>;
}

/** One side of the comparison. */
export interface Target {
  readonly kind: 'stack' | 'baseline';
  /** `ws://…/api/v1/streaming/realtime`; clients append `/<user_id>`. */
  readonly wsUrl: string;
  /** Stack only: `ws://…/v1/realtime?model=gpt-realtime`, where clients speak OpenAI Realtime GA events. */
  readonly openAiUrl?: string;
  /** The target's own processes (not the engine, not the load generators). */
  readonly probes: Probe[];
  /** Client sockets the front process holds, and sessions with an open provider socket. */
  counts(): Promise<{ clients: number; upstream: number }>;
  /** Forces a GC in the server processes and reads their memory; empty unless started with `inspect`. */
  liveMemory(): Promise<LiveMemory[]>;
  /** GC totals and event-loop delay (reset by the read) of the server processes that answered. */
  runtime(): Promise<Array<{ name: string; sample: RuntimeSample }>>;
  stop(): Promise<void>;
}

/** Where a target's processes leave what they produced: their output always, CPU profiles on request. */
export interface Artifacts {
  /** Each process's last output lines go to `<logDir>/<label>-<name>.log` when it stops. */
  logDir: string;
  /** When set, gateway, worker and relay run with `--cpu-prof` and write profiles under this folder. */
  profileDir?: string | undefined;
  /** Tells apart several runs of the same process (`voice`, `idle`, …). */
  label: string;
  /** Open an inspector port on gateway, worker and relay, so `liveMemory()` can force a GC in them. */
  inspect?: boolean;
}

/** Memory of one process right after a forced full GC. */
export interface LiveMemory {
  name: string;
  rss: number;
  /** V8 heap in use plus memory V8 tracks outside it (Buffers): what JavaScript keeps alive. */
  jsBytes: number;
  /**
   * Heap V8 has committed but holds nothing in (heapTotal − heapUsed after the GC): part of RSS, yet it
   * follows V8's sizing of its heap (the young generation alone grows by tens of MB under a burst of
   * allocations), not what the connections keep.
   */
  freeHeapBytes: number;
}

function nodeArgs(artifacts: Artifacts, name: string, inspectPort: number | undefined): string[] {
  const args: string[] = [];
  if (artifacts.profileDir) {
    args.push(
      '--cpu-prof',
      `--cpu-prof-dir=${path.join(artifacts.profileDir, `${artifacts.label}-${name}`)}`,
    );
  }
  if (inspectPort !== undefined) args.push(`--inspect=127.0.0.1:${inspectPort}`);
  return args;
}

const inspectPort = (artifacts: Artifacts) => (artifacts.inspect ? freePort() : Promise.resolve(undefined));

/** GC, then memory, in each process in turn (one at a time: a full GC is a CPU burst). */
async function liveMemory(ports: Array<[string, number | undefined]>): Promise<LiveMemory[]> {
  const out: LiveMemory[] = [];
  for (const [name, port] of ports) {
    if (port === undefined) continue;
    const inspector = await Inspector.connect(port);
    try {
      await inspector.collectGarbage();
      const m = await inspector.memoryUsage();
      out.push({
        name,
        rss: m.rss,
        jsBytes: m.heapUsed + m.external,
        freeHeapBytes: m.heapTotal - m.heapUsed,
      });
    } finally {
      inspector.close();
    }
  }
  return out;
}

/** Stops a process and keeps its output (warnings, errors) beside the results. */
async function stopAndKeepLog(
  artifacts: Artifacts,
  name: string,
  proc: Launched,
  graceMs?: number,
): Promise<void> {
  await proc.stop(graceMs);
  mkdirSync(artifacts.logDir, { recursive: true });
  writeFileSync(path.join(artifacts.logDir, `${artifacts.label}-${name}.log`), proc.log());
}

/**
 * Starts the local engine standalone (`libs/local-engine/src/cli.ts`) with a random key it requires; `extraEnv`
 * adds engine settings (`RTV_ENGINE_HANDSHAKE_DELAY_MS` for `--pool-compare`).
 */
export async function startEngine(
  mode: 'echo' | 'speech',
  artifacts: Artifacts,
  extraEnv: Record<string, string> = {},
): Promise<Engine> {
  const port = await freePort();
  const apiKey = `bench-${randomBytes(12).toString('hex')}`;
  const proc = await launch(
    `local-engine (${mode})`,
    'libs/local-engine/src/cli.ts',
    {
      RTV_ENGINE_PORT: String(port),
      RTV_ENGINE_MODE: mode,
      RTV_ENGINE_API_KEY: apiKey,
      // Unpaced: the provider streams reply audio faster than real time, and so does the engine by default.
      RTV_ENGINE_PACE: 'false',
      ...extraEnv,
    },
    // Plain HTTP on the WebSocket path answers 426 once the engine listens.
    { readyUrl: `http://127.0.0.1:${port}/v1/realtime`, readyStatuses: [426] },
  );
  return {
    url: `ws://127.0.0.1:${port}/v1/realtime`,
    apiKey,
    probe: pidProbe(`engine-${mode}`, 'provider', proc.pid),
    stop: () => stopAndKeepLog(artifacts, `engine-${mode}`, proc, 5000),
  };
}

export interface StackOptions {
  redisUrl: string;
  /** Used to delete the run's keys afterwards. */
  redis: Redis | Cluster;
  engine: Engine;
  /** Sessions the one worker may hold (BullMQ concurrency). */
  workerCapacity: number;
  /** Added to every stack service's environment last, so it can override the settings here. */
  extraEnv?: Record<string, string>;
  artifacts: Artifacts;
}

export async function startStack(opts: StackOptions): Promise<Target> {
  const prefix = `rtvbench:${randomBytes(4).toString('hex')}`;
  liveStacks.set(prefix, opts.redis);
  const [statusPort, workerAdmin, gwPort, gwAdmin, workerInspect, gwInspect] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
    inspectPort(opts.artifacts),
    inspectPort(opts.artifacts),
  ]);
  const common = { REDIS_URL: opts.redisUrl, RTV_REDIS_PREFIX: prefix, RTV_LOG_LEVEL: 'warn' };
  const started: Launched[] = [];
  const track = (p: Promise<Launched>) =>
    p.then((l) => {
      started.push(l);
      return l;
    });
  try {
    // Independent at start-up (the gateway only forwards HTTP to the status API), so started together.
    const [status, worker, gateway] = await Promise.all([
      track(
        launch(
          'status-api',
          'services/status-api/src/main.ts',
          { ...common, RTV_STATUS_HOST: '127.0.0.1', RTV_STATUS_PORT: String(statusPort), ...opts.extraEnv },
          { readyUrl: `http://127.0.0.1:${statusPort}/readyz` },
        ),
      ),
      track(
        launch(
          'session-worker',
          'services/session-worker/src/main.ts',
          {
            ...common,
            RTV_WORKER_ADMIN_PORT: String(workerAdmin),
            RTV_WORKER_CAPACITY: String(opts.workerCapacity),
            OPENAI_API_KEY: opts.engine.apiKey,
            OPENAI_REALTIME_URL: opts.engine.url,
            OPENAI_REALTIME_MODEL: 'gpt-realtime',
            RTV_PROVIDER_SHAPE: 'ga',
            ...opts.extraEnv,
          },
          {
            readyUrl: `http://127.0.0.1:${workerAdmin}/readyz`,
            nodeArgs: nodeArgs(opts.artifacts, 'worker', workerInspect),
          },
        ),
      ),
      track(
        launch(
          'gateway',
          'services/gateway/src/main.ts',
          {
            ...common,
            RTV_GATEWAY_HOST: '127.0.0.1',
            RTV_GATEWAY_PORT: String(gwPort),
            RTV_GATEWAY_ADMIN_PORT: String(gwAdmin),
            RTV_STATUS_URL: `http://127.0.0.1:${statusPort}`,
            // Thousands of idle sessions opened at once queue for the one worker longer than the default.
            RTV_BIND_TIMEOUT_MS: '180000',
            // Every benchmark client comes from a handful of loopback addresses; the per-address limit on new
            // connections is meant for the internet, not for a load generator.
            RTV_MAX_NEW_CONNECTIONS_PER_IP: '1000000',
            RTV_MAX_CONNECTIONS_PER_IP: '1000000',
            ...opts.extraEnv,
          },
          {
            readyUrl: `http://127.0.0.1:${gwAdmin}/readyz`,
            nodeArgs: nodeArgs(opts.artifacts, 'gateway', gwInspect),
          },
        ),
      ),
    ]);
    return {
      kind: 'stack',
      wsUrl: `ws://127.0.0.1:${gwPort}${SEED_WS_PATH}`,
      openAiUrl: `ws://127.0.0.1:${gwPort}${OPENAI_WS_PATH}`,
      probes: [
        pidProbe('gateway', 'server', gateway.pid),
        pidProbe('session-worker', 'server', worker.pid),
        pidProbe('status-api', 'aux', status.pid),
      ],
      async counts() {
        const [gw, wk] = await Promise.all([
          getJson(`http://127.0.0.1:${gwAdmin}/healthz`),
          getJson(`http://127.0.0.1:${workerAdmin}/healthz`),
        ]);
        return {
          clients: Number(gw?.connections ?? Number.NaN),
          upstream: Number(wk?.sessions ?? Number.NaN),
        };
      },
      liveMemory: () =>
        liveMemory([
          ['gateway', gwInspect],
          ['session-worker', workerInspect],
        ]),
      async runtime() {
        const [gw, wk] = await Promise.all([
          scrapePrometheus(`http://127.0.0.1:${gwAdmin}/metrics`),
          scrapePrometheus(`http://127.0.0.1:${workerAdmin}/metrics`),
        ]);
        const out: Array<{ name: string; sample: RuntimeSample }> = [];
        if (gw) out.push({ name: 'gateway', sample: gw });
        if (wk) out.push({ name: 'session-worker', sample: wk });
        return out;
      },
      async stop() {
        // Gateway first, so clients are gone before the worker hands back its sessions.
        await stopAndKeepLog(opts.artifacts, 'gateway', gateway);
        await Promise.all([
          stopAndKeepLog(opts.artifacts, 'worker', worker),
          stopAndKeepLog(opts.artifacts, 'status-api', status),
        ]);
        await removeStackKeys(opts.redis, prefix);
        liveStacks.delete(prefix);
      },
    };
  } catch (err) {
    await Promise.all(started.map((p) => p.stop(2000)));
    await removeStackKeys(opts.redis, prefix).catch(() => 0);
    liveStacks.delete(prefix);
    throw err;
  }
}

export async function startBaseline(engine: Engine, artifacts: Artifacts): Promise<Target> {
  const [port, relayInspect] = await Promise.all([freePort(), inspectPort(artifacts)]);
  const relay = await launch(
    'baseline relay',
    'bench/baseline/relay.ts',
    {
      RTV_BENCH_RELAY_PORT: String(port),
      RTV_BENCH_PROVIDER_URL: engine.url,
      OPENAI_API_KEY: engine.apiKey,
      OPENAI_REALTIME_MODEL: 'gpt-realtime',
    },
    { readyUrl: `http://127.0.0.1:${port}/readyz`, nodeArgs: nodeArgs(artifacts, 'relay', relayInspect) },
  );
  return {
    kind: 'baseline',
    wsUrl: `ws://127.0.0.1:${port}${SEED_WS_PATH}`,
    probes: [pidProbe('baseline-relay', 'server', relay.pid)],
    async counts() {
      const body = await getJson(`http://127.0.0.1:${port}/readyz`);
      return {
        clients: Number(body?.clients ?? Number.NaN),
        upstream: Number(body?.upstreams ?? Number.NaN),
      };
    },
    liveMemory: () => liveMemory([['baseline-relay', relayInspect]]),
    async runtime() {
      const body = (await getJson(`http://127.0.0.1:${port}/readyz`)) as
        | { gcSeconds?: Record<string, number>; loopLag?: { maxMs: number; p99Ms: number } }
        | undefined;
      if (!body?.gcSeconds || !body.loopLag) return [];
      const sample = {
        gcSeconds: body.gcSeconds,
        loopLagMaxMs: body.loopLag.maxMs,
        loopLagP99Ms: body.loopLag.p99Ms,
      };
      return [{ name: 'baseline-relay', sample }];
    },
    async stop() {
      await stopAndKeepLog(artifacts, 'relay', relay);
    },
  };
}
