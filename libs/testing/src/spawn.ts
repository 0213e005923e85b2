// Real service processes for integration tests: `node --conditions=source --import tsx <entry>`, ready
// when its readiness URL answers 200, output kept for the failure message, killed on stop.
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: entries are resolved from it and `--import tsx` is resolved from its node_modules. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** Keeps failure messages readable while still showing the end of a long log. */
const OUTPUT_LIMIT = 64 * 1024;

export interface SpawnServiceOptions {
  /** Polled until it answers 200; usually the admin port's `/readyz`. */
  readyUrl: string;
  /**
   * How long the service may take to become ready (tsx compiles on first start).
   * @defaultValue 20000
   */
  timeoutMs?: number;
  /**
   * Directory the entry is resolved from and the child runs in.
   * @defaultValue the repository root
   */
  cwd?: string;
  /** Extra `node` flags, e.g. `--cpu-prof`. */
  nodeArgs?: string[];
}

export interface SpawnedService {
  child: ChildProcess;
  pid: number;
  /** stdout and stderr so far, interleaved (the last 64 KiB). */
  output(): string;
  /** Resolves with the exit code (or signal name) when the process ends. */
  exited: Promise<number | NodeJS.Signals | null>;
  /**
   * Sends `signal`, waits up to `timeoutMs` for the exit, then SIGKILLs. Resolves with the exit code or
   * signal. Idempotent.
   */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | NodeJS.Signals | null>;
}

/** Processes still running, killed if the test process exits without stopping them. */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/**
 * Starts `entry` (a path relative to `cwd`, e.g. `services/gateway/src/main.ts`) with `env` added to the
 * current environment and resolves once `readyUrl` answers 200. Rejects with the service's output if it
 * exits or is not ready in time (and kills it).
 */
export async function spawnService(
  entry: string,
  env: Record<string, string | undefined>,
  { readyUrl, timeoutMs = 20_000, cwd = REPO_ROOT, nodeArgs = [] }: SpawnServiceOptions,
): Promise<SpawnedService> {
  const child = spawn(process.execPath, [...nodeArgs, '--conditions=source', '--import', 'tsx', entry], {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  let output = '';
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
    if (output.length > OUTPUT_LIMIT) output = output.slice(-OUTPUT_LIMIT);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<number | NodeJS.Signals | null>((resolve) => {
    child.once('exit', (code, signal) => {
      live.delete(child);
      resolve(code ?? signal);
    });
    child.once('error', (err) => {
      live.delete(child);
      output += `\nspawn failed: ${err.message}`;
      resolve(null);
    });
  });

  let stopping: Promise<number | NodeJS.Signals | null> | undefined;
  const stop = (signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000) => {
    stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(signal);
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        try {
          return await exited;
        } finally {
          clearTimeout(timer);
        }
      }
      return exited;
    })();
    return stopping;
  };

  const label = path.basename(path.dirname(path.dirname(entry))) || entry;
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  const deadline = Date.now() + timeoutMs;
  while (!gone) {
    try {
      const res = await fetch(readyUrl, { signal: AbortSignal.timeout(1000) });
      await res.body?.cancel();
      if (res.status === 200) {
        return { child, pid: child.pid ?? -1, output: () => output, exited, stop };
      }
    } catch {
      // not listening yet
    }
    if (Date.now() >= deadline) {
      await stop('SIGKILL');
      throw new Error(`${label} was not ready at ${readyUrl} within ${timeoutMs} ms. Output:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const code = await exited;
  throw new Error(`${label} exited (${code}) before it was ready at ${readyUrl}. Output:\n${output}`);
}

/** How a service process that was expected to stop on its own ended. */
export interface ServiceExit {
  /** Exit code; null when it was killed at the deadline. */
  code: number | null;
  /** Its stdout and stderr, interleaved. */
  output: string;
}

/**
 * Runs a service entry (from the repository root, `env` added to this process's environment) until it exits
 * on its own, e.g. refusing a bad configuration; killed after `timeoutMs`.
 */
export function runServiceToExit(
  entry: string,
  env: Record<string, string>,
  timeoutMs = 20_000,
): Promise<ServiceExit> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', entry], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}
