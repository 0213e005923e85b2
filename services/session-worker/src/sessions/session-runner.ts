import { type BusWriter, FrameRing, type HistoryItem, type Keys, type SessionState } from '@rtv/bus';
import {
  type ClientMessage,
  CloseCode,
  encodeAckLine,
  encodeBindLine,
  encodeCloseLine,
  encodeError,
  encodeMessageLine,
  encodeNotice,
  encodeResponseAudio,
  encodeResponseAudioBytes,
  encodeResponseDelta,
  encodeResponseDone,
  encodeSessionUpdate,
  encodeSpeechStarted,
  encodeSpeechStopped,
  FrameKind,
  NoticeCode,
  nowSeconds,
  type SessionConfig,
  type SessionInfo,
} from '@rtv/protocol';
import type { Logger } from '@rtv/service-kit';
import type { WorkerMetrics } from '../metrics.js';
import {
  buildAudioAppend,
  buildSessionUpdate,
  buildTextTurn,
  extractAudioDelta,
  publicErrorFor,
  TEXT_DELTA_EVENTS,
  TEXT_DONE_EVENTS,
} from '../upstream/provider-events.js';
import { ProviderSession, type ProviderSessionOptions } from '../upstream/provider-session.js';

export interface SessionRunnerDeps {
  keys: Keys;
  writer: BusWriter;
  log: Logger;
  metrics: WorkerMetrics;
  workerId: string;
  provider: Omit<
    ProviderSessionOptions,
    'onEvent' | 'onUnavailable' | 'onReconnecting' | 'log' | 'context' | 'metrics' | 'onConnect'
  >;
  /** Persists a conversation item (capped list with TTL). */
  appendHistory: (sid: string, item: HistoryItem) => void;
  /** Reads the conversation so far, to restore it into a fresh provider session. */
  loadHistory: (sid: string) => Promise<HistoryItem[]>;
  /** Persists the effective config after a client session.update. */
  saveConfig: (sid: string, config: SessionConfig) => void;
  /** How long a detached session waits for its client to resume. */
  resumeGraceMs: number;
  /** Bytes of recent server frames kept for resume. */
  resumeBufferBytes: number;
  /** `framesToProvider{type="audio"}`, bound once: it is counted on every audio frame. */
  audioFramesToProvider: { inc(): void };
  /** `upstreamEvents{type="response.output_audio.delta"}`, bound once (the fast path skips parsing). */
  audioDeltaEvents: { inc(): void };
  /** Told whether each provider connect attempt succeeded (published in the heartbeat). */
  onProviderConnect?: (ok: boolean) => void;
}

export type EndReason =
  | 'client_closed'
  | 'client_gone'
  | 'resume_timeout'
  | 'upstream_failed'
  | 'lease_lost'
  | 'handoff';

/** Server frame seqs are `epoch · 2³² + n`: monotonic across owners without any coordination. */
const EPOCH_STRIDE = 2 ** 32;

/**
 * One live session on this worker: applies the gateway's numbered client frames in order (dropping repeats),
 * talks to the provider through a `ProviderSession` (which reconnects and renews with the context restored),
 * and sends public-protocol messages back through the gateway's stream, stamped with this owner's epoch and a
 * per-session seq. Keeps recent server frames for resume. `done` resolves when the session ends; the BullMQ job
 * (the lease) ends with it.
 */
export class SessionRunner {
  readonly done: Promise<EndReason>;
  /** Highest client seq applied (or dropped as a repeat). */
  appliedSeq: number;
  /** appliedSeq at the last progress write; the owner acks and persists only when they differ. */
  savedSeq: number;
  private outSeq: number;
  private resolveDone!: (reason: EndReason) => void;
  private ended = false;
  private readonly provider: ProviderSession;
  private readonly outbound: FrameRing;
  private attached: boolean;
  private graceTimer: NodeJS.Timeout | undefined;
  private pendingSessionUpdates = 0;
  private assistantText = '';
  private turnStartedAt: number | undefined;
  private firstAudioSeen = false;
  /** The provider's id of the last assistant message item, for `response.truncate`. */
  private lastAssistantItemId: string | undefined;

  constructor(
    readonly state: SessionState,
    private readonly deps: SessionRunnerDeps,
  ) {
    this.appliedSeq = state.lastSeq;
    this.savedSeq = state.lastSeq;
    this.outSeq = state.epoch * EPOCH_STRIDE;
    this.attached = state.clientAttached;
    this.outbound = new FrameRing(deps.resumeBufferBytes);
    this.done = new Promise((resolve) => {
      this.resolveDone = resolve;
    });
    this.provider = new ProviderSession({
      ...deps.provider,
      log: deps.log.child({ sid: state.sid }),
      metrics: deps.metrics,
      ...(deps.onProviderConnect ? { onConnect: deps.onProviderConnect } : {}),
      onEvent: (raw, head) => this.onProviderEvent(raw, head),
      onReconnecting: () =>
        this.emit(encodeNotice('upstream_reconnecting', NoticeCode.upstream_reconnecting.message)),
      onUnavailable: () => this.fail('The speech provider is unavailable; try again later'),
      context: async () => ({ config: this.state.config, history: await this.deps.loadHistory(this.sid) }),
    });
  }

  get sid(): string {
    return this.state.sid;
  }

  /**
   * Binds the session at its gateway (unless the client is detached), then opens the provider session. A
   * takeover (epoch > 1) restores the conversation and tells the client it recovered.
   */
  async start(): Promise<void> {
    const takeover = this.state.epoch > 1;
    if (this.attached) this.bindAtGateway();
    else {
      this.deps.metrics.sessionsDetached.inc();
      this.startGrace();
    }
    const ok = await this.provider.open(takeover);
    if (!ok || this.ended) return;
    if (takeover) this.emit(encodeNotice('session_recovered', NoticeCode.session_recovered.message));
  }

  /**
   * Applies one client frame from the bus (`payload` is a view into the batch; it is copied or parsed here,
   * never kept). Repeats (seq already applied) are dropped: exactly once.
   */
  apply(seq: number, kind: FrameKind, payload: Buffer): void {
    if (this.ended || seq <= this.appliedSeq) {
      this.deps.metrics.duplicateFrames.inc();
      return;
    }
    this.appliedSeq = seq;
    if (kind === FrameKind.Audio) {
      if (this.provider.send(buildAudioAppend(payload))) this.deps.audioFramesToProvider.inc();
      else this.deps.metrics.droppedFrames.inc({ reason: 'provider_queue_full' });
      return;
    }
    let msg: ClientMessage;
    try {
      msg = JSON.parse(payload.toString()) as ClientMessage;
    } catch {
      this.deps.log.warn({ sid: this.sid }, 'unparseable JSON frame from the gateway dropped');
      return;
    }
    this.deps.metrics.framesToProvider.inc({ type: msg.type });
    this.dispatch(msg);
  }

  /** The client's socket at `gatewayId` dropped: keep the session for the resume grace period. */
  detach(gatewayId: string): void {
    // A late detach from a gateway the client already left (it resumed elsewhere) is stale.
    if (this.ended || !this.attached || gatewayId !== this.state.gatewayId) return;
    this.attached = false;
    this.deps.metrics.sessionsDetached.inc();
    this.startGrace();
  }

  /** The client resumed at `gatewayId`: route there, replay what it missed, acknowledge progress. */
  resume(gatewayId: string, lastSeq: number): void {
    if (this.ended) return;
    this.state.gatewayId = gatewayId;
    if (!this.attached) this.deps.metrics.sessionsDetached.dec();
    this.attached = true;
    if (this.graceTimer) clearTimeout(this.graceTimer);
    this.graceTimer = undefined;
    this.bindAtGateway();
    const { frames, complete } = this.outbound.since(lastSeq);
    this.deps.metrics.resumes.inc();
    this.deps.metrics.resumeReplayedFrames.inc(frames.length);
    const stream = this.deps.keys.gatewayOut(gatewayId);
    for (const [seq, payload] of frames) {
      this.deps.writer.write(stream, encodeMessageLine(this.sid, this.state.epoch, seq, payload));
    }
    this.emit(
      encodeNotice(
        'session_resumed',
        complete
          ? NoticeCode.session_resumed.message
          : 'Session resumed; some older messages could not be replayed',
      ),
    );
  }

  end(reason: EndReason): void {
    if (this.ended) return;
    this.ended = true;
    if (!this.attached) this.deps.metrics.sessionsDetached.dec();
    if (this.graceTimer) clearTimeout(this.graceTimer);
    this.provider.close();
    this.resolveDone(reason);
  }

  private bindAtGateway(): void {
    const stream = this.deps.keys.gatewayOut(this.state.gatewayId);
    this.deps.writer.write(stream, encodeBindLine(this.sid, this.deps.workerId, this.state.epoch));
    if (this.appliedSeq > 0)
      this.deps.writer.write(stream, encodeAckLine(this.sid, this.state.epoch, this.appliedSeq));
  }

  private startGrace(): void {
    if (this.graceTimer) clearTimeout(this.graceTimer);
    this.graceTimer = setTimeout(() => this.end('resume_timeout'), this.deps.resumeGraceMs);
    this.graceTimer.unref();
  }

  private dispatch(msg: ClientMessage): void {
    const shape = this.deps.provider.shape;
    switch (msg.type) {
      case 'session.update': {
        const config: SessionConfig = { ...this.state.config };
        for (const [k, v] of Object.entries(msg.session_update)) {
          if (v !== undefined && k !== 'event_id') (config as unknown as Record<string, unknown>)[k] = v;
        }
        this.state.config = config;
        this.pendingSessionUpdates++;
        this.provider.send(buildSessionUpdate(config, shape));
        this.deps.saveConfig(this.sid, config);
        return;
      }
      case 'conversation.item.input': {
        const input = msg.conversation_item_input;
        if (input.type === 'input_text') {
          for (const event of buildTextTurn(input.text, shape)) this.provider.send(event);
          this.deps.appendHistory(this.sid, { role: 'user', type: 'text', text: input.text, at: Date.now() });
          this.startTurn();
        } else {
          this.provider.send(buildAudioAppend(input.audio));
        }
        return;
      }
      case 'input_audio_buffer.commit':
        this.provider.send('{"type":"input_audio_buffer.commit"}');
        return;
      case 'response.create':
        this.provider.send(
          shape === 'beta' ? '{"type":"response.create","response":{}}' : '{"type":"response.create"}',
        );
        this.startTurn();
        return;
      case 'response.cancel':
        this.provider.send('{"type":"response.cancel"}');
        return;
      case 'response.truncate':
        // Only meaningful once the model has spoken; the provider reports a too-long audio_end_ms itself.
        if (this.lastAssistantItemId !== undefined) {
          this.provider.send(
            JSON.stringify({
              type: 'conversation.item.truncate',
              item_id: this.lastAssistantItemId,
              content_index: 0,
              audio_end_ms: msg.audio_end_ms,
            }),
          );
        }
        return;
      default:
        return;
    }
  }

  private startTurn(): void {
    this.turnStartedAt = performance.now();
    this.firstAudioSeen = false;
  }

  private onProviderEvent(raw: Buffer, head: string): void {
    if (this.ended) return;
    this.deps.metrics.upstreamBytesIn.inc(raw.length);
    const audio = extractAudioDelta(raw, head);
    if (audio !== undefined) {
      this.deps.audioDeltaEvents.inc();
      this.noteFirstAudio();
      this.emit(encodeResponseAudioBytes(audio, nowSeconds()));
      return;
    }
    let event: { type?: unknown; [k: string]: unknown };
    try {
      event = JSON.parse(raw.toString());
    } catch {
      this.deps.metrics.upstreamErrors.inc({ code: 'unparseable_event' });
      return;
    }
    const type = typeof event.type === 'string' ? event.type : '';
    this.deps.metrics.upstreamEvents.inc({ type });
    if (TEXT_DELTA_EVENTS.has(type)) {
      const delta = typeof event.delta === 'string' ? event.delta : '';
      this.assistantText += delta;
      if (delta) this.emit(encodeResponseDelta(delta, nowSeconds()));
      return;
    }
    if (TEXT_DONE_EVENTS.has(type)) return;
    switch (type) {
      case 'response.output_audio.delta':
      case 'response.audio.delta':
        if (typeof event.delta === 'string') {
          this.noteFirstAudio();
          this.emit(encodeResponseAudio(event.delta, nowSeconds()));
        }
        return;
      case 'response.output_item.added': {
        const item = event.item as { id?: unknown; type?: unknown; role?: unknown } | undefined;
        if (item?.type === 'message' && item.role === 'assistant' && typeof item.id === 'string') {
          this.lastAssistantItemId = item.id;
        }
        return;
      }
      case 'response.created':
        if (this.turnStartedAt !== undefined) {
          this.deps.metrics.upstreamLatency.observe((performance.now() - this.turnStartedAt) / 1000);
        }
        return;
      case 'input_audio_buffer.speech_started':
        this.deps.metrics.speechStarts.inc();
        if (this.provider.responding) this.deps.metrics.bargeIns.inc();
        this.emit(encodeSpeechStarted(numberField(event, 'audio_start_ms'), nowSeconds()));
        return;
      case 'input_audio_buffer.speech_stopped':
        this.emit(encodeSpeechStopped(numberField(event, 'audio_end_ms'), nowSeconds()));
        this.startTurn();
        return;
      case 'response.done':
        this.onResponseDone(event.response as ProviderResponse | undefined);
        return;
      case 'session.updated':
        if (this.pendingSessionUpdates > 0) {
          this.pendingSessionUpdates--;
          this.emit(encodeSessionUpdate(this.sessionView()));
        }
        return;
      case 'error':
        this.onProviderError(event.error as { code?: string | null; type?: string } | undefined);
        return;
      default:
        return;
    }
  }

  private onResponseDone(response: ProviderResponse | undefined): void {
    const usage = response?.usage;
    const input = usage?.input_tokens ?? 0;
    const output = usage?.output_tokens ?? 0;
    const model = this.deps.provider.model;
    this.deps.metrics.tokens.inc({ model, direction: 'input' }, input);
    this.deps.metrics.tokens.inc({ model, direction: 'output' }, output);
    this.deps.metrics.turns.inc({ status: response?.status ?? 'unknown' });
    if (this.assistantText) {
      this.deps.appendHistory(this.sid, {
        role: 'assistant',
        type: 'text',
        text: this.assistantText,
        at: Date.now(),
      });
    }
    this.assistantText = '';
    this.turnStartedAt = undefined;
    if (response?.status === 'failed') {
      const failure = response.status_details?.error;
      this.deps.metrics.upstreamErrors.inc({ code: failure?.code ?? 'response_failed' });
      const mapped = publicErrorFor(failure?.code, failure?.type);
      this.emit(encodeError(mapped.code, mapped.message));
    }
    this.emit(
      encodeResponseDone({ input_tokens: input, output_tokens: output }, nowSeconds(), {
        ...(response?.id ? { id: response.id } : {}),
        ...(response?.status ? { status: response.status } : {}),
      }),
    );
  }

  private onProviderError(error: { code?: string | null; type?: string } | undefined): void {
    const mapped = publicErrorFor(error?.code, error?.type);
    this.deps.metrics.upstreamErrors.inc({ code: error?.code ?? 'none' });
    this.deps.log.warn(
      { sid: this.sid, providerCode: error?.code, providerType: error?.type },
      'provider error',
    );
    this.emit(encodeError(mapped.code, mapped.message));
  }

  private noteFirstAudio(): void {
    if (this.firstAudioSeen || this.turnStartedAt === undefined) return;
    this.firstAudioSeen = true;
    this.deps.metrics.timeToFirstAudio.observe((performance.now() - this.turnStartedAt) / 1000);
  }

  private fail(message: string): void {
    if (this.ended) return;
    this.emit(encodeError('upstream_unavailable', message));
    this.deps.writer.write(
      this.deps.keys.gatewayOut(this.state.gatewayId),
      encodeCloseLine(this.sid, this.state.epoch, CloseCode.InternalError, 'upstream unavailable'),
    );
    this.end('upstream_failed');
  }

  /**
   * Numbers a public-protocol message (its JSON text, or the UTF-8 bytes of it), keeps it for resume and sends
   * it to the client's gateway.
   */
  private emit(payload: string | Buffer): void {
    const seq = ++this.outSeq;
    this.outbound.push(seq, payload);
    this.deps.metrics.framesToClient.inc();
    if (!this.attached) return;
    this.deps.writer.write(
      this.deps.keys.gatewayOut(this.state.gatewayId),
      encodeMessageLine(this.sid, this.state.epoch, seq, payload),
    );
  }

  private sessionView(): SessionInfo {
    const { config } = this.state;
    return {
      id: this.sid,
      voice: config.voice,
      language: config.language,
      ...(config.instructions !== undefined ? { instructions: config.instructions } : {}),
      temperature: config.temperature,
      max_response_output_tokens: config.max_response_output_tokens,
      modalities: config.modalities,
      ...(config.turn_detection !== undefined ? { turn_detection: config.turn_detection } : {}),
    };
  }
}

interface ProviderResponse {
  id?: string;
  status?: 'completed' | 'cancelled' | 'incomplete' | 'failed';
  status_details?: { error?: { type?: string; code?: string } } | null;
  usage?: { input_tokens?: number; output_tokens?: number };
}

function numberField(event: Record<string, unknown>, name: string): number {
  const v = event[name];
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}
