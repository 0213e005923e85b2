import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type BenchOptions, parseOptions } from '../lib/options.js';

/** Parses and insists on options, not help; with an empty environment unless one is given. */
function parse(argv: string[], env: NodeJS.ProcessEnv = {}): BenchOptions {
  const o = parseOptions(argv, env);
  if (o === 'help') throw new Error('unexpected help');
  return o;
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'rtv-bench-options-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
};
const SEED = 'wss://voice.example.com/api/v1/streaming/realtime';

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

  it('takes --all-steps for the local voice scenario only', () => {
    const o = parseOptions(['voice', '--all-steps', '--steps', '100,200,400']);
    if (o === 'help') throw new Error('unexpected help');
    expect(o.allSteps).toBe(true);
    expect(() =>
      parseOptions(['--url', 'ws://h/api/v1/streaming/realtime', '--token', 't', '--all-steps']),
    ).toThrow(/--all-steps/);
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

  it('keeps the local mode the default: no remote target, pool comparison off', () => {
    const o = parse([]);
    expect(o.remote).toBeUndefined();
    expect(o.poolCompare).toBe(false);
    expect(o.targets).toEqual(['stack', 'baseline']);
  });

  it('takes --sessions as the steps, and refuses 0 or fractions', () => {
    expect(parse(['--sessions', '100,200']).steps).toEqual([100, 200]);
    expect(() => parse(['--sessions', '0'])).toThrow(/--sessions must be a whole number ≥ 1, got 0/);
    expect(() => parse(['--sessions=2.5'])).toThrow(/--sessions must be a whole number/);
    expect(() => parse(['--sessions'])).toThrow(/--sessions needs a value/);
  });

  it('--pool-compare and --engine-handshake-ms run with the turn scenario on the stack', () => {
    expect(parse(['turn', '--pool-compare'])).toMatchObject({ poolCompare: true, engineHandshakeMs: 300 });
    expect(parse(['turn', '--pool-compare', '--engine-handshake-ms', '150']).engineHandshakeMs).toBe(150);
    expect(() => parse(['voice', '--pool-compare'])).toThrow(/apply to the turn scenario/);
    expect(() => parse(['turn', '--pool-compare', '--targets=baseline'])).toThrow(/must include stack/);
    expect(() => parse(['turn', '--engine-handshake-ms=-1'])).toThrow(/--engine-handshake-ms must be/);
  });
});

describe('parseOptions in remote mode (--url)', () => {
  it('takes the URL and a token, runs voice only by default, with no local target', () => {
    const o = parse(['--url', SEED, '--token', 'eyJ.tok.en', '--sessions', '20', '--duration', '5']);
    expect(o.remote).toEqual({ url: SEED, tokens: ['eyJ.tok.en'], tokenSource: 'token' });
    expect(o).toMatchObject({ scenarios: ['voice'], targets: [], steps: [20], durationS: 5, idle: 20 });
  });

  it('reads tokens from a file (one per line, comments skipped) or from RTV_BENCH_TOKEN', () => {
    const tokens = file('tokens.txt', '# bench users\nrtv_aaa\n\n  rtv_bbb  \r\n');
    expect(parse(['--url', SEED, '--token-file', tokens]).remote).toMatchObject({
      tokens: ['rtv_aaa', 'rtv_bbb'],
      tokenSource: 'token-file',
    });
    expect(parse(['--url', SEED], { RTV_BENCH_TOKEN: 'from-env' }).remote).toMatchObject({
      tokens: ['from-env'],
      tokenSource: 'env',
    });
    // A flag wins over the environment.
    expect(parse(['--url', SEED, '--token=t1'], { RTV_BENCH_TOKEN: 'from-env' }).remote?.tokens).toEqual([
      't1',
    ]);
  });

  it('takes the anonymous route (…/realtime/<user>) without a credential, and refuses one given with it', () => {
    expect(parse(['--url', `${SEED}/load-test`, '--sessions', '5']).remote).toEqual({
      url: SEED,
      tokens: [],
      tokenSource: 'anonymous',
      anonymousUser: 'load-test',
    });
    expect(parse(['--url', `${SEED}/load%20test`]).remote?.anonymousUser).toBe('load test');
    expect(() => parse(['--url', `${SEED}/%E0%A4%A`])).toThrow(
      /the user in …\/realtime\/%E0%A4%A is not valid percent-encoding/,
    );
    expect(() => parse(['--url', `${SEED}/load-test`, '--token=t'])).toThrow(
      /anonymous route \(…\/realtime\/load-test\), which takes no credential/,
    );
  });

  it('refuses a URL that is not ws:// or wss://, or carries the credential', () => {
    expect(() =>
      parse(['--url', 'https://voice.example.com/api/v1/streaming/realtime', '--token=t']),
    ).toThrow(/--url must start with ws:\/\/ or wss:\/\/, got https:/);
    expect(() => parse(['--url', 'voice.example.com', '--token=t'])).toThrow(/--url: not a URL/);
    expect(() => parse(['--url', `${SEED}?access_token=x`, '--token=t'])).toThrow(/not in the URL/);
  });

  it('refuses missing, doubled, unreadable or empty credentials with the cause named', () => {
    expect(() => parse(['--url', SEED])).toThrow(
      /needs a gateway credential: --token, --token-file or RTV_BENCH_TOKEN/,
    );
    expect(() => parse(['--url', SEED, '--token=a', '--token-file', file('t2.txt', 'b')])).toThrow(
      /not both/,
    );
    expect(() => parse(['--url', SEED, '--token-file', path.join(dir, 'missing.txt')])).toThrow(
      /--token-file: cannot read .*missing\.txt \(ENOENT\)/,
    );
    expect(() => parse(['--url', SEED, '--token-file', file('empty.txt', '# none\n\n')])).toThrow(
      /holds no credential/,
    );
  });

  it('matches the route to the URL: /v1/realtime?model=… with --route openai, the seed path without', () => {
    const openai = 'wss://voice.example.com/v1/realtime?model=gpt-realtime';
    expect(parse(['--url', openai, '--token=t', '--route', 'openai', 'voice', 'idle', 'turn'])).toMatchObject(
      {
        route: 'openai',
        scenarios: ['voice', 'idle', 'turn'],
      },
    );
    expect(() => parse(['--url', openai, '--token=t'])).toThrow(/add --route openai/);
    expect(() => parse(['--url', SEED, '--token=t', '--route', 'openai'])).toThrow(
      /needs the \/v1\/realtime URL/,
    );
    expect(() =>
      parse(['--url', 'wss://voice.example.com/v1/realtime', '--token=t', '--route', 'openai']),
    ).toThrow(/needs the model/);
  });

  it('reads a private CA, and takes a ramp in seconds', () => {
    const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    const o = parse(['--url', SEED, '--token=t', '--ca-file', file('ca.pem', pem), '--ramp-s', '12']);
    expect(o.remote).toMatchObject({ ca: pem, rampS: 12 });
    expect(() => parse(['--url', SEED, '--token=t', '--ca-file', file('notpem.txt', 'hello')])).toThrow(
      /holds no PEM certificate/,
    );
    expect(() => parse(['--url', SEED, '--token=t', '--ramp-s=-3'])).toThrow(/--ramp-s must be a number ≥ 0/);
  });

  it('refuses local-only flags with --url, and remote-only flags without it', () => {
    for (const flag of [
      '--targets=stack',
      '--redis=cluster',
      '--profile',
      '--stack-env=A=1',
      '--pool-compare',
    ]) {
      expect(() => parse(['--url', SEED, '--token=t', flag]), flag).toThrow(/applies to the local stack/);
    }
    expect(() => parse(['--token=t'])).toThrow(/--token applies to remote mode: add --url/);
    expect(() => parse(['--ramp-s=5'])).toThrow(/--ramp-s applies to remote mode/);
  });
});
