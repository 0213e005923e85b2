/**
 * `npm run bench`: the stack against the baseline relay, same machine, same provider process, same load; or,
 * with `--url`, the same scenarios against a deployed cluster (remote mode: no local service at all).
 * Scenarios run one after the other; each writes its figures into results.json, from which summary.md and
 * the p99 chart are built. `npm run bench -- --help` lists the options.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createRedis, redisTopologyFromEnv, waitReady } from '@rtv/bus';
import type { Redis } from 'ioredis';
import { type BenchOptions, HELP, parseOptions, type RemoteOptions } from './lib/options.js';
import { loadAverage1m, machineInfo, redisProbe } from './lib/proc-stats.js';
import { killAllLaunched, REPO_ROOT } from './lib/processes.js';
import { deleteLiveStackKeys, type Engine, startEngine } from './lib/targets.js';
import { LoadPool } from './load/pool.js';
import { renderChart } from './report/chart.js';
import { updateDocs } from './report/docs.js';
import { flameGraphIndex, writeFlameGraphs } from './report/flamegraph.js';
import { summarizeProfiles } from './report/profile.js';
import { renderSummary } from './report/summary.js';
import type { BenchResults } from './report/types.js';
import { artifactsFor, type BenchContext } from './scenarios/context.js';
import { runIdle } from './scenarios/idle.js';
import { type RemoteContext, runRemoteIdle, runRemoteTurn, runRemoteVoice } from './scenarios/remote.js';
import { soakCommand } from './scenarios/soak.js';
import { runTurn, runTurnPoolCompare } from './scenarios/turn.js';
import { runVoice } from './scenarios/voice.js';

const log = (line: string) => process.stdout.write(`[bench] ${line}\n`);

/** `2026-11-25T23-59-01Z`: sortable and safe in a file name. */
function stamp(d: Date): string {
  return d
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replace(/:/g, '-');
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}

/** Flags whose value is a secret: never written to results.json, summary.md or the console. */
const SECRET_FLAGS = new Set(['--token']);

/** The command line as typed, with `--token`'s value replaced, for the reports. */
function redactedCommand(argv: string[]): string {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag] = arg.split('=', 1) as [string];
    if (SECRET_FLAGS.has(flag) && arg.includes('=')) out.push(`${flag}=***`);
    else if (SECRET_FLAGS.has(arg) && i + 1 < argv.length) {
      out.push(arg, '***');
      i++;
    } else out.push(arg);
  }
  return `npm run bench -- ${out.join(' ')}`.trim();
}

/** The options as results.json keeps them: the remote credentials and CA replaced by what they were. */
function recordedOptions(options: BenchOptions): Record<string, unknown> {
  const { remote, ...rest } = options;
  if (!remote) return { ...rest };
  const { tokens, ca, ...where } = remote;
  return { ...rest, remote: { ...where, credentials: tokens.length, privateCa: ca !== undefined } };
}

/** `wss://host/path?model=…` without user info: what the reports may show of `--url`. */
function shownUrl(url: string): string {
  const u = new URL(url);
  u.username = '';
  u.password = '';
  return u.toString();
}

/** Writes summary.md and the chart for `results` into `dir`, and the docs section when asked. */
function writeReports(results: BenchResults, dir: string, updateDocsToo: boolean): string {
  const summary = renderSummary(results);
  writeFileSync(path.join(dir, 'summary.md'), summary);
  if (results.scenarios.voice) {
    writeFileSync(path.join(dir, 'p99-vs-sessions.svg'), renderChart(results.scenarios.voice));
  }
  if (updateDocsToo) {
    updateDocs(path.join(REPO_ROOT, 'docs', 'benchmarks.md'), summary, path.relative(REPO_ROOT, dir));
    log('docs/benchmarks.md updated');
  }
  return summary;
}

/** `--report=<dir>`: the reports of an earlier run, rebuilt from its results.json. */
function rerender(dir: string, updateDocsToo: boolean): number {
  const abs = path.resolve(dir);
  const results = JSON.parse(readFileSync(path.join(abs, 'results.json'), 'utf8')) as BenchResults;
  if (results.schema !== 'realtime-voice-bench/1') throw new Error(`${abs}/results.json: unknown schema`);
  writeReports(results, abs, updateDocsToo);
  log(`re-rendered ${path.join(abs, 'summary.md')}`);
  return 0;
}

/**
 * Remote mode: only the load generators run here. Each scenario's figures go into results.json as the local
 * run's do, beside the target (URL, route, how many credentials; never the credentials).
 */
async function mainRemote(options: BenchOptions, remote: RemoteOptions): Promise<number> {
  const startedAt = new Date();
  const dir = path.resolve(REPO_ROOT, options.out, stamp(startedAt));
  mkdirSync(dir, { recursive: true });
  const pool = await LoadPool.start(options.procs);
  const ctx: RemoteContext = { options, remote, pool, log };
  log(`results → ${path.relative(process.cwd(), dir) || dir}; remote target ${shownUrl(remote.url)}`);
  log('remote mode: no local service, engine or baseline is started; server-side CPU is not known from here');
  const results: BenchResults = {
    ...runHeader(startedAt, options),
    target: {
      kind: 'remote',
      url: shownUrl(remote.url),
      route: options.route,
      credentials: remote.tokens.length,
      credentialSource: remote.tokenSource,
      ...(remote.anonymousUser !== undefined ? { anonymousUser: remote.anonymousUser } : {}),
      privateCa: remote.ca !== undefined,
      serverCpu: 'unknown',
    },
    loadGenerators: pool.size,
    scenarios: {},
    errors: [],
  };
  try {
    for (const scenario of options.scenarios) {
      log(`scenario ${scenario}`);
      try {
        if (scenario === 'voice') results.scenarios.voice = await runRemoteVoice(ctx);
        else if (scenario === 'idle') results.scenarios.idleRemote = await runRemoteIdle(ctx);
        else results.scenarios.turn = await runRemoteTurn(ctx);
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        results.errors.push({ scenario, message });
        log(`scenario ${scenario} failed: ${message}`);
      }
    }
  } finally {
    await pool.stop();
  }
  return finish(results, startedAt, dir, options);
}

/** Stamps the end of the run, writes results.json and the reports, prints where they are. */
function finish(results: BenchResults, startedAt: Date, dir: string, options: BenchOptions): number {
  const finished = new Date();
  results.finishedAt = finished.toISOString();
  results.durationS = Math.round((finished.getTime() - startedAt.getTime()) / 100) / 10;
  results.loadAvg.end = loadAverage1m();
  writeFileSync(path.join(dir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  writeReports(results, dir, options.updateDocs);
  log(`done in ${results.durationS} s: ${path.join(dir, 'summary.md')}`);
  return results.errors.length > 0 ? 1 : 0;
}

/** A setting the bench cannot run with: reported as one line, exit 2, as a bad option is. */
class BenchSetupError extends Error {}

/**
 * The runner's Redis, through the services' connection factory (REDIS_PASSWORD and RTV_REDIS_TLS_CA_FILE as the
 * stack will use them). A local run measures one Redis it can watch, or a cluster it starts itself
 * (`--redis=cluster`): RTV_REDIS_MODE=cluster or sentinel is refused with what to do instead.
 */
async function connectRunnerRedis(url: string): Promise<Redis> {
  const topology = redisTopologyFromEnv();
  if (topology.mode !== 'single') {
    throw new BenchSetupError(
      `RTV_REDIS_MODE=${topology.mode}: a local bench runs its stack on one Redis (REDIS_URL) or on a Redis ` +
        'Cluster it starts itself (--redis=cluster), so it can measure every Redis process; unset ' +
        'RTV_REDIS_MODE, or load-test a deployment on that Redis with --url',
    );
  }
  const redis = createRedis(url, { name: 'rtv-bench', role: 'producer', topology }) as Redis;
  try {
    await waitReady(redis);
  } catch (err) {
    redis.disconnect();
    throw err;
  }
  return redis;
}

async function main(options: BenchOptions): Promise<number> {
  if (options.report) return rerender(options.report, options.updateDocs);
  if (options.remote) return mainRemote(options, options.remote);
  const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
  const redis = await connectRunnerRedis(redisUrl);
  const startedAt = new Date();
  const dir = path.resolve(REPO_ROOT, options.out, stamp(startedAt));
  mkdirSync(dir, { recursive: true });
  const redisVersion = /redis_version:(\S+)/.exec(await redis.info('server'))?.[1] ?? 'unknown';
  const pool = await LoadPool.start(options.procs);
  const ctx: BenchContext = {
    options,
    redisUrl,
    redis,
    redisProbe: await redisProbe(redis),
    pool,
    profileDir: options.profile ? path.join(dir, 'profiles') : undefined,
    logDir: path.join(dir, 'logs'),
    log,
  };
  log(`results → ${path.relative(process.cwd(), dir) || dir}; Redis ${redact(redisUrl)} (${redisVersion})`);

  const results: BenchResults = {
    ...runHeader(startedAt, options),
    redis: {
      version: redisVersion,
      note:
        options.redis === 'cluster'
          ? 'the voice stack ran on a 3-master Redis Cluster started for the run (figures per master in the voice ' +
            'section); CPU and memory of each whole server'
          : 'CPU and memory of the whole Redis server: other clients of a shared Redis are counted too',
    },
    loadGenerators: pool.size,
    scenarios: {},
    errors: [],
  };

  let echo: Engine | undefined;
  try {
    if (options.scenarios.some((s) => s === 'voice' || s === 'idle'))
      echo = await startEngine('echo', artifactsFor(ctx, 'run'));
    for (const scenario of options.scenarios) {
      log(`scenario ${scenario}`);
      try {
        if (scenario === 'voice') results.scenarios.voice = await runVoice(ctx, echo!);
        else if (scenario === 'idle') results.scenarios.idle = await runIdle(ctx, echo!);
        else if (options.poolCompare) results.scenarios.turn = await runTurnPoolCompare(ctx);
        else {
          const speech = await startEngine('speech', artifactsFor(ctx, 'turn'));
          try {
            results.scenarios.turn = await runTurn(ctx, speech);
          } finally {
            await speech.stop();
          }
        }
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        results.errors.push({ scenario, message });
        log(`scenario ${scenario} failed: ${message}`);
      }
    }
  } finally {
    await echo?.stop();
    await pool.stop();
    redis.disconnect();
  }

  const code = finish(results, startedAt, dir, options);
  if (ctx.profileDir) {
    const flames = writeFlameGraphs(ctx.profileDir, dir);
    writeFileSync(path.join(dir, 'profiles.md'), summarizeProfiles(ctx.profileDir) + flameGraphIndex(flames));
    log(
      `CPU profiles in ${ctx.profileDir}, top functions in profiles.md, flame graphs in ${flames.join(', ') || '(none)'}`,
    );
  }
  return code;
}

/**
 * `npm run bench -- failover …` runs the failover measurement (bench/failover.ts), which starts its own
 * gateway and workers and kills them; it keeps its own flags and output.
 */
async function runFailover(args: string[]): Promise<number> {
  const child = spawn(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', 'bench/failover.ts', ...args],
    {
      cwd: REPO_ROOT,
      stdio: 'inherit',
    },
  );
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
    child.once('error', () => resolve(1));
  });
}

if (process.argv[2] === 'failover') {
  process.exitCode = await runFailover(process.argv.slice(3));
  process.exit();
}
// `npm run bench -- soak …`: its own stack (private Redis, 2 gateways, 3 workers) and faults (scenarios/soak.ts).
if (process.argv[2] === 'soak') {
  process.exitCode = await soakCommand(process.argv.slice(3));
  process.exit();
}

let options: BenchOptions | 'help';
try {
  options = parseOptions(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(2);
}
if (options === 'help') {
  process.stdout.write(HELP);
  process.exit(0);
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping`);
    killAllLaunched();
    // The killed stacks leave keys behind (BullMQ's have no TTL): delete them, but never hang on it.
    const timeout = new Promise((r) => setTimeout(r, 3000));
    void Promise.race([deleteLiveStackKeys(), timeout]).finally(() => process.exit(130));
  });
}
main(options).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof BenchSetupError) {
      process.stderr.write(`${err.message}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(
      `bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    killAllLaunched();
    process.exitCode = 1;
  },
);

/** The fields every results.json starts with, local or remote. */
function runHeader(startedAt: Date, options: BenchOptions) {
  return {
    schema: 'realtime-voice-bench/1' as const,
    startedAt: startedAt.toISOString(),
    finishedAt: '',
    durationS: 0,
    command: redactedCommand(process.argv.slice(2)),
    options: recordedOptions(options),
    machine: machineInfo(),
    loadAvg: { start: loadAverage1m(), end: 0 },
  };
}
