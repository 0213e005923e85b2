// A container engine (podman or docker) driven through its CLI, for the tests that run the real images.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from './helm.js';

export interface CommandResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** What a run of a command printed, for assertion messages. */
export const printed = (res: CommandResult) => `${res.stdout}\n${res.stderr}`.trim();

/** Runs a command to its end without blocking the event loop (the test keeps a WebSocket going meanwhile). */
export function runCommand(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd ?? REPO_ROOT,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    child.once('close', (status) => resolve({ status, stdout, stderr }));
  });
}

export type EngineName = 'podman' | 'docker';

/**
 * The engine `npm run images` picks (it says which: `--which-engine`), or why there is none. Docker when its
 * daemon answers and its CLI can build with BuildKit, else podman; the script also writes podman's
 * containers.conf where it is missing, without which containers fail to start on this kind of host.
 */
export function detectEngine(): { engine: ContainerEngine } | { reason: string } {
  const res = spawnSync(process.execPath, [path.join(REPO_ROOT, 'scripts/images.mjs'), '--which-engine'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 60_000,
  });
  const name = res.stdout.trim().split('\n').at(-1);
  if (res.status === 0 && (name === 'docker' || name === 'podman'))
    return { engine: new ContainerEngine(name) };
  const why = `${res.stdout}${res.stderr}`.trim().split('\n').filter(Boolean).join('; ');
  return {
    reason: `${why || `scripts/images.mjs --which-engine exited ${res.status}`}; install podman (Debian: podman buildah podman-compose debootstrap) or start Docker`,
  };
}

export class ContainerEngine {
  constructor(readonly name: EngineName) {}

  run(args: string[], options: { env?: NodeJS.ProcessEnv } = {}): Promise<CommandResult> {
    return runCommand(this.name, args, options);
  }

  /** Runs and insists on exit 0, returning stdout trimmed. */
  async ok(args: string[]): Promise<string> {
    const res = await this.run(args);
    if (res.status !== 0)
      throw new Error(`${this.name} ${args.join(' ')} exited ${res.status}: ${printed(res)}`);
    return res.stdout.trim();
  }

  async inspect(object: string, format: string): Promise<string> {
    return this.ok(['inspect', '--format', format, object]);
  }

  /** The address of a container on one of its networks, reachable from this (Linux) host. */
  async address(container: string, network: string): Promise<string> {
    return this.inspect(container, `{{(index .NetworkSettings.Networks "${network}").IPAddress}}`);
  }

  /** Removes containers and networks, ignoring those already gone (cleanup must not throw). */
  async remove(containers: string[], networks: string[] = []): Promise<void> {
    if (containers.length > 0) await this.run(['rm', '--force', ...containers]);
    if (networks.length > 0) await this.run(['network', 'rm', ...networks]);
  }
}

/**
 * A lock held by one test process on this machine at a time (a directory, created atomically, with the holder's
 * pid; a holder that died leaves a stale lock, which is taken over). For what cannot be shared between two runs
 * of the same test: the fixed host ports the compose file publishes.
 */
export async function machineLock(name: string, timeoutMs: number): Promise<() => void> {
  const dir = path.join(os.tmpdir(), `${name}.lock`);
  const pidFile = path.join(dir, 'pid');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      mkdirSync(dir);
      writeFileSync(pidFile, String(process.pid));
      return () => rmSync(dir, { recursive: true, force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = readPid(pidFile);
    if (Number.isInteger(holder) && !processAlive(holder)) {
      rmSync(dir, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`${dir} still held by pid ${holder} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 2_000));
  }
}

/** The pid in the file; NaN while the holder has not written it yet (or the lock just went away). */
function readPid(file: string): number {
  try {
    return Number(readFileSync(file, 'utf8') || Number.NaN);
  } catch {
    return Number.NaN;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
