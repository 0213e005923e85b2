/**
 * The one place Redis keys are built (DESIGN §3). Every key is `<prefix>:<entity>:<id>[:<suffix>]`, and its hash
 * tag decides its Redis Cluster slot, so that every multi-key script, MULTI and pipeline stays within one slot
 * while the traffic spreads over the masters:
 * - a session's hash and history share `{sid}`: the scripts that touch both stay valid;
 * - each gateway's and each worker's stream has no tag: every stream is a slot of its own, so the frame traffic
 *   (one stream per process) spreads over the shards with the processes;
 * - the heartbeat hashes of gateways and workers and their two registries share `{members}`: a heartbeat (hash and
 *   registry in one MULTI) and the status API's read of all of them are one slot (a write per process every few
 *   seconds, not per frame);
 * - a user's connection leases and token budget share `{userId}`;
 * - BullMQ's keys share `{<prefix>:bull}`, as BullMQ requires on a cluster.
 * The prefix itself carries no braces (a tag in it would put every key in one slot).
 */
export interface Keys {
  readonly prefix: string;
  /** Gateway heartbeat hash (connections, draining, version); TTL refreshed by the gateway. */
  gateway(gid: string): string;
  /** Stream of frames for the clients of gateway `gid`. */
  gatewayOut(gid: string): string;
  /** Sorted set of gateway ids scored by their last heartbeat (ms), for discovery without SCAN. */
  gateways(): string;
  /** Worker heartbeat hash (sessions, capacity). */
  worker(wid: string): string;
  /** Stream of client frames for the sessions worker `wid` owns. */
  workerIn(wid: string): string;
  /** Sorted set of worker ids scored by their last heartbeat (ms). */
  workers(): string;
  /** Session hash: user, gateway, owner, epoch, config, last applied seq, timestamps. */
  session(sid: string): string;
  /** Conversation items of a session (capped list of JSON items). */
  sessionHistory(sid: string): string;
  /**
   * A user's connection leases across all gateways (sorted set: lease id → expiry). The user id sits in a hash
   * tag, so anything that later touches several keys of one user stays within one Redis Cluster slot.
   */
  userConnections(userId: string): string;
  /**
   * Tokens a user spent in fixed window `windowIndex` of the OpenAI-compatible route's token budget (a counter
   * with a TTL). The user id sits in a hash tag, like {@link userConnections}.
   */
  budget(userId: string, windowIndex: number): string;
  /** The resume-token secret the gateways share when `RTV_RESUME_SECRET` is not set. */
  resumeSecret(): string;
  /** BullMQ prefix; the queue itself is `queueName`. */
  readonly bullPrefix: string;
  readonly queueName: string;
}

export const SESSIONS_QUEUE = 'sessions';

export function createKeys(prefix = 'rtv'): Keys {
  if (!/^[A-Za-z0-9_:.-]{1,64}$/.test(prefix)) {
    throw new Error(
      `invalid Redis key prefix ${JSON.stringify(prefix)}: use 1-64 of [A-Za-z0-9_:.-] (no braces: keys carry their own hash tags)`,
    );
  }
  return Object.freeze({
    prefix,
    gateway: (gid: string) => `${prefix}:{members}:gw:${gid}`,
    gatewayOut: (gid: string) => `${prefix}:gw:${gid}:out`,
    gateways: () => `${prefix}:{members}:gateways`,
    worker: (wid: string) => `${prefix}:{members}:wk:${wid}`,
    workerIn: (wid: string) => `${prefix}:wk:${wid}:in`,
    workers: () => `${prefix}:{members}:workers`,
    session: (sid: string) => `${prefix}:sess:{${sid}}`,
    sessionHistory: (sid: string) => `${prefix}:sess:{${sid}}:history`,
    userConnections: (userId: string) => `${prefix}:user:{${userId}}:conns`,
    budget: (userId: string, windowIndex: number) => `${prefix}:budget:{${userId}}:${windowIndex}`,
    resumeSecret: () => `${prefix}:resume-secret`,
    bullPrefix: `{${prefix}:bull}`,
    queueName: SESSIONS_QUEUE,
  });
}
