/**
 * `voice`: N sessions stream real-time audio that the echo engine returns; N ramps until a step's p99 round
 * trip passes the threshold or a frame is lost. Stack and baseline run the same steps, alternating which goes
 * first so slow drifts of the shared machine's load hit both alike. With `--route openai` the stack's clients
 * speak OpenAI Realtime GA events on `/v1/realtime`; the baseline relay keeps the seed protocol.
 */

import { Histogram } from '../lib/histogram.js';
import { cpuOfRole, loadAverage1m, Meter, type ProcessStat } from '../lib/proc-stats.js';
import { pollUntil } from '../lib/processes.js';
import {
  nodeStats,
  type RedisUnderTest,
  sampleNodes,
  singleRedis,
  startClusterRedis,
  totalCalls,
} from '../lib/redis-nodes.js';
import { commandsPerFrame, runtimeDelta } from '../lib/runtime-stats.js';
import type { Engine, Target } from '../lib/targets.js';
import type { OpenManyResult } from '../load/connect.js';
import type { VoiceWindow } from '../load/voice.js';
import type { TargetKind, VoiceResult, VoiceRoute, VoiceStep } from '../report/types.js';
import { type BenchContext, sleep, startTarget } from './context.js';

/** Connects in flight per generator process: fast ramp-up without a SYN flood on a small machine. */
const OPEN_CONCURRENCY = 50;
const OPEN_TIMEOUT_MS = 30_000;

/**
 * Runs the voice ramp on the Redis `--redis` names: the runner's own, or a 3-master Redis Cluster started here
 * for the run (and stopped after it), which the stack's services reach with `RTV_REDIS_MODE=cluster`.
 */
export async function runVoice(ctx: BenchContext, engine: Engine): Promise<VoiceResult> {
  if (ctx.options.redis === 'single') {
    return rampVoice(ctx, engine, singleRedis(ctx.redisUrl, ctx.redis, ctx.redisProbe));
  }
  const redis = await startClusterRedis();
  try {
    ctx.log(`Redis Cluster for the stack: ${redis.nodes.map((n) => `${n.name} :${n.port}`).join(', ')}`);
    const clusterCtx: BenchContext = {
      ...ctx,
      redisUrl: redis.url,
      redis: redis.client,
      options: { ...ctx.options, stackEnv: { ...redis.env, ...ctx.options.stackEnv } },
    };
    return await rampVoice(clusterCtx, engine, redis);
  } finally {
    await redis.stop();
  }
}

async function rampVoice(ctx: BenchContext, engine: Engine, redis: RedisUnderTest): Promise<VoiceResult> {
  const { options } = ctx;
  const capacity = Math.max(...options.steps) + 100;
  const targets: Target[] = [];
  const steps: VoiceStep[] = [];
  let generatorWarmup: VoiceResult['generatorWarmup'];
  try {
    for (const kind of options.targets) targets.push(await startTarget(ctx, kind, engine, 'voice', capacity));
    generatorWarmup = await warmGenerators(ctx, engine, options.steps[0]!);
    const failed = new Set<TargetKind>();
    for (const [i, sessions] of options.steps.entries()) {
      const order = i % 2 === 0 ? targets : [...targets].reverse();
      for (const target of order) {
        if (failed.has(target.kind)) continue;
        const step = await voiceStep(ctx, target, engine, redis, sessions);
        steps.push(step);
        ctx.log(describeStep(step));
        if (redis.mode === 'cluster' && step.redisNodes) ctx.log(describeNodes(step));
        if (!step.passed && !options.allSteps) failed.add(target.kind);
      }
      if (targets.every((t) => failed.has(t.kind))) break;
    }
  } finally {
    await Promise.all(targets.map((t) => t.stop()));
  }
  const best = (kind: TargetKind) => {
    const passed = steps.filter((s) => s.target === kind && s.passed).map((s) => s.sessions);
    return passed.length > 0 ? Math.max(...passed) : null;
  };
  return {
    route: options.route,
    redis: redis.mode,
    thresholdMs: options.thresholdMs,
    warmupS: options.warmupS,
    durationS: options.durationS,
    drainS: options.drainS,
    ...(generatorWarmup ? { generatorWarmup } : {}),
    steps,
    capacity: Object.fromEntries(options.targets.map((k) => [k, best(k)])),
  };
}

/** Opens `sessions` voice sessions at `client.url`, shared out over the generator processes; one result per process. */
function openVoiceSessions(
  ctx: BenchContext,
  sessions: number,
  client: { url: string; route: VoiceRoute; tokens?: string[] },
): Promise<OpenManyResult[]> {
  const { pool } = ctx;
  const shares = pool.shares(sessions);
  return pool.all<OpenManyResult>((i) =>
    shares[i]!.count === 0
      ? undefined
      : {
          op: 'voice.open',
          args: {
            ...client,
            count: shares[i]!.count,
            firstIndex: shares[i]!.firstIndex,
            localAddress: pool.localAddress(i),
            concurrency: OPEN_CONCURRENCY,
            timeoutMs: OPEN_TIMEOUT_MS,
          },
        },
  );
}

/** Seconds the load generators stream at the engine before the first step (see {@link warmGenerators}). */
export const GENERATOR_WARMUP_S = 3;

/**
 * Before the first step, the load generators stream `sessions` sessions straight at the echo engine for
 * {@link GENERATOR_WARMUP_S} seconds, as OpenAI Realtime clients (the events the worker and the relay send it),
 * then close them. The generators and the engine serve both sides for the whole run; cold, they are slower and
 * busier in their first seconds of streaming, and on a machine they share with the servers that fell on whichever
 * side streamed first: always the stack, at the first step. No server under test sees this traffic.
 */
async function warmGenerators(
  ctx: BenchContext,
  engine: Engine,
  sessions: number,
): Promise<NonNullable<VoiceResult['generatorWarmup']>> {
  const { pool } = ctx;
  const opens = await openVoiceSessions(ctx, sessions, {
    url: `${engine.url}?model=gpt-realtime`,
    route: 'openai',
    tokens: [engine.apiKey],
  });
  await pool.all(() => ({ op: 'voice.start' }));
  await sleep(GENERATOR_WARMUP_S * 1000);
  await pool.all(() => ({ op: 'voice.stop', drainMs: 1000 }));
  await pool.all(() => ({ op: 'voice.close' }));
  const opened = opens.reduce((t, o) => t + o.opened, 0);
  ctx.log(
    `load generators and engine warmed: ${opened}/${sessions} sessions streamed at the engine for ${GENERATOR_WARMUP_S} s`,
  );
  return { sessions, seconds: GENERATOR_WARMUP_S, opened };
}

async function voiceStep(
  ctx: BenchContext,
  target: Target,
  engine: Engine,
  redis: RedisUnderTest,
  sessions: number,
): Promise<VoiceStep> {
  const { pool, options } = ctx;
  const client = clientRoute(target, options.route);
  const opens = await openVoiceSessions(ctx, sessions, client);
  const opened = opens.reduce((t, o) => t + o.opened, 0);
  const firstError = opens.find((o) => o.firstError)?.firstError;

  await pool.all(() => ({ op: 'voice.start' }));
  await sleep(options.warmupS * 1000);
  const probes = [...target.probes, engine.probe, ...pool.probes()];
  const redisNodes = target.kind === 'stack' ? redis.nodes : [];
  probes.push(...redisNodes.map((n) => n.probe));
  const meter = new Meter(probes);
  const runtimeStart = await target.runtime();
  const redisStart = redisNodes.length > 0 ? await sampleNodes(redisNodes) : undefined;
  await meter.start();
  const loadStart = loadAverage1m();
  await pool.all(() => ({ op: 'voice.mark' }));
  await sleep(options.durationS * 1000);
  const windows = await pool.all<VoiceWindow>(() => ({ op: 'voice.stop', drainMs: options.drainS * 1000 }));
  const processes = await meter.stop();
  const runtimeEnd = await target.runtime();
  const redisEnd = redisStart ? await sampleNodes(redisNodes) : undefined;
  const loadEnd = loadAverage1m();
  await pool.all(() => ({ op: 'voice.close' }));
  // The next step starts from an empty target: every session ended and its provider socket closed.
  await pollUntil(
    () => target.counts(),
    (c) => c.clients === 0 && c.upstream === 0,
    20_000,
  );

  const rtt = new Histogram();
  const lag = new Histogram();
  for (const w of windows) {
    rtt.merge(w.rtt);
    lag.merge(w.sendLag);
  }
  const sum = (f: (w: VoiceWindow) => number) => windows.reduce((t, w) => t + f(w), 0);
  const windowS = Math.max(...windows.map((w) => w.windowMs)) / 1000;
  const received = sum((w) => w.received);
  const serverCpuS = cpuOfRole(processes, 'server', 'redis');
  const lost = sum((w) => w.lost);
  const closedEarly = sum((w) => w.closedEarly);
  const closeReasons: Record<string, number> = {};
  for (const w of windows) {
    for (const [reason, n] of Object.entries(w.closeReasons))
      closeReasons[reason] = (closeReasons[reason] ?? 0) + n;
  }
  const misrouted = sum((w) => w.misrouted);
  const summary = rtt.summary();
  const failReason =
    opened < sessions
      ? `opened ${opened} of ${sessions} sessions${firstError ? ` (${firstError})` : ''}`
      : lost > 0
        ? `${lost} frames lost`
        : closedEarly > 0
          ? `${closedEarly} sessions closed by the server (${describeCloses(closeReasons)})`
          : misrouted > 0
            ? `${misrouted} frames delivered to the wrong session`
            : summary.p99Ms > options.thresholdMs
              ? `p99 ${summary.p99Ms} ms > ${options.thresholdMs} ms`
              : undefined;
  const loadgen = processes.filter((p) => p.role === 'loadgen');
  return {
    target: target.kind,
    route: client.route,
    sessions,
    opened,
    openFailures: sessions - opened,
    ...(firstError ? { firstError } : {}),
    windowS: Math.round(windowS * 100) / 100,
    offeredFps: sessions * 50,
    achievedFps: Math.round(sum((w) => w.receivedDuringWindow) / windowS),
    sent: sum((w) => w.sent),
    received,
    lost,
    outOfOrder: sum((w) => w.outOfOrder),
    misrouted,
    closedEarly,
    ...(closedEarly > 0 ? { closeReasons } : {}),
    rtt: summary,
    sendLagP99Ms: Math.round(lag.percentileUs(99)) / 1000,
    sendLagMaxMs: Math.round(lag.summary().maxMs * 1000) / 1000,
    serverCpuS: Math.round(serverCpuS * 1000) / 1000,
    serverCpuPerFrameUs: received > 0 ? Math.round((serverCpuS / received) * 1e6 * 10) / 10 : 0,
    providerCpuS: Math.round(cpuOfRole(processes, 'provider') * 1000) / 1000,
    loadgenCpuS: Math.round(cpuOfRole(processes, 'loadgen') * 1000) / 1000,
    loadgenMaxCpuPercent: Math.max(0, ...loadgen.map((p) => p.cpuPercent)),
    processes,
    cpuPerFrameUs: cpuPerFrame(processes, received),
    wakeupsPerFrame: wakeupsPerFrame(processes, received),
    runtime: runtimeEnd.flatMap(({ name, sample }) => {
      const before = runtimeStart.find((r) => r.name === name);
      return before ? [runtimeDelta(name, before.sample, sample)] : [];
    }),
    ...(redisStart && redisEnd
      ? {
          redisCommandsPerFrame: commandsPerFrame(totalCalls(redisStart), totalCalls(redisEnd), received),
          redisNodes: nodeStats(redisNodes, redisStart, redisEnd, cpuOfName(processes), received),
        }
      : {}),
    loadAvg: { start: loadStart, end: loadEnd },
    passed: failReason === undefined,
    ...(failReason ? { failReason } : {}),
  };
}

/** A process's CPU seconds over the window by its name; NaN when it was not measured. */
function cpuOfName(processes: ProcessStat[]): (name: string) => number {
  return (name) => processes.find((p) => p.name === name)?.cpuSeconds ?? Number.NaN;
}

/** `redis-m1: 12.3 commands, 4100 B in, 3900 B out, 310 µs CPU per voice-second; …` for a cluster step. */
function describeNodes(s: VoiceStep): string {
  const nodes = (s.redisNodes ?? []).map(
    (n) =>
      `${n.name}: ${n.commandsPerVoiceSecond} commands, ${n.netInBytesPerVoiceSecond} B in, ` +
      `${n.netOutBytesPerVoiceSecond} B out, ${n.cpuUsPerVoiceSecond} µs CPU`,
  );
  return `  per voice-second (one session, one second) — ${nodes.join('; ')}`;
}

/** `1011 internal error ×3, 1006 ×1`: the server's closes, commonest first. */
function describeCloses(reasons: Record<string, number>): string {
  return Object.entries(reasons)
    .sort((a, b) => b[1] - a[1])
    .map(([reason, n]) => `${reason} ×${n}`)
    .join(', ');
}

/** Where and how `target`'s clients connect: the stack on the chosen route, the relay always on the seed one. */
function clientRoute(target: Target, route: VoiceRoute): { url: string; route: VoiceRoute } {
  if (route === 'openai' && target.openAiUrl !== undefined) return { url: target.openAiUrl, route };
  return { url: target.wsUrl, route: 'seed' };
}

/** CPU per echoed frame of every measured process, in µs (one decimal); 0 when nothing was echoed. */
function cpuPerFrame(processes: ProcessStat[], received: number): Record<string, number> {
  return Object.fromEntries(
    processes.map((p) => [p.name, received > 0 ? Math.round((p.cpuSeconds / received) * 1e7) / 10 : 0]),
  );
}

/**
 * Main-thread wake-ups per echoed frame of every process whose wake-ups were read (three decimals): what a hop
 * through another process costs in sleeps, the fixed price that batching spreads over more frames.
 */
function wakeupsPerFrame(processes: ProcessStat[], received: number): Record<string, number> {
  return Object.fromEntries(
    processes.flatMap((p) =>
      p.wakeups === null || received === 0
        ? []
        : [[p.name, Math.round((p.wakeups / received) * 1000) / 1000]],
    ),
  );
}

function describeStep(s: VoiceStep): string {
  const verdict = s.passed ? 'ok' : `FAIL: ${s.failReason}`;
  const side = s.route === 'openai' ? `${s.target} (openai)` : s.target;
  return (
    `voice ${side.padEnd(8)} ${String(s.sessions).padStart(5)} sessions: ` +
    `${s.achievedFps}/${s.offeredFps} frames/s, p50 ${s.rtt.p50Ms} p99 ${s.rtt.p99Ms} max ${s.rtt.maxMs} ms, ` +
    `lost ${s.lost}, server CPU ${s.serverCpuPerFrameUs} µs/frame, load ${s.loadAvg.start}→${s.loadAvg.end} — ${verdict}`
  );
}
