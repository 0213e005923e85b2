/**
 * The Redis a voice run's stack uses, as a list of servers to measure one by one: the runner's own Redis, or a
 * 3-master Redis Cluster (no replicas) the run starts for itself with `--redis cluster`. Each server is read
 * directly (INFO is per node on a cluster), so a step reports commands, network bytes and CPU per master and
 * shows how the frame traffic spreads over them.
 */

import { createRedis } from '@rtv/bus';
import { deleteKeysWithPrefix, type RedisClusterHandle, startRedisCluster } from '@rtv/testing';
import { type Cluster, Redis } from 'ioredis';
import type { RedisNodeStat, VoiceRedis } from '../report/types.js';
import { infoField, type Probe, pidProbe } from './proc-stats.js';
import { commandsPerFrame, redisCommandCalls } from './runtime-stats.js';

/** Frames of 20 ms in one second of one session's audio. */
export const FRAMES_PER_VOICE_SECOND = 50;

/** One Redis server under measurement. */
export interface RedisNode {
  readonly name: string;
  readonly port: number | null;
  readonly probe: Probe;
  /** Runs INFO on this server only. */
  info(section: string): Promise<string>;
}

/** What a voice run hands its stack and measures: where Redis is, how to reach it, and its servers. */
export interface RedisUnderTest {
  readonly mode: VoiceRedis;
  /** `REDIS_URL` for the services: one URL, or the cluster's seed nodes joined with commas. */
  readonly url: string;
  /** Environment the services need on top of `REDIS_URL` (`RTV_REDIS_MODE=cluster`). */
  readonly env: Record<string, string>;
  /** A client of the whole deployment, for deleting a stack's keys afterwards. */
  readonly client: Redis | Cluster;
  readonly nodes: RedisNode[];
  /** Stops what this started (the cluster and its connections); nothing for the runner's Redis. */
  stop(): Promise<void>;
}

/** The runner's own Redis, measured through the connection and probe it already has. */
export function singleRedis(url: string, redis: Redis | Cluster, probe: Probe): RedisUnderTest {
  return {
    mode: 'single',
    url,
    env: {},
    client: redis,
    nodes: [{ name: probe.name, port: null, probe, info: (section) => redis.info(section) }],
    stop: async () => {},
  };
}

/**
 * Starts a Redis Cluster of 3 masters without replicas on loopback ports (a replica would add the replication
 * stream to each master's load, which a sizing figure per master should state apart), with one INFO connection
 * per master and a cluster client for key cleanup.
 */
export async function startClusterRedis(): Promise<RedisUnderTest> {
  const cluster: RedisClusterHandle = await startRedisCluster({ masters: 3, replicasPerMaster: 0 });
  const direct: Redis[] = [];
  let client: Cluster | undefined;
  try {
    const masters = (await cluster.refreshRoles()).filter((n) => n.role === 'master');
    const nodes = masters.map((node, i): RedisNode => {
      const redis = new Redis({ host: '127.0.0.1', port: node.port, maxRetriesPerRequest: 1 });
      redis.on('error', () => {});
      direct.push(redis);
      return {
        name: `redis-m${i + 1}`,
        port: node.port,
        probe: pidProbe(`redis-m${i + 1}`, 'redis', node.pid, false),
        info: (section) => redis.info(section),
      };
    });
    // The stack's own factory, as the services connect to this cluster; the per-master connections above are
    // the operator's view of one node each (INFO for CPU and memory), which no cluster client gives.
    client = createRedis(cluster.url, {
      name: 'rtv-bench',
      role: 'producer',
      topology: { mode: 'cluster' },
      credentials: {},
    }) as Cluster;
    const clusterClient = client;
    return {
      mode: 'cluster',
      url: cluster.url,
      env: { RTV_REDIS_MODE: 'cluster' },
      client: clusterClient,
      nodes,
      async stop() {
        clusterClient.disconnect();
        for (const redis of direct) redis.disconnect();
        await cluster.stop();
      },
    };
  } catch (err) {
    client?.disconnect();
    for (const redis of direct) redis.disconnect();
    await cluster.stop();
    throw err;
  }
}

/** Deletes a stack's keys from every master (see `deleteKeysWithPrefix`). */
export function deleteStackKeys(redis: RedisUnderTest, prefix: string): Promise<number> {
  return deleteKeysWithPrefix(redis.client, prefix);
}

/** Cumulative counters of one server: calls per command and network bytes since it started. */
export interface RedisNodeSample {
  calls: Record<string, number>;
  netInBytes: number;
  netOutBytes: number;
}

/** Reads every node's counters at once (the start or the end of a window). */
export function sampleNodes(nodes: RedisNode[]): Promise<RedisNodeSample[]> {
  return Promise.all(
    nodes.map(async (node) => {
      const [calls, stats] = await Promise.all([redisCommandCalls(node), node.info('stats')]);
      return {
        calls,
        netInBytes: infoField(stats, 'total_net_input_bytes'),
        netOutBytes: infoField(stats, 'total_net_output_bytes'),
      };
    }),
  );
}

/** Adds up the command calls of several servers (the whole deployment's commands). */
export function totalCalls(samples: RedisNodeSample[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of samples) {
    for (const [cmd, n] of Object.entries(s.calls)) out[cmd] = (out[cmd] ?? 0) + n;
  }
  return out;
}

const round = (n: number, digits: number) => Math.round(n * 10 ** digits) / 10 ** digits;

/**
 * Each node's figures over a window that echoed `received` frames; `cpuSeconds` maps a node's name to its
 * process CPU over the same window (the meter's reading).
 */
export function nodeStats(
  nodes: RedisNode[],
  before: RedisNodeSample[],
  after: RedisNodeSample[],
  cpuSeconds: (name: string) => number,
  received: number,
): RedisNodeStat[] {
  const voiceSeconds = received / FRAMES_PER_VOICE_SECOND;
  const perVoiceSecond = (n: number, digits: number) =>
    voiceSeconds > 0 ? round(n / voiceSeconds, digits) : 0;
  return nodes.map((node, i) => {
    const start = before[i]!;
    const end = after[i]!;
    const calls = Object.entries(end.calls).reduce((t, [cmd, n]) => t + n - (start.calls[cmd] ?? 0), 0);
    const cpu = cpuSeconds(node.name);
    return {
      name: node.name,
      port: node.port,
      commandsPerFrame: commandsPerFrame(start.calls, end.calls, received),
      commandsPerVoiceSecond: perVoiceSecond(calls, 2),
      netInBytesPerVoiceSecond: perVoiceSecond(end.netInBytes - start.netInBytes, 0),
      netOutBytesPerVoiceSecond: perVoiceSecond(end.netOutBytes - start.netOutBytes, 0),
      cpuSeconds: round(cpu, 3),
      cpuUsPerVoiceSecond: perVoiceSecond(cpu * 1e6, 1),
    };
  });
}
