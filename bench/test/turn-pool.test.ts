// `turn --pool-compare`: the stack's turns with the provider pool off and at its default, against an engine
// that delays its handshake. The pool itself is the worker's; here only the harness is checked: both rows
// are reported, and with the pool off the engine's delay is on the path from connect to first audio.
import { describe, expect, it } from 'vitest';
import { benchOutDir, readRun, runBench } from './run-bench.js';

const out = benchOutDir('turn-pool');
const finite = expect.any(Number);
const HANDSHAKE_MS = 300;

describe('npm run bench -- turn --pool-compare', () => {
  it('reports the stack with the pool off and at its default, each with time to first audio from connect', async () => {
    const { code, output } = await runBench([
      ...['turn', '--targets', 'stack', '--pool-compare', '--engine-handshake-ms', String(HANDSHAKE_MS)],
      ...['--turns', '1', '--procs', '1', '--out', out],
    ]);
    expect(code, output).toBe(0);
    const { read, results } = readRun(out);
    const turn = results.scenarios.turn!;
    expect(turn.sides.map((s) => [s.target, s.turns, s.failures])).toEqual([['stack', 1, 0]]);
    expect(turn.sides[0]!.firstAudioFromConnect).toEqual({ medianMs: finite, p90Ms: finite });

    const compare = turn.poolCompare!;
    expect(compare.handshakeMs).toBe(HANDSHAKE_MS);
    expect(compare.rows.map((r) => r.pool)).toEqual(['off', 'default']);
    expect(compare.rows[0]!.stackEnv).toMatchObject({
      RTV_PROVIDER_POOL_SIZE: '0',
      RTV_LOCAL_ENGINE_HANDSHAKE_MS: String(HANDSHAKE_MS),
    });
    expect(compare.rows[1]!.stackEnv).not.toHaveProperty('RTV_PROVIDER_POOL_SIZE');
    for (const r of compare.rows) {
      expect(r.side, r.side.firstError).toMatchObject({ target: 'stack', turns: 1, failures: 0 });
    }
    // Without a pool every session waits for a fresh provider handshake before it can answer.
    const off = compare.rows[0]!.side.samples[0]!;
    expect(off.firstAudioFromConnectMs).toBeGreaterThanOrEqual(HANDSHAKE_MS);

    const summary = read('summary.md');
    expect(summary).toContain(
      `provider pool off and on (\`--pool-compare\`, engine handshake ${HANDSHAKE_MS} ms)`,
    );
    expect(summary).toMatch(/\| stack, pool off \| 1 \(0\) \|/);
    expect(summary).toMatch(/\| stack, pool default \| 1 \(0\) \|/);
  }, 90_000);
});
