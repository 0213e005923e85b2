import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Session-worker metrics (rtv_worker_*; bounded labels, seconds at the Prometheus boundary). */
export function createWorkerMetrics(registry: Registry) {
  const registers = [registry];
  return {
    sessions: new Gauge({ name: 'rtv_worker_sessions_active', help: 'Sessions this worker owns', registers }),
    capacity: new Gauge({
      name: 'rtv_worker_capacity_sessions',
      help: 'Sessions this worker may own',
      registers,
    }),
    sessionsStarted: new Counter({
      name: 'rtv_worker_sessions_started_total',
      help: 'Sessions claimed, by whether they were new or taken over from another owner',
      labelNames: ['kind'] as const,
      registers,
    }),
    sessionsEnded: new Counter({
      name: 'rtv_worker_sessions_ended_total',
      help: 'Sessions ended, by reason',
      labelNames: ['reason'] as const,
      registers,
    }),
    framesToProvider: new Counter({
      name: 'rtv_worker_frames_to_provider_total',
      help: 'Client frames forwarded to the provider, by message type',
      labelNames: ['type'] as const,
      registers,
    }),
    framesToClient: new Counter({
      name: 'rtv_worker_frames_to_client_total',
      help: 'Public-protocol messages sent toward clients',
      registers,
    }),
    duplicateFrames: new Counter({
      name: 'rtv_worker_duplicate_frames_total',
      help: 'Client frames dropped because their seq was already applied',
      registers,
    }),
    droppedFrames: new Counter({
      name: 'rtv_worker_dropped_frames_total',
      help: 'Client frames dropped, by reason',
      labelNames: ['reason'] as const,
      registers,
    }),
    upstreamConnect: new Histogram({
      name: 'rtv_worker_upstream_connect_duration_seconds',
      help: 'Time to open a provider session (upgrade to session.created)',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    upstreamErrors: new Counter({
      name: 'rtv_worker_upstream_errors_total',
      help: 'Provider errors and failures, by code',
      labelNames: ['code'] as const,
      registers,
    }),
    timeToFirstAudio: new Histogram({
      name: 'rtv_worker_time_to_first_audio_seconds',
      help: 'From the end of the user turn (speech stopped or text sent) to the first audio delta',
      buckets: [0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5],
      registers,
    }),
    turns: new Counter({
      name: 'rtv_worker_turns_total',
      help: 'Provider responses finished, by status',
      labelNames: ['status'] as const,
      registers,
    }),
    speechStarts: new Counter({
      name: 'rtv_worker_speech_started_total',
      help: 'User speech starts detected by the provider VAD',
      registers,
    }),
    tokens: new Counter({
      name: 'rtv_worker_tokens_total',
      help: 'Provider tokens from response.done usage, by model and direction',
      labelNames: ['model', 'direction'] as const,
      registers,
    }),
    leaseLost: new Counter({
      name: 'rtv_worker_leases_lost_total',
      help: 'Sessions let go because a newer owner epoch took them',
      registers,
    }),
  };
}

export type WorkerMetrics = ReturnType<typeof createWorkerMetrics>;
