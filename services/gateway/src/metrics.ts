import { CLOSE_CODES, ERROR_CODES, SERVER_MESSAGE_TYPES } from '@rtv/protocol';
import { boundedCounter, TalliedCounter, TalliedHistogram } from '@rtv/service-kit';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/**
 * Frame path buckets: the bus adds well under a millisecond on a healthy Redis, so the low end is fine-grained;
 * the top end catches a reader that fell behind.
 */
const FRAME_PATH_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

/**
 * Gateway metrics (DESIGN §7): `rtv_gateway_<name>_<unit>[_total]`, base units, bounded labels, never a
 * session or user id. `docs/metrics.md` describes each one; a test keeps the two in step.
 *
 * Direction is part of the name where the edge has two sides (`frames_received` = client → gateway,
 * `frames_sent` = gateway → client), as in `node_network_receive_bytes_total`; `type` is the public
 * message type, so `sum by (type)` answers "what is this traffic made of".
 */
export function createGatewayMetrics(registry: Registry) {
  const registers = [registry];
  /** What the replay-bytes gauge reads at each scrape; the routing plane points it at its sessions. */
  const heldReplay = { bytes: (): number => 0 };
  return {
    heldReplay,
    replayBytes: new Gauge({
      name: 'rtv_gateway_replay_bytes',
      help: "Bytes of client frames this gateway's sessions hold for replay: not yet acknowledged by their owner (in flight, or the user turn in progress), read at each scrape",
      registers,
      collect() {
        this.set(heldReplay.bytes());
      },
    }),
    replayBudgetBytes: new Gauge({
      name: 'rtv_gateway_replay_budget_bytes',
      help: "What this gateway's sessions may hold for replay together (RTV_GATEWAY_REPLAY_MAX_BYTES): rtv_gateway_replay_bytes against it",
      registers,
    }),
    connections: new Gauge({
      name: 'rtv_gateway_connections_active',
      help: 'Open client WebSocket connections on this gateway',
      registers,
    }),
    connectionsTotal: new Counter({
      name: 'rtv_gateway_connections_total',
      help: 'Client WebSocket connections accepted, by route (anonymous or authenticated)',
      labelNames: ['route'] as const,
      registers,
    }),
    upgradesRejected: new Counter({
      name: 'rtv_gateway_upgrades_rejected_total',
      help: 'WebSocket upgrades refused before the handshake, by reason',
      labelNames: ['reason'] as const,
      registers,
    }),
    framesIn: new TalliedCounter({
      name: 'rtv_gateway_frames_received_total',
      help: 'Client frames received, by message type (invalid for rejected frames)',
      labelNames: ['type'] as const,
      registers,
    }),
    bytesIn: new TalliedCounter({
      name: 'rtv_gateway_received_bytes_total',
      help: 'Bytes of client frames received, by message type',
      labelNames: ['type'] as const,
      registers,
    }),
    framesOut: new TalliedCounter({
      name: 'rtv_gateway_frames_sent_total',
      help: 'Frames sent to clients, by message type',
      labelNames: ['type'] as const,
      registers,
    }),
    bytesOut: new TalliedCounter({
      name: 'rtv_gateway_sent_bytes_total',
      help: 'Bytes of frames sent to clients, by message type',
      labelNames: ['type'] as const,
      registers,
    }),
    errors: boundedCounter(
      new Counter({
        name: 'rtv_gateway_client_errors_total',
        help: 'Error messages sent to clients, by error code',
        labelNames: ['code'] as const,
        registers,
      }),
      (labels) => ({ ...labels, code: errorCodeLabel(labels.code) }),
    ),
    closes: boundedCounter(
      new Counter({
        name: 'rtv_gateway_disconnects_total',
        help: 'Client sockets closed, by WebSocket close code (other for codes outside the table)',
        labelNames: ['code'] as const,
        registers,
      }),
      (labels) => ({ ...labels, code: closeCodeLabel(labels.code) }),
    ),
    forwardedAddressInvalid: new Counter({
      name: 'rtv_gateway_forwarded_address_invalid_total',
      help: 'Upgrades from a trusted proxy whose X-Forwarded-For or PROXY header could not be read; the nearest known address was used',
      registers,
    }),
    limitRejections: new Counter({
      name: 'rtv_gateway_limit_rejections_total',
      help: 'Client frames or connections refused because a limit was reached, by limit kind',
      labelNames: ['kind'] as const,
      registers,
    }),
    resumes: new Counter({
      name: 'rtv_gateway_resumes_total',
      help: 'Sessions resumed on this gateway by a reconnecting client',
      registers,
    }),
    resumesRejected: new Counter({
      name: 'rtv_gateway_resumes_rejected_total',
      help: 'Resume attempts refused, by reason (malformed, expired, mismatch, not_found, stale, in_use, token_in_url)',
      labelNames: ['reason'] as const,
      registers,
    }),
    failovers: new Counter({
      name: 'rtv_gateway_failovers_total',
      help: 'Bound sessions re-bound to a new owner (newer epoch) after the previous worker was lost',
      registers,
    }),
    replayedFrames: new Counter({
      name: 'rtv_gateway_replayed_frames_total',
      help: 'Unacknowledged client frames re-sent to the new owner of their session',
      registers,
    }),
    framePath: new TalliedHistogram({
      name: 'rtv_gateway_frame_path_duration_seconds',
      help: 'Worker to gateway leg of the frame path: from the worker stream write to the client send',
      buckets: FRAME_PATH_BUCKETS,
      registers,
    }),
    busLinesOut: new TalliedCounter({
      name: 'rtv_gateway_bus_lines_written_total',
      help: 'Bus lines (client frames and controls) written to worker streams',
      registers,
    }),
    busEntriesOut: new Counter({
      name: 'rtv_gateway_bus_entries_written_total',
      help: 'Stream entries (batches) written; lines / entries is the batching factor',
      registers,
    }),
    busDropped: new Counter({
      name: 'rtv_gateway_bus_lines_dropped_total',
      help: 'Bus lines that could not be written (Redis unavailable); kept for replay where possible',
      registers,
    }),
    busLinesIn: new TalliedCounter({
      name: 'rtv_gateway_bus_lines_read_total',
      help: 'Bus lines read from this gateway stream, by op',
      labelNames: ['op'] as const,
      registers,
    }),
    serverFrameGaps: new Counter({
      name: 'rtv_gateway_server_frame_gaps_total',
      help: 'Gaps in a session’s server frames (writes lost in a Redis outage or failover), by outcome: filled (the owner sent them again) or skipped (the frames above went out after the wait)',
      labelNames: ['outcome'] as const,
      registers,
    }),
    staleDropped: new Counter({
      name: 'rtv_gateway_stale_frames_dropped_total',
      help: 'Worker frames dropped because they came from an older owner epoch or repeated a seq',
      registers,
    }),
    replayOverflow: new Counter({
      name: 'rtv_gateway_replay_overflow_total',
      help: 'Client frames the replay buffer had no room for: refused (replay_buffer_full, close 1013) rather than evict an unacknowledged frame, or larger than the whole buffer (forwarded without a copy)',
      registers,
    }),
    sessionRecoveries: new Counter({
      name: 'rtv_gateway_session_recoveries_total',
      help: 'Sessions live through a Redis outage, by result: reestablished (a newer bind, or the lease was never lost) or failed (not within RTV_REDIS_RECOVERY_MS)',
      labelNames: ['result'] as const,
      registers,
    }),
    recoveringSessions: new Gauge({
      name: 'rtv_gateway_recovering_sessions',
      help: 'Sessions kept through a Redis outage and not yet re-established, by socket (open, or closed and held until its frames reach the owner)',
      labelNames: ['socket'] as const,
      registers,
    }),
    recoveringFrames: new Gauge({
      name: 'rtv_gateway_recovering_frames',
      help: 'Unacknowledged client frames held by sessions not yet re-established after a Redis outage',
      registers,
    }),
    recoveryFramesGivenUp: new Counter({
      name: 'rtv_gateway_recovery_frames_given_up_total',
      help: 'Unacknowledged client frames of sessions not re-established within RTV_REDIS_RECOVERY_MS',
      registers,
    }),
    slowConsumers: new Counter({
      name: 'rtv_gateway_slow_consumer_closes_total',
      help: 'Client sockets closed because their send buffer passed the backpressure limit',
      registers,
    }),
    setupFailures: new Counter({
      name: 'rtv_gateway_session_setup_failures_total',
      help: 'New sessions whose set-up failed, by reason: no_worker (no worker bound it within RTV_BIND_TIMEOUT_MS) or storage (its record, or the token budget it needs, could not be read or written); the set-up SLO counts them against first binds',
      labelNames: ['reason'] as const,
      registers,
    }),
    bindLatency: new Histogram({
      name: 'rtv_gateway_session_bind_duration_seconds',
      help: 'Time from socket open to a worker binding the session',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
  };
}

export type GatewayMetrics = ReturnType<typeof createGatewayMetrics>;

/**
 * Values of `rtv_gateway_limit_rejections_total{kind}`: one per limit the gateway enforces (DESIGN §4.4).
 * Listed so call sites, docs and alerts agree on the spelling.
 */
export type LimitKind =
  /** A frame over RTV_MAX_FRAME_BYTES (message_too_large, close 1009). */
  | 'frame_size'
  /** A frame of a session above its share of RTV_GATEWAY_REPLAY_MAX_BYTES (replay_buffer_full, close 1013). */
  | 'replay_budget'
  /** A binary audio frame over the audio limit. */
  | 'audio_size'
  /** Frames sent before a worker bound the session, past RTV_PENDING_MAX_FRAMES. */
  | 'pending_frames'
  /** Messages per second of one connection. */
  | 'messages_per_s'
  /** Bytes per second of one connection. */
  | 'bytes_per_s'
  /** New connections per second from one IP address (refused at upgrade with 429). */
  | 'new_connections_per_ip'
  /** Concurrent connections of one user (close 4429). */
  | 'connections_per_user'
  /** Open connections on this gateway, RTV_MAX_CONNECTIONS_PER_GATEWAY (refused at upgrade with 503). */
  | 'connections_per_gateway'
  /** Open connections from one IP address, RTV_MAX_CONNECTIONS_PER_IP (refused at upgrade with 429). */
  | 'connections_per_ip'
  /** Refused upgrades from one IP address per minute, RTV_MAX_FAILED_UPGRADES_PER_IP (429 before verification). */
  | 'failed_upgrades_per_ip'
  /** Requests per second from one IP address to the forwarded seed status and health routes (HTTP 429). */
  | 'status_requests_per_ip'
  /** A session that reached its maximum duration. */
  | 'session_duration'
  /** A client's send buffer past RTV_MAX_BACKPRESSURE_BYTES (slow consumer). */
  | 'send_buffer'
  /** A client frame that would have pushed an unacknowledged one out of the replay buffer (close 1013). */
  | 'replay_buffer';

const SERVER_TYPES: ReadonlySet<string> = new Set(SERVER_MESSAGE_TYPES);
const TYPE_PREFIX = '{"type":"';

/**
 * The `type` of a finished server frame, for the `type` label, without parsing it: every builder in
 * `@rtv/protocol` starts its output with `{"type":"`. Anything else counts as `other`, so a label value can
 * never come from outside the protocol's own list.
 */
export function serverFrameType(payload: string | Buffer): string {
  let type: string;
  if (typeof payload === 'string') {
    if (!payload.startsWith(TYPE_PREFIX)) return 'other';
    const end = payload.indexOf('"', TYPE_PREFIX.length);
    type = end > 0 ? payload.slice(TYPE_PREFIX.length, end) : '';
  } else {
    if (payload.compare(TYPE_PREFIX_BYTES, 0, TYPE_PREFIX_BYTES.length, 0, TYPE_PREFIX_BYTES.length) !== 0)
      return 'other';
    const end = payload.indexOf(0x22, TYPE_PREFIX_BYTES.length);
    if (end < 0 || end - TYPE_PREFIX_BYTES.length > MAX_TYPE_CHARS) return 'other';
    type = payload.toString('latin1', TYPE_PREFIX_BYTES.length, end);
  }
  return SERVER_TYPES.has(type) ? type : 'other';
}

const TYPE_PREFIX_BYTES = Buffer.from(TYPE_PREFIX);
/** Longer than any server message type: a longer value is `other` without being copied out. */
const MAX_TYPE_CHARS = 64;

const ERROR_CODE_PREFIX = '{"type":"error","error":{"code":"';

/** The `error.code` of an `error` frame built by `encodeError` (for `client_errors_total` at delivery). */
export function errorCodeOf(payload: string): string {
  if (!payload.startsWith(ERROR_CODE_PREFIX)) return 'other';
  const end = payload.indexOf('"', ERROR_CODE_PREFIX.length);
  return errorCodeLabel(end > 0 ? payload.slice(ERROR_CODE_PREFIX.length, end) : '');
}

const KNOWN_ERROR_CODES: ReadonlySet<string> = new Set(ERROR_CODES);

/** An error code as a label value: registered codes pass, anything else is `other`. */
export function errorCodeLabel(code: string | number | undefined): string {
  const value = String(code);
  return KNOWN_ERROR_CODES.has(value) ? value : 'other';
}

/**
 * Close codes that may appear as label values: the project's table plus the codes RFC 6455 registers
 * (1005 and 1006 are what the server observes for a close without a code and a dropped connection).
 * A client may put any number in its close frame; those count as `other`.
 */
const KNOWN_CLOSE_CODES: ReadonlySet<string> = new Set([
  ...Object.values(CLOSE_CODES).map((spec) => String(spec.code)),
  ...[1000, 1001, 1002, 1003, 1005, 1006, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 1015].map(String),
]);

/** A WebSocket close code as a label value (bounded: see {@link KNOWN_CLOSE_CODES}). */
export function closeCodeLabel(code: string | number | undefined): string {
  const value = String(code);
  return KNOWN_CLOSE_CODES.has(value) ? value : 'other';
}
