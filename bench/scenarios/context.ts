import type { Cluster, Redis } from 'ioredis';
import type { BenchOptions } from '../lib/options.js';
import type { Probe } from '../lib/proc-stats.js';
import { type Artifacts, type Engine, startBaseline, startStack, type Target } from '../lib/targets.js';
import type { LoadPool } from '../load/pool.js';
import type { LocalTargetKind } from '../report/types.js';

/** What every scenario gets from the runner. */
export interface BenchContext {
  options: BenchOptions;
  redisUrl: string;
  /**
   * The runner's own connection: INFO for the probe, key cleanup after each stack (a cluster client while a
   * voice run uses its own Redis Cluster).
   */
  redis: Redis | Cluster;
  redisProbe: Probe;
  pool: LoadPool;
  /** Folder for `--cpu-prof` output, when profiling. */
  profileDir: string | undefined;
  /** Folder for the output tails of every process started. */
  logDir: string;
  log: (line: string) => void;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts one target of `kind` on `engine`. */
export function startTarget(
  ctx: BenchContext,
  kind: LocalTargetKind,
  engine: Engine,
  label: string,
  workerCapacity: number,
  inspect = false,
): Promise<Target> {
  const artifacts = { ...artifactsFor(ctx, label), inspect };
  return kind === 'stack'
    ? startStack({
        redisUrl: ctx.redisUrl,
        redis: ctx.redis,
        engine,
        workerCapacity,
        artifacts,
        extraEnv: ctx.options.stackEnv,
      })
    : startBaseline(engine, artifacts);
}

export function artifactsFor(ctx: BenchContext, label: string): Artifacts {
  return { logDir: ctx.logDir, profileDir: ctx.profileDir, label };
}

export function median(values: number[]): number {
  return percentile(values, 50);
}

/** Nearest-rank percentile of a small sample (turn latencies); 0 when empty. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return Math.round(sorted[rank - 1]! * 100) / 100;
}
