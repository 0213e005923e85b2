/**
 * Remote mode (`--url`): the voice, idle and turn scenarios against a deployed gateway. Nothing is started
 * here but the load generators: no Redis, no services, no engine, no baseline. The figures are the ones the
 * clients see (round trips, lost frames, time to first audio, refused connects by reason); the servers' CPU
 * is not known from here, the generators' own CPU is, so a saturated generator is visible.
 */
import { Histogram } from '../lib/histogram.js';
import type { BenchOptions, RemoteOptions } from '../lib/options.js';
import { DEFAULT_CONNECTS_PER_S } from '../lib/options.js';
import { cpuOfRole, loadAverage1m, Meter } from '../lib/proc-stats.js';
import type { OpenManyResult } from '../load/connect.js';
import type { LoadPool } from '../load/pool.js';
import type { TurnResult as LoadTurnResult } from '../load/turn.js';
import type { VoiceWindow } from '../load/voice.js';
import type { RemoteIdleResult, TurnResult, VoiceResult, VoiceStep } from '../report/types.js';
import { sleep } from './context.js';
import { describeTurnSide, TURN_TEXT, turnSide } from './turn.js';

/** Connects in flight per generator process; with a ramp, most lanes wait for their start time. */
const OPEN_CONCURRENCY = 50;
/** Per session: the upgrade plus the first echo (or the liveness round trip), over a real network. */
const OPEN_TIMEOUT_MS = 30_000;

export interface RemoteContext {
  options: BenchOptions;
  remote: RemoteOptions;
  pool: LoadPool;
  log: (line: string) => void;
}

/** Seconds over which `sessions` connects are spread: `--ramp-s`, else at {@link DEFAULT_CONNECTS_PER_S}. */
export function rampSeconds(remote: RemoteOptions, sessions: number): number {
  return remote.rampS ?? Math.ceil(sessions / DEFAULT_CONNECTS_PER_S);
}

/** Opens `count` sessions of `op` over the generators, ramped; the results of every generator. */
function openRemote(
  ctx: RemoteContext,
  op: 'voice.open' | 'idle.open',
  count: number,
  rampS: number,
): Promise<OpenManyResult[]> {
  const shares = ctx.pool.shares(count);
  const { url, tokens, anonymousUser, ca } = ctx.remote;
  return ctx.pool.all<OpenManyResult>((i) =>
    shares[i]!.count === 0
      ? undefined
      : {
          op,
          args: {
            url,
            route: ctx.options.route,
            count: shares[i]!.count,
            firstIndex: shares[i]!.firstIndex,
            concurrency: OPEN_CONCURRENCY,
            timeoutMs: OPEN_TIMEOUT_MS,
            tokens,
            ...(anonymousUser !== undefined ? { user: anonymousUser } : {}),
            ...(ca ? { ca } : {}),
            rampMs: rampS * 1000,
            total: count,
          },
        },
  );
}

/** Failures of all generators by reason. */
function mergeFailures(opens: OpenManyResult[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const o of opens) {
    for (const [reason, n] of Object.entries(o.failures)) out[reason] = (out[reason] ?? 0) + n;
  }
  return out;
}

/** `HTTP 401 unauthorized ×6, close 4429 ×2`: commonest first. */
export function describeCounts(counts: Record<string, number>): string {
  return Object.entries(counts)
    .sort((a, b) => b[1] - a[1])
    .map(([reason, n]) => `${reason} ×${n}`)
    .join(', ');
}

/** Voice steps in order (`--sessions`), stopping after the first that fails. */
export async function runRemoteVoice(ctx: RemoteContext): Promise<VoiceResult> {
  const { options } = ctx;
  const steps: VoiceStep[] = [];
  for (const sessions of options.steps) {
    const step = await remoteVoiceStep(ctx, sessions);
    steps.push(step);
    ctx.log(describeRemoteStep(step));
    if (!step.passed) break;
  }
  const passed = steps.filter((s) => s.passed).map((s) => s.sessions);
  return {
    route: options.route,
    thresholdMs: options.thresholdMs,
    warmupS: options.warmupS,
    durationS: options.durationS,
    drainS: options.drainS,
    steps,
    capacity: { remote: passed.length > 0 ? Math.max(...passed) : null },
  };
}

async function remoteVoiceStep(ctx: RemoteContext, sessions: number): Promise<VoiceStep> {
  const { pool, options } = ctx;
  const rampS = rampSeconds(ctx.remote, sessions);
  ctx.log(`voice ${sessions} sessions: connecting over ${rampS} s`);
  const opens = await openRemote(ctx, 'voice.open', sessions, rampS);
  const opened = opens.reduce((t, o) => t + o.opened, 0);
  const firstError = opens.find((o) => o.firstError)?.firstError;
  const connectFailures = mergeFailures(opens);

  const loadStart = loadAverage1m();
  const meter = new Meter(pool.probes());
  let windows: VoiceWindow[] = [];
  if (opened > 0) {
    await pool.all(() => ({ op: 'voice.start' }));
    await sleep(options.warmupS * 1000);
    await meter.start();
    await pool.all(() => ({ op: 'voice.mark' }));
    await sleep(options.durationS * 1000);
    windows = await pool.all<VoiceWindow>(() => ({ op: 'voice.stop', drainMs: options.drainS * 1000 }));
  } else {
    await meter.start();
  }
  const processes = await meter.stop();
  const loadEnd = loadAverage1m();
  await pool.all(() => ({ op: 'voice.close' }));

  const rtt = new Histogram();
  const lag = new Histogram();
  for (const w of windows) {
    rtt.merge(w.rtt);
    lag.merge(w.sendLag);
  }
  const sum = (f: (w: VoiceWindow) => number) => windows.reduce((t, w) => t + f(w), 0);
  const windowS = Math.max(0, ...windows.map((w) => w.windowMs)) / 1000;
  const closeReasons: Record<string, number> = {};
  for (const w of windows) {
    for (const [reason, n] of Object.entries(w.closeReasons))
      closeReasons[reason] = (closeReasons[reason] ?? 0) + n;
  }
  const counts = {
    sent: sum((w) => w.sent),
    received: sum((w) => w.received),
    lost: sum((w) => w.lost),
    outOfOrder: sum((w) => w.outOfOrder),
    misrouted: sum((w) => w.misrouted),
    closedEarly: sum((w) => w.closedEarly),
  };
  const summary = rtt.summary();
  const failReason =
    opened < sessions
      ? `opened ${opened} of ${sessions} sessions (${describeCounts(connectFailures)})`
      : counts.lost > 0
        ? `${counts.lost} frames lost`
        : counts.closedEarly > 0
          ? `${counts.closedEarly} sessions closed by the server (${describeCounts(closeReasons)})`
          : counts.misrouted > 0
            ? `${counts.misrouted} frames delivered to the wrong session`
            : summary.p99Ms > options.thresholdMs
              ? `p99 ${summary.p99Ms} ms > ${options.thresholdMs} ms`
              : undefined;
  return {
    target: 'remote',
    route: options.route,
    sessions,
    opened,
    openFailures: sessions - opened,
    ...(firstError ? { firstError } : {}),
    connectFailures,
    rampS,
    windowS: Math.round(windowS * 100) / 100,
    offeredFps: sessions * 50,
    achievedFps: windowS > 0 ? Math.round(sum((w) => w.receivedDuringWindow) / windowS) : 0,
    ...counts,
    ...(counts.closedEarly > 0 ? { closeReasons } : {}),
    rtt: summary,
    sendLagP99Ms: Math.round(lag.percentileUs(99)) / 1000,
    sendLagMaxMs: Math.round(lag.summary().maxMs * 1000) / 1000,
    // The servers are elsewhere: their CPU is not known, and null says so (a 0 would read as "free").
    serverCpuS: null,
    serverCpuPerFrameUs: null,
    providerCpuS: null,
    loadgenCpuS: Math.round(cpuOfRole(processes, 'loadgen') * 1000) / 1000,
    loadgenMaxCpuPercent: Math.max(0, ...processes.map((p) => p.cpuPercent)),
    processes,
    runtime: [],
    loadAvg: { start: loadStart, end: loadEnd },
    passed: failReason === undefined,
    ...(failReason ? { failReason } : {}),
  };
}

function describeRemoteStep(s: VoiceStep): string {
  const verdict = s.passed ? 'ok' : `FAIL: ${s.failReason}`;
  return (
    `voice remote ${String(s.sessions).padStart(5)} sessions (${s.opened} opened): ` +
    `${s.achievedFps}/${s.offeredFps} frames/s, p50 ${s.rtt.p50Ms} p99 ${s.rtt.p99Ms} max ${s.rtt.maxMs} ms, ` +
    `lost ${s.lost}, load generators ${s.loadgenCpuS} s CPU (busiest ${s.loadgenMaxCpuPercent} % of a core), ` +
    `server CPU unknown — ${verdict}`
  );
}

/** `--idle` connections opened over the ramp, held silent for `--duration`, then counted and closed. */
export async function runRemoteIdle(ctx: RemoteContext): Promise<RemoteIdleResult> {
  const count = ctx.options.idle;
  const rampS = rampSeconds(ctx.remote, count);
  ctx.log(`idle ${count} connections: connecting over ${rampS} s`);
  const opens = await openRemote(ctx, 'idle.open', count, rampS);
  await sleep(ctx.options.durationS * 1000);
  const status = await ctx.pool.all<{
    open: number;
    closedEarly: number;
    closeReasons: Record<string, number>;
  }>(() => ({ op: 'idle.status' }));
  await ctx.pool.all(() => ({ op: 'idle.close' }));
  const closeReasons: Record<string, number> = {};
  for (const s of status) {
    for (const [reason, n] of Object.entries(s.closeReasons))
      closeReasons[reason] = (closeReasons[reason] ?? 0) + n;
  }
  const firstError = opens.find((o) => o.firstError)?.firstError;
  const result: RemoteIdleResult = {
    requested: count,
    opened: opens.reduce((t, o) => t + o.opened, 0),
    failed: opens.reduce((t, o) => t + o.failed, 0),
    ...(firstError ? { firstError } : {}),
    connectFailures: mergeFailures(opens),
    rampS,
    heldS: ctx.options.durationS,
    stillOpen: status.reduce((t, s) => t + s.open, 0),
    closedEarly: status.reduce((t, s) => t + s.closedEarly, 0),
    closeReasons,
  };
  ctx.log(
    `idle remote ${result.opened} of ${count} opened, ${result.stillOpen} still open after ${result.heldS} s` +
      (result.failed > 0 ? `; refused: ${describeCounts(result.connectFailures)}` : '') +
      (result.closedEarly > 0 ? `; closed by the server: ${describeCounts(closeReasons)}` : ''),
  );
  return result;
}

/** Text turns one after the other, each on a fresh session: per-turn figures and the figure from connect. */
export async function runRemoteTurn(ctx: RemoteContext): Promise<TurnResult> {
  const loadStart = loadAverage1m();
  const { url, tokens, anonymousUser, ca } = ctx.remote;
  const [result] = await ctx.pool.all<LoadTurnResult>((i) =>
    i === 0
      ? {
          op: 'turn.run',
          args: {
            targets: [
              {
                name: 'remote',
                url,
                route: ctx.options.route,
                tokens,
                ...(anonymousUser !== undefined ? { user: anonymousUser } : {}),
                ...(ca ? { ca } : {}),
              },
            ],
            turns: ctx.options.turns,
            warmup: 1,
            text: TURN_TEXT,
            timeoutMs: OPEN_TIMEOUT_MS,
          },
        }
      : undefined,
  );
  const side = turnSide('remote', result!.remote!);
  ctx.log(describeTurnSide(side));
  return {
    route: ctx.options.route,
    text: TURN_TEXT,
    warmupTurns: 1,
    sides: [side],
    loadAvg: { start: loadStart, end: loadAverage1m() },
  };
}
