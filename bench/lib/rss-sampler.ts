/**
 * Resident memory of every process of a long run, from /proc/<pid>/status (VmRSS) every 10 s. A restarted
 * service is a new process, so each process (service tag + pid) has its own series; its figures start after
 * a warm-up counted from the later of the run's start and the process's first sample, and the slope over the
 * rest is what shows a leak.
 */
import { procMemory } from './proc-stats.js';
import type { LiveProcess, ServiceKind } from './soak-stack.js';

const MB = 1024 * 1024;
const round1 = (n: number) => Math.round(n * 10) / 10;

export interface RssSeries {
  tag: string;
  kind: ServiceKind;
  pid: number;
  /** [seconds since the run started, RSS in MB, sessions or connections held (null: not a gateway or worker)] */
  samples: Array<[number, number, number | null]>;
}

export interface RssSummary extends RssSeries {
  /** First sample at or after the warm-up (null when the process did not live that long). */
  warmMB: number | null;
  endMB: number;
  /** Sessions or connections held at the warm-up sample and at the end (null: not a gateway or worker). */
  warmLoad: number | null;
  endLoad: number | null;
  /** Least-squares slope over the samples after the warm-up, MB per minute (null with fewer than 3). */
  slopeMBPerMin: number | null;
  /** Seconds the slope covers. */
  slopeOverS: number;
}

/** Least-squares slope of y over x. */
export function slope(points: Array<[number, number]>): number {
  const n = points.length;
  const mx = points.reduce((t, [x]) => t + x, 0) / n;
  const my = points.reduce((t, [, y]) => t + y, 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

export class RssSampler {
  private readonly series = new Map<string, RssSeries>();
  private timer: NodeJS.Timeout | undefined;
  private sampling: Promise<void> = Promise.resolve();

  constructor(
    private readonly live: () => LiveProcess[],
    /** Seconds since the run started. */
    private readonly nowS: () => number,
    private readonly everyMs = 10_000,
  ) {}

  start(): void {
    this.next();
    this.timer = setInterval(() => this.next(), this.everyMs);
  }

  /** Takes a last sample and stops. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.next();
    await this.sampling;
  }

  /** Samples one after the other: a slow /healthz must not make two samples overlap. */
  private next(): void {
    this.sampling = this.sampling.then(() => this.sample());
  }

  private async sample(): Promise<void> {
    const t = Math.round(this.nowS() * 10) / 10;
    const live = this.live();
    const loads = await Promise.all(live.map((p) => p.load?.().catch(() => null) ?? null));
    live.forEach((p, i) => {
      const rss = procMemory(p.pid).rss;
      if (rss === 0) return; // gone between the listing and the read
      const key = `${p.tag}#${p.pid}`;
      let series = this.series.get(key);
      if (!series) {
        series = { tag: p.tag, kind: p.kind, pid: p.pid, samples: [] };
        this.series.set(key, series);
      }
      series.samples.push([t, round1(rss / MB), loads[i] ?? null]);
    });
  }

  /** One summary per process, in the order they were first seen. */
  summaries(warmupS: number): RssSummary[] {
    return [...this.series.values()].map((s) => {
      const from = Math.max(warmupS, s.samples[0]![0] + warmupS);
      const warm = s.samples.filter(([t]) => t >= from);
      const span = warm.length > 0 ? warm.at(-1)![0] - warm[0]![0] : 0;
      const points = warm.map(([t, mb]): [number, number] => [t, mb]);
      return {
        ...s,
        warmMB: warm[0]?.[1] ?? null,
        endMB: s.samples.at(-1)![1],
        warmLoad: warm[0]?.[2] ?? null,
        endLoad: s.samples.at(-1)![2],
        slopeMBPerMin: warm.length >= 3 ? Math.round(slope(points) * 60 * 100) / 100 : null,
        slopeOverS: Math.round(span),
      };
    });
  }
}
