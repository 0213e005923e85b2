/**
 * GC time and event-loop delay of the server processes over a measured window: the services' Prometheus
 * default metrics (`nodejs_gc_duration_seconds`, `nodejs_eventloop_lag_*`) and the same figures from the
 * baseline relay's `/readyz`. Both reset their event-loop gauges on every read, so a read at the start of a
 * window and one at its end give the window's own delay.
 */

export interface RuntimeSample {
  /** Cumulative GC seconds by kind (major, minor, incremental, weakcb). */
  gcSeconds: Record<string, number>;
  loopLagMaxMs: number;
  loopLagP99Ms: number;
  /** The service's own leg of the frame path through Redis (`rtv_*_frame_path_duration_seconds`), cumulative. */
  busLeg?: HistogramSample;
}

/** A Prometheus histogram as scraped: its name, upper bounds in seconds (the last +Inf), cumulative counts, sum. */
export interface HistogramSample {
  name: string;
  bounds: number[];
  cumulative: number[];
  sum: number;
}

/** One leg of the frame path over a window, in ms; quantiles interpolated within buckets. */
export interface BusLegStat {
  /** `gateway → worker` (the worker's histogram) or `worker → gateway` (the gateway's). */
  leg: string;
  count: number;
  meanMs: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
}

export interface RuntimeStat {
  name: string;
  /** GC seconds spent in the window, by kind, and their total. */
  gcSeconds: Record<string, number>;
  gcTotalS: number;
  /** The longest event-loop delay seen in the window, and its p99. */
  loopLagMaxMs: number;
  loopLagP99Ms: number;
  busLeg?: BusLegStat;
}

/** The frame-path histograms: the worker times the gateway → worker leg, the gateway the way back. */
const BUS_LEGS: Record<string, string> = {
  rtv_worker_frame_path_duration_seconds: 'gateway → worker',
  rtv_gateway_frame_path_duration_seconds: 'worker → gateway',
};

/** Reads `nodejs_gc_duration_seconds_sum` and `nodejs_eventloop_lag_{max,p99}_seconds` from a scrape. */
export function parsePrometheus(text: string): RuntimeSample {
  const gcSeconds: Record<string, number> = {};
  let loopLagMaxMs = Number.NaN;
  let loopLagP99Ms = Number.NaN;
  let busLeg: HistogramSample | undefined;
  for (const line of text.split('\n')) {
    const histogram = /^(rtv_(?:worker|gateway)_frame_path_duration_seconds)_(bucket|sum)[{ ]/.exec(line);
    if (histogram) {
      busLeg ??= { name: histogram[1]!, bounds: [], cumulative: [], sum: 0 };
      const value = Number(line.slice(line.lastIndexOf(' ') + 1));
      if (histogram[2] === 'sum') busLeg.sum = value;
      else {
        const le = /le="([^"]+)"/.exec(line)?.[1] ?? '+Inf';
        busLeg.bounds.push(le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le));
        busLeg.cumulative.push(value);
      }
    } else if (line.startsWith('nodejs_gc_duration_seconds_sum{')) {
      const kind = /kind="([^"]+)"/.exec(line)?.[1];
      if (kind) gcSeconds[kind] = Number(line.slice(line.lastIndexOf(' ') + 1));
    } else if (line.startsWith('nodejs_eventloop_lag_max_seconds')) {
      loopLagMaxMs = Number(line.slice(line.lastIndexOf(' ') + 1)) * 1000;
    } else if (line.startsWith('nodejs_eventloop_lag_p99_seconds')) {
      loopLagP99Ms = Number(line.slice(line.lastIndexOf(' ') + 1)) * 1000;
    }
  }
  return { gcSeconds, loopLagMaxMs, loopLagP99Ms, ...(busLeg ? { busLeg } : {}) };
}

/**
 * The φ-quantile of a histogram's observations, interpolated linearly within its bucket as Prometheus's
 * `histogram_quantile` does (the first bucket from 0; a quantile in the +Inf bucket is its lower bound).
 */
export function histogramQuantile(
  phi: number,
  bounds: readonly number[],
  cumulative: readonly number[],
): number {
  const total = cumulative.at(-1) ?? 0;
  if (total <= 0) return Number.NaN;
  const rank = phi * total;
  for (let i = 0; i < bounds.length; i++) {
    if (cumulative[i]! < rank) continue;
    const lower = i === 0 ? 0 : bounds[i - 1]!;
    if (bounds[i] === Number.POSITIVE_INFINITY) return lower;
    const below = i === 0 ? 0 : cumulative[i - 1]!;
    const inBucket = cumulative[i]! - below;
    return inBucket === 0 ? bounds[i]! : lower + (bounds[i]! - lower) * ((rank - below) / inBucket);
  }
  return bounds.at(-2) ?? Number.NaN;
}

/** The window's own observations of one frame-path leg: the difference of two scrapes. */
function busLegDelta(before: HistogramSample | undefined, after: HistogramSample): BusLegStat | undefined {
  const leg = BUS_LEGS[after.name];
  if (leg === undefined) return undefined;
  const cumulative = after.cumulative.map((n, i) => n - (before?.cumulative[i] ?? 0));
  const count = cumulative.at(-1) ?? 0;
  if (count <= 0) return undefined;
  const ms = (seconds: number) => r3(seconds * 1000);
  const q = (phi: number) => ms(histogramQuantile(phi, after.bounds, cumulative));
  return {
    leg,
    count,
    meanMs: ms((after.sum - (before?.sum ?? 0)) / count),
    p50Ms: q(0.5),
    p90Ms: q(0.9),
    p99Ms: q(0.99),
  };
}

export async function scrapePrometheus(url: string): Promise<RuntimeSample | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    return parsePrometheus(await res.text());
  } catch {
    return undefined;
  }
}

const r3 = (n: number) => Math.round(n * 1000) / 1000;

/** The window between two samples of one process. */
export function runtimeDelta(name: string, before: RuntimeSample, after: RuntimeSample): RuntimeStat {
  const gcSeconds: Record<string, number> = {};
  let total = 0;
  for (const [kind, s] of Object.entries(after.gcSeconds)) {
    const d = Math.max(0, s - (before.gcSeconds[kind] ?? 0));
    gcSeconds[kind] = r3(d);
    total += d;
  }
  const busLeg = after.busLeg ? busLegDelta(before.busLeg, after.busLeg) : undefined;
  return {
    name,
    gcSeconds,
    gcTotalS: r3(total),
    loopLagMaxMs: r3(after.loopLagMaxMs),
    loopLagP99Ms: r3(after.loopLagP99Ms),
    ...(busLeg ? { busLeg } : {}),
  };
}

/** Calls per Redis command since the server started (`INFO commandstats`), keyed by command name. */
export async function redisCommandCalls(redis: {
  info(section: string): Promise<string>;
}): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const m of (await redis.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    out[m[1]!] = Number(m[2]);
  }
  return out;
}

/**
 * Redis commands per echoed frame over a window, the busiest first (whole server: a shared Redis's other
 * clients add to it, which over a loaded window is noise next to the stack's own traffic).
 */
export function commandsPerFrame(
  before: Record<string, number>,
  after: Record<string, number>,
  frames: number,
): Record<string, number> {
  const rows = Object.entries(after)
    .map(([cmd, n]) => [cmd, n - (before[cmd] ?? 0)] as const)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1]);
  const out: Record<string, number> = {};
  let total = 0;
  for (const [cmd, n] of rows) {
    total += n;
    if (Object.keys(out).length < 6) out[cmd] = frames > 0 ? Math.round((n / frames) * 1000) / 1000 : 0;
  }
  out['total'] = frames > 0 ? Math.round((total / frames) * 1000) / 1000 : 0;
  return out;
}
