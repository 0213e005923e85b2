import { describe, expect, it } from 'vitest';
import { benchOutDir, readRun, runBench } from './run-bench.js';

const out = benchOutDir('openai');

const finite = expect.any(Number);

describe('npm run bench -- voice --route openai', () => {
  it('streams the voice load over /v1/realtime, loses no frame and reports round trips and CPU per frame', async () => {
    // Arguments as a person types them: the scenario as a word, flag values after a space.
    const { code, output } = await runBench([
      'voice',
      '--route',
      'openai',
      '--steps',
      '6',
      '--warmup',
      '0.5',
      '--duration',
      '2',
      '--procs',
      '2',
      '--out',
      out,
    ]);
    expect(code, output).toBe(0);
    expect(output).toContain('voice stack (openai)');
    const { read, results } = readRun(out);

    expect(results.errors).toEqual([]);
    expect(Object.keys(results.scenarios)).toEqual(['voice']);
    const voice = results.scenarios.voice!;
    expect(voice.route).toBe('openai');
    expect(voice.steps.map((s) => [s.target, s.route, s.sessions]).sort()).toEqual([
      ['baseline', 'seed', 6],
      ['stack', 'openai', 6],
    ]);
    for (const step of voice.steps) {
      expect(step.opened, step.firstError).toBe(6);
      // Two seconds of six sessions at 50 frames/s: about 600 frames, every one echoed to its own session.
      expect(step.sent).toBeGreaterThan(300);
      expect(step.received).toBe(step.sent);
      expect(step.lost).toBe(0);
      expect(step.misrouted).toBe(0);
      expect(step.outOfOrder).toBe(0);
      expect(step.closedEarly).toBe(0);
      expect(step.rtt).toEqual({
        count: step.sent,
        meanMs: finite,
        p50Ms: finite,
        p90Ms: finite,
        p99Ms: finite,
        maxMs: finite,
      });
      expect(step.serverCpuPerFrameUs).toBeGreaterThan(0);
      const servers = step.target === 'stack' ? ['gateway', 'session-worker', 'redis'] : ['baseline-relay'];
      for (const name of [...servers, 'engine-echo', 'loadgen-1', 'loadgen-2']) {
        expect(step.cpuPerFrameUs?.[name], name).toEqual(finite);
      }
    }

    const stack = voice.steps.find((s) => s.target === 'stack')!;
    expect(stack.redisCommandsPerFrame?.total).toBeGreaterThan(0);
    const summary = read('summary.md');
    expect(summary).toContain('| stack (/v1/realtime) |');
    expect(summary).toContain('on `/v1/realtime`');
    expect(summary).toMatch(/gateway \d+ %, waited \d+ % \([\d.]+ µs, [\d.]+ wake-ups\/frame\)/);
  }, 120_000);
});
