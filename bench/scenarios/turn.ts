/**
 * `turn`: time to the first `response.delta` and the first `response.audio` of text turns, and time to that
 * first audio from the start of the connect, against a second engine in speech mode. Both targets are up at
 * once and take turns alternately. `--pool-compare` runs the stack's turns twice more, with the worker's
 * provider-connection pool off and at its default, against an engine that delays its handshake: the figure
 * from connect shows what the pool saves a caller.
 */

import { loadAverage1m } from '../lib/proc-stats.js';
import { type Engine, startEngine, type Target } from '../lib/targets.js';
import type { TurnResult as LoadTurnResult } from '../load/turn.js';
import type { LocalTargetKind, PoolComparison, TargetKind, TurnResult, TurnSide } from '../report/types.js';
import { artifactsFor, type BenchContext, median, percentile, startTarget } from './context.js';

export const TURN_TEXT = 'What is the weather like in Lisbon this weekend?';
const TURN_TIMEOUT_MS = 20_000;

/** The figures of one side from the load generator's samples. */
export function turnSide(target: TargetKind, r: LoadTurnResult[string]): TurnSide {
  const deltas = r.samples.map((s) => s.firstDeltaMs);
  const audios = r.samples.map((s) => s.firstAudioMs);
  const fromConnect = r.samples.map((s) => s.firstAudioFromConnectMs);
  const round = (ms: number) => Math.round(ms * 100) / 100;
  return {
    target,
    turns: r.samples.length,
    failures: r.failures,
    ...(r.firstError ? { firstError: r.firstError } : {}),
    firstDelta: { medianMs: median(deltas), p90Ms: percentile(deltas, 90) },
    firstAudio: { medianMs: median(audios), p90Ms: percentile(audios, 90) },
    firstAudioFromConnect: { medianMs: median(fromConnect), p90Ms: percentile(fromConnect, 90) },
    samples: r.samples.map((s) => ({
      firstDeltaMs: round(s.firstDeltaMs),
      firstAudioMs: round(s.firstAudioMs),
      firstAudioFromConnectMs: round(s.firstAudioFromConnectMs),
    })),
  };
}

/** `turn stack    20 turns: first delta median …`: one line per side. */
export function describeTurnSide(s: TurnSide, label: string = s.target): string {
  return (
    `turn ${label.padEnd(8)} ${s.turns} turns: first delta median ${s.firstDelta.medianMs} ms ` +
    `(p90 ${s.firstDelta.p90Ms}), first audio median ${s.firstAudio.medianMs} ms (p90 ${s.firstAudio.p90Ms}), ` +
    `from connect median ${s.firstAudioFromConnect?.medianMs} ms (p90 ${s.firstAudioFromConnect?.p90Ms})` +
    (s.failures ? `, ${s.failures} failed: ${s.firstError}` : '')
  );
}

export async function runTurn(ctx: BenchContext, engine: Engine): Promise<TurnResult> {
  const loadStart = loadAverage1m();
  const sides = await turnRun(ctx, engine, ctx.options.targets, ctx.options.stackEnv, 'turn');
  for (const s of sides) ctx.log(describeTurnSide(s));
  return { text: TURN_TEXT, warmupTurns: 1, sides, loadAvg: { start: loadStart, end: loadAverage1m() } };
}

/**
 * `--pool-compare`: against a speech engine that waits `--engine-handshake-ms` before `session.created`, the
 * stack alone with the provider pool off, then every `--targets` side with the pool at its default (that run's
 * sides are the scenario's figures). Each run starts a fresh stack. The stack also gets the delay as
 * `RTV_LOCAL_ENGINE_HANDSHAKE_MS`, for a worker that runs its engine in process.
 */
export async function runTurnPoolCompare(ctx: BenchContext): Promise<TurnResult> {
  const loadStart = loadAverage1m();
  const handshakeMs = ctx.options.engineHandshakeMs;
  const engine = await startEngine('speech', artifactsFor(ctx, 'turn-pool'), {
    RTV_ENGINE_HANDSHAKE_DELAY_MS: String(handshakeMs),
  });
  const base = { ...ctx.options.stackEnv, RTV_LOCAL_ENGINE_HANDSHAKE_MS: String(handshakeMs) };
  const offEnv = { ...base, RTV_PROVIDER_POOL_SIZE: '0' };
  try {
    const [off] = await turnRun(ctx, engine, ['stack'], offEnv, 'turn-pool-off');
    ctx.log(describeTurnSide(off!, 'pool off'));
    const sides = await turnRun(ctx, engine, ctx.options.targets, base, 'turn');
    for (const s of sides) ctx.log(describeTurnSide(s, s.target === 'stack' ? 'pool default' : s.target));
    const onDefault = sides.find((s) => s.target === 'stack')!;
    const poolCompare: PoolComparison = {
      handshakeMs,
      rows: [
        { pool: 'off', stackEnv: offEnv, side: off! },
        { pool: 'default', stackEnv: base, side: onDefault },
      ],
    };
    return {
      text: TURN_TEXT,
      warmupTurns: 1,
      sides,
      poolCompare,
      loadAvg: { start: loadStart, end: loadAverage1m() },
    };
  } finally {
    await engine.stop();
  }
}

/** Starts `kinds` on `engine` with `stackEnv`, runs the turns on them, stops them. */
async function turnRun(
  ctx: BenchContext,
  engine: Engine,
  kinds: LocalTargetKind[],
  stackEnv: Record<string, string>,
  label: string,
): Promise<TurnSide[]> {
  const targets: Target[] = [];
  const runCtx: BenchContext = { ...ctx, options: { ...ctx.options, stackEnv } };
  try {
    for (const kind of kinds) targets.push(await startTarget(runCtx, kind, engine, label, 100));
    // One generator is plenty for one turn at a time; the rest stay idle.
    const [result] = await ctx.pool.all<LoadTurnResult>((i) =>
      i === 0
        ? {
            op: 'turn.run',
            args: {
              targets: targets.map((t) => ({ name: t.kind, url: t.wsUrl })),
              turns: ctx.options.turns,
              warmup: 1,
              text: TURN_TEXT,
              timeoutMs: TURN_TIMEOUT_MS,
            },
          }
        : undefined,
    );
    return targets.map((t) => turnSide(t.kind, result![t.kind]!));
  } finally {
    await Promise.all(targets.map((t) => t.stop()));
  }
}
