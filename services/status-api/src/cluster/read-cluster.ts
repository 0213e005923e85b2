import { isCluster, type Keys, type RedisClient } from '@rtv/bus';
import type { Queue } from 'bullmq';
import { STREAM_LAG_SCRIPT } from './scripts.js';

/**
 * What the status API knows about the cluster at one instant, read from Redis. Field names are snake_case
 * because this is also the JSON of `GET …/status` (see `schemas.ts`).
 */
export interface ClusterSnapshot {
  /** When the read started (Unix ms, this process's clock). */
  read_at_ms: number;
  /** How long the read took, in seconds. */
  read_duration_seconds: number;
  gateways: GatewayView[];
  workers: WorkerView[];
  /** Registry entries whose heartbeat hash expired: excluded from every count, listed so operators see them. */
  stale: { gateways: StaleMember[]; workers: StaleMember[] };
  /** Client connections on live gateways. */
  connections: number;
  /** Sessions owned by live workers. */
  sessions: number;
  /** Session slots of live workers, draining ones included. */
  capacity: number;
  /** Free session slots of live workers that are not draining: what new sessions can use right now. */
  free_capacity: number;
  queue: QueueView;
}

export interface MemberBase {
  id: string;
  /** The member announced that it is shutting down: it serves what it has but takes nothing new. */
  draining: boolean;
  version: string | null;
  /** Seconds since the member's last heartbeat. */
  heartbeat_age_seconds: number;
  /** The member's own stream (a gateway's out-stream, a worker's in-stream); null when it does not exist. */
  stream: StreamView | null;
}

export interface GatewayView extends MemberBase {
  connections: number;
  port: number | null;
}

export interface WorkerView extends MemberBase {
  sessions: number;
  capacity: number;
  /** `openai`, `azure` or `local-engine`. */
  provider: string | null;
  /** The realtime model (or Azure deployment) the worker opens provider sessions with. */
  model?: string | null;
  /** Whether the worker's last provider connect succeeded; null when the worker does not report it. */
  provider_ok: boolean | null;
  /**
   * Why the worker's provider connects fail (`model_unavailable`, `auth_failed`, `shape_unsupported`,
   * `unavailable`); null when they do not, or when the worker does not report it.
   */
  provider_error?: string | null;
}

export interface StreamView {
  /** Entries in the stream (XLEN): consumed ones the reader has not trimmed yet included. */
  length: number;
  /** Id of the newest entry; null when the stream is empty. */
  last_entry_id: string | null;
  /** The last entry id the reader delivered, from its heartbeat (`read_id`); null when it does not report one. */
  read_id: string | null;
  /** Entries after `read_id` (counted up to the cap, see `lag_capped`); null when `read_id` is unknown. */
  lag_entries: number | null;
  /** True when `lag_entries` hit the count cap: the real backlog is at least that. */
  lag_capped: boolean;
  /** Age in seconds of the oldest entry the reader has not delivered; 0 when caught up; null when unknown. */
  lag_seconds: number | null;
}

export interface StaleMember {
  id: string;
  /** Seconds since the last heartbeat recorded in the registry. */
  last_beat_age_seconds: number;
}

export interface QueueView {
  /** Sessions waiting for a worker. */
  waiting: number;
  /** Sessions owned by a worker (the active job is the lease). */
  active: number;
  delayed: number;
  prioritized: number;
  paused: number;
  failed: number;
  /** Active sessions whose owner stopped renewing the lease: they are about to fail over. */
  stalled: number;
}

export interface ClusterReaderOptions {
  redis: RedisClient;
  keys: Keys;
  queue: Queue;
  /**
   * Unread stream entries counted per stream. Counting happens inside Redis but is still linear, so it is
   * capped; a reader that far behind is in trouble either way. @defaultValue 1000
   */
  lagCountCap?: number;
  /** Active jobs inspected for a missing lock per read (bounds the stalled count's cost). @defaultValue 10000 */
  stalledScanCap?: number;
  /**
   * Registry entries without a beat for this long are removed from the registries (their hashes expired long
   * ago); until then they are reported as stale. @defaultValue 300000
   */
  pruneAfterMs?: number;
  now?: () => number;
}

const STREAM_ID = /^\d+-\d+$/;

/** What STREAM_LAG_SCRIPT returns: length, newest id, unread count, oldest unread id. */
type StreamLagReply = [number, string, number, string];

/**
 * Reads the cluster's state from Redis: members from the registries (sorted sets scored by last beat) and
 * their heartbeat hashes, each member's stream length and lag, and the session queue. Three steps, whatever
 * the cluster size: prune + registries; every hash; stream scripts + stalled count, with BullMQ's counts.
 * On a Redis Cluster the registries and hashes share the `{members}` slot and BullMQ's keys the tagged queue
 * prefix's, so those stay one MULTI, pipeline or EXISTS; each stream is a slot of its own, so the stream
 * scripts go as single commands there (grouped per node by the client).
 */
export class ClusterReader {
  private readonly lagCountCap: number;
  private readonly stalledScanCap: number;
  private readonly pruneAfterMs: number;
  private readonly now: () => number;

  constructor(private readonly opts: ClusterReaderOptions) {
    this.lagCountCap = opts.lagCountCap ?? 1000;
    this.stalledScanCap = opts.stalledScanCap ?? 10_000;
    this.pruneAfterMs = opts.pruneAfterMs ?? 5 * 60_000;
    this.now = opts.now ?? Date.now;
  }

  async read(): Promise<ClusterSnapshot> {
    const { keys } = this.opts;
    const started = this.now();
    const startedPerf = performance.now();
    const [gwEntries, wkEntries] = await this.registries(started);
    const [gw, wk] = await Promise.all([
      this.hashes(gwEntries, keys.gateway),
      this.hashes(wkEntries, keys.worker),
    ]);
    // Streams are read for live members only: a stale member's stream expires with it.
    const liveStreams = [
      ...gw
        .filter((m) => m.hash)
        .map((m) => ({ key: keys.gatewayOut(m.id), readId: validId(m.hash!.read_id) })),
      ...wk
        .filter((m) => m.hash)
        .map((m) => ({ key: keys.workerIn(m.id), readId: validId(m.hash!.read_id) })),
    ];
    const { streams, queue } = await this.streamsAndQueue(liveStreams);
    const now = this.now();

    const stale: ClusterSnapshot['stale'] = { gateways: [], workers: [] };
    const gateways: GatewayView[] = [];
    for (const { id, score, hash: h } of gw) {
      if (!h) stale.gateways.push({ id, last_beat_age_seconds: ageSeconds(now, score) });
      else {
        gateways.push({
          id,
          ...memberBase(h, now, score, streams.get(keys.gatewayOut(id)) ?? null),
          connections: int(h.connections),
          port: h.port === undefined ? null : int(h.port),
        });
      }
    }
    const workers: WorkerView[] = [];
    for (const { id, score, hash: h } of wk) {
      if (!h) stale.workers.push({ id, last_beat_age_seconds: ageSeconds(now, score) });
      else {
        workers.push({
          id,
          ...memberBase(h, now, score, streams.get(keys.workerIn(id)) ?? null),
          sessions: int(h.sessions),
          capacity: int(h.capacity),
          provider: h.provider ?? null,
          model: h.model || null,
          provider_ok: h.provider_ok === undefined ? null : h.provider_ok === '1',
          provider_error: h.provider_error || null,
        });
      }
    }

    const sum = <T>(list: T[], pick: (m: T) => number) => list.reduce((acc, m) => acc + pick(m), 0);
    return {
      read_at_ms: started,
      read_duration_seconds: (performance.now() - startedPerf) / 1000,
      gateways,
      workers,
      stale,
      connections: sum(gateways, (g) => g.connections),
      sessions: sum(workers, (w) => w.sessions),
      capacity: sum(workers, (w) => w.capacity),
      free_capacity: sum(workers, (w) => (w.draining ? 0 : Math.max(0, w.capacity - w.sessions))),
      queue,
    };
  }

  /**
   * Prunes long-dead registry entries, then lists both registries with their last-beat scores. Both registries
   * carry the `{members}` tag, so this MULTI stays in one slot on a Redis Cluster too.
   */
  private async registries(now: number): Promise<[Array<[string, number]>, Array<[string, number]>]> {
    const { redis, keys } = this.opts;
    const replies = await redis
      .multi()
      .zremrangebyscore(keys.gateways(), 0, now - this.pruneAfterMs)
      .zremrangebyscore(keys.workers(), 0, now - this.pruneAfterMs)
      .zrange(keys.gateways(), 0, -1, 'WITHSCORES')
      .zrange(keys.workers(), 0, -1, 'WITHSCORES')
      .exec();
    return [pairs(replyOf<string[]>(replies, 2)), pairs(replyOf<string[]>(replies, 3))];
  }

  /**
   * Each member's heartbeat hash; `hash` is undefined when it expired (the member is stale). The hashes share
   * the registries' `{members}` slot, so one pipeline reads them on a Redis Cluster too.
   */
  private async hashes(entries: Array<[string, number]>, hashKey: (id: string) => string) {
    const pipeline = this.opts.redis.pipeline();
    for (const [id] of entries) pipeline.hgetall(hashKey(id));
    const replies = entries.length > 0 ? ((await pipeline.exec()) ?? []) : [];
    return entries.map(([id, score], i) => {
      const h = replyOf<Record<string, string>>(replies, i);
      // HGETALL of an expired key is an empty object.
      return { id, score, hash: Object.keys(h).length > 0 ? h : undefined };
    });
  }

  /**
   * Length and lag of each stream and the active job ids in one round trip (beside BullMQ's counts), then one
   * EXISTS over those jobs' locks for the stalled count.
   */
  private async streamsAndQueue(list: Array<{ key: string; readId: string }>) {
    const [{ lags, activeIds }, counts] = await Promise.all([
      this.lagsAndActive(list),
      this.opts.queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'paused', 'failed'),
    ]);
    const stalled = await this.countStalled(activeIds);
    const now = this.now();
    const streams = new Map<string, StreamView | null>();
    list.forEach((s, i) => {
      // One unreadable stream (a key of the wrong type, say) must not hide the rest of the cluster.
      const [err, reply] = lags[i] ?? [new Error('no reply'), undefined];
      streams.set(s.key, err ? null : this.streamView(reply as StreamLagReply, s.readId, now));
    });
    const queueView: QueueView = {
      waiting: counts.waiting ?? 0,
      active: counts.active ?? 0,
      delayed: counts.delayed ?? 0,
      prioritized: counts.prioritized ?? 0,
      paused: counts.paused ?? 0,
      failed: counts.failed ?? 0,
      stalled,
    };
    return { streams, queue: queueView };
  }

  /**
   * The stream-lag script's reply for each stream of `list` (as `[error, reply]`, in order) and the first
   * active job ids. One pipeline on a single Redis; on a Redis Cluster the streams span slots, so each script
   * and the active list's read is a command of its own, sent together (the client groups them per node).
   */
  private async lagsAndActive(
    list: Array<{ key: string; readId: string }>,
  ): Promise<{ lags: Array<[Error | null, unknown]>; activeIds: string[] }> {
    const { redis, queue } = this.opts;
    const activeKey = queue.keys.active!;
    if (isCluster(redis)) {
      const [lags, activeIds] = await Promise.all([
        Promise.all(
          list.map((s) =>
            redis.eval(STREAM_LAG_SCRIPT, 1, s.key, s.readId, this.lagCountCap).then(
              (reply): [null, unknown] => [null, reply],
              (err: Error): [Error, unknown] => [err, undefined],
            ),
          ),
        ),
        redis.lrange(activeKey, 0, this.stalledScanCap - 1),
      ]);
      return { lags, activeIds };
    }
    const pipeline = redis.pipeline();
    for (const s of list) pipeline.eval(STREAM_LAG_SCRIPT, 1, s.key, s.readId, this.lagCountCap);
    pipeline.lrange(activeKey, 0, this.stalledScanCap - 1);
    const replies = (await pipeline.exec()) ?? [];
    return { lags: replies.slice(0, list.length), activeIds: replyOf<string[]>(replies, list.length) };
  }

  /**
   * Active jobs whose lock is gone: their worker stopped renewing the lease (it died or hangs) and the session
   * waits for BullMQ's stalled check to move it back to wait, where another worker takes it over. The lock keys
   * are named as BullMQ names them; with a hash-tagged queue prefix they share one Redis Cluster slot.
   */
  private async countStalled(activeIds: readonly string[]): Promise<number> {
    if (activeIds.length === 0) return 0;
    const locks = activeIds.map((id) => `${this.opts.queue.toKey(id)}:lock`);
    return activeIds.length - (await this.opts.redis.exists(...locks));
  }

  private streamView(reply: StreamLagReply, readId: string, now: number): StreamView | null {
    const [length, newestId, unread, oldestUnreadId] = reply;
    if (Number(length) < 0) return null;
    const known = readId !== '';
    return {
      length: Number(length),
      last_entry_id: newestId || null,
      read_id: known ? readId : null,
      lag_entries: known ? Number(unread) : null,
      lag_capped: known && Number(unread) >= this.lagCountCap,
      // Entry ids carry Redis's clock and `now` is ours: a small skew must not read as negative lag.
      lag_seconds: !known ? null : oldestUnreadId ? Math.max(0, now - idMs(oldestUnreadId)) / 1000 : 0,
    };
  }
}

function memberBase(h: Record<string, string>, now: number, score: number, stream: StreamView | null) {
  const beat = h.beat_ms === undefined ? score : int(h.beat_ms);
  return {
    draining: h.draining === '1',
    version: h.version ?? null,
    heartbeat_age_seconds: ageSeconds(now, beat),
    stream,
  };
}

/** `[member, score, member, score…]` → `[[member, score]…]`. */
function pairs(flat: string[] | undefined): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  for (let i = 0; flat && i + 1 < flat.length; i += 2) out.push([flat[i]!, Number(flat[i + 1])]);
  return out;
}

/** The reply of command `i` of a pipeline/MULTI result, throwing the command's own error if it failed. */
function replyOf<T>(results: Array<[Error | null, unknown]> | null, i: number): T {
  const entry = results?.[i];
  if (!entry) throw new Error(`Redis returned no reply for command ${i}`);
  if (entry[0]) throw entry[0];
  return entry[1] as T;
}

function validId(id: string | undefined): string {
  return id !== undefined && STREAM_ID.test(id) ? id : '';
}

function idMs(id: string): number {
  return Number(id.slice(0, id.indexOf('-')));
}

function int(v: string | undefined): number {
  const n = Number(v);
  return Number.isFinite(n) ? n : 0;
}

function ageSeconds(now: number, thenMs: number): number {
  return Math.max(0, now - thenMs) / 1000;
}
