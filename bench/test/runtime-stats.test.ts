// The services' own timing of the frame path's legs through Redis, read from two scrapes of /metrics.
import { describe, expect, it } from 'vitest';
import { histogramQuantile, parsePrometheus, runtimeDelta } from '../lib/runtime-stats.js';

/** A worker's exposition with its frame-path histogram at the given cumulative bucket counts and sum. */
function workerScrape(counts: [number, number, number, number], sum: number): string {
  const [a, b, c, inf] = counts;
  return [
    '# HELP rtv_worker_frame_path_duration_seconds Gateway to worker leg of the frame path',
    '# TYPE rtv_worker_frame_path_duration_seconds histogram',
    `rtv_worker_frame_path_duration_seconds_bucket{le="0.001",rtv_service="session-worker"} ${a}`,
    `rtv_worker_frame_path_duration_seconds_bucket{le="0.005",rtv_service="session-worker"} ${b}`,
    `rtv_worker_frame_path_duration_seconds_bucket{le="0.01",rtv_service="session-worker"} ${c}`,
    `rtv_worker_frame_path_duration_seconds_bucket{le="+Inf",rtv_service="session-worker"} ${inf}`,
    `rtv_worker_frame_path_duration_seconds_sum{rtv_service="session-worker"} ${sum}`,
    `rtv_worker_frame_path_duration_seconds_count{rtv_service="session-worker"} ${inf}`,
    'nodejs_eventloop_lag_max_seconds{rtv_service="session-worker"} 0.02',
    'nodejs_eventloop_lag_p99_seconds{rtv_service="session-worker"} 0.01',
  ].join('\n');
}

describe('histogramQuantile', () => {
  it('interpolates within the bucket that holds the rank, the first bucket from 0', () => {
    const bounds = [1, 5, 10, Number.POSITIVE_INFINITY];
    // 40 observations ≤ 1, 40 in (1, 5], 20 in (5, 10].
    const cumulative = [40, 80, 100, 100];
    expect(histogramQuantile(0.2, bounds, cumulative)).toBe(0.5);
    expect(histogramQuantile(0.5, bounds, cumulative)).toBe(2);
    expect(histogramQuantile(0.9, bounds, cumulative)).toBe(7.5);
  });

  it('answers the lower bound of the +Inf bucket, and NaN for no observation', () => {
    const bounds = [1, 5, Number.POSITIVE_INFINITY];
    expect(histogramQuantile(0.99, bounds, [10, 10, 100])).toBe(5);
    expect(histogramQuantile(0.5, bounds, [0, 0, 0])).toBeNaN();
  });
});

describe('the frame-path leg over a window', () => {
  it("takes the window's own observations: the difference of the scrapes at its start and end", () => {
    // Before the window: 100 observations, all ≤ 1 ms. In the window: 50 ≤ 1 ms, 30 in (1, 5], 20 in (5, 10].
    const before = parsePrometheus(workerScrape([100, 100, 100, 100], 0.05));
    const after = parsePrometheus(workerScrape([150, 180, 200, 200], 0.05 + 0.3));
    const stat = runtimeDelta('session-worker', before, after);
    expect(stat.busLeg).toEqual({
      leg: 'gateway → worker',
      count: 100,
      meanMs: 3,
      p50Ms: 1,
      p90Ms: 7.5,
      p99Ms: 9.75,
    });
    expect(stat.loopLagMaxMs).toBe(20);
  });

  it('has no leg for a process without the histogram, or a window without observations', () => {
    const relay = parsePrometheus('nodejs_eventloop_lag_max_seconds 0.01\n');
    expect(runtimeDelta('baseline-relay', relay, relay).busLeg).toBeUndefined();
    const idle = parsePrometheus(workerScrape([5, 5, 5, 5], 0.001));
    expect(runtimeDelta('session-worker', idle, idle).busLeg).toBeUndefined();
  });
});
