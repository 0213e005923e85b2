// Runs the bench as `npm run bench` does, in a child process, for the bench's own tests.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';
import { REPO_ROOT } from '../lib/processes.js';
import type { BenchResults } from '../report/types.js';

/**
 * Runs `script` (the bench by default) with `args` and `env` added to this process's environment; resolves with
 * its exit code and everything it printed.
 */
export function runBench(
  args: string[],
  script = 'bench/run.ts',
  env: Record<string, string> = {},
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', script, ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const keep = (b: Buffer) => {
      output += b;
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.once('exit', (code) => resolve({ code, output }));
  });
}

/** A temporary folder for a test's bench output, removed after the file's tests. */
export function benchOutDir(label: string): string {
  const out = mkdtempSync(path.join(os.tmpdir(), `rtv-bench-${label}-`));
  afterAll(() => rmSync(out, { recursive: true, force: true }));
  return out;
}

/** The one run folder a bench wrote into `out`: a reader of its files and its parsed results.json. */
export function readRun(out: string): { read: (name: string) => string; results: BenchResults } {
  const [dir] = readdirSync(out);
  const read = (name: string) => readFileSync(path.join(out, dir!, name), 'utf8');
  return { read, results: JSON.parse(read('results.json')) as BenchResults };
}
