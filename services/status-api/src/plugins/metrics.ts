import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { evaluateHealth, HEALTH_COMPONENTS } from '../cluster/health.js';
import type { ClusterSnapshot, MemberBase } from '../cluster/read-cluster.js';

/** Supplies the current snapshot, or undefined when Redis cannot be read. Called once per gauge per scrape. */
export type SnapshotSource = () => Promise<ClusterSnapshot | undefined>;

const QUEUE_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'paused', 'failed', 'stalled'] as const;

/**
 * Cluster-wide gauges (`rtv_cluster_*`), computed from Redis at scrape time, so one scrape of the status API
 * shows the whole cluster. Every gauge resets before it is filled, so a member that left disappears from the
 * next scrape instead of lingering with its last value. Several status API replicas report the same numbers:
 * aggregate with `max`, not `sum` (see docs/metrics.md).
 *
 * Per-member series carry the member id as `member`: bounded by the number of gateway and worker processes
 * (like `pod`), never by users or sessions.
 */
export function createClusterMetrics(registry: Registry, source: SnapshotSource) {
  const registers = [registry];
  /** A gauge whose value is recomputed from the snapshot on every scrape. */
  const gauge = <L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[],
    fill: (g: Gauge<L>, s: ClusterSnapshot) => void,
    onMissing?: (g: Gauge<L>) => void,
  ) =>
    new Gauge<L>({
      name,
      help,
      labelNames,
      registers,
      async collect() {
        const snapshot = await source();
        this.reset();
        if (snapshot) fill(this, snapshot);
        else if (onMissing) onMissing(this);
        // reset() leaves an unlabelled gauge at 0; without a snapshot it must be absent, not a false zero.
        else if (labelNames.length === 0) this.remove();
      },
    });

  const perStream = (
    g: Gauge<'role' | 'member'>,
    s: ClusterSnapshot,
    pick: (stream: NonNullable<MemberBase['stream']>) => number | null,
  ) => {
    const each = (role: string, list: MemberBase[]) => {
      for (const m of list) {
        const value = m.stream ? pick(m.stream) : null;
        if (value !== null) g.set({ role, member: m.id }, value);
      }
    };
    each('gateway', s.gateways);
    each('worker', s.workers);
  };

  return {
    redisUp: gauge(
      'rtv_cluster_redis_up',
      'Whether the last read of the cluster state from Redis succeeded (1) or failed (0)',
      [],
      (g) => g.set(1),
      (g) => g.set(0),
    ),
    readDuration: gauge(
      'rtv_cluster_read_duration_seconds',
      'How long the last read of the cluster state from Redis took',
      [],
      (g, s) => g.set(s.read_duration_seconds),
    ),
    componentUp: gauge(
      'rtv_cluster_component_up',
      'Health of each component the cluster needs to take a session: 1 ok, 0 failing (absent when unknown)',
      ['component'],
      (g, s) => setComponents(g, s),
      (g) => setComponents(g, undefined),
    ),
    members: gauge(
      'rtv_cluster_members',
      'Gateways and workers in the registries, by role and state (ready, draining, stale)',
      ['role', 'state'],
      (g, s) => {
        for (const [role, list, stale] of [
          ['gateway', s.gateways, s.stale.gateways.length],
          ['worker', s.workers, s.stale.workers.length],
        ] as const) {
          g.set({ role, state: 'ready' }, list.filter((m) => !m.draining).length);
          g.set({ role, state: 'draining' }, list.filter((m) => m.draining).length);
          g.set({ role, state: 'stale' }, stale);
        }
      },
    ),
    connections: gauge('rtv_cluster_connections', 'Client connections on all live gateways', [], (g, s) =>
      g.set(s.connections),
    ),
    sessions: gauge('rtv_cluster_sessions', 'Sessions owned by all live workers', [], (g, s) =>
      g.set(s.sessions),
    ),
    capacity: gauge(
      'rtv_cluster_capacity_sessions',
      'Session slots of all live workers, draining ones included',
      [],
      (g, s) => g.set(s.capacity),
    ),
    freeCapacity: gauge(
      'rtv_cluster_free_capacity_sessions',
      'Free session slots of live workers that are not draining',
      [],
      (g, s) => g.set(s.free_capacity),
    ),
    gatewayConnections: gauge(
      'rtv_cluster_gateway_connections',
      'Client connections per live gateway',
      ['member'],
      (g, s) => {
        for (const m of s.gateways) g.set({ member: m.id }, m.connections);
      },
    ),
    workerSessions: gauge('rtv_cluster_worker_sessions', 'Sessions per live worker', ['member'], (g, s) => {
      for (const m of s.workers) g.set({ member: m.id }, m.sessions);
    }),
    workerCapacity: gauge(
      'rtv_cluster_worker_capacity_sessions',
      'Session slots per live worker',
      ['member'],
      (g, s) => {
        for (const m of s.workers) g.set({ member: m.id }, m.capacity);
      },
    ),
    heartbeatAge: gauge(
      'rtv_cluster_heartbeat_age_seconds',
      'Seconds since each live member last wrote its heartbeat',
      ['role', 'member'],
      (g, s) => {
        for (const m of s.gateways) g.set({ role: 'gateway', member: m.id }, m.heartbeat_age_seconds);
        for (const m of s.workers) g.set({ role: 'worker', member: m.id }, m.heartbeat_age_seconds);
      },
    ),
    queueJobs: gauge(
      'rtv_cluster_queue_jobs',
      'Session queue jobs by state; stalled = active sessions whose owner stopped renewing the lease',
      ['state'],
      (g, s) => {
        for (const state of QUEUE_STATES) g.set({ state }, s.queue[state]);
      },
    ),
    streamLength: gauge(
      'rtv_cluster_stream_length_entries',
      'Entries in each live member stream (gateway out-stream, worker in-stream)',
      ['role', 'member'],
      (g, s) => perStream(g, s, (st) => st.length),
    ),
    streamLagEntries: gauge(
      'rtv_cluster_stream_lag_entries',
      'Entries each stream reader has not delivered yet (capped; absent when the reader does not report)',
      ['role', 'member'],
      (g, s) => perStream(g, s, (st) => st.lag_entries),
    ),
    streamLagSeconds: gauge(
      'rtv_cluster_stream_lag_seconds',
      'Age of the oldest entry each stream reader has not delivered (0 when caught up)',
      ['role', 'member'],
      (g, s) => perStream(g, s, (st) => st.lag_seconds),
    ),
  };
}

function setComponents(g: Gauge<'component'>, snapshot: ClusterSnapshot | undefined): void {
  const health = evaluateHealth(snapshot);
  for (const component of HEALTH_COMPONENTS) {
    const { status } = health.components[component];
    if (status !== 'unknown') g.set({ component }, status === 'ok' ? 1 : 0);
  }
}

/** The status API's own HTTP metrics (`rtv_status_*`). */
export function createHttpMetrics(registry: Registry) {
  const registers = [registry];
  return {
    requests: new Counter({
      name: 'rtv_status_http_requests_total',
      help: 'HTTP requests answered by the status API, by route, method and status code',
      labelNames: ['route', 'method', 'code'] as const,
      registers,
    }),
    duration: new Histogram({
      name: 'rtv_status_http_request_duration_seconds',
      help: 'Time to answer a status API request, by route',
      labelNames: ['route'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
  };
}

export type HttpMetrics = ReturnType<typeof createHttpMetrics>;

/**
 * Counts and times every request on the root instance (a hook added inside an encapsulated plugin would only
 * see that plugin's routes). The route label is the route pattern, `unmatched` for 404s: bounded.
 */
export function instrumentRequests(app: FastifyInstance, metrics: HttpMetrics): void {
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const seconds = reply.elapsedTime / 1000;
    metrics.requests.inc({ route, method: request.method, code: String(reply.statusCode) });
    metrics.duration.observe({ route }, seconds);
    request.log.debug(
      { route, method: request.method, statusCode: reply.statusCode, durationMs: reply.elapsedTime },
      'request answered',
    );
  });
}

/** `GET /metrics`: the process metrics, the status API's own and the cluster-wide gauges, in one scrape. */
export async function metricsRoutes(app: FastifyInstance, opts: { registry: Registry }): Promise<void> {
  app.get(
    '/metrics',
    {
      schema: {
        summary: 'Prometheus metrics',
        description:
          'Prometheus text exposition: process metrics, rtv_status_* and the cluster-wide rtv_cluster_* gauges ' +
          'computed from Redis at scrape time. Every metric is described in docs/metrics.md.',
        tags: ['observability'],
        response: {
          200: {
            description: 'Prometheus text format 0.0.4',
            content: { 'text/plain': { schema: { type: 'string' } } },
          },
        },
      },
    },
    async (_req, reply) => {
      reply.header('content-type', opts.registry.contentType);
      return opts.registry.metrics();
    },
  );
}
