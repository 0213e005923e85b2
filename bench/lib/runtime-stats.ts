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
}

export interface RuntimeStat {
  name: string;
  /** GC seconds spent in the window, by kind, and their total. */
  gcSeconds: Record<string, number>;
  gcTotalS: number;
  /** The longest event-loop delay seen in the window, and its p99. */
  loopLagMaxMs: number;
  loopLagP99Ms: number;
}

/** Reads `nodejs_gc_duration_seconds_sum` and `nodejs_eventloop_lag_{max,p99}_seconds` from a scrape. */
export function parsePrometheus(text: string): RuntimeSample {
  const gcSeconds: Record<string, number> = {};
  let loopLagMaxMs = Number.NaN;
  let loopLagP99Ms = Number.NaN;
  for (const line of text.split('\n')) {
    if (line.startsWith('nodejs_gc_duration_seconds_sum{')) {
      const kind = /kind="([^"]+)"/.exec(line)?.[1];
      if (kind) gcSeconds[kind] = Number(line.slice(line.lastIndexOf(' ') + 1));
    } else if (line.startsWith('nodejs_eventloop_lag_max_seconds')) {
      loopLagMaxMs = Number(line.slice(line.lastIndexOf(' ') + 1)) * 1000;
    } else if (line.startsWith('nodejs_eventloop_lag_p99_seconds')) {
      loopLagP99Ms = Number(line.slice(line.lastIndexOf(' ') + 1)) * 1000;
    }
  }
  return { gcSeconds, loopLagMaxMs, loopLagP99Ms };
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
  return {
    name,
    gcSeconds,
    gcTotalS: r3(total),
    loopLagMaxMs: r3(after.loopLagMaxMs),
    loopLagP99Ms: r3(after.loopLagP99Ms),
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
