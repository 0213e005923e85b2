// JSON Schemas of the status API's responses. Each one serves twice: fastify serializes the route's reply
// with it (so the reply can never carry a field the document does not name) and the OpenAPI document at
// /openapi.json embeds it. Dialect: JSON Schema 2020-12 as OpenAPI 3.1 uses it (nullable = type arrays).

const count = { type: 'integer', minimum: 0 } as const;
const seconds = { type: 'number', minimum: 0 } as const;
const nullableString = { type: ['string', 'null'] } as const;
const unixSeconds = {
  type: 'number',
  description: 'Unix time in seconds (float), as in the seed protocol',
} as const;

export const StreamSchema = {
  title: 'MemberStream',
  description: "A member's own bus stream: its length and how far its single reader is behind",
  type: ['object', 'null'],
  required: ['length', 'last_entry_id', 'read_id', 'lag_entries', 'lag_capped', 'lag_seconds'],
  properties: {
    length: { ...count, description: 'Entries in the stream (XLEN), consumed but untrimmed ones included' },
    last_entry_id: { ...nullableString, description: 'Id of the newest entry' },
    read_id: { ...nullableString, description: 'Last entry id the reader delivered, from its heartbeat' },
    lag_entries: { type: ['integer', 'null'], minimum: 0, description: 'Entries after read_id' },
    lag_capped: { type: 'boolean', description: 'lag_entries reached the count cap: the backlog is larger' },
    lag_seconds: { type: ['number', 'null'], minimum: 0, description: 'Age of the oldest undelivered entry' },
  },
} as const;

const memberProperties = {
  id: { type: 'string' },
  draining: { type: 'boolean', description: 'Shutting down: serves what it has, takes nothing new' },
  version: nullableString,
  heartbeat_age_seconds: { ...seconds, description: 'Seconds since the last heartbeat' },
  stream: StreamSchema,
} as const;
const memberRequired = ['id', 'draining', 'version', 'heartbeat_age_seconds', 'stream'] as const;

export const GatewaySchema = {
  title: 'Gateway',
  type: 'object',
  required: [...memberRequired, 'connections', 'port'],
  properties: {
    ...memberProperties,
    connections: { ...count, description: 'Open client connections' },
    port: { type: ['integer', 'null'], description: 'Public WebSocket port' },
  },
} as const;

export const WorkerSchema = {
  title: 'SessionWorker',
  type: 'object',
  required: [...memberRequired, 'sessions', 'capacity', 'provider', 'provider_ok'],
  properties: {
    ...memberProperties,
    sessions: { ...count, description: 'Sessions owned' },
    capacity: { ...count, description: 'Sessions it may own' },
    provider: { ...nullableString, description: 'openai, azure or local-engine' },
    model: {
      ...nullableString,
      description: 'The realtime model (the deployment on Azure) it opens provider sessions with',
    },
    provider_ok: {
      type: ['boolean', 'null'],
      description: 'Whether its last provider connect succeeded; null when it does not report it',
    },
    provider_error: {
      ...nullableString,
      description:
        'Why its provider connects fail: model_unavailable, auth_failed, shape_unsupported (fatal: an operator ' +
        'must fix the configuration) or unavailable (retried); null when they succeed or it does not report it',
    },
  },
} as const;

const StaleSchema = {
  type: 'array',
  items: {
    type: 'object',
    required: ['id', 'last_beat_age_seconds'],
    properties: { id: { type: 'string' }, last_beat_age_seconds: seconds },
  },
} as const;

export const QueueSchema = {
  title: 'SessionQueue',
  description: 'The BullMQ session queue: one job per session, the active job is the lease of its owner',
  type: 'object',
  required: ['waiting', 'active', 'delayed', 'prioritized', 'paused', 'failed', 'stalled'],
  properties: {
    waiting: { ...count, description: 'Sessions waiting for a worker' },
    active: { ...count, description: 'Sessions owned by a worker' },
    delayed: count,
    prioritized: count,
    paused: count,
    failed: count,
    stalled: { ...count, description: 'Active sessions whose owner stopped renewing the lease' },
  },
} as const;

const ErrorBodySchema = {
  type: 'object',
  required: ['code', 'message'],
  properties: { code: { type: 'string' }, message: { type: 'string' } },
} as const;

export const StatusSchema = {
  title: 'ClusterStatus',
  description:
    'The seed status (service status and connection count), aggregated over every live gateway and worker',
  type: 'object',
  required: [
    'status',
    'service',
    'timestamp',
    'connections',
    'sessions',
    'capacity',
    'free_capacity',
    'gateways',
    'workers',
    'stale',
    'queue',
    'failing',
  ],
  properties: {
    status: {
      type: 'string',
      enum: ['running', 'degraded'],
      description: 'running when every health component is ok; degraded names them in failing',
    },
    service: { type: 'string', const: 'realtime-voice' },
    timestamp: unixSeconds,
    connections: { ...count, description: 'Client connections on live gateways' },
    sessions: { ...count, description: 'Sessions owned by live workers' },
    capacity: { ...count, description: 'Session slots of live workers' },
    free_capacity: { ...count, description: 'Free slots of live workers that are not draining' },
    gateways: { type: 'array', items: GatewaySchema },
    workers: { type: 'array', items: WorkerSchema },
    stale: {
      type: 'object',
      description: 'Members whose heartbeat expired: excluded from every count',
      required: ['gateways', 'workers'],
      properties: { gateways: StaleSchema, workers: StaleSchema },
    },
    queue: QueueSchema,
    failing: { type: 'array', items: { type: 'string' }, description: 'Failing health components' },
  },
} as const;

export const UnavailableSchema = {
  title: 'StatusUnavailable',
  description: 'Redis cannot be read, so nothing is known about the cluster',
  type: 'object',
  required: ['status', 'connections', 'timestamp', 'error'],
  properties: {
    status: { type: 'string', const: 'unavailable' },
    connections: { type: 'integer', const: 0 },
    timestamp: unixSeconds,
    error: ErrorBodySchema,
  },
} as const;

const ComponentSchema = {
  type: 'object',
  required: ['status', 'message'],
  properties: {
    status: { type: 'string', enum: ['ok', 'failing', 'unknown'] },
    message: { type: 'string' },
  },
} as const;

export const HealthSchema = {
  title: 'ClusterHealth',
  description: 'Whether the cluster can take a new session now; 503 names the failing components',
  type: 'object',
  required: ['status', 'failing', 'components', 'timestamp'],
  properties: {
    status: { type: 'string', enum: ['healthy', 'unhealthy'] },
    failing: {
      type: 'array',
      items: { type: 'string', enum: ['redis', 'gateway', 'session_worker', 'capacity', 'provider'] },
      description: 'Failing components in check order; the first is usually the cause of the rest',
    },
    components: {
      type: 'object',
      required: ['redis', 'gateway', 'session_worker', 'capacity', 'provider'],
      properties: {
        redis: ComponentSchema,
        gateway: ComponentSchema,
        session_worker: ComponentSchema,
        capacity: ComponentSchema,
        provider: ComponentSchema,
      },
    },
    provider_errors: {
      type: 'array',
      items: { type: 'string' },
      description:
        'Present when provider is failing: the failure kinds the ready workers report, e.g. model_unavailable ' +
        '(unknown or retired model or deployment), auth_failed (refused credentials), shape_unsupported ' +
        '(protocol shape refused), unavailable (unreachable, rate limited or 5xx after retries)',
    },
    timestamp: unixSeconds,
  },
} as const;

export const ProbeSchema = {
  title: 'Probe',
  type: 'object',
  required: ['status'],
  properties: {
    status: { type: 'string', enum: ['ok', 'unavailable'] },
    redis: { type: 'string', description: 'ioredis connection state (readyz only)' },
  },
} as const;

export const SessionErrorSchema = {
  title: 'SessionError',
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: { type: 'string', enum: ['unauthorized', 'session_not_found'] },
        message: { type: 'string' },
      },
    },
  },
} as const;

export const SessionHistorySchema = {
  title: 'SessionHistory',
  description: 'A session and its conversation items, oldest first',
  type: 'object',
  required: ['session', 'history'],
  properties: {
    session: {
      type: 'object',
      required: ['id', 'user_id', 'gateway', 'owner', 'epoch', 'state', 'client', 'created_at', 'config'],
      properties: {
        id: { type: 'string' },
        user_id: { type: 'string' },
        gateway: { type: ['string', 'null'], description: 'Gateway the client is attached to (or was last)' },
        owner: {
          type: ['string', 'null'],
          description: 'Session worker that owns the session; null while queued',
        },
        epoch: { type: 'integer', minimum: 0, description: 'Owner generation: bumped at every claim' },
        state: { type: 'string' },
        client: { type: 'string', enum: ['attached', 'detached'] },
        created_at: unixSeconds,
        config: { type: 'object', additionalProperties: true },
      },
    },
    history: {
      type: 'array',
      items: {
        type: 'object',
        required: ['role', 'type', 'text', 'at'],
        properties: {
          role: { type: 'string', enum: ['user', 'assistant'] },
          type: { type: 'string' },
          text: { type: 'string' },
          at: unixSeconds,
          truncated: {
            type: 'boolean',
            const: true,
            description:
              'Present when the stored text was cut on a character boundary to the per-item limit (RTV_HISTORY_ITEM_MAX_BYTES of the session worker)',
          },
        },
      },
    },
  },
} as const;

export const RateLimitedSchema = {
  title: 'RateLimited',
  description:
    'Too many requests from this client address (RTV_STATUS_RATE_PER_S); wait for the retry-after header',
  type: 'object',
  required: ['error'],
  properties: { error: ErrorBodySchema },
} as const;
