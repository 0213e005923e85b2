// The Redis Cluster and Sentinel launchers against real redis-server, redis-cli and redis-sentinel processes:
// clients read and write through them, a killed master is replaced, and stop() leaves nothing behind.
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Cluster, Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type RedisClusterHandle,
  type RedisSentinelHandle,
  redisAnswers,
  startRedisCluster,
  startRedisSentinel,
  uniquePrefix,
  waitFor,
} from '../src/index.js';

const handles: Array<RedisClusterHandle | RedisSentinelHandle> = [];
const clients: Array<Redis | Cluster> = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.disconnect();
  for (const handle of handles.splice(0)) await handle.stop();
});

/** Whether a process with this pid exists (signal 0 checks without sending anything). */
function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** `host`/`port` pairs of `redis://` URLs, as ioredis takes seed nodes and sentinels. */
const endpoints = (urls: string[]) =>
  urls.map((url) => ({ host: new URL(url).hostname, port: Number(new URL(url).port) }));

/** After stop(): no pid left, no port answering, no directory. */
async function expectAllGone(pids: number[], ports: number[], dir: string): Promise<void> {
  expect(pids.filter(processExists)).toEqual([]);
  for (const port of ports) expect(await redisAnswers(`redis://127.0.0.1:${port}`)).toBe(false);
  expect(existsSync(dir)).toBe(false);
}

describe('startRedisCluster', () => {
  it('serves keys on every master, fails over a killed master and cleans up', async () => {
    const password = 'cluster "pw" with spaces';
    const cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1, password });
    handles.push(cluster);
    expect(cluster.nodes.filter((n) => n.role === 'master')).toHaveLength(3);
    const replicas = cluster.nodes.filter((n) => n.role === 'replica');
    expect(replicas).toHaveLength(3);
    expect(new Set(replicas.map((n) => n.masterPort)).size).toBe(3);
    expect(cluster.url).toBe(cluster.seedUrls.join(','));
    expect(cluster.seedUrls).toHaveLength(6);
    // The password is really required: a client without it is refused.
    const anonymous = new Redis(cluster.seedUrls[0]!, { lazyConnect: true, maxRetriesPerRequest: 0 });
    anonymous.on('error', () => {});
    clients.push(anonymous);
    await expect(anonymous.get('x')).rejects.toThrow(/NOAUTH/);

    const client = new Cluster(endpoints(cluster.seedUrls), {
      redisOptions: { password },
      retryDelayOnFailover: 100,
      retryDelayOnClusterDown: 100,
    });
    client.on('error', () => {});
    clients.push(client);
    const prefix = uniquePrefix('cluster');
    const keys = Array.from({ length: 30 }, (_, i) => `${prefix}:k${i}`);
    for (const key of keys) await client.set(key, `v-${key}`);
    for (const key of keys) expect(await client.get(key)).toBe(`v-${key}`);
    const owners = await Promise.all(keys.map((key) => cluster.masterOf(key)));
    expect(new Set(owners)).toEqual(
      new Set(cluster.nodes.filter((n) => n.role === 'master').map((n) => n.port)),
    );

    const victim = keys[0]!;
    // Make sure the replica has the key before its master dies (replication is asynchronous).
    for (const master of client.nodes('master')) expect(await master.call('WAIT', 1, 2000)).toBe(1);
    const killed = await cluster.killMaster({ forKey: victim });
    expect(killed).toBe(owners[0]);
    expect(cluster.nodes.find((n) => n.port === killed)?.alive).toBe(false);
    const heir = cluster.nodes.find((n) => n.masterPort === killed)!.port;
    const promoted = await cluster.waitForFailover(killed);
    expect(promoted).toBe(heir);
    expect(cluster.nodes.find((n) => n.port === promoted)?.role).toBe('master');
    expect(await cluster.masterOf(victim)).toBe(promoted);
    await waitFor(() => client.set(victim, 'after failover'), { timeoutMs: 10_000, message: 'a write' });
    expect(await client.get(victim)).toBe('after failover');
    expect(await client.get(keys[1]!)).toBe(`v-${keys[1]}`);

    const pids = cluster.nodes.map((n) => n.pid);
    await cluster.stop();
    await cluster.stop();
    await expectAllGone(
      pids,
      cluster.nodes.map((n) => n.port),
      cluster.dir,
    );
  }, 30_000);

  it('refuses fewer than 3 masters before starting anything', async () => {
    await expect(startRedisCluster({ masters: 2 })).rejects.toThrow(/at least 3 masters/);
  });
});

describe('startRedisSentinel', () => {
  it('serves the master through the sentinels, fails over a killed master and cleans up', async () => {
    const password = 'sentinel pw';
    const deployment = await startRedisSentinel({ replicas: 1, sentinels: 3, password });
    handles.push(deployment);
    expect(deployment.masterName).toBe('rtv-master');
    expect(deployment.sentinelUrls).toHaveLength(3);
    expect(deployment.url).toBe(deployment.sentinelUrls.join(','));
    expect(deployment.processes.map((p) => p.kind).sort()).toEqual([
      'sentinel',
      'sentinel',
      'sentinel',
      'server',
      'server',
    ]);

    const client = new Redis({
      sentinels: endpoints(deployment.sentinelUrls),
      name: deployment.masterName,
      password,
      failoverDetector: true,
    });
    client.on('error', () => {});
    clients.push(client);
    const prefix = uniquePrefix('sentinel');
    await client.set(`${prefix}:before`, 'kept');
    expect(await client.call('WAIT', 1, 2000)).toBe(1);
    const oldMaster = await deployment.masterPort();
    expect(await client.info('server')).toContain(`tcp_port:${oldMaster}`);

    const killed = await deployment.killMaster();
    expect(killed).toBe(oldMaster);
    const promoted = await deployment.waitForFailover(killed);
    expect(promoted).not.toBe(killed);
    expect(await deployment.masterPort()).toBe(promoted);
    await waitFor(() => client.set(`${prefix}:after`, 'written'), { timeoutMs: 10_000, message: 'a write' });
    expect(await client.info('server')).toContain(`tcp_port:${promoted}`);
    expect(await client.get(`${prefix}:before`)).toBe('kept');
    expect(await client.get(`${prefix}:after`)).toBe('written');

    const processes = deployment.processes;
    await deployment.stop();
    await deployment.stop();
    await expectAllGone(
      processes.map((p) => p.pid),
      processes.map((p) => p.port),
      deployment.dir,
    );
  }, 30_000);

  it('fails naming the Debian package when redis-sentinel is not on PATH', async () => {
    // A PATH holding redis-server (and node) but no redis-sentinel.
    const bin = mkdtempSync(path.join(os.tmpdir(), 'rtv-nosentinel-'));
    symlinkSync('/usr/bin/redis-server', path.join(bin, 'redis-server'));
    const savedPath = process.env.PATH;
    process.env.PATH = bin;
    try {
      await expect(startRedisSentinel()).rejects.toThrow(/redis-sentinel.*Debian package redis-sentinel/s);
    } finally {
      process.env.PATH = savedPath;
      rmSync(bin, { recursive: true, force: true });
    }
  });
});
