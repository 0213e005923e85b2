/**
 * The orchestrator's side of the load generators: forks them, sends each a request and gathers the
 * replies. Process i binds its client sockets to 127.0.0.<10+i>, so every process has its own ephemeral
 * port range toward the server under test.
 */
import { type ChildProcess, fork } from 'node:child_process';
import path from 'node:path';
import { type Probe, pidProbe } from '../lib/proc-stats.js';
import { REPO_ROOT } from '../lib/processes.js';
import type { LoadReply, LoadRequest } from './child.js';

const CHILD = path.join(REPO_ROOT, 'bench', 'load', 'child.ts');

export class LoadPool {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  private constructor(private readonly children: ChildProcess[]) {
    for (const child of children) {
      child.on('message', (reply: LoadReply) => {
        const w = this.waiting.get(reply.id);
        if (!w) return;
        this.waiting.delete(reply.id);
        if (reply.ok) w.resolve(reply.result);
        else w.reject(new Error(reply.error ?? 'load generator failed'));
      });
      child.once('exit', (code, signal) => {
        for (const [id, w] of this.waiting) {
          this.waiting.delete(id);
          w.reject(new Error(`a load generator exited (${signal ?? code})`));
        }
      });
    }
  }

  static async start(count: number): Promise<LoadPool> {
    const children = Array.from({ length: count }, () =>
      fork(CHILD, [], {
        cwd: REPO_ROOT,
        execArgv: ['--conditions=source', '--import', 'tsx'],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      }),
    );
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((resolve, reject) => {
            c.once('spawn', () => resolve());
            c.once('error', reject);
          }),
      ),
    );
    return new LoadPool(children);
  }

  get size(): number {
    return this.children.length;
  }

  /** Source address for process `i`. */
  localAddress(i: number): string {
    return `127.0.0.${10 + i}`;
  }

  probes(): Probe[] {
    return this.children.map((c, i) => pidProbe(`loadgen-${i + 1}`, 'loadgen', c.pid ?? -1));
  }

  /** Sends `request(i)` to every process (skipping those for which it returns undefined) and awaits all. */
  async all<T>(request: (i: number) => LoadRequest | undefined): Promise<T[]> {
    const calls: Array<Promise<T>> = [];
    this.children.forEach((child, i) => {
      const req = request(i);
      if (req) calls.push(this.call<T>(child, req));
    });
    return Promise.all(calls);
  }

  /** Splits `total` over the processes as evenly as possible: [firstIndex, count] per process. */
  shares(total: number): Array<{ firstIndex: number; count: number }> {
    const n = this.children.length;
    return this.children.map((_, i) => {
      const firstIndex = Math.floor((total * i) / n);
      return { firstIndex, count: Math.floor((total * (i + 1)) / n) - firstIndex };
    });
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            c.once('exit', () => resolve());
            c.disconnect();
            setTimeout(() => c.kill('SIGKILL'), 5000).unref();
          }),
      ),
    );
  }

  private call<T>(child: ChildProcess, req: LoadRequest): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      child.send({ id, req });
    });
  }
}
