import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { benchOutDir, readRun, runBench } from './run-bench.js';

const out = benchOutDir('cluster');
const refusedOut = benchOutDir('cluster-refused');

const finite = expect.any(Number);

describe('npm run bench -- voice --redis cluster', () => {
  it('runs the stack on a 3-master Redis Cluster, loses no frame and reports each master', async () => {
    const { code, output } = await runBench([
      'voice',
      '--redis',
      'cluster',
      '--steps',
      '4',
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
    const { read, results } = readRun(out);

    expect(results.errors).toEqual([]);
    const voice = results.scenarios.voice!;
    expect(voice.redis).toBe('cluster');
    expect(voice.steps.map((s) => s.target).sort()).toEqual(['baseline', 'stack']);
    for (const step of voice.steps) {
      expect(step.opened, step.firstError).toBe(4);
      expect(step.sent).toBeGreaterThan(200);
      expect(step.received).toBe(step.sent);
      expect(step.lost).toBe(0);
      expect(step.misrouted).toBe(0);
      expect(step.closedEarly).toBe(0);
    }

    const stack = voice.steps.find((s) => s.target === 'stack')!;
    const masters = stack.redisNodes!;
    expect(masters.map((n) => n.name)).toEqual(['redis-m1', 'redis-m2', 'redis-m3']);
    expect(new Set(masters.map((n) => n.port)).size).toBe(3);
    for (const node of masters) {
      expect(node).toMatchObject({
        commandsPerVoiceSecond: finite,
        netInBytesPerVoiceSecond: finite,
        netOutBytesPerVoiceSecond: finite,
        cpuSeconds: finite,
        cpuUsPerVoiceSecond: finite,
      });
      expect(node.commandsPerFrame.total, node.name).toEqual(finite);
      expect(stack.cpuPerFrameUs?.[node.name], node.name).toEqual(finite);
    }
    // The frames go through the cluster: its masters together carry the stack's commands and bytes.
    const sum = (f: (n: (typeof masters)[number]) => number) => masters.reduce((t, n) => t + f(n), 0);
    expect(sum((n) => n.commandsPerVoiceSecond)).toBeGreaterThan(1);
    expect(sum((n) => n.netInBytesPerVoiceSecond)).toBeGreaterThan(1000);
    expect(stack.redisCommandsPerFrame?.total).toBeGreaterThan(0);
    // The baseline relay uses no Redis.
    expect(voice.steps.find((s) => s.target === 'baseline')!.redisNodes).toBeUndefined();

    const summary = read('summary.md');
    expect(summary).toContain('3-master Redis Cluster');
    expect(summary).toMatch(/\| 4 \| redis-m1 \(:\d+\) \|/);
  }, 180_000);

  it('refuses RTV_REDIS_MODE=cluster for a local run in one line, saying what to do instead', async () => {
    const { code, output } = await runBench(['voice', '--steps', '4', '--out', refusedOut], undefined, {
      RTV_REDIS_MODE: 'cluster',
      REDIS_URL: 'redis://127.0.0.1:7001,redis://127.0.0.1:7002',
    });
    expect(code, output).toBe(2);
    expect(output).toContain('RTV_REDIS_MODE=cluster: a local bench runs its stack on one Redis');
    expect(output).toContain('--redis=cluster');
    expect(output).not.toMatch(/^\s+at /m);
    expect(readdirSync(refusedOut)).toEqual([]);
  });
});
