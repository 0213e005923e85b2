// Remote mode end to end: a real stack (gateway, worker, status API on the local engine, JWT auth on) started
// by the test, as a deployment would run, and the bench pointed at its URL with `--url`. The bench itself
// must start nothing but its load generators. Only the report's content is checked, not its figures.
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Engine, startEngine, startStack, type Target } from '../lib/targets.js';
import { benchOutDir, readRun, runBench } from './run-bench.js';

const JWT_SECRET = 'bench-remote-test-secret-of-at-least-32-bytes';
const finite = expect.any(Number);

/** A JWT the test gateway accepts for `user`. */
function token(user: string): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(user)
    .setExpirationTime('10m')
    .sign(new TextEncoder().encode(JWT_SECRET));
}

/** A stack on `mode`'s engine with the services' environment `extraEnv`. */
async function deployment(
  mode: 'echo' | 'speech',
  label: string,
  redis: Redis,
  logDir: string,
  extraEnv: Record<string, string>,
) {
  const artifacts = { logDir, label };
  const engine = await startEngine(mode, artifacts);
  try {
    const stack = await startStack({
      redisUrl: process.env.REDIS_URL || 'redis://127.0.0.1:6379',
      redis,
      engine,
      workerCapacity: 50,
      artifacts,
      extraEnv,
    });
    return { engine, stack };
  } catch (err) {
    await engine.stop();
    throw err;
  }
}

/** A stack on `mode`'s engine with JWT authentication on (which turns the anonymous route off). */
const authStack = (mode: 'echo' | 'speech', label: string, redis: Redis, logDir: string) =>
  deployment(mode, label, redis, logDir, { RTV_AUTH_JWT_SECRET: JWT_SECRET });

const logDir = mkdtempSync(path.join(os.tmpdir(), 'rtv-bench-remote-logs-'));
const redis = new Redis(process.env.REDIS_URL || 'redis://127.0.0.1:6379', { lazyConnect: true });
redis.on('error', () => {});
afterAll(async () => {
  redis.disconnect();
  rmSync(logDir, { recursive: true, force: true });
});

describe('npm run bench -- --url … (remote mode) against an echoing deployment', () => {
  let engine: Engine;
  let stack: Target;
  beforeAll(async () => {
    await redis.connect();
    ({ engine, stack } = await authStack('echo', 'remote-echo', redis, logDir));
  }, 120_000);
  afterAll(async () => {
    await stack?.stop();
    await engine?.stop();
  });

  it('holds idle connections with the tokens of a file, starting no local service', async () => {
    const out = benchOutDir('remote');
    const tokens = [await token('bench-user-a'), await token('bench-user-b')];
    const tokenFile = path.join(out, 'tokens.txt');
    writeFileSync(tokenFile, `# two users\n${tokens.join('\n')}\n`);
    const { code, output } = await runBench([
      ...['idle', '--url', stack.wsUrl, '--token-file', tokenFile],
      ...['--sessions', '4', '--warmup', '0.5', '--duration', '2', '--ramp-s', '1', '--procs', '2'],
      ...['--out', path.join(out, 'run')],
    ]);
    expect(code, output).toBe(0);
    expect(output).toContain('remote mode: no local service, engine or baseline is started');
    const runDir = path.join(out, 'run');
    const { read, results } = readRun(runDir);

    expect(results.errors).toEqual([]);
    expect(results.target).toEqual({
      kind: 'remote',
      url: stack.wsUrl,
      route: 'seed',
      credentials: 2,
      credentialSource: 'token-file',
      privateCa: false,
      serverCpu: 'unknown',
    });
    // Nothing local: no Redis read, no process of the bench's own besides the load generators, no service logs.
    expect(results.redis).toBeUndefined();
    const [folder] = readdirSync(runDir);
    expect(existsSync(path.join(runDir, folder!, 'logs'))).toBe(false);

    expect(results.scenarios.idleRemote).toMatchObject({ requested: 4, opened: 4, failed: 0, stillOpen: 4 });

    const json = read('results.json');
    for (const t of tokens) expect(json).not.toContain(t);
    const summary = read('summary.md');
    expect(summary).toContain('Server-side CPU: unknown in remote mode');
    expect(summary).toContain('No local service and no baseline were started');
  }, 60_000);

  it('streams voice over the authenticated route and loses no frame', async () => {
    // Acknowledgements are held while the owner waits for the provider to hear speech (the turn hold), so the
    // gateway's replay ring grows through several sizes here: it must grow, never refuse a frame below its budget.
    const out = benchOutDir('remote-voice');
    const { code, output } = await runBench(
      [
        ...['voice', '--url', stack.wsUrl, '--sessions', '4', '--ramp-s', '1'],
        ...['--warmup', '0.5', '--duration', '3', '--procs', '2', '--out', out],
      ],
      'bench/run.ts',
      { RTV_BENCH_TOKEN: await token('bench-voice') },
    );
    expect(code, output).toBe(0);
    const { results } = readRun(out);
    const [step] = results.scenarios.voice!.steps;
    expect(step).toMatchObject({ target: 'remote', opened: 4, openFailures: 0, lost: 0, closedEarly: 0 });
    expect(step!.closeReasons ?? {}).toEqual({});
    expect(step!.sent).toBeGreaterThan(0);
    expect(step!.received).toBe(step!.sent);
  }, 60_000);

  it('counts connects refused for a wrong token by status and error code, and keeps the token out of the report', async () => {
    const out = benchOutDir('remote-refused');
    const { code, output } = await runBench([
      ...['--url', stack.wsUrl, '--token', 'not-a-valid-token', '--sessions', '3', '--ramp-s', '0'],
      ...['--duration', '1', '--procs', '1', '--out', out],
    ]);
    expect(code, output).toBe(0);
    expect(output).toContain('FAIL: opened 0 of 3 sessions (HTTP 401 unauthorized ×3)');
    const { read, results } = readRun(out);
    const [step] = results.scenarios.voice!.steps;
    expect(step).toMatchObject({ opened: 0, openFailures: 3, passed: false, lost: 0 });
    expect(step!.connectFailures).toEqual({ 'HTTP 401 unauthorized': 3 });
    expect(results.command).toContain('--token ***');
    expect(read('results.json')).not.toContain('not-a-valid-token');
    expect(read('summary.md')).toContain('HTTP 401 unauthorized ×3');
  }, 60_000);
});

describe('npm run bench -- --url …/realtime/<user> (remote mode) on the anonymous route', () => {
  let engine: Engine;
  let stack: Target;
  beforeAll(async () => {
    if (redis.status !== 'ready') await redis.connect();
    // Two connections per user: the five sessions fit only as users of their own.
    ({ engine, stack } = await deployment('echo', 'remote-anonymous', redis, logDir, {
      RTV_MAX_CONNECTIONS_PER_USER: '2',
    }));
  }, 120_000);
  afterAll(async () => {
    await stack?.stop();
    await engine?.stop();
  });

  it('streams voice with no credential, each session a user of its own, and loses no frame', async () => {
    const out = benchOutDir('remote-anonymous');
    const { code, output } = await runBench([
      ...['voice', '--url', `${stack.wsUrl}/load-test`, '--sessions', '5', '--ramp-s', '1'],
      ...['--warmup', '0.5', '--duration', '2', '--procs', '2', '--out', out],
    ]);
    expect(code, output).toBe(0);
    const { read, results } = readRun(out);
    expect(results.target).toMatchObject({
      kind: 'remote',
      url: stack.wsUrl,
      credentials: 0,
      credentialSource: 'anonymous',
      anonymousUser: 'load-test',
    });
    const [step] = results.scenarios.voice!.steps;
    expect(step).toMatchObject({ target: 'remote', opened: 5, openFailures: 0, lost: 0, closedEarly: 0 });
    expect(step!.received).toBe(step!.sent);
    expect(read('summary.md')).toContain('the anonymous route, no credential, each session its own user');
  }, 60_000);
});

describe('npm run bench -- turn --url … (remote mode) against a speaking deployment', () => {
  let engine: Engine;
  let stack: Target;
  beforeAll(async () => {
    if (redis.status !== 'ready') await redis.connect();
    ({ engine, stack } = await authStack('speech', 'remote-speech', redis, logDir));
  }, 120_000);
  afterAll(async () => {
    await stack?.stop();
    await engine?.stop();
  });

  it('reports time to first audio per turn and from connect, on the seed route and on /v1/realtime', async () => {
    const jwt = await token('bench-turns');
    for (const route of ['seed', 'openai'] as const) {
      const out = benchOutDir(`remote-turn-${route}`);
      const url = route === 'seed' ? stack.wsUrl : stack.openAiUrl!;
      // The credential from RTV_BENCH_TOKEN, as an SRE keeps it out of the shell history.
      const { code, output } = await runBench(
        ['turn', '--url', url, '--route', route, '--turns', '2', '--procs', '1', '--out', out],
        'bench/run.ts',
        { RTV_BENCH_TOKEN: jwt },
      );
      expect(code, output).toBe(0);
      const { read, results } = readRun(out);
      expect(results.target).toMatchObject({ kind: 'remote', route, credentialSource: 'env' });
      const turn = results.scenarios.turn!;
      expect(turn.route).toBe(route);
      const [side] = turn.sides;
      expect(side, side?.firstError).toMatchObject({ target: 'remote', turns: 2, failures: 0 });
      for (const s of side!.samples) {
        // From connect includes the whole turn and everything before it.
        expect(s.firstAudioFromConnectMs).toBeGreaterThan(s.firstAudioMs);
      }
      expect(side!.firstAudioFromConnect).toEqual({ medianMs: finite, p90Ms: finite });
      expect(read('summary.md')).toContain('first audio from connect median / p90');
    }
  }, 60_000);
});
