// The harness end to end at toy size: real stack, real relay, real engines, real load generators. Only the
// report's structure is checked; the figures of a run this small (on a busy machine) mean nothing.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { benchOutDir, readRun, runBench } from './run-bench.js';

const out = benchOutDir('smoke');

const finite = expect.any(Number);

describe('npm run bench -- --quick', () => {
  it('runs every scenario on both targets and writes results.json, summary.md and the chart', async () => {
    const { code, output } = await runBench([
      '--quick',
      `--out=${out}`,
      '--steps=4,8',
      '--idle=12',
      '--turns=1',
      '--warmup=0.2',
      '--duration=1',
    ]);
    expect(code, output).toBe(0);
    const { read, results } = readRun(out);

    expect(results.schema).toBe('realtime-voice-bench/1');
    expect(results.errors).toEqual([]);
    expect(results.machine).toMatchObject({
      nproc: finite,
      cpuModel: expect.any(String),
      node: process.version,
    });
    expect(results.loadAvg).toEqual({ start: finite, end: finite });

    const voice = results.scenarios.voice!;
    // The generators and the engine streamed among themselves before the first step: every session echoed.
    expect(voice.generatorWarmup).toEqual({ sessions: 4, seconds: 3, opened: 4 });
    expect(voice.steps.map((s) => `${s.target}:${s.sessions}`).sort()).toEqual(
      expect.arrayContaining(['baseline:4', 'stack:4']),
    );
    for (const step of voice.steps) {
      expect(step.opened).toBe(step.sessions);
      expect(step.rtt).toEqual({
        count: finite,
        meanMs: finite,
        p50Ms: finite,
        p90Ms: finite,
        p99Ms: finite,
        maxMs: finite,
      });
      expect(step.rtt.count).toBeGreaterThan(0);
      const names = step.processes.map((p) => p.name);
      expect(names).toEqual(expect.arrayContaining(['engine-echo', 'loadgen-1', 'loadgen-2']));
      expect(names).toEqual(
        expect.arrayContaining(
          step.target === 'stack' ? ['gateway', 'session-worker', 'redis'] : ['baseline-relay'],
        ),
      );
      for (const p of step.processes) expect(p).toMatchObject({ cpuSeconds: finite, rssPeakMB: finite });
      // The services are the bench's own children: their main threads' sleeps are read from /proc.
      for (const name of step.target === 'stack' ? ['gateway', 'session-worker'] : ['baseline-relay']) {
        expect(step.wakeupsPerFrame?.[name], name).toBeGreaterThan(0);
        // …and how long they waited for a CPU, from the same place (0 on an idle machine, never absent).
        const proc = step.processes.find((p) => p.name === name)!;
        expect(proc.cpuWaitSeconds, name).toEqual(expect.any(Number));
        expect(proc.cpuWaitPercent, name).toBeGreaterThanOrEqual(0);
      }
      expect(step.runtime.map((r) => r.name)).toEqual(
        step.target === 'stack' ? ['gateway', 'session-worker'] : ['baseline-relay'],
      );
      for (const r of step.runtime) expect(r).toMatchObject({ gcTotalS: finite, loopLagMaxMs: finite });
      // The stack's services time their own leg of the frame path through Redis; the relay has none.
      const legs = step.runtime.map((r) => r.busLeg?.leg);
      expect(legs).toEqual(step.target === 'stack' ? ['worker → gateway', 'gateway → worker'] : [undefined]);
      for (const r of step.runtime.filter((r) => r.busLeg)) {
        expect(r.busLeg).toMatchObject({ meanMs: finite, p50Ms: finite, p90Ms: finite, p99Ms: finite });
        expect(r.busLeg!.count).toBeGreaterThan(0);
      }
    }
    expect(Object.keys(voice.capacity).sort()).toEqual(['baseline', 'stack']);

    const idle = results.scenarios.idle!;
    expect(idle.sides.map((s) => [s.target, s.clientsOpen, s.upstream])).toEqual([
      ['stack', 12, 12],
      ['baseline', 12, 12],
    ]);
    for (const side of idle.sides) {
      expect(side.frontPerConnectionKB).toEqual(finite);
      for (const p of side.processes) {
        expect(p).toEqual({
          name: expect.any(String),
          rssBeforeMB: finite,
          rssHalfMB: finite,
          rssAfterMB: finite,
          perConnectionKB: finite,
          averagePerConnectionKB: finite,
          jsAfterMB: finite,
          jsPerConnectionKB: finite,
          heldPerConnectionKB: finite,
        });
      }
    }

    const turn = results.scenarios.turn!;
    expect(turn.sides.map((s) => [s.target, s.turns, s.failures])).toEqual([
      ['stack', 1, 0],
      ['baseline', 1, 0],
    ]);
    for (const side of turn.sides) {
      expect(side.firstAudio).toEqual({ medianMs: finite, p90Ms: finite });
      expect(side.firstDelta).toEqual({ medianMs: finite, p90Ms: finite });
    }

    const summary = read('summary.md');
    expect(summary).toContain('The frame path through Redis, per leg, over the window');
    for (const heading of ['## At a glance', '## voice', '## idle', '## turn'])
      expect(summary).toContain(heading);
    expect(summary).toMatch(/Load average \(1 min\): [\d.]+ at start, [\d.]+ at end/);

    const svg = read('p99-vs-sessions.svg');
    expect(svg).toMatch(/^<svg /);
    expect(svg.match(/<path /g)).toHaveLength(2);
    expect(svg).toContain('threshold');
  }, 120_000);
});

describe('npm run bench -- failover', () => {
  it('kills the owning worker and writes the pause and lost frames as JSON and Markdown', async () => {
    const dir = path.join(out, 'failover');
    const { code, output } = await runBench(
      ['--kills', '1', '--workers', '2', '--out', dir],
      'bench/failover.ts',
    );
    expect(code, output).toBe(0);
    const files = readdirSync(dir);
    const json = files.find((f) => f.endsWith('.json'));
    const md = files.find((f) => f.endsWith('.md'));
    expect(json && md, files.join(', ')).toBeTruthy();
    const summary = JSON.parse(readFileSync(path.join(dir, json!), 'utf8'));
    expect(summary).toMatchObject({
      scenario: 'failover',
      kills: 1,
      leaseMs: 2000,
      pauseMedianMs: finite,
      pauseMaxMs: finite,
      framesLost: finite,
      framesRepeated: finite,
    });
    expect(summary.rounds).toHaveLength(1);
    const text = readFileSync(path.join(dir, md!), 'utf8');
    expect(text).toContain('| pause heard by the client, median / max |');
    expect(text).toContain('| 1 |');
  }, 120_000);

  it('--all-steps measures every step of a side after it failed one', async () => {
    const allOut = benchOutDir('all-steps');
    // A threshold no round trip can meet fails every step.
    const { code, output } = await runBench([
      ...['voice', '--targets=baseline', '--steps=2,3', '--threshold-ms=0.001', '--all-steps', '--procs=1'],
      ...['--warmup=0.2', '--duration=0.5', '--drain=0.5', `--out=${allOut}`],
    ]);
    expect(code, output).toBe(0);
    const steps = readRun(allOut).results.scenarios.voice!.steps;
    expect(steps.map((s) => [s.sessions, s.passed])).toEqual([
      [2, false],
      [3, false],
    ]);
  }, 60_000);

  it('opens more connections from one load-generator address than the gateway allows an address by default', async () => {
    const idleOut = benchOutDir('idle-one-address');
    // One generator process = one loopback address; the gateway's default is 100 open connections per address.
    const { code, output } = await runBench([
      ...['idle', '--targets=stack', '--idle=150', '--procs=1', `--out=${idleOut}`],
    ]);
    expect(code, output).toBe(0);
    const [side] = readRun(idleOut).results.scenarios.idle!.sides;
    expect(side).toMatchObject({ target: 'stack', requested: 150, opened: 150, failed: 0 });
  }, 90_000);

  it('reports why the server closed idle connections: the close code and reason', async () => {
    const idleOut = benchOutDir('idle-closed');
    // Sessions may last 2 s: every one is closed (4408) while the scenario waits 3 s after each half.
    const { code, output } = await runBench([
      ...['idle', '--targets=stack', '--idle=10', '--procs=1', '--stack-env=RTV_MAX_SESSION_S=2'],
      `--out=${idleOut}`,
    ]);
    expect(code, output).toBe(0);
    const { read, results } = readRun(idleOut);
    const [side] = results.scenarios.idle!.sides;
    expect(side).toMatchObject({ target: 'stack', opened: 10, closedEarly: 10 });
    // The gateway's sweep or the owner's own timer ends a session first, each with its reason text.
    const reasons = side!.closeReasons ?? {};
    expect(Object.keys(reasons).every((why) => why.startsWith('close 4408 '))).toBe(true);
    expect(Object.values(reasons).reduce((a, b) => a + b, 0)).toBe(10);
    expect(read('summary.md')).toMatch(/10 closed by the server \(close 4408 [^)]*×\d+/);
  }, 90_000);
});
