/**
 * `turn`: time to the first `response.delta` and the first `response.audio` of text turns, against a second
 * engine in speech mode with real-time pacing. Both targets are up at once and take turns alternately.
 */

import { loadAverage1m } from '../lib/proc-stats.js';
import type { Engine, Target } from '../lib/targets.js';
import type { TurnResult as LoadTurnResult } from '../load/turn.js';
import type { TurnResult, TurnSide } from '../report/types.js';
import { type BenchContext, median, percentile, startTarget } from './context.js';

const TEXT = 'What is the weather like in Lisbon this weekend?';

export async function runTurn(ctx: BenchContext, engine: Engine): Promise<TurnResult> {
  const targets: Target[] = [];
  try {
    for (const kind of ctx.options.targets) targets.push(await startTarget(ctx, kind, engine, 'turn', 100));
    const loadStart = loadAverage1m();
    // One generator is plenty for one turn at a time; the rest stay idle.
    const [result] = await ctx.pool.all<LoadTurnResult>((i) =>
      i === 0
        ? {
            op: 'turn.run',
            args: {
              targets: targets.map((t) => ({ name: t.kind, url: t.wsUrl })),
              turns: ctx.options.turns,
              warmup: 1,
              text: TEXT,
              timeoutMs: 20_000,
            },
          }
        : undefined,
    );
    const sides: TurnSide[] = targets.map((t) => {
      const r = result![t.kind]!;
      const deltas = r.samples.map((s) => s.firstDeltaMs);
      const audios = r.samples.map((s) => s.firstAudioMs);
      return {
        target: t.kind,
        turns: r.samples.length,
        failures: r.failures,
        ...(r.firstError ? { firstError: r.firstError } : {}),
        firstDelta: { medianMs: median(deltas), p90Ms: percentile(deltas, 90) },
        firstAudio: { medianMs: median(audios), p90Ms: percentile(audios, 90) },
        samples: r.samples.map((s) => ({
          firstDeltaMs: Math.round(s.firstDeltaMs * 100) / 100,
          firstAudioMs: Math.round(s.firstAudioMs * 100) / 100,
        })),
      };
    });
    for (const s of sides) {
      ctx.log(
        `turn ${s.target.padEnd(8)} ${s.turns} turns: first delta median ${s.firstDelta.medianMs} ms ` +
          `(p90 ${s.firstDelta.p90Ms}), first audio median ${s.firstAudio.medianMs} ms (p90 ${s.firstAudio.p90Ms})` +
          (s.failures ? `, ${s.failures} failed: ${s.firstError}` : ''),
      );
    }
    return { text: TEXT, warmupTurns: 1, sides, loadAvg: { start: loadStart, end: loadAverage1m() } };
  } finally {
    await Promise.all(targets.map((t) => t.stop()));
  }
}
