// `npm start` itself, as a test runs it: the real launcher (scripts/launcher.mjs start) on free ports, against the
// test Redis under a private key prefix, stopped at the end as a terminal's Ctrl-C would, and every service it
// started killed if it does not stop in time.
import { type ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, type TestRedis, waitFor } from '@rtv/testing';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** Whether `port` can be listened on right now. */
function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A base such that base+1 … base+workers (the workers' admin ports) are free. */
async function freeWorkerAdminBase(workers: number): Promise<number> {
  for (;;) {
    const first = await freePort();
    let free = first + workers - 1 < 65535;
    for (let i = 1; free && i < workers; i++) free = await portIsFree(first + i);
    if (free) return first - 1;
  }
}

export interface LauncherPorts {
  gateway: number;
  gatewayAdmin: number;
  status: number;
  demo: number;
  /** Worker n (1-based) serves its admin port at workerBase + n. */
  workerBase: number;
}

/** A running `npm start`. */
export interface RunningLauncher {
  readonly process: ChildProcess;
  readonly ports: LauncherPorts;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  /** SIGTERM to its process group (Ctrl-C), then SIGKILL to it and every service it printed after 20 s. */
  stop(): Promise<void>;
}

/**
 * Starts `npm start`'s launcher with `workers` session workers on free ports and waits for its "Ctrl-C" line (the
 * stack is up). `env` adds to or overrides the inherited environment (OPENAI_API_KEY is cleared: local engine).
 */
export async function startLauncher(
  redis: TestRedis,
  opts: { workers?: number; env?: Record<string, string | undefined> } = {},
): Promise<RunningLauncher> {
  const workers = opts.workers ?? 1;
  const [gateway, gatewayAdmin, status, demo] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  const ports: LauncherPorts = {
    gateway: gateway!,
    gatewayAdmin: gatewayAdmin!,
    status: status!,
    demo: demo!,
    workerBase: await freeWorkerAdminBase(workers),
  };
  const child = spawn(process.execPath, [path.join(repoRoot, 'scripts', 'launcher.mjs'), 'start'], {
    cwd: repoRoot,
    env: {
      ...process.env,
      NO_COLOR: '1',
      FORCE_COLOR: undefined,
      OPENAI_API_KEY: '',
      REDIS_URL: redis.url,
      RTV_REDIS_PREFIX: redis.prefix,
      RTV_LOG_LEVEL: 'warn',
      RTV_WORKERS: String(workers),
      RTV_GATEWAY_PORT: String(ports.gateway),
      RTV_GATEWAY_ADMIN_PORT: String(ports.gatewayAdmin),
      RTV_STATUS_PORT: String(ports.status),
      RTV_DEMO_PORT: String(ports.demo),
      RTV_WORKER_ADMIN_PORT_BASE: String(ports.workerBase),
      ...opts.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, so the end of the test can signal the launcher alone, as a terminal would.
    detached: true,
  });
  let out = '';
  child.stdout?.on('data', (b) => {
    out += b;
  });
  child.stderr?.on('data', (b) => {
    out += b;
  });
  const stop = async () => {
    if (child.pid === undefined || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    process.kill(-child.pid, 'SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))]);
    // If it did not stop in time: the launcher and each service it printed (services lead their own groups).
    const printed = [...out.matchAll(/\(pid (\d+)\)/g)].map((m) => Number(m[1]));
    for (const pid of [child.pid, ...printed]) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  };
  try {
    await waitFor(
      () => {
        if (child.exitCode !== null) throw new Error(`launcher exited early:\n${out}`);
        return out.includes('Ctrl-C');
      },
      { timeoutMs: 90_000, intervalMs: 100, message: 'the stack is up' },
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { process: child, ports, output: () => out, stop };
}
