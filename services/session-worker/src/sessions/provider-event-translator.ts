import {
  encodeError,
  encodeFunctionCall,
  encodeResponseAudio,
  encodeResponseDelta,
  encodeResponseDone,
  encodeSpeechStarted,
  encodeSpeechStopped,
  encodeTranscript,
  isStandardBase64,
  nowSeconds,
  type Usage,
} from '@rtv/protocol';
import type { Logger } from '@rtv/service-kit';
import type { WorkerMetrics } from '../metrics.js';
import {
  extractAudioDelta,
  publicErrorFor,
  RESTORE_EVENT_ID,
  TEXT_DELTA_EVENTS,
  TEXT_DONE_EVENTS,
} from '../upstream/provider-events.js';
import type { ConfigUpdates } from './config-updates.js';
import type { HistoryLog } from './history-log.js';
import type { ProviderRequests } from './provider-requests.js';
import type { ToolCalls } from './tool-calls.js';
import type { TurnQueue } from './turn-queue.js';

/** What the translator works with: the runner's output, its bookkeeping, and provider state. */
export interface TranslatorContext {
  readonly sid: string;
  readonly model: string;
  readonly metrics: WorkerMetrics;
  readonly log: Logger;
  /** `upstreamEvents{type="response.output_audio.delta"}`, bound once (the fast path skips parsing). */
  readonly audioDeltaEvents: { inc(): void };
  /** Numbers and sends one public-protocol message. */
  emit(payload: string | Buffer): void;
  /** Numbers and sends a `response.audio` message around `audio` (standard base64 as bytes). */
  emitAudio(audio: Uint8Array, timestamp: number): void;
  readonly history: HistoryLog;
  readonly toolCalls: ToolCalls;
  readonly turns: TurnQueue;
  readonly configs: ConfigUpdates;
  readonly requests: ProviderRequests;
  /** The provider is generating a response (for the barge-in count). */
  responding(): boolean;
  /** Input transcription is on in the configuration in effect. */
  transcriptionOn(): boolean;
}

type ProviderEvent = { type?: unknown; [k: string]: unknown };

interface ProviderError {
  type?: string | null;
  code?: string | null;
  param?: string | null;
  event_id?: string | null;
}

interface ProviderUsage {
  input_tokens?: unknown;
  output_tokens?: unknown;
  input_token_details?: { cached_tokens?: unknown; text_tokens?: unknown; audio_tokens?: unknown };
  output_token_details?: { text_tokens?: unknown; audio_tokens?: unknown };
}

interface ProviderResponse {
  id?: string;
  status?: 'completed' | 'cancelled' | 'incomplete' | 'failed';
  status_details?: { error?: { type?: string; code?: string } } | null;
  usage?: ProviderUsage | null;
}

/** A history write may not hold the client's events back longer than this. */
const ANNOUNCE_WAIT_MS = 2000;

/**
 * Provider events → public-protocol messages, for both shapes. Audio deltas take a fast path without parsing;
 * everything else is parsed once and mapped: reply text and audio, the user's transcripts, speech events,
 * function calls, `response.done` with usage, the answers to the client's `session.update`, and errors (mapped
 * to public codes, never forwarded verbatim). `handle` returns a promise when the client's stream must wait (a
 * function call is stored before it is announced): the runner holds later events until it settles.
 */
export class ProviderEventTranslator {
  private assistantText = '';
  /** The provider's id of the last assistant message item, for truncation. */
  private assistantItemId: string | undefined;
  /** Reply audio bytes sent to the client for {@link assistantItemId}. */
  private assistantAudioBytes = 0;
  private turnStartedAt: number | undefined;
  private firstAudioSeen = false;
  private expired = false;

  constructor(private readonly ctx: TranslatorContext) {}

  /** The provider's id of the last assistant message item (for `response.truncate`). */
  get lastAssistantItemId(): string | undefined {
    return this.assistantItemId;
  }

  /** Milliseconds of reply audio sent to the client for the last assistant item (PCM16, 24 kHz). */
  get emittedAudioMs(): number {
    return Math.floor(this.assistantAudioBytes / 48);
  }

  /** A user turn ended (text sent, speech stopped, response requested): latency is measured from here. */
  startTurn(): void {
    this.turnStartedAt = performance.now();
    this.firstAudioSeen = false;
  }

  /** True once after the provider said the session hit its time cap (the reconnect that follows is a renewal). */
  takeExpired(): boolean {
    const expired = this.expired;
    this.expired = false;
    return expired;
  }

  handle(raw: Buffer, head: string): Promise<void> | undefined {
    const { metrics } = this.ctx;
    metrics.upstreamBytesIn.tally().inc(raw.length);
    const audio = extractAudioDelta(raw, head);
    if (audio !== undefined) {
      this.ctx.audioDeltaEvents.inc();
      this.onAudio(audio.length, audio[audio.length - 1] === 0x3d, audio[audio.length - 2] === 0x3d);
      this.ctx.emitAudio(audio, nowSeconds());
      return undefined;
    }
    let event: ProviderEvent;
    try {
      event = JSON.parse(raw.toString());
    } catch {
      metrics.upstreamErrors.inc({ code: 'unparseable_event' });
      return undefined;
    }
    const type = typeof event.type === 'string' ? event.type : '';
    metrics.upstreamEvents.inc({ type });
    if (TEXT_DELTA_EVENTS.has(type)) {
      const delta = typeof event.delta === 'string' ? event.delta : '';
      this.assistantText += delta;
      if (delta) this.ctx.emit(encodeResponseDelta(delta, nowSeconds()));
      return undefined;
    }
    if (TEXT_DONE_EVENTS.has(type)) return undefined;
    return this.dispatch(type, event);
  }

  private dispatch(type: string, event: ProviderEvent): Promise<void> | undefined {
    switch (type) {
      case 'response.output_audio.delta':
      case 'response.audio.delta':
        // Only when the fast path missed it (type not near the start, or a delta that is not clean base64).
        if (typeof event.delta === 'string') {
          // Spliced into the client's frame and its bus line as is: anything but base64 is dropped.
          if (!isStandardBase64(event.delta)) {
            this.ctx.metrics.upstreamErrors.inc({ code: 'invalid_audio_delta' });
            return undefined;
          }
          this.onAudio(event.delta.length, event.delta.endsWith('='), event.delta.endsWith('=='));
          this.ctx.emit(encodeResponseAudio(event.delta, nowSeconds()));
        }
        return undefined;
      case 'response.output_item.added':
        this.onOutputItem(event.item as Record<string, unknown> | undefined);
        return undefined;
      case 'response.function_call_arguments.done':
        return this.onFunctionCall(event);
      case 'response.created':
        this.onResponseCreated();
        return undefined;
      case 'response.done':
        this.onResponseDone(event.response as ProviderResponse | undefined);
        return undefined;
      case 'session.updated':
        this.ctx.configs.updated();
        return undefined;
      case 'error':
        this.onError((event.error ?? {}) as ProviderError);
        return undefined;
      default:
        this.dispatchInput(type, event);
        return undefined;
    }
  }

  /** The user's side: speech events, committed turns and their transcripts. */
  private dispatchInput(type: string, event: ProviderEvent): void {
    const { ctx } = this;
    switch (type) {
      case 'input_audio_buffer.speech_started':
        ctx.metrics.speechStarts.inc();
        if (ctx.responding()) ctx.metrics.bargeIns.inc();
        ctx.emit(encodeSpeechStarted(numberField(event, 'audio_start_ms'), nowSeconds()));
        return;
      case 'input_audio_buffer.speech_stopped':
        ctx.emit(encodeSpeechStopped(numberField(event, 'audio_end_ms'), nowSeconds()));
        this.startTurn();
        return;
      case 'input_audio_buffer.committed':
        if (typeof event.item_id === 'string' && ctx.transcriptionOn()) ctx.history.reserve(event.item_id);
        return;
      case 'conversation.item.input_audio_transcription.delta':
        if (typeof event.item_id === 'string' && typeof event.delta === 'string' && event.delta !== '') {
          ctx.emit(encodeTranscript(event.item_id, event.delta, false, nowSeconds()));
        }
        return;
      case 'conversation.item.input_audio_transcription.completed':
        this.onTranscript(event);
        return;
      case 'conversation.item.input_audio_transcription.failed':
        this.onTranscriptionFailed(event);
        return;
      default:
        return;
    }
  }

  private onAudio(base64Length: number, padded: boolean, padded2: boolean): void {
    this.assistantAudioBytes += (base64Length / 4) * 3 - (padded2 ? 2 : padded ? 1 : 0);
    if (this.firstAudioSeen || this.turnStartedAt === undefined) return;
    this.firstAudioSeen = true;
    this.ctx.metrics.timeToFirstAudio.observe(
      { route: 'seed' },
      (performance.now() - this.turnStartedAt) / 1000,
    );
  }

  private onOutputItem(item: Record<string, unknown> | undefined): void {
    if (item?.type === 'message' && item.role === 'assistant' && typeof item.id === 'string') {
      this.assistantItemId = item.id;
      this.assistantAudioBytes = 0;
    } else if (item?.type === 'function_call') {
      this.ctx.toolCalls.noteItem(item);
    }
  }

  /**
   * The model called a function: stored in the history first (so no later owner announces it again), then
   * announced; a call the history already holds is not announced twice. A failed write still announces.
   */
  private onFunctionCall(event: ProviderEvent): Promise<void> | undefined {
    const { ctx } = this;
    const callId = typeof event.call_id === 'string' ? event.call_id : undefined;
    if (!callId) return undefined;
    const name =
      (typeof event.name === 'string' ? event.name : undefined) ??
      ctx.toolCalls.nameOf(callId, event.item_id);
    if (!ctx.toolCalls.claimAnnouncement(callId)) {
      ctx.log.info({ sid: ctx.sid, callId }, 'function call already announced: not announced again');
      return undefined;
    }
    const args = typeof event.arguments === 'string' ? event.arguments : '';
    const fn = name ?? 'unknown';
    if (!name) ctx.log.warn({ sid: ctx.sid, callId }, 'function call without a name');
    const stored = ctx.history.appendNow({
      type: 'function_call',
      call_id: callId,
      name: fn,
      arguments: args,
      at: Date.now(),
    });
    const announce = () => ctx.emit(encodeFunctionCall(callId, fn, args, nowSeconds()));
    return withTimeout(stored, ANNOUNCE_WAIT_MS).then(announce, (err: Error) => {
      ctx.log.warn(
        { sid: ctx.sid, callId, err: err.message },
        'function call not stored before its announcement',
      );
      announce();
    });
  }

  private onTranscript(event: ProviderEvent): void {
    if (typeof event.item_id !== 'string') return;
    const transcript = typeof event.transcript === 'string' ? event.transcript : '';
    this.ctx.emit(encodeTranscript(event.item_id, transcript, true, nowSeconds()));
    this.ctx.history.fill(
      event.item_id,
      transcript.trim() ? { role: 'user', type: 'text', text: transcript, at: Date.now() } : undefined,
    );
  }

  /** Nothing reaches the client (its pieces stay unconfirmed); the history stops waiting for the transcript. */
  private onTranscriptionFailed(event: ProviderEvent): void {
    const error = (event.error ?? {}) as ProviderError;
    this.ctx.metrics.upstreamErrors.inc({ code: 'transcription_failed' });
    this.ctx.log.warn(
      { sid: this.ctx.sid, providerCode: error.code, providerType: error.type },
      'input transcription failed',
    );
    if (typeof event.item_id === 'string') this.ctx.history.fill(event.item_id, undefined);
  }

  private onResponseCreated(): void {
    if (this.turnStartedAt !== undefined) {
      this.ctx.metrics.upstreamLatency.observe((performance.now() - this.turnStartedAt) / 1000);
    }
    this.ctx.turns.responseCreated();
  }

  private onResponseDone(response: ProviderResponse | undefined): void {
    const { ctx } = this;
    const usage = publicUsage(response?.usage);
    this.countTokens(usage);
    ctx.metrics.turns.inc({ status: response?.status ?? 'unknown' });
    if (this.assistantText) {
      ctx.history.append({ role: 'assistant', type: 'text', text: this.assistantText, at: Date.now() });
    }
    this.assistantText = '';
    this.turnStartedAt = undefined;
    if (response?.status === 'failed') {
      const failure = response.status_details?.error;
      ctx.metrics.upstreamErrors.inc({ code: failure?.code ?? 'response_failed' });
      const mapped = publicErrorFor(failure?.code, failure?.type);
      ctx.emit(encodeError(mapped.code, mapped.message));
    }
    ctx.emit(
      encodeResponseDone(usage, nowSeconds(), {
        ...(response?.id ? { id: response.id } : {}),
        ...(response?.status ? { status: response.status } : {}),
      }),
    );
    // After the reply's response.done: the next queued turn starts its own reply.
    ctx.turns.responseDone();
  }

  private countTokens(usage: Usage): void {
    const { metrics, model } = this.ctx;
    metrics.tokens.inc(
      { model, direction: 'input', route: 'seed', policy_class: 'default' },
      usage.input_tokens,
    );
    metrics.tokens.inc(
      { model, direction: 'output', route: 'seed', policy_class: 'default' },
      usage.output_tokens,
    );
    const kinds = [
      ['input', 'text', usage.input_token_details?.text_tokens],
      ['input', 'audio', usage.input_token_details?.audio_tokens],
      ['input', 'cached', usage.input_token_details?.cached_tokens],
      ['output', 'text', usage.output_token_details?.text_tokens],
      ['output', 'audio', usage.output_token_details?.audio_tokens],
    ] as const;
    for (const [direction, kind, n] of kinds) {
      if (n !== undefined) metrics.tokenDetails.inc({ model, direction, kind }, n);
    }
  }

  /**
   * A provider error: the answer to one of our tagged events (a client's `session.update`, a response we
   * asked for, our own cancel) or to something else. Mapped to a public code with the client's `event_id`
   * when the event was sent for a client frame that had one. `session_expired` is not an error for the
   * client: the provider closes and the session is renewed with its context.
   */
  private onError(error: ProviderError): void {
    const { ctx } = this;
    const code = error.code ?? undefined;
    ctx.metrics.upstreamErrors.inc({ code: code ?? 'none' });
    ctx.log.warn(
      { sid: ctx.sid, providerCode: code, providerType: error.type, param: error.param },
      'provider error',
    );
    if (code === 'session_expired') {
      this.expired = true;
      return;
    }
    const eventId = typeof error.event_id === 'string' ? error.event_id : undefined;
    if (eventId === RESTORE_EVENT_ID) ctx.configs.restoreRejected();
    const request = ctx.requests.take(eventId);
    if (request?.kind === 'config' && eventId) ctx.configs.rejected(eventId);
    if (request?.kind === 'turn') {
      if (code === 'conversation_already_has_active_response' && request.requeue) {
        ctx.turns.refused();
        return;
      }
      ctx.turns.failed();
    }
    if (request?.kind === 'cancel' && code === 'response_cancel_not_active') return;
    const mapped = publicErrorFor(code, error.type, error.param);
    ctx.emit(
      encodeError(
        mapped.code,
        mapped.message,
        undefined,
        request?.clientEventId,
        mapped.param !== undefined ? { param: mapped.param } : undefined,
      ),
    );
  }
}

/** `usage` of `response.done` with only well-formed counts (a malformed count must not break the frame). */
function publicUsage(usage: ProviderUsage | null | undefined): Usage {
  const input = usage?.input_token_details;
  const output = usage?.output_token_details;
  const inputDetails = definedCounts({
    cached_tokens: count(input?.cached_tokens),
    text_tokens: count(input?.text_tokens),
    audio_tokens: count(input?.audio_tokens),
  });
  const outputDetails = definedCounts({
    text_tokens: count(output?.text_tokens),
    audio_tokens: count(output?.audio_tokens),
  });
  return {
    input_tokens: count(usage?.input_tokens) ?? 0,
    output_tokens: count(usage?.output_tokens) ?? 0,
    ...(inputDetails ? { input_token_details: inputDetails } : {}),
    ...(outputDetails ? { output_token_details: outputDetails } : {}),
  };
}

function count(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}

function definedCounts<T extends Record<string, number | undefined>>(counts: T): T | undefined {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(counts)) if (v !== undefined) out[k] = v;
  return Object.keys(out).length > 0 ? (out as T) : undefined;
}

/** A millisecond offset as the public encoders take it: a non-negative integer (0 when absent or malformed). */
function numberField(event: Record<string, unknown>, name: string): number {
  const v = event[name];
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.min(Math.round(v), 2 ** 52) : 0;
}

function withTimeout(promise: Promise<void>, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`history write took over ${ms} ms`)), ms);
    timer.unref();
    promise.then(
      () => {
        clearTimeout(timer);
        resolve();
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}
