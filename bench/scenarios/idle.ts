/**
 * `idle`: many connections that send nothing, and what each costs in memory. Each target starts fresh and
 * the connections open in two halves; after each half, once every session is set up (for the stack: bound
 * to the worker with its provider socket open) or set-up stops progressing, the processes settle and their
 * RSS is read. Memory per connection is the second half's slope, which leaves out start-up garbage and
 * one-time allocations; the plain average is reported beside it.
 */

import { loadAverage1m, openFilesLimit } from '../lib/proc-stats.js';
import type { Engine, Target } from '../lib/targets.js';
import type { OpenManyResult } from '../load/connect.js';
import type { IdleProcess, IdleResult, IdleSide, LocalTargetKind } from '../report/types.js';
import { type BenchContext, sleep, startTarget } from './context.js';

const OPEN_CONCURRENCY = 100;
const OPEN_TIMEOUT_MS = 60_000;
/** Set-up that makes no progress for this long is over, whatever it reached. */
const STALL_MS = 20_000;
/** Descriptors a relay needs besides its sockets (listen socket, stdio, libuv, …). */
const FD_RESERVE = 100;

export async function runIdle(ctx: BenchContext, engine: Engine): Promise<IdleResult> {
  const settleS = ctx.options.quick ? 0.5 : 3;
  const sides: IdleSide[] = [];
  for (const kind of ctx.options.targets) sides.push(await idleSide(ctx, engine, kind, settleS));
  return { settleS, sides };
}

/**
 * The baseline holds two sockets per session (client and provider) in one process, so the open-files
 * limit caps it below the requested count; memory per connection is still comparable.
 */
function capFor(kind: LocalTargetKind, requested: number): { count: number; note?: string } {
  const limit = openFilesLimit();
  if (kind !== 'baseline' || limit === null) return { count: requested };
  const cap = Math.floor((limit - FD_RESERVE) / 2);
  if (requested <= cap) return { count: requested };
  return {
    count: cap,
    note: `capped at ${cap}: two sockets per session in one process, ${limit} open files per process`,
  };
}

interface Point {
  clients: number;
  upstream: number;
  rss: number[];
  /** Live JavaScript memory per process after a forced GC. */
  js: number[];
  /** RSS minus V8's committed-but-free heap, per process. */
  held: number[];
}

async function idleSide(
  ctx: BenchContext,
  engine: Engine,
  kind: LocalTargetKind,
  settleS: number,
): Promise<IdleSide> {
  const { count, note } = capFor(kind, ctx.options.idle);
  const target = await startTarget(ctx, kind, engine, 'idle', count + 100, true);
  try {
    await sleep(settleS * 1000);
    // The status API holds nothing per connection; only the frame-path processes are measured.
    const probes = target.probes.filter((p) => p.role === 'server');
    // A full GC first, so the RSS read after it carries as little uncollected garbage as possible.
    const measure = async () => {
      const live = await target.liveMemory();
      const rss = await Promise.all(probes.map((p) => p.rssBytes()));
      const js = probes.map((p) => live.find((l) => l.name === p.name)?.jsBytes ?? Number.NaN);
      const held = probes.map(
        (p, i) => rss[i]! - (live.find((l) => l.name === p.name)?.freeHeapBytes ?? Number.NaN),
      );
      return { rss, js, held };
    };
    const start: Point = { clients: 0, upstream: 0, ...(await measure()) };
    const loadStart = loadAverage1m();
    const half = Math.floor(count / 2);
    const opens: OpenManyResult[] = [];
    const t0 = performance.now();
    const points: Point[] = [];
    for (const [first, n] of [
      [0, half],
      [half, count - half],
    ] as const) {
      opens.push(...(await openBatch(ctx, target, first, n)));
      const opened = opens.reduce((t, o) => t + o.opened, 0);
      const reached = await settle(ctx, target, opened);
      await sleep(settleS * 1000);
      points.push({ ...reached, ...(await measure()) });
    }
    const setupS = (performance.now() - t0) / 1000 - 2 * settleS;
    const [mid, end] = points as [Point, Point];
    const status = await ctx.pool.all<{
      open: number;
      closedEarly: number;
      closeReasons: Record<string, number>;
    }>(() => ({ op: 'idle.status' }));
    const closeReasons: Record<string, number> = {};
    for (const s of status) {
      for (const [why, n] of Object.entries(s.closeReasons)) closeReasons[why] = (closeReasons[why] ?? 0) + n;
    }
    await ctx.pool.all(() => ({ op: 'idle.close' }));

    // The worker holds provider sockets, so its memory is per set-up session; the others' per client.
    const countFor = (name: string, p: Point) => (name === 'session-worker' ? p.upstream : p.clients);
    // No connection added, no slope: NaN (null in the JSON, a dash in the summary), never a made-up 0.
    const kb = (bytes: number, n: number) =>
      n > 0 ? Math.round((bytes / n / 1024) * 100) / 100 : Number.NaN;
    const processes: IdleProcess[] = probes.map((p, i) => {
      const added = countFor(p.name, end) - countFor(p.name, mid);
      return {
        name: p.name,
        rssBeforeMB: mb(start.rss[i]!),
        rssHalfMB: mb(mid.rss[i]!),
        rssAfterMB: mb(end.rss[i]!),
        perConnectionKB: kb(end.rss[i]! - mid.rss[i]!, added),
        averagePerConnectionKB: kb(end.rss[i]! - start.rss[i]!, countFor(p.name, end)),
        jsAfterMB: mb(end.js[i]!),
        jsPerConnectionKB: kb(end.js[i]! - mid.js[i]!, added),
        heldPerConnectionKB: kb(end.held[i]! - mid.held[i]!, added),
      };
    });
    const firstError = opens.find((o) => o.firstError)?.firstError;
    const side: IdleSide = {
      target: kind,
      requested: ctx.options.idle,
      ...(note ? { capNote: note } : {}),
      opened: opens.reduce((t, o) => t + o.opened, 0),
      failed: opens.reduce((t, o) => t + o.failed, 0),
      ...(firstError ? { firstError } : {}),
      clientsOpen: end.clients,
      upstream: end.upstream,
      setupPerS: setupS > 0 ? Math.round(end.upstream / setupS) : 0,
      closedEarly: status.reduce((t, s) => t + s.closedEarly, 0),
      ...(Object.keys(closeReasons).length > 0 ? { closeReasons } : {}),
      processes,
      frontPerConnectionKB: processes[0]?.heldPerConnectionKB ?? 0,
      loadAvg: { start: loadStart, end: loadAverage1m() },
    };
    ctx.log(
      `idle ${kind.padEnd(8)} ${side.clientsOpen} connections open, ${side.upstream} with a provider socket ` +
        `(${side.setupPerS}/s): ${processes
          .map(
            (p) =>
              `${p.name} ${p.heldPerConnectionKB} KB (RSS ${p.perConnectionKB} KB, JS ${p.jsPerConnectionKB} KB)`,
          )
          .join(', ')} per connection`,
    );
    return side;
  } finally {
    await target.stop();
  }
}

async function openBatch(
  ctx: BenchContext,
  target: Target,
  first: number,
  n: number,
): Promise<OpenManyResult[]> {
  const shares = ctx.pool.shares(n);
  return ctx.pool.all<OpenManyResult>((i) =>
    shares[i]!.count === 0
      ? undefined
      : {
          op: 'idle.open',
          args: {
            url: target.wsUrl,
            count: shares[i]!.count,
            firstIndex: first + shares[i]!.firstIndex,
            localAddress: ctx.pool.localAddress(i),
            concurrency: OPEN_CONCURRENCY,
            timeoutMs: OPEN_TIMEOUT_MS,
          },
        },
  );
}

/** Waits until `expected` sessions are set up, or until set-up stops progressing; logs progress. */
async function settle(
  ctx: BenchContext,
  target: Target,
  expected: number,
): Promise<{ clients: number; upstream: number }> {
  let best = -1;
  let progressAt = Date.now();
  let loggedAt = Date.now();
  for (;;) {
    const c = await target.counts();
    // NaN while a busy process does not answer its health route in time: not progress, not a stall either.
    if (Number.isFinite(c.upstream) && c.upstream > best) {
      best = c.upstream;
      progressAt = Date.now();
    }
    if (c.upstream >= expected) return c;
    if (Date.now() - progressAt > STALL_MS) {
      ctx.log(
        `idle ${target.kind}: set-up stalled at ${c.upstream} of ${expected} sessions (${c.clients} clients)`,
      );
      return c;
    }
    if (Date.now() - loggedAt > 10_000) {
      ctx.log(`idle ${target.kind}: ${c.upstream} of ${expected} sessions set up`);
      loggedAt = Date.now();
    }
    await sleep(500);
  }
}

const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;
