import {
  type BetaRealtimeServerEvent,
  REALTIME_CLOSE_CODES,
  REALTIME_ERROR_CODES,
  type RealtimeServerEvent,
} from '@rtv/protocol/openai-realtime';
import { boundedCounter, TalliedCounter, TalliedHistogram } from '@rtv/service-kit';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Shared latency buckets for one-off waits (provider connect, bind, response start). */
const WAIT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Gateway → worker leg of the frame path: sub-millisecond on a healthy Redis, the top end catches a backlog. */
const FRAME_PATH_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

/**
 * Time to first audio buckets, dense around the conversational range (people notice gaps above ~500 ms).
 * `1` must stay a bucket bound: the time-to-first-audio SLO (deploy/prometheus) is "first audio within 1 s".
 */
const TTFA_BUCKETS = [0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5];

/**
 * Session-worker metrics (DESIGN §7): `rtv_worker_<name>_<unit>[_total]`, seconds at the Prometheus boundary,
 * bounded labels (never a session or user id). `docs/metrics.md` describes each one; a test keeps the two in
 * step. `upstream` is the provider side (OpenAI Realtime or the local engine).
 */
export function createWorkerMetrics(registry: Registry) {
  const registers = [registry];
  /** What the uncommitted-turn gauge reads at each scrape; the composition root points it at the session host. */
  const heldTurns = { bytes: (): number => 0 };
  return {
    heldTurns,
    uncommittedTurnBytes: new Gauge({
      name: 'rtv_worker_uncommitted_turn_bytes',
      help: "Bytes of the user turns in progress this worker's sessions keep to re-send into a fresh provider session (base64 audio since the last commit, bounded per session by RTV_UNCOMMITTED_TURN_MAX_BYTES), read at each scrape",
      registers,
      collect() {
        this.set(heldTurns.bytes());
      },
    }),
    sessions: new Gauge({ name: 'rtv_worker_sessions_active', help: 'Sessions this worker owns', registers }),
    capacity: new Gauge({
      name: 'rtv_worker_capacity_sessions',
      help: 'Sessions this worker may own',
      registers,
    }),
    providerConnectsWaiting: new Gauge({
      name: 'rtv_worker_provider_connects_waiting',
      help: 'Provider connects queued behind RTV_PROVIDER_CONNECT_CONCURRENCY (a burst of new sessions)',
      registers,
    }),
    providerPoolSize: new Gauge({
      name: 'rtv_worker_provider_pool_size',
      help: 'Warm provider connections (open, past session.created) waiting for a new session (RTV_PROVIDER_POOL_SIZE)',
      registers,
    }),
    providerPoolTakes: new Counter({
      name: 'rtv_worker_provider_pool_takes_total',
      help: 'First provider opens of sessions that looked in the pool, by outcome: hit (took a warm connection), miss (none warm and open for its target: connected as usual)',
      labelNames: ['outcome'] as const,
      registers,
    }),
    providerPoolRefills: new Counter({
      name: 'rtv_worker_provider_pool_refills_total',
      help: 'Warm provider connections the pool opened, by outcome (ok, failed)',
      labelNames: ['outcome'] as const,
      registers,
    }),
    providerPoolRecycled: new Counter({
      name: 'rtv_worker_provider_pool_recycled_total',
      help: 'Warm provider connections closed unused at RTV_PROVIDER_POOL_MAX_AGE_S and replaced',
      registers,
    }),
    providerReady: new Histogram({
      name: 'rtv_worker_provider_ready_seconds',
      help: 'From a session starting on this worker (claimed) to its first provider session ready (session.update sent), by whether it took a warm pooled connection',
      labelNames: ['pooled'] as const,
      buckets: WAIT_BUCKETS,
      registers,
    }),
    sessionsDetached: new Gauge({
      name: 'rtv_worker_sessions_detached',
      help: 'Owned sessions whose client is away, kept for the resume grace period',
      registers,
    }),
    sessionsStarted: new Counter({
      name: 'rtv_worker_sessions_started_total',
      help: 'Sessions claimed, by whether they were new or taken over from another owner (failover)',
      labelNames: ['kind'] as const,
      registers,
    }),
    sessionsEnded: new Counter({
      name: 'rtv_worker_sessions_ended_total',
      help: 'Sessions ended, by reason',
      labelNames: ['reason'] as const,
      registers,
    }),
    sessionDuration: new Histogram({
      name: 'rtv_worker_session_duration_seconds',
      help: 'How long this worker owned a session, from claim to end',
      buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200],
      registers,
    }),
    handoffs: new Counter({
      name: 'rtv_worker_handoffs_total',
      help: 'Sessions handed to another worker while draining, by result (ok, failed)',
      labelNames: ['result'] as const,
      registers,
    }),
    resumes: new Counter({
      name: 'rtv_worker_resumes_total',
      help: 'Resume requests applied: a session re-attached to a (possibly different) gateway',
      registers,
    }),
    resumeReplayedFrames: new Counter({
      name: 'rtv_worker_resume_replayed_frames_total',
      help: 'Server frames re-sent to a resuming client from the outbound buffer',
      registers,
    }),
    gapResentFrames: new Counter({
      name: 'rtv_worker_gap_resent_frames_total',
      help: 'Server frames sent again because the client’s gateway saw a gap in them (writes lost in a Redis outage or failover)',
      registers,
    }),
    framesToProvider: new TalliedCounter({
      name: 'rtv_worker_frames_to_provider_total',
      help: 'Client frames forwarded to the provider, by message type',
      labelNames: ['type'] as const,
      registers,
    }),
    framesToClient: new TalliedCounter({
      name: 'rtv_worker_frames_to_client_total',
      help: 'Public-protocol messages sent toward clients',
      registers,
    }),
    framePath: new TalliedHistogram({
      name: 'rtv_worker_frame_path_duration_seconds',
      help: 'Gateway to worker leg of the frame path: from the gateway stream write to the worker applying it',
      buckets: FRAME_PATH_BUCKETS,
      registers,
    }),
    duplicateFrames: new Counter({
      name: 'rtv_worker_duplicate_frames_total',
      help: 'Client frames dropped because their seq was already applied',
      registers,
    }),
    clientFrameGaps: new Counter({
      name: 'rtv_worker_client_frame_gaps_total',
      help: 'Client frames that arrived above a gap in their seqs: gaps filled in order (filled, one per gap) and seqs given up on after the wait (skipped)',
      labelNames: ['result'] as const,
      registers,
    }),
    droppedFrames: new Counter({
      name: 'rtv_worker_dropped_frames_total',
      help: 'Client frames dropped, by reason',
      labelNames: ['reason'] as const,
      registers,
    }),
    historyTrims: new Counter({
      name: 'rtv_worker_history_items_trimmed_total',
      help: 'Conversation history items cut to RTV_HISTORY_ITEM_MAX_BYTES (item_bytes), or dropped from the oldest end to stay within RTV_HISTORY_MAX_BYTES (session_bytes) or the 200-item cap (item_count)',
      labelNames: ['reason'] as const,
      registers,
    }),
    upstreamConnect: new Histogram({
      name: 'rtv_worker_upstream_connect_duration_seconds',
      help: 'Time to open a provider session (upgrade to session.created)',
      buckets: WAIT_BUCKETS,
      registers,
    }),
    upstreamLatency: new Histogram({
      name: 'rtv_worker_upstream_response_latency_seconds',
      help: 'From the end of the user turn to the provider starting its response (response.created)',
      buckets: WAIT_BUCKETS,
      registers,
    }),
    upstreamEvents: boundedCounter(
      new TalliedCounter({
        name: 'rtv_worker_upstream_events_received_total',
        help: 'Provider events received, by event type (other for types this version does not know)',
        labelNames: ['type'] as const,
        registers,
      }),
      (labels) => ({ ...labels, type: providerEventLabel(labels.type) }),
    ),
    upstreamBytesIn: new TalliedCounter({
      name: 'rtv_worker_upstream_received_bytes_total',
      help: 'Bytes of provider events received',
      registers,
    }),
    upstreamBytesOut: new TalliedCounter({
      name: 'rtv_worker_upstream_sent_bytes_total',
      help: 'Bytes of events sent to the provider',
      registers,
    }),
    upstreamErrors: boundedCounter(
      new Counter({
        name: 'rtv_worker_upstream_errors_total',
        help: 'Provider errors and failures, by code (other for codes this version does not know)',
        labelNames: ['code'] as const,
        registers,
      }),
      (labels) => ({ ...labels, code: upstreamErrorLabel(labels.code) }),
    ),
    upstreamReconnects: new Counter({
      name: 'rtv_worker_upstream_reconnects_total',
      help: 'Provider sessions re-opened after an unexpected drop, by result (ok, failed)',
      labelNames: ['result'] as const,
      registers,
    }),
    upstreamRenewals: new Counter({
      name: 'rtv_worker_upstream_renewals_total',
      help: 'Provider sessions re-opened ahead of the provider session time cap, by result (ok, failed)',
      labelNames: ['result'] as const,
      registers,
    }),
    timeToFirstAudio: new Histogram({
      name: 'rtv_worker_time_to_first_audio_seconds',
      help: 'From the end of the user turn (speech stopped or text sent) to the first audio delta, by client route (seed, openai)',
      labelNames: ['route'] as const,
      buckets: TTFA_BUCKETS,
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
    bargeIns: new Counter({
      name: 'rtv_worker_barge_ins_total',
      help: 'User speech that started while a response was still playing (the response is cut short)',
      registers,
    }),
    tokens: new Counter({
      name: 'rtv_worker_tokens_total',
      help: 'Provider tokens from response.done usage, by model, direction, client route (seed, openai) and policy user class',
      labelNames: ['model', 'direction', 'route', 'policy_class'] as const,
      registers,
    }),
    tokenDetails: new Counter({
      name: 'rtv_worker_token_details_total',
      help: 'Provider tokens from response.done usage details, by model, direction and kind (text, audio, cached)',
      labelNames: ['model', 'direction', 'kind'] as const,
      registers,
    }),
    leaseLost: new Counter({
      name: 'rtv_worker_leases_lost_total',
      help: 'Sessions let go because a newer owner epoch took them',
      registers,
    }),
    sessionsParked: new Gauge({
      name: 'rtv_worker_sessions_parked',
      help: 'Owned sessions whose lease could not be renewed (a Redis outage), kept running while the lease is re-established',
      registers,
    }),
    sessionStartsDeferred: new Counter({
      name: 'rtv_worker_session_starts_deferred_total',
      help: 'New sessions put back in the queue for a moment because this worker was overloaded (event-loop delay above RTV_INTAKE_MAX_LAG_MS)',
      registers,
    }),
    leaseRecoveries: new Counter({
      name: 'rtv_worker_lease_recoveries_total',
      help: 'Parked sessions by outcome: readopted (claimed again here, provider connection kept), superseded (another worker took it), gave_up (not claimed again within RTV_LEASE_RECOVERY_MS), ended (ended otherwise meanwhile)',
      labelNames: ['result'] as const,
      registers,
    }),
  };
}

export type WorkerMetrics = ReturnType<typeof createWorkerMetrics>;

/**
 * Provider event types counted by name. The `satisfies` clause keeps the list honest against the typed
 * provider protocol; a type the provider adds later is counted as `other` until it is listed here.
 */
const PROVIDER_EVENT_TYPES = [
  'error',
  'session.created',
  'session.updated',
  'conversation.item.added',
  'conversation.item.done',
  'conversation.item.created',
  'conversation.item.truncated',
  'conversation.item.deleted',
  'conversation.item.retrieved',
  'conversation.item.input_audio_transcription.delta',
  'conversation.item.input_audio_transcription.completed',
  'input_audio_buffer.speech_started',
  'input_audio_buffer.speech_stopped',
  'input_audio_buffer.committed',
  'input_audio_buffer.cleared',
  'response.created',
  'response.done',
  'response.output_item.added',
  'response.output_item.done',
  'response.content_part.added',
  'response.content_part.done',
  'response.output_text.delta',
  'response.output_text.done',
  'response.output_audio.delta',
  'response.output_audio.done',
  'response.output_audio_transcript.delta',
  'response.output_audio_transcript.done',
  'response.text.delta',
  'response.text.done',
  'response.audio.delta',
  'response.audio.done',
  'response.audio_transcript.delta',
  'response.audio_transcript.done',
  'response.function_call_arguments.delta',
  'response.function_call_arguments.done',
  'rate_limits.updated',
] as const satisfies readonly (RealtimeServerEvent | BetaRealtimeServerEvent)['type'][];

const KNOWN_EVENT_TYPES: ReadonlySet<string> = new Set(PROVIDER_EVENT_TYPES);

/** A provider event type as a label value: listed types pass, anything else is `other`. */
export function providerEventLabel(type: string | number | undefined): string {
  const value = String(type);
  return KNOWN_EVENT_TYPES.has(value) ? value : 'other';
}

/**
 * Codes the worker itself uses in `upstream_errors_total`, next to the provider's own error codes:
 * connect failures (retryable or fatal), an event that is not JSON, a response that failed without a code,
 * a provider error without a code (`none`), a failed input transcription, an audio delta that is not base64
 * (dropped), and `closed_<code>` for an unexpected provider close.
 */
const WORKER_ERROR_CODES = [
  'connect_retryable',
  'connect_fatal',
  'unparseable_event',
  'response_failed',
  'none',
  'transcription_failed',
  // An audio delta that is not standard base64, dropped (never spliced into a client frame).
  'invalid_audio_delta',
  // A provider code the typed list lacks: the provider's rate limit inside a session.
  'rate_limit_exceeded',
];

const KNOWN_UPSTREAM_CODES: ReadonlySet<string> = new Set([
  ...REALTIME_ERROR_CODES,
  ...WORKER_ERROR_CODES,
  ...[...Object.values(REALTIME_CLOSE_CODES), 1000, 1001, 1005, 1006, 1011, 1012, 1013].map(
    (code) => `closed_${code}`,
  ),
]);

/** An upstream error code as a label value (bounded: see {@link KNOWN_UPSTREAM_CODES}). */
export function upstreamErrorLabel(code: string | number | undefined): string {
  const value = String(code);
  if (KNOWN_UPSTREAM_CODES.has(value)) return value;
  return value.startsWith('closed_') ? 'closed_other' : 'other';
}
