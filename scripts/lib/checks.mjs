// `npm test` (typecheck → lint → vitest, stopping at the first failure) and `npm run bench`.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveRedis } from '../redis.mjs';
import { localBin, run, TS_NODE_ARGS } from './proc.mjs';
import { confirmRedisForServices } from './redis-ready.mjs';
import { fail, formatDuration, paint, say } from './ui.mjs';

/**
 * @typedef {object} Step
 * @property {string} name
 * @property {string} command
 * @property {string[]} args
 * @property {string} hint What to do when it fails.
 */

/**
 * Runs `fn` with a Redis resolved and exported as REDIS_URL, stopping a spawned Redis afterwards, also on
 * SIGINT/SIGTERM (forwarded to the running child, which ends the step). A Redis named by REDIS_URL is first
 * reached as the services reach it (see confirmRedisForServices).
 * @param {string} root
 * @param {(env: NodeJS.ProcessEnv, track: (child: import('node:child_process').ChildProcess) => void)
 *   => Promise<number>} fn
 * @returns {Promise<number>}
 */
async function withRedis(root, fn) {
  const redis = await resolveRedis({ log: say });
  try {
    if (redis.source === 'env') await confirmRedisForServices(root, { ...process.env, REDIS_URL: redis.url });
    return await withSignals({ ...process.env, REDIS_URL: redis.url }, fn);
  } finally {
    await redis.stop();
  }
}

/**
 * Runs `fn` with `env`, forwarding SIGTERM to the running child (a terminal's Ctrl-C reached it already);
 * exit 130 when interrupted.
 * @param {NodeJS.ProcessEnv} env
 * @param {(env: NodeJS.ProcessEnv, track: (child: import('node:child_process').ChildProcess) => void)
 *   => Promise<number>} fn
 * @returns {Promise<number>}
 */
async function withSignals(env, fn) {
  /** @type {import('node:child_process').ChildProcess | undefined} */
  let current;
  let interrupted = false;
  /** @param {NodeJS.Signals} signal */
  const onSignal = (signal) => {
    interrupted = true;
    // On a terminal Ctrl-C the child got SIGINT itself; forward only what it cannot have seen.
    if (signal === 'SIGTERM') current?.kill('SIGTERM');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const code = await fn(env, (child) => {
      current = child;
    });
    return interrupted ? 130 : code;
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

/**
 * @param {string} root
 * @param {string[]} vitestArgs Passed through to `vitest run` (`npm test -- libs/protocol`).
 */
export async function testCommand(root, vitestArgs) {
  const reportDir = mkdtempSync(path.join(os.tmpdir(), 'rtv-test-'));
  const reportFile = path.join(reportDir, 'vitest.json');
  // A JSON report next to the usual output lets the launcher end with one plain "N passed, N failed" line.
  const ownReporter = !vitestArgs.some((a) => a.startsWith('--reporter'));
  const reporterArgs = ownReporter
    ? ['--reporter=default', '--reporter=json', `--outputFile.json=${reportFile}`]
    : [];
  /** @type {Step[]} */
  const steps = [
    {
      name: 'typecheck',
      command: localBin(root, 'tsc'),
      args: ['-p', 'tsconfig.json'],
      hint: 'fix the type errors above (npx tsc -p tsconfig.json)',
    },
  ];
  if (existsSync(path.join(root, 'scripts', 'tsconfig.json'))) {
    steps.push({
      name: 'typecheck scripts',
      command: localBin(root, 'tsc'),
      args: ['-p', 'scripts/tsconfig.json'],
      hint: 'fix the type errors above (npx tsc -p scripts/tsconfig.json)',
    });
  }
  steps.push(
    {
      name: 'lint',
      command: localBin(root, 'biome'),
      args: ['check', '.'],
      hint: 'npx biome check --write <paths> fixes formatting and safe lint issues',
    },
    {
      name: 'tests',
      command: localBin(root, 'vitest'),
      args: ['run', ...reporterArgs, ...vitestArgs],
      hint: 'see the failing tests above',
    },
  );

  const started = Date.now();
  try {
    return await withRedis(root, async (env, track) => {
      for (const step of steps) {
        say(paint('bold', `▶ ${step.name}: ${path.basename(step.command)} ${step.args.join(' ')}`));
        const t0 = Date.now();
        const code = await run(step.command, step.args, { cwd: root, env, onSpawn: track });
        const took = formatDuration(Date.now() - t0);
        if (step.name === 'tests' && ownReporter) printTestCounts(reportFile);
        if (code !== 0) {
          fail(`✗ ${step.name} failed (exit ${code}) after ${took}: ${step.hint}`);
          return code;
        }
        say(paint('green', `✓ ${step.name} passed in ${took}`));
      }
      say(paint('green', `all ${steps.length} steps passed in ${formatDuration(Date.now() - started)}`));
      return 0;
    });
  } finally {
    rmSync(reportDir, { recursive: true, force: true });
  }
}

/** @param {string} file */
function printTestCounts(file) {
  if (!existsSync(file)) return;
  try {
    const report = JSON.parse(readFileSync(file, 'utf8'));
    const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
    const counts = `${report.numPassedTests} passed, ${report.numFailedTests} failed`;
    // Alone on its line so CI can read the result whatever the runner's own summary looks like.
    process.stdout.write(`tests: ${counts}${skipped ? `, ${skipped} skipped` : ''}\n`);
  } catch {
    // a truncated report (vitest killed) has nothing reliable to count
  }
}

/**
 * @param {string} root
 * @param {string[]} args
 */
export async function benchCommand(root, args) {
  const runner = path.join(root, 'bench', 'run.ts');
  /** @type {string[]} */
  const files = existsSync(runner) ? [runner] : findBenches(root);
  if (files.length === 0) {
    say(
      'no benchmarks yet: neither bench/run.ts nor libs/*/bench/*.bench.ts or services/*/bench/*.bench.ts exist',
    );
    return 0;
  }
  // Remote mode (`--url`) drives a deployed gateway and starts nothing local, so it needs no Redis here.
  const remote = args.some((a) => a === '--url' || a.startsWith('--url='));
  /** @type {(fn: Parameters<typeof withRedis>[1]) => Promise<number>} */
  const withEnv = remote ? (fn) => withSignals(process.env, fn) : (fn) => withRedis(root, fn);
  return withEnv(async (env, track) => {
    for (const file of files) {
      const rel = path.relative(root, file);
      say(paint('bold', `▶ ${rel}`));
      const t0 = Date.now();
      const code = await run(process.execPath, [...TS_NODE_ARGS, rel, ...args], {
        cwd: root,
        env,
        onSpawn: track,
      });
      if (code !== 0) {
        fail(`✗ ${rel} failed (exit ${code}) after ${formatDuration(Date.now() - t0)}`);
        return code;
      }
      say(`✓ ${rel} finished in ${formatDuration(Date.now() - t0)}`);
    }
    return 0;
  });
}

/** @param {string} root */
function findBenches(root) {
  /** @type {string[]} */
  const found = [];
  for (const area of ['libs', 'services']) {
    const areaDir = path.join(root, area);
    if (!existsSync(areaDir)) continue;
    for (const pkg of readdirSync(areaDir).sort()) {
      const benchDir = path.join(areaDir, pkg, 'bench');
      if (!existsSync(benchDir)) continue;
      for (const file of readdirSync(benchDir).sort()) {
        if (file.endsWith('.bench.ts')) found.push(path.join(benchDir, file));
      }
    }
  }
  return found;
}
