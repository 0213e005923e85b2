import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Gateway metrics (DESIGN §7 names: rtv_gateway_*, base units, bounded labels, never a session id). */
export function createGatewayMetrics(registry: Registry) {
  const registers = [registry];
  return {
    connections: new Gauge({
      name: 'rtv_gateway_connections_active',
      help: 'Open client WebSocket connections on this gateway',
      registers,
    }),
    connectionsTotal: new Counter({
      name: 'rtv_gateway_connections_total',
      help: 'Client WebSocket connections accepted',
      labelNames: ['route'] as const,
      registers,
    }),
    upgradesRejected: new Counter({
      name: 'rtv_gateway_upgrades_rejected_total',
      help: 'WebSocket upgrades refused before the handshake, by reason',
      labelNames: ['reason'] as const,
      registers,
    }),
    framesIn: new Counter({
      name: 'rtv_gateway_frames_received_total',
      help: 'Client frames received, by message type (invalid for rejected frames)',
      labelNames: ['type'] as const,
      registers,
    }),
    bytesIn: new Counter({
      name: 'rtv_gateway_received_bytes_total',
      help: 'Bytes of client frames received',
      registers,
    }),
    framesOut: new Counter({
      name: 'rtv_gateway_frames_sent_total',
      help: 'Frames sent to clients',
      registers,
    }),
    bytesOut: new Counter({
      name: 'rtv_gateway_sent_bytes_total',
      help: 'Bytes of frames sent to clients',
      registers,
    }),
    errors: new Counter({
      name: 'rtv_gateway_client_errors_total',
      help: 'Error messages sent to clients, by code',
      labelNames: ['code'] as const,
      registers,
    }),
    closes: new Counter({
      name: 'rtv_gateway_disconnects_total',
      help: 'Client sockets closed, by WebSocket close code',
      labelNames: ['code'] as const,
      registers,
    }),
    busLinesOut: new Counter({
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
    busLinesIn: new Counter({
      name: 'rtv_gateway_bus_lines_read_total',
      help: 'Bus lines read from this gateway stream, by op',
      labelNames: ['op'] as const,
      registers,
    }),
    staleDropped: new Counter({
      name: 'rtv_gateway_stale_frames_dropped_total',
      help: 'Worker frames dropped because they came from an older owner epoch or repeated a seq',
      registers,
    }),
    replayOverflow: new Counter({
      name: 'rtv_gateway_replay_overflow_total',
      help: 'Unacknowledged client frames evicted from a full replay buffer',
      registers,
    }),
    slowConsumers: new Counter({
      name: 'rtv_gateway_slow_consumer_closes_total',
      help: 'Client sockets closed because their send buffer passed the backpressure limit',
      registers,
    }),
    resumes: new Counter({
      name: 'rtv_gateway_resumes_total',
      help: 'Sessions resumed by a reconnecting client on this gateway',
      registers,
    }),
    resumesRejected: new Counter({
      name: 'rtv_gateway_resumes_rejected_total',
      help: 'Resume attempts refused, by reason (malformed, expired, mismatch, not_found)',
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
