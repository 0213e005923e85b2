// One minute of `npm run bench -- soak` in `npm test`: the scenario's own code (bench/scenarios/soak.ts), with
// one fault of each kind spread over the minute: a worker SIGKILLed and restarted, a gateway drained and
// restarted, Redis killed and brought back empty. Six sessions stream numbered frames through two gateways and
// three workers; every frame sent must come back and no session may end or hang. Pauses and memory are reported,
// never asserted (the machine is shared).
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type FaultKind, type FaultRecord, planFaults } from '../../bench/lib/soak-faults.js';
import { SOAK_DEFAULTS } from '../../bench/lib/soak-options.js';
import { type EchoTimeline, faultResults, HUNG_AFTER_MS, longestGapMs } from '../../bench/lib/soak-report.js';
import { renderSoakSummary } from '../../bench/lib/soak-summary.js';
import type { EchoGap } from '../../bench/load/soak-client.js';
import { runSoak, writeSoakReport } from '../../bench/scenarios/soak.js';

describe('soak fault plan', () => {
  it('spreads one fault of each kind over a one-minute run', () => {
    expect(planFaults(60, 120)).toEqual([
      { kind: 'worker-kill', atS: 15 },
      { kind: 'gateway-drain', atS: 30 },
      { kind: 'redis-restart', atS: 45 },
    ]);
  });

  it('kills a worker every two minutes of ten, with the drain and the Redis restart between kills', () => {
    expect(planFaults(600, 120)).toEqual([
      { kind: 'worker-kill', atS: 120 },
      { kind: 'worker-kill', atS: 240 },
      { kind: 'gateway-drain', atS: 300 },
      { kind: 'worker-kill', atS: 360 },
      { kind: 'redis-restart', atS: 420 },
      { kind: 'worker-kill', atS: 480 },
    ]);
  });
});

describe('soak figures', () => {
  const times = { streamedMs: 60_000, drainedMs: 80_000 };
  const timeline = (gaps: EchoGap[], lastProgressMs: number, missing: number[] = []): EchoTimeline => ({
    gaps,
    lastProgressMs,
    missing: () => missing.map((sentAtMs, frame) => ({ frame, sentAtMs })),
  });
  const fault = (kind: FaultKind, doneAtS: number): FaultRecord => ({
    kind,
    atS: doneAtS,
    doneAtS,
    name: kind,
    target: '',
    detail: '',
    backAfterS: 0,
  });

  it('counts a session silent since its last echo until the wait for echoes ended as hung', () => {
    // Frames sent at 50 s and 59 s never came back, and nothing was echoed after 45 s.
    expect(longestGapMs(timeline([], 45_000, [50_000, 59_000]), times)).toBe(35_000);
    // Frames lost in the middle, but the session went on echoing to the end: its gap is the one recorded.
    expect(longestGapMs(timeline([{ startMs: 45_000, endMs: 49_000 }], 59_990, [46_000]), times)).toBe(4000);
    expect(HUNG_AFTER_MS).toBeLessThan(35_000);
  });

  it('gives each gap to the fault done last before it began, a frame or two of slack included', () => {
    const faults = [fault('worker-kill', 15), fault('gateway-drain', 30), fault('redis-restart', 45)];
    const client = timeline(
      [
        { startMs: 14_990, endMs: 17_500 },
        { startMs: 30_200, endMs: 30_350 },
        { startMs: 44_980, endMs: 49_000 },
      ],
      59_990,
    );
    const pauses = faultResults(faults, [client], times).map((f) => f.pausePerSessionMs[0]);
    expect(pauses).toEqual([2510, 150, 4020]);
  });
});

describe('soak smoke (one minute, real processes)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rtv-soak-smoke-'));
  let keep = false;
  afterAll(() => {
    // A failed run keeps its soak.md, soak.json and service logs for whoever reads the failure.
    if (!keep) rmSync(dir, { recursive: true, force: true });
  });

  it('loses no frame and keeps every session through a worker kill, a gateway drain and a Redis restart', async () => {
    const lines: string[] = [];
    const options = { ...SOAK_DEFAULTS, minutes: 1, sessions: 6 };
    const report = await runSoak(options, { log: (l) => lines.push(l), logDir: path.join(dir, 'logs') });
    writeSoakReport(report, dir);
    keep = !report.passed;
    const context = `${lines.join('\n')}\n\n${renderSoakSummary(report)}\n(reports and logs in ${dir})`;

    // The run really happened: each fault was done and the stack came back, every session streamed.
    expect(
      report.faults.map((f) => [f.kind, f.error ?? 'ok']),
      context,
    ).toEqual([
      ['worker-kill', 'ok'],
      ['gateway-drain', 'ok'],
      ['redis-restart', 'ok'],
    ]);
    for (const s of report.sessions) expect(s.sent, context).toBeGreaterThan(60 * 50 * 0.5);
    const sampled = new Set(report.rss.map((p) => p.tag));
    for (const tag of ['redis', 'engine', 'gateway-1', 'gateway-2', 'worker-1', 'worker-2', 'worker-3'])
      expect(sampled.has(tag), `${tag} sampled`).toBe(true);

    expect(report.totals.lost, context).toBe(0);
    expect(report.totals.misrouted, context).toBe(0);
    expect(report.totals.sessionsEnded, context).toBe(0);
    expect(report.totals.sessionsHung, context).toBe(0);
    expect(report.crashes, context).toEqual([]);
    expect(report.passed, context).toBe(true);
  }, 150_000);
});
