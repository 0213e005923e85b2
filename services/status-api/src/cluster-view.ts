import type { Keys } from '@rtv/bus';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';

export interface MemberView {
  id: string;
  [field: string]: string | number;
}

export interface ClusterView {
  gateways: MemberView[];
  workers: MemberView[];
  /** Registry entries whose heartbeat hash expired: excluded from counts, reported so operators see them. */
  stale: { gateways: string[]; workers: string[] };
  connections: number;
  sessions: number;
  capacity: number;
  queue: { waiting: number; active: number; delayed: number; failed: number };
}

/** How long a registry entry may go without a beat before it is pruned from the sorted set. */
const PRUNE_AFTER_MS = 5 * 60 * 1000;

/**
 * Reads the cluster's state from Redis: live members come from the registries (sorted sets scored by last
 * beat) and their heartbeat hashes; a member whose hash expired is stale. One pipeline per read.
 */
export async function readClusterView(redis: Redis, keys: Keys, queue: Queue): Promise<ClusterView> {
  const now = Date.now();
  await redis
    .multi()
    .zremrangebyscore(keys.gateways(), 0, now - PRUNE_AFTER_MS)
    .zremrangebyscore(keys.workers(), 0, now - PRUNE_AFTER_MS)
    .exec();
  const [gwIds, wkIds] = await Promise.all([
    redis.zrange(keys.gateways(), 0, -1),
    redis.zrange(keys.workers(), 0, -1),
  ]);
  const pipeline = redis.pipeline();
  for (const id of gwIds) pipeline.hgetall(keys.gateway(id));
  for (const id of wkIds) pipeline.hgetall(keys.worker(id));
  const results = (await pipeline.exec()) ?? [];
  const hashes = results.map(([, v]) => (v ?? {}) as Record<string, string>);
  const split = (ids: string[], offset: number) => {
    const live: MemberView[] = [];
    const stale: string[] = [];
    ids.forEach((id, i) => {
      const h = hashes[offset + i] ?? {};
      if (Object.keys(h).length === 0) stale.push(id);
      else live.push({ id, ...numeric(h) });
    });
    return { live, stale };
  };
  const gw = split(gwIds, 0);
  const wk = split(wkIds, gwIds.length);
  const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'failed');
  const sum = (members: MemberView[], field: string) =>
    members.reduce((acc, m) => acc + (typeof m[field] === 'number' ? (m[field] as number) : 0), 0);
  return {
    gateways: gw.live,
    workers: wk.live,
    stale: { gateways: gw.stale, workers: wk.stale },
    connections: sum(gw.live, 'connections'),
    sessions: sum(wk.live, 'sessions'),
    capacity: sum(wk.live, 'capacity'),
    queue: {
      waiting: counts.waiting ?? 0,
      active: counts.active ?? 0,
      delayed: counts.delayed ?? 0,
      failed: counts.failed ?? 0,
    },
  };
}

function numeric(h: Record<string, string>): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const [k, v] of Object.entries(h)) out[k] = /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v;
  return out;
}
