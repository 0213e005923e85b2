// A redis-server of a test's or benchmark's own, on a fixed loopback port, so it can be killed and brought back
// where every service expects it: empty (a new directory; a Redis that lost everything, or a replica promoted
// without the last writes) or, with persistence, with the data of its append-only file.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Whether a Redis answers PING at `url` right now (no retries). */
export async function redisAnswers(url: string): Promise<boolean> {
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => {});
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

const started = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of started) child.kill('SIGKILL');
});

/** One redis-server process on `port`; `persistent` keeps an append-only file written on every command. */
export class PrivateRedis {
  private child: ChildProcess | undefined;
  private readonly dirs: string[] = [];

  constructor(
    readonly port: number,
    readonly persistent: boolean,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** The running server's pid, or undefined while it is down. */
  get pid(): number | undefined {
    return this.child?.exitCode === null && this.child.signalCode === null ? this.child.pid : undefined;
  }

  /**
   * Starts the server and waits until it answers: in a fresh directory unless it is persistent and has one
   * (`empty`: a fresh one anyway, as a replica that lost everything).
   */
  async start(opts: { empty?: boolean } = {}): Promise<void> {
    if (!this.persistent || this.dirs.length === 0 || opts.empty) {
      this.dirs.push(mkdtempSync(path.join(os.tmpdir(), 'rtv-soak-redis-')));
    }
    const durability = this.persistent
      ? ['--appendonly', 'yes', '--appendfsync', 'always']
      : ['--appendonly', 'no'];
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', ...durability];
    const child = spawn('redis-server', [...args, '--dir', this.dirs.at(-1)!], { stdio: 'ignore' });
    started.add(child);
    child.once('exit', () => started.delete(child));
    const failed = new Promise<Error>((resolve) => child.once('error', resolve));
    this.child = child;
    const deadline = Date.now() + 15_000;
    while (!(await redisAnswers(this.url))) {
      const error = await Promise.race([failed, sleep(100).then(() => undefined)]);
      if (error) throw new Error(`redis-server did not start (${error.message}); is it on PATH?`);
      if (child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`redis-server on port ${this.port} did not come up`);
      }
    }
  }

  /** SIGKILL: no shutdown save, clients see their connections drop. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    await this.kill();
    for (const dir of this.dirs) rmSync(dir, { recursive: true, force: true });
  }
}
