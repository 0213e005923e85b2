// The compose `cluster` profile's Redis Cluster without Docker: redis-server processes started from the same
// node configuration (deploy/compose/redis-cluster-node.conf) on free loopback ports, joined by the same
// one-shot script (deploy/compose/redis-cluster-init.sh) the profile's redis-cluster-init service runs.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, redisAnswers } from '@rtv/testing';
import { REPO_ROOT } from './helm.js';

export const CLUSTER_NODE_CONF = path.join(REPO_ROOT, 'deploy/compose/redis-cluster-node.conf');
export const CLUSTER_INIT_SCRIPT = path.join(REPO_ROOT, 'deploy/compose/redis-cluster-init.sh');

/** Cluster-mode nodes that are running but not yet joined; `stop()` kills them and removes their files. */
export interface ComposeClusterNodes {
  /** Client port of each node, in start order. */
  ports: number[];
  /** Their stdout and stderr so far, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

/** Distinct free ports (a node needs a client port and a cluster bus port). */
async function distinctFreePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

/**
 * Starts `count` redis-server processes with the compose node configuration, each announcing 127.0.0.1 (the
 * compose nodes announce their container names), and resolves once every one answers PING.
 */
export async function startComposeClusterNodes(count: number): Promise<ComposeClusterNodes> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rtv-compose-cluster-'));
  const ports = await distinctFreePorts(count * 2);
  const children: ChildProcess[] = [];
  let output = '';
  const clientPorts = ports.slice(0, count);
  clientPorts.forEach((port, i) => {
    const child = spawn(
      'redis-server',
      [
        CLUSTER_NODE_CONF,
        ...['--port', String(port), '--cluster-port', String(ports[count + i])],
        ...['--dir', dir, '--cluster-config-file', `nodes-${port}.conf`, '--bind', '127.0.0.1'],
        ...['--cluster-announce-hostname', '127.0.0.1'],
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const collect = (chunk: Buffer) => (output += chunk.toString());
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    child.on('error', (err) => (output += `\nspawn failed: ${err.message}`));
    children.push(child);
  });
  const stop = async () => {
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGKILL');
          }),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 10_000;
  for (const port of clientPorts) {
    while (!(await redisAnswers(`redis://127.0.0.1:${port}`))) {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`cluster node on port ${port} did not start: ${output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return { ports: clientPorts, output: () => output, stop };
}

/** Runs deploy/compose/redis-cluster-init.sh as the compose service does, with its environment. */
export function runClusterInit(env: Record<string, string>): { status: number | null; output: string } {
  const res = spawnSync('sh', [CLUSTER_INIT_SCRIPT], {
    env: { PATH: process.env.PATH, ...env },
    encoding: 'utf8',
    timeout: 90_000,
  });
  return { status: res.status, output: `${res.stdout}${res.stderr}` };
}
