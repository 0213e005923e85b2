/**
 * The processes a benchmark run starts (services, the baseline relay, the local engine): plain
 * `node --conditions=source --import tsx <entry>` children, each ready when its URL answers, stopped with
 * SIGTERM (so `--cpu-prof` profiles are written) and SIGKILLed if they overstay.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The tail of a process's output kept for error messages. */
const OUTPUT_LIMIT = 32 * 1024;
/** A process's whole output kept for its log file in the run folder; past it the rest is counted, not kept. */
const LOG_LIMIT = 16 * 1024 * 1024;

export interface LaunchOptions {
  /** Polled until it answers with one of `readyStatuses`. */
  readyUrl: string;
  /**
   * Statuses that mean "up". The local engine has no health route: 426 on its WebSocket path says it listens.
   * @defaultValue [200]
   */
  readyStatuses?: number[];
  /** tsx compiles on first start, so a loaded machine needs a generous bound. @defaultValue 90000 */
  timeoutMs?: number;
  /** Extra `node` flags, e.g. `--cpu-prof`. */
  nodeArgs?: string[];
}

export interface Launched {
  readonly name: string;
  readonly pid: number;
  /** The last 32 KB of its output (stdout and stderr), for error messages. */
  output(): string;
  /** Its whole output from the start (up to 16 MiB, then a line saying how much more there was), for its log file. */
  log(): string;
  readonly exited: Promise<number | string | null>;
  /** SIGTERM, then SIGKILL after `graceMs`. Resolves with the exit code or signal. Idempotent. */
  stop(graceMs?: number): Promise<number | string | null>;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** Kills every process started here that is still running (used on Ctrl-C). */
export function killAllLaunched(): void {
  for (const child of live) child.kill('SIGKILL');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function launch(
  name: string,
  entry: string,
  env: Record<string, string>,
  { readyUrl, readyStatuses = [200], timeoutMs = 90_000, nodeArgs = [] }: LaunchOptions,
): Promise<Launched> {
  const child = spawn(process.execPath, [...nodeArgs, '--conditions=source', '--import', 'tsx', entry], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  let output = '';
  const logChunks: Buffer[] = [];
  let logBytes = 0;
  let logDropped = 0;
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-OUTPUT_LIMIT);
    if (logBytes + chunk.length <= LOG_LIMIT) {
      logChunks.push(chunk);
      logBytes += chunk.length;
    } else logDropped += chunk.length;
  };
  const log = () =>
    Buffer.concat(logChunks).toString() +
    (logDropped > 0 ? `\n[bench] ${logDropped} more bytes of output not kept (the log keeps 16 MiB)\n` : '');
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<number | string | null>((resolve) => {
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
  let gone = false;
  void exited.then(() => {
    gone = true;
  });

  let stopping: Promise<number | string | null> | undefined;
  const stop = (graceMs = 15_000) => {
    stopping ??= (async () => {
      if (!gone) {
        child.kill('SIGTERM');
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

  const deadline = Date.now() + timeoutMs;
  while (!gone) {
    try {
      const res = await fetch(readyUrl, { signal: AbortSignal.timeout(1000) });
      await res.body?.cancel();
      if (readyStatuses.includes(res.status)) {
        return { name, pid: child.pid ?? -1, output: () => output, log, exited, stop };
      }
    } catch {
      // not listening yet
    }
    if (Date.now() >= deadline) {
      await stop(0);
      throw new Error(`${name} was not ready at ${readyUrl} within ${timeoutMs} ms. Output:\n${output}`);
    }
    await sleep(150);
  }
  throw new Error(`${name} exited (${await exited}) before it was ready. Output:\n${output}`);
}

/** GET a JSON body (admin `/healthz`, the relay's `/readyz`); undefined when it does not answer. */
export async function getJson(url: string): Promise<Record<string, unknown> | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    return (await res.json()) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** Polls `read` until `done` holds or `timeoutMs` passes; resolves with the last value read. */
export async function pollUntil<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs: number,
  everyMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (!done(value) && Date.now() < deadline) {
    await sleep(everyMs);
    value = await read();
  }
  return value;
}
