import { describe, expect, it } from 'vitest';
import { parseOptions } from '../lib/options.js';

describe('parseOptions', () => {
  it('defaults to every scenario for both targets', () => {
    const o = parseOptions([]);
    expect(o).toMatchObject({
      scenarios: ['voice', 'idle', 'turn'],
      targets: ['stack', 'baseline'],
      quick: false,
    });
  });

  it('applies --quick first, so explicit flags still win', () => {
    const o = parseOptions(['--steps=5,10', '--quick', '--idle=7']);
    if (o === 'help') throw new Error('unexpected help');
    expect(o.quick).toBe(true);
    expect(o.steps).toEqual([5, 10]);
    expect(o.idle).toBe(7);
    expect(o.durationS).toBeLessThan(5);
  });

  it('rejects unknown flags, unknown scenarios and bad numbers with the flag named', () => {
    expect(() => parseOptions(['--fast'])).toThrow(/unknown option --fast/);
    expect(() => parseOptions(['--scenarios=voice,chaos'])).toThrow(/--scenarios: unknown value chaos/);
    expect(() => parseOptions(['--duration=0'])).toThrow(/--duration must be a number/);
    expect(() => parseOptions(['--steps='])).toThrow(/--steps needs a value/);
  });

  it('collects --stack-env pairs for A/B runs of a setting', () => {
    const o = parseOptions(['--stack-env=RTV_RESUME_BUFFER_BYTES=0,RTV_LOG_LEVEL=error']);
    if (o === 'help') throw new Error('unexpected help');
    expect(o.stackEnv).toEqual({ RTV_RESUME_BUFFER_BYTES: '0', RTV_LOG_LEVEL: 'error' });
    expect(() => parseOptions(['--stack-env=lower=1'])).toThrow(/NAME=value/);
  });

  it('takes scenarios as words and flag values after a space, as `npm run bench -- voice --route openai`', () => {
    const o = parseOptions(['voice', '--route', 'openai', '--steps', '100,200', '--quick']);
    if (o === 'help') throw new Error('unexpected help');
    expect(o).toMatchObject({ scenarios: ['voice'], route: 'openai', steps: [100, 200], quick: true });
    const env = parseOptions(['--stack-env', 'RTV_BUS_FLUSH_MS=4', 'voice', 'idle']);
    if (env === 'help') throw new Error('unexpected help');
    expect(env).toMatchObject({ scenarios: ['voice', 'idle'], stackEnv: { RTV_BUS_FLUSH_MS: '4' } });
  });

  it('routes voice over the seed protocol unless told otherwise, and checks the route', () => {
    const o = parseOptions(['--route=openai']);
    if (o === 'help') throw new Error('unexpected help');
    expect(o.route).toBe('openai');
    expect(parseOptions([])).toMatchObject({ route: 'seed' });
    expect(() => parseOptions(['--route', 'grpc'])).toThrow(/--route: unknown value grpc/);
    expect(() => parseOptions(['--route'])).toThrow(/--route needs a value/);
    expect(() => parseOptions(['idle', '--route', 'openai'])).toThrow(/applies to the voice scenario/);
    expect(() => parseOptions(['chaos'])).toThrow(/unknown argument chaos/);
    expect(() => parseOptions(['voice', '--scenarios=idle'])).toThrow(/not both/);
  });

  it("runs voice on the runner's Redis unless --redis cluster, which only voice takes", () => {
    expect(parseOptions([])).toMatchObject({ redis: 'single' });
    expect(parseOptions(['voice', '--redis', 'cluster', '--steps', '100'])).toMatchObject({
      scenarios: ['voice'],
      redis: 'cluster',
      steps: [100],
    });
    expect(() => parseOptions(['--redis', 'sentinel'])).toThrow(/--redis: unknown value sentinel/);
    expect(() => parseOptions(['idle', '--redis', 'cluster'])).toThrow(/applies to the voice scenario/);
  });

  it('answers help', () => {
    expect(parseOptions(['--help'])).toBe('help');
  });
});
